//! The Linux image end to end (issue 9): `kernel.wasm` + `busybox.wasm`
//! built into one executable, booted, and used.
//!
//! * Golden cases (`tests/linux-golden/NAME.sh`, format in the README
//!   there): `./linux -c "$(cat NAME.sh)"`, stdout and exit status compared.
//! * Terminal cases, through a pseudo-terminal: the prompt must come back
//!   after a command without pressing Enter (SIGCHLD interrupts the shell's
//!   read), Ctrl-C ends `sleep 100`, vi edits and saves a file, the
//!   window size reaches the guest.
//!
//! Every case has a timeout that fails it. If the guest or the image
//! cannot be built, every case fails with the reason.

use libtest_mimic::{Arguments, Failed, Trial};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;
use w2native::image::{applets, build_linux_image, ImageInput};
use w2native::{CompileOptions, Target};
use w2native_tests::cprog::{run_merged_with_timeout, run_with_input, run_with_timeout};
use w2native_tests::cross;
use w2native_tests::linux::{build_runtime, guest_artifact, wildcard_match, Pty};

const CASE_TIMEOUT: Duration = Duration::from_secs(60);
const PROMPT: &str = "# ";

fn main() {
    let args = Arguments::from_args();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("linux-golden");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/linux-golden")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "sh"))
        .collect();
    cases.sort();
    let mut trials = Vec::new();
    for (target, prefix) in cross::targets() {
        for case in &cases {
            let name = case.file_stem().unwrap().to_string_lossy().into_owned();
            let issue = known_issue(&name).or_else(|| cross_issue(target, &name));
            let case = case.clone();
            let test = move || golden(target, &case);
            trials.push(trial(format!("{prefix}golden::{name}"), issue, test));
        }
        let tty: [(&str, TtyCase); 4] = [
            ("prompt_after_command", prompt_after_command),
            ("ctrl_c_sleep", ctrl_c_sleep),
            ("vi_edit", vi_edit),
            ("winsize", winsize),
        ];
        for (name, f) in tty {
            let issue = known_tty_issue(name).or_else(|| cross_issue(target, name));
            trials.push(trial(format!("{prefix}tty::{name}"), issue, move || {
                f(target)
            }));
        }
        let stdio: [(&str, TtyCase); 3] = [
            ("streams_apart", stdio_streams_apart),
            ("script_on_stdin", stdio_script_on_stdin),
            ("binary_roundtrip", stdio_binary_roundtrip),
        ];
        for (name, f) in stdio {
            let issue = cross_issue(target, name);
            trials.push(trial(format!("{prefix}stdio::{name}"), issue, move || {
                f(target)
            }));
        }
        let init: [(&str, TtyCase); 2] = [
            ("program_and_args", init_program_and_args),
            ("missing_program", init_missing_program),
        ];
        for (name, f) in init {
            let issue = cross_issue(target, name);
            trials.push(trial(format!("{prefix}init::{name}"), issue, move || {
                f(target)
            }));
        }
    }
    libtest_mimic::run(&args, trials).exit();
}

/// A terminal case, run for one target.
type TtyCase = fn(Target) -> Result<(), Failed>;

/// A trial, ignored with the reason in its name when it has a known issue
/// (still built and runnable with `--include-ignored`).
fn trial(
    name: String,
    issue: Option<&str>,
    test: impl FnOnce() -> Result<(), Failed> + Send + 'static,
) -> Trial {
    match issue {
        Some(reason) => {
            Trial::test(format!("{name} (ignored: {reason})"), test).with_ignored_flag(true)
        }
        None => Trial::test(name, test),
    }
}

/// Golden cases that fail because of a known, diagnosed bug (see
/// docs/known-issues.md): ignored with the reason in their name.
fn known_issue(name: &str) -> Option<&'static str> {
    // None at the moment; golden::ps was one until /proc/PID/cmdline worked.
    let _ = name;
    None
}

/// Terminal cases that fail because of a known bug, on every target.
fn known_tty_issue(name: &str) -> Option<&'static str> {
    // None at the moment; tty::ctrl_c_sleep was one (docs/known-issues.md).
    let _ = name;
    None
}

