//! Signals into running user code (issue 13): busy programs that make no
//! system calls are stopped by Ctrl-C, `kill -STOP`/`-CONT`/`-9` and
//! `timeout` (whose watcher must run beside the program it watches), and
//! busy background programs do not starve the foreground.
//!
//! Every case runs twice, on two Linux images (kernel.wasm + busybox.wasm)
//! with an interactive shell on a pseudo-terminal: `checks::` with the user
//! module compiled with interrupt checks, `async::` without them, where
//! only the Runner's asynchronous preemption (a host signal redirecting the
//! busy thread, `runtime-support/src/linux/preempt.rs`) can stop the code. Every step that waits for a signal to act
//! has a bound of 2 s and fails the case when it is missed; booting and
//! the shell's own replies have the suite's longer bound. The cross
//! targets run the `async::` cases under qemu-user (`ARCH::async::...`,
//! the mode their images default to), with every bound four times longer:
//! there the bounds would otherwise measure the emulator.

use libtest_mimic::{Arguments, Failed, Trial};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;
use w2native::image::{applets, build_linux_image, ImageInput};
use w2native::{CompileOptions, Target};
use w2native_tests::cross;
use w2native_tests::linux::{build_runtime, guest_artifact, Pty};

/// How long a signal may take to act on a busy program (host target).
const SIGNAL_BOUND: Duration = Duration::from_secs(2);
/// Booting, and replies of a shell that is not competing with anything.
const SLOW: Duration = Duration::from_secs(30);

/// `bound` for the current case's target: four times longer under
/// qemu-user (still bounded, still failing a signal that never acts).
fn scaled(bound: Duration) -> Duration {
    if MODE.with(|m| m.get()).0 == Target::host() {
        bound
    } else {
        bound * 4
    }
}
const PROMPT: &str = "# ";
/// A CPU-bound loop with no system calls (BusyBox awk's interpreter).
const BUSY: &str = "awk 'BEGIN{while(1);}'";

type Case = fn() -> Result<(), Failed>;

fn main() {
    let args = Arguments::from_args();
    let cases: [(&str, Case); 9] = [
        ("ctrl_c_shell_loop", ctrl_c_shell_loop),
        ("ctrl_c_awk_loop", ctrl_c_awk_loop),
        ("ctrl_c_yes", ctrl_c_yes),
        (
            "stop_cont_kill_busy_background",
            stop_cont_kill_busy_background,
        ),
        ("timeout_busy", timeout_busy),
        ("timeout_statuses", timeout_statuses),
        (
            "timeout_watcher_follows_program",
            timeout_watcher_follows_program,
        ),
        (
            "busy_background_no_starvation",
            busy_background_no_starvation,
        ),
        ("trap_runs_in_busy_shell_loop", trap_runs_in_busy_shell_loop),
    ];
    let host = Target::host();
    let mut runs: Vec<(Target, &str, bool)> = vec![(host, "checks", true), (host, "async", false)];
    for target in Target::ALL.into_iter().filter(|t| *t != host) {
        runs.push((target, "async", false));
    }
    let mut trials = Vec::new();
    for (target, mode, checks) in runs {
        let prefix = cross::trial_prefix(target);
        for (name, f) in cases {
            let test = move || {
                MODE.with(|m| m.set((target, checks)));
                f()
            };
            trials.push(Trial::test(format!("{prefix}{mode}::{name}"), test));
        }
    }
    libtest_mimic::run(&args, trials).exit();
}

thread_local! {
    /// The target and mode (with checks or not) of the image the case
    /// running on this thread uses.
    static MODE: std::cell::Cell<(Target, bool)> =
        const { std::cell::Cell::new((Target::X86_64, true)) };
}

/// The image of the current case's target and mode, built once for each.
fn image() -> Result<&'static Path, Failed> {
    type Built = OnceLock<Result<(tempfile::TempDir, PathBuf), String>>;
    static IMAGES: [[Built; 2]; 3] = [const { [const { OnceLock::new() }; 2] }; 3];
    let (target, checks) = MODE.with(|m| m.get());
    let slot = Target::ALL
        .iter()
        .position(|t| *t == target)
        .expect("a known target");
    IMAGES[slot][usize::from(checks)]
        .get_or_init(|| build_image(target, checks))
        .as_ref()
        .map(|(_, p)| p.as_path())
        .map_err(|e| e.into())
}

fn build_image(target: Target, checks: bool) -> Result<(tempfile::TempDir, PathBuf), String> {
    let kernel = guest_artifact("W2NATIVE_KERNEL_WASM", "build-kernel.sh")?;
    let busybox = guest_artifact("W2NATIVE_BUSYBOX_WASM", "build-userland.sh")?;
    if target == Target::host() {
        build_runtime()?;
    } else {
        cross::runtime(target)?;
    }
    let read = |p: &Path| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
    let (kwasm, bwasm) = (read(&kernel)?, read(&busybox)?);
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    let image = work.path().join("linux");
    let mut user = CompileOptions::new(target, "busybox", "busybox");
    user.interruptible = Some(checks);
    build_linux_image(
        ImageInput {
            wasm: &kwasm,
            opts: CompileOptions::new(target, "kernel", "kernel"),
        },
        Some(ImageInput {
            wasm: &bwasm,
            opts: user,
        }),
        &applets(&busybox, &bwasm),
        &[],
        &image,
    )
    .map_err(|e| format!("building the Linux image failed: {e}"))?;
    Ok((work, image))
}