/// Cases that fail on one cross target only, because of a limitation of
/// qemu-user (docs/known-issues.md): ignored there, with the reason.
fn cross_issue(target: Target, name: &str) -> Option<&'static str> {
    // None at the moment; kill_term was one until its golden stopped
    // depending on when ash prints `Terminated` (stderr).
    let _ = (target, name);
    None
}

/// The image for `target`, built once for all its cases.
fn image(target: Target) -> Result<&'static Path, Failed> {
    type Built = OnceLock<Result<(tempfile::TempDir, PathBuf), String>>;
    static IMAGES: [Built; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let slot = Target::ALL
        .iter()
        .position(|t| *t == target)
        .expect("a known target");
    IMAGES[slot]
        .get_or_init(|| build_image(target))
        .as_ref()
        .map(|(_, p)| p.as_path())
        .map_err(|e| e.into())
}

fn build_image(target: Target) -> Result<(tempfile::TempDir, PathBuf), String> {
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
    let image = work.path().join(format!("linux-{target}"));
    build_linux_image(
        ImageInput {
            wasm: &kwasm,
            opts: CompileOptions::new(target, "kernel", "kernel"),
        },
        Some(ImageInput {
            wasm: &bwasm,
            opts: CompileOptions::new(target, "busybox", "busybox"),
        }),
        &applets(&busybox, &bwasm),
        &[],
        &image,
    )
    .map_err(|e| format!("building the Linux image for {target} failed: {e}"))?;
    Ok((work, image))
}

fn golden(target: Target, case: &Path) -> Result<(), Failed> {
    let image = image(target)?;
    let script = std::fs::read_to_string(case)?;
    let expected = std::fs::read_to_string(case.with_extension("out")).unwrap_or_default();
    let status: i32 = std::fs::read_to_string(case.with_extension("status"))
        .map(|s| s.trim().parse().unwrap_or(0))
        .unwrap_or(0);
    let mut cmd = cross::command(target, image);
    cmd.arg("-c").arg(script.trim_end());
    let (got_status, out) = run_merged_with_timeout(cmd, CASE_TIMEOUT)?;
    let output = String::from_utf8_lossy(&out);
    // Exact lines: "\r\n" would be a console tty where a pipe belongs.
    let got: Vec<&str> = output.split_terminator('\n').collect();
    let want: Vec<&str> = expected.lines().collect();
    let same = got.len() == want.len() && want.iter().zip(&got).all(|(w, g)| wildcard_match(w, g));
    if !same || got_status.code() != Some(status) {
        return Err(format!(
            "expected status {status} and output:\n{expected}\ngot status {:?} and output:\n{output}",
            got_status.code(),
        )
        .into());
    }
    Ok(())
}

/// A bound of `secs` for one step of a terminal case, four times longer
/// under qemu-user (whose first run of each code path is slow, more so on
/// a loaded machine): still bounded, still failing a step that never ends.
fn wait(target: Target, secs: u64) -> Duration {
    let factor = if target == Target::host() { 1 } else { 4 };
    Duration::from_secs(secs * factor)
}

fn boot_to_prompt(target: Target) -> Result<(Pty, usize), Failed> {
    let image = image(target)?;
    let mut pty = if target == Target::host() {
        Pty::spawn(image, &[])?
    } else {
        let path = image.to_str().ok_or("non-UTF-8 temporary path")?;
        Pty::spawn(Path::new(target.qemu()), &[path])?
    };
    let at = pty.expect(0, PROMPT, CASE_TIMEOUT)?;
    Ok((pty, at))
}

/// The WasmLinux bug must not exist: after a command ends the prompt comes
/// back by itself (nothing is typed after the command line).
fn prompt_after_command(target: Target) -> Result<(), Failed> {
    let (mut pty, at) = boot_to_prompt(target)?;
    pty.send(b"sleep 1; echo done-sleeping\n")?;
    let at = pty.expect(at, "done-sleeping\r\n", wait(target, 10))?;
    pty.expect(at, PROMPT, wait(target, 3))?;
    Ok(())
}