/// An interactive shell at its first prompt; returns the terminal and the
/// offset after that prompt.
fn shell() -> Result<(Pty, usize), Failed> {
    let image = image()?;
    let target = MODE.with(|m| m.get()).0;
    let mut pty = if target == Target::host() {
        Pty::spawn(image, &[])?
    } else {
        let path = image.to_str().ok_or("non-UTF-8 temporary path")?;
        Pty::spawn(Path::new(target.qemu()), &[path])?
    };
    let at = pty.expect(0, PROMPT, scaled(SLOW))?;
    Ok((pty, at))
}

/// Types `line`, waits for its echo, and gives the command time to be busy.
fn start_busy(pty: &mut Pty, at: usize, line: &str) -> Result<usize, Failed> {
    pty.send(format!("{line}\n").as_bytes())?;
    let at = pty.expect(at, &format!("{line}\r\n"), scaled(SLOW))?;
    std::thread::sleep(scaled(Duration::from_millis(300)));
    Ok(at)
}

/// Runs `line` at the prompt and waits for `want` in its output.
fn run(pty: &mut Pty, at: usize, line: &str, want: &str, bound: Duration) -> Result<usize, Failed> {
    pty.send(format!("{line}\n").as_bytes())?;
    let at = pty.expect(at, &format!("{line}\r\n"), scaled(SLOW))?;
    Ok(pty.expect(at, want, bound)?)
}

/// Ctrl-C on a busy foreground command: the prompt is back within the
/// bound, and the shell is the same one, with `$?` = 128 + SIGINT.
fn ctrl_c(line: &str) -> Result<(), Failed> {
    let (mut pty, at) = shell()?;
    let at = start_busy(&mut pty, at, line)?;
    pty.send(b"\x03")?;
    let at = pty.expect(at, PROMPT, scaled(SIGNAL_BOUND))?;
    run(
        &mut pty,
        at,
        "echo status $?",
        "status 130\r\n",
        scaled(SLOW),
    )?;
    Ok(())
}

/// The loop runs in the shell itself (a builtin loop, no child).
fn ctrl_c_shell_loop() -> Result<(), Failed> {
    ctrl_c("while :; do :; done")
}

fn ctrl_c_awk_loop() -> Result<(), Failed> {
    ctrl_c(BUSY)
}

/// `yes` writes to /dev/null as fast as it can: it does make syscalls, so
/// this one also checks that a signal is not lost between them.
fn ctrl_c_yes() -> Result<(), Failed> {
    ctrl_c("yes > /dev/null")
}

/// `kill -STOP`, `kill -CONT` and `kill -9` from the same shell, each
/// checked within the bound: the state in /proc, then `wait`'s 128 + 9.
/// (ash's `wait` does not block for a job it last saw stopped, since it
/// does not ask for continue events, so the shell first lets the SIGCHLD of
/// the death arrive, as on Linux.)
/// (Command lines stay shorter than the terminal's 80 columns, so their
/// echo is one line.)
fn stop_cont_kill_busy_background() -> Result<(), Failed> {
    let (mut pty, at) = shell()?;
    let at = run(
        &mut pty,
        at,
        &format!("{BUSY} & p=$!"),
        PROMPT,
        scaled(SLOW),
    )?;
    std::thread::sleep(scaled(Duration::from_millis(300)));
    let at = run(
        &mut pty,
        at,
        "kill -STOP $p; usleep 200000; grep State: /proc/$p/status",
        "State:\tT (stopped)\r\n",
        scaled(SIGNAL_BOUND),
    )?;
    // Running again: any state but stopped (the third field of stat).
    let at = run(
        &mut pty,
        at,
        "kill -CONT $p; usleep 200000; echo st-$(cut -d' ' -f3 /proc/$p/stat)",
        "st-",
        scaled(SIGNAL_BOUND),
    )?;
    let end = pty.expect(at, "\r\n", scaled(SLOW))?;
    let state = pty.seen[at..end - 2].to_string();
    if state == "T" || state.is_empty() {
        return Err(format!("after kill -CONT the state is {state:?}:\n{}", pty.seen).into());
    }
    run(
        &mut pty,
        end,
        "kill -9 $p; usleep 200000; wait $p; echo killed $?",
        "killed 137\r\n",
        scaled(SIGNAL_BOUND),
    )?;
    Ok(())
}

/// BusyBox `timeout` sends SIGTERM after 1 s; the program dies of it and the
/// shell reports 128 + 15 (BusyBox's timeout execs the program, so its
/// status is the program's, unlike coreutils' 124).
fn timeout_busy() -> Result<(), Failed> {
    let (mut pty, at) = shell()?;
    run(
        &mut pty,
        at,
        &format!("timeout 1 {BUSY}; echo status $?"),
        "status 143\r\n",
        scaled(Duration::from_secs(1) + SIGNAL_BOUND),
    )?;
    Ok(())
}