fn ctrl_c_sleep(target: Target) -> Result<(), Failed> {
    let (mut pty, at) = boot_to_prompt(target)?;
    pty.send(b"sleep 100\n")?;
    let at = pty.expect(at, "sleep 100\r\n", wait(target, 5))?;
    // Longer under qemu-user: a Ctrl-C in the fork/exec window can hang the
    // aarch64 image (docs/known-issues.md).
    let pause = if target == Target::host() { 300 } else { 1500 };
    std::thread::sleep(Duration::from_millis(pause));
    pty.send(b"\x03")?;
    // The echo of the line says nothing about `sleep` having started: a
    // Ctrl-C that comes before the forked child made its group the
    // terminal's foreground goes to the shell, which keeps waiting for its
    // job (as on Linux). Under qemu-user on a loaded machine the fork and
    // exec can take longer than the pause above, so a second Ctrl-C then
    // reaches `sleep`. A shell that died of the Ctrl-C still fails below:
    // init restarts it and `$?` is 0.
    let at = match pty.expect(at, PROMPT, wait(target, 2)) {
        Ok(at) => at,
        Err(_) => {
            pty.send(b"\x03")?;
            pty.expect(at, PROMPT, wait(target, 5))?
        }
    };
    pty.send(b"echo status $?\n")?;
    pty.expect(at, "status 130", wait(target, 5))?;
    Ok(())
}

fn vi_edit(target: Target) -> Result<(), Failed> {
    let (mut pty, at) = boot_to_prompt(target)?;
    pty.send(b"vi /tmp/vi.txt\n")?;
    let at = pty.expect(at, "/tmp/vi.txt", wait(target, 10))?;
    std::thread::sleep(Duration::from_millis(300));
    pty.send(b"ihello from vi\x1b")?;
    std::thread::sleep(Duration::from_millis(200));
    pty.send(b":wq\r")?;
    let at = pty.expect(at, PROMPT, wait(target, 10))?;
    pty.send(b"cat /tmp/vi.txt\n")?;
    pty.expect(at, "hello from vi\r\n", wait(target, 5))?;
    Ok(())
}

/// The console tty has the host terminal's size and follows it: a new
/// size reaches `stty`, and the guest's foreground job gets SIGWINCH.
fn winsize(target: Target) -> Result<(), Failed> {
    let (mut pty, at) = boot_to_prompt(target)?;
    pty.send(b"stty size\n")?;
    let at = pty.expect(at, "\r\n24 80\r\n", wait(target, 5))?;
    pty.send(
        b"sh -c 'trap \"echo got WINCH; exit\" WINCH; echo ready; while :; do usleep 50000; done'\n",
    )?;
    let at = pty.expect(at, "\r\nready\r\n", wait(target, 5))?;
    pty.set_size(33, 101)?;
    let at = pty.expect(at, "got WINCH\r\n", wait(target, 5))?;
    let at = pty.expect(at, PROMPT, wait(target, 5))?;
    pty.send(b"stty size\n")?;
    pty.expect(at, "\r\n33 101\r\n", wait(target, 5))?;
    Ok(())
}