/// `timeout`'s other outcomes, one after the other in one shell: a program
/// that ends first keeps its status and does not wait for the duration
/// (before our BusyBox patch the watcher was a fork child that never
/// execed, which held `timeout` back for the whole duration and then
/// killed it: 143 after 5 s); `-s` picks the signal; `-k` sends SIGKILL
/// when the first signal (here SIGCONT, harmless) did not end the program.
/// Last, no watcher is left once the programs are gone (each one notices
/// within a second that its program is gone).
fn timeout_statuses() -> Result<(), Failed> {
    let (mut pty, at) = shell()?;
    let at = run(
        &mut pty,
        at,
        "timeout 5 true; echo status $?",
        "status 0\r\n",
        scaled(SIGNAL_BOUND),
    )?;
    let at = run(
        &mut pty,
        at,
        "timeout 5 sh -c 'exit 3'; echo status $?",
        "status 3\r\n",
        scaled(SIGNAL_BOUND),
    )?;
    let at = run(
        &mut pty,
        at,
        "timeout 1 sleep 10; echo status $?",
        "status 143\r\n",
        scaled(Duration::from_secs(1) + SIGNAL_BOUND),
    )?;
    let at = run(
        &mut pty,
        at,
        &format!("timeout -s KILL 1 {BUSY}; echo status $?"),
        "status 137\r\n",
        scaled(Duration::from_secs(1) + SIGNAL_BOUND),
    )?;
    let at = run(
        &mut pty,
        at,
        &format!("timeout -k 1 -s CONT 1 {BUSY}; echo status $?"),
        "status 137\r\n",
        scaled(Duration::from_secs(2) + SIGNAL_BOUND),
    )?;
    no_watcher_left(&mut pty, at)?;
    Ok(())
}

/// The watcher is a process of its own (`timeout -s TERM -p PID ...` in
/// `ps`) while the program runs, and exits by itself when the program is
/// killed by someone else, long before the duration.
fn timeout_watcher_follows_program() -> Result<(), Failed> {
    let (mut pty, at) = shell()?;
    let at = run(
        &mut pty,
        at,
        &format!("timeout 60 {BUSY} & p=$!"),
        PROMPT,
        scaled(SLOW),
    )?;
    // The watcher's command line: every option before DURATION.
    let at = run(
        &mut pty,
        at,
        "until ps | grep -q '[t]imeout -s TERM -p '$p' 60 awk'; do :; done; echo up",
        "up\r\n",
        scaled(SIGNAL_BOUND),
    )?;
    let at = run(
        &mut pty,
        at,
        "kill -9 $p; wait $p; echo killed $?",
        "killed 137\r\n",
        scaled(SIGNAL_BOUND),
    )?;
    no_watcher_left(&mut pty, at)?;
    Ok(())
}

/// Waits (within the bound) until `ps` shows no `timeout` watcher.
fn no_watcher_left(pty: &mut Pty, at: usize) -> Result<usize, Failed> {
    run(
        pty,
        at,
        "while ps | grep -q '[t]imeout -s'; do usleep 100000; done; echo none",
        "none\r\n",
        scaled(SIGNAL_BOUND),
    )
}

/// Two busy background loops, then foreground commands that need the
/// kernel (fork, exec, pipes): each finishes within the bound.
fn busy_background_no_starvation() -> Result<(), Failed> {
    let (mut pty, at) = shell()?;
    let at = run(
        &mut pty,
        at,
        &format!("{BUSY} & {BUSY} &"),
        PROMPT,
        scaled(SLOW),
    )?;
    std::thread::sleep(scaled(Duration::from_millis(300)));
    let at = run(
        &mut pty,
        at,
        "seq 1 500 | sort -rn | head -1",
        "500\r\n",
        scaled(SIGNAL_BOUND),
    )?;
    let at = run(
        &mut pty,
        at,
        "echo fg-$((6*7))",
        "fg-42\r\n",
        scaled(SIGNAL_BOUND),
    )?;
    run(
        &mut pty,
        at,
        "kill -9 %1 %2; wait; echo reaped",
        "reaped\r\n",
        scaled(SIGNAL_BOUND),
    )?;
    Ok(())
}

/// A user handler runs in the middle of a busy loop: the shell's SIGUSR1
/// handler (for its trap) runs while the shell loops without syscalls, and
/// the loop sees the variable the trap set.
fn trap_runs_in_busy_shell_loop() -> Result<(), Failed> {
    let (mut pty, at) = shell()?;
    let at = run(
        &mut pty,
        at,
        "trap 'f=1' USR1; f=0; (sleep 1; kill -USR1 $$) &",
        PROMPT,
        scaled(SLOW),
    )?;
    run(
        &mut pty,
        at,
        "while [ $f = 0 ]; do :; done; echo handled",
        "handled\r\n",
        scaled(Duration::from_secs(1) + SIGNAL_BOUND),
    )?;
    Ok(())
}