/// `--init CMD`: the kernel execs CMD's program as pid 1 with CMD's words
/// as argv, and its exit status is the image's.
fn init_program_and_args(target: Target) -> Result<(), Failed> {
    let image = image(target)?;
    let mut cmd = cross::command(target, image);
    cmd.args(["--init", "/bin/echo hello  from init"]);
    let out = run_with_timeout(cmd, CASE_TIMEOUT)?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if stdout.lines().collect::<Vec<_>>() != ["hello from init"] || out.status.code() != Some(0) {
        return Err(format!(
            "expected `hello from init` and status 0, got status {:?}, stdout {stdout:?}, stderr {:?}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    let mut cmd = cross::command(target, image);
    cmd.args(["--init", "/bin/false"]);
    let out = run_with_timeout(cmd, CASE_TIMEOUT)?;
    if out.status.code() != Some(1) {
        return Err(format!(
            "--init /bin/false: status {:?}, expected 1",
            out.status.code()
        )
        .into());
    }
    Ok(())
}

/// `--init` naming a file the guest does not have: one error line, status
/// 127 (the kernel itself would fall back to /sbin/init).
fn init_missing_program(target: Target) -> Result<(), Failed> {
    let image = image(target)?;
    let mut cmd = cross::command(target, image);
    cmd.args(["--init", "/bin/no-such-init"]);
    let out = run_with_timeout(cmd, CASE_TIMEOUT)?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let want = "w2native runner: --init /bin/no-such-init: not found in the guest (the kernel started /sbin/init)";
    if out.status.code() != Some(127) || stderr.trim_end() != want {
        return Err(format!(
            "expected status 127 and stderr `{want}`, got status {:?} and stderr {stderr:?}",
            out.status.code()
        )
        .into());
    }
    Ok(())
}

/// Runs the image with `args`, `input` on its stdin (a pipe) and its
/// stdout and stderr captured apart, bounded by CASE_TIMEOUT.
fn run_piped(
    target: Target,
    args: &[&str],
    input: Vec<u8>,
) -> Result<std::process::Output, Failed> {
    let image = image(target)?;
    let mut cmd = cross::command(target, image);
    cmd.args(args);
    Ok(run_with_input(cmd, Some(input), CASE_TIMEOUT)?)
}

fn expect_output(
    what: &str,
    out: &std::process::Output,
    stdout: &[u8],
    stderr: &[u8],
    status: i32,
) -> Result<(), Failed> {
    if out.stdout != stdout || out.stderr != stderr || out.status.code() != Some(status) {
        return Err(format!(
            "{what}: expected status {status}, stdout {:?}, stderr {:?}; got status {:?}, stdout {:?}, stderr {:?}",
            String::from_utf8_lossy(stdout),
            String::from_utf8_lossy(stderr),
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        )
        .into());
    }
    Ok(())
}

/// Host streams that are pipes reach the program as pipes would natively:
/// no tty (no echo, "\n" stays "\n"), stdin's end is end of file, stderr
/// stays apart from stdout.
fn stdio_streams_apart(target: Target) -> Result<(), Failed> {
    let script = "read a; echo \"got $a\"; cat; echo out; echo err >&2; \
                  [ -t 0 ] || echo in-not-tty; [ -t 1 ] || echo out-not-tty; \
                  [ -t 2 ] || echo err-not-tty >&2; exit 5";
    let out = run_piped(target, &["-c", script], b"first\nsecond\n".to_vec())?;
    expect_output(
        "-c with piped streams",
        &out,
        b"got first\nsecond\nout\nin-not-tty\nout-not-tty\n",
        b"err\nerr-not-tty\n",
        5,
    )
}

/// `./linux < script`: the shell reads the script from stdin, prints no
/// banner or prompt, and its exit status is the image's.
fn stdio_script_on_stdin(target: Target) -> Result<(), Failed> {
    let out = run_piped(
        target,
        &[],
        b"echo hi\nls /no-such-file\ncd /tmp && pwd\nexit 7\n".to_vec(),
    )?;
    expect_output(
        "script on stdin",
        &out,
        b"hi\n/tmp\n",
        b"ls: /no-such-file: No such file or directory\n",
        7,
    )
}

/// Every byte value through stdin and stdout unchanged (a tty would turn
/// "\n" into "\r\n", eat ^C/^D/^Z and echo), larger than any pipe or
/// tty buffer; and /dev/urandom gives what is asked for.
fn stdio_binary_roundtrip(target: Target) -> Result<(), Failed> {
    let input: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let out = run_piped(target, &["-c", "cat"], input.clone())?;
    expect_output("cat of 300000 bytes", &out, &input, b"", 0)?;
    let out = run_piped(
        target,
        &["-c", "head -c 100000 /dev/urandom | wc -c"],
        vec![],
    )?;
    expect_output("/dev/urandom", &out, b"100000\n", b"", 0)
}
