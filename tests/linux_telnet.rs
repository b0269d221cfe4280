//! `--telnet` (issue 10): the Linux image serves a shell per telnet
//! connection on 127.0.0.1 (a free port the image picks and prints), with
//! the small client of `src/telnet.rs`.
//!
//! * commands run with their exact output and status;
//! * two sessions at once keep their own working directories;
//! * a connection dropped in the middle of `sleep 100` leaves no process
//!   behind (another session lists the guest's processes);
//! * the console keeps working beside a session, and ending the image
//!   (end of the console's input) closes the session;
//! * `exit` in a session closes its connection;
//! * `--telnet-cmd` replaces telnetd (its output, then the connection
//!   closes when it ends);
//! * a bad address is one error line and status 2.
//!
//! Every step has a timeout that fails the case. The cases run for every
//! target: aarch64 and riscv64 under qemu-user (`ARCH::name`).

use libtest_mimic::{Arguments, Failed, Trial};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use w2native::Target;
use w2native_tests::cprog::run_with_timeout;
use w2native_tests::cross;
use w2native_tests::linux::build_image;
use w2native_tests::telnet::Telnet;

const BOOT: Duration = Duration::from_secs(60);

type Case = fn(Target) -> Result<(), Failed>;
const STEP: Duration = Duration::from_secs(20);

fn main() {
    let args = Arguments::from_args();
    let cases: [(&str, Case); 7] = [
        ("commands", commands),
        ("two_sessions", two_sessions),
        ("dropped_session", dropped_session),
        ("console_alongside", console_alongside),
        ("exit_closes", exit_closes),
        ("custom_command", custom_command),
        ("bad_address", bad_address),
    ];
    let mut trials = Vec::new();
    for (target, prefix) in cross::targets() {
        for (name, f) in cases {
            trials.push(Trial::test(format!("{prefix}{name}"), move || f(target)));
        }
    }
    libtest_mimic::run(&args, trials).exit();
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

/// A running image with `--telnet 127.0.0.1:0`; killed when dropped.
struct Server {
    child: Child,
    addr: String,
    stdin: Option<ChildStdin>,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

impl Server {
    /// Starts the image with `extra` options; stdin is a pipe the test
    /// holds (the console's input, unless `--no-console`).
    fn start(target: Target, extra: &[&str]) -> Result<Server, Failed> {
        let mut cmd = cross::command(target, image(target)?);
        cmd.args(["--telnet", "127.0.0.1:0"])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn()?;
        let stdout = collect(child.stdout.take().ok_or("no stdout")?);
        let mut lines = BufReader::new(child.stderr.take().ok_or("no stderr")?);
        let mut first = String::new();
        lines.read_line(&mut first)?;
        let addr = first
            .trim()
            .strip_prefix("telnet: listening on ")
            .ok_or_else(|| format!("the image's first stderr line: {first:?}"))?
            .to_string();
        let stderr = collect(lines);
        Ok(Server {
            stdin: child.stdin.take(),
            child,
            addr,
            stdout,
            stderr,
        })
    }

    fn connect(&self) -> Result<Telnet, Failed> {
        let mut t = Telnet::connect(&self.addr)?;
        t.quiet(BOOT)
            .map_err(|e| format!("{e}\nimage stderr:\n{}", self.stderr.lock().unwrap()))?;
        Ok(t)
    }

    /// Waits until the image's stdout (CRs removed: the console tty ends
    /// lines with CR LF) contains `what`.
    fn expect_stdout(&self, what: &str, timeout: Duration) -> Result<(), Failed> {
        let deadline = Instant::now() + timeout;
        while !self.stdout.lock().unwrap().replace('\r', "").contains(what) {
            if Instant::now() > deadline {
                return Err(format!(
                    "no {what:?} on the console within {timeout:?}; it showed:\n{}",
                    self.stdout.lock().unwrap()
                )
                .into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads `r` to its end on a thread, into the returned buffer.
fn collect(mut r: impl Read + Send + 'static) -> Arc<Mutex<String>> {
    let out = Arc::new(Mutex::new(String::new()));
    let sink = out.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = r.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    out
}

fn check(t: &mut Telnet, cmd: &str, output: &str, status: i32) -> Result<(), Failed> {
    let (got, got_status) = t.run(cmd, STEP)?;
    if got != output || got_status != status {
        return Err(format!(
            "{cmd:?}: expected status {status} and output {output:?}, got status {got_status} and {got:?}"
        )
        .into());
    }
    Ok(())
}

fn commands(target: Target) -> Result<(), Failed> {
    let server = Server::start(target, &["--no-console"])?;
    let mut t = server.connect()?;
    check(
        &mut t,
        "echo hello $((6*7)); pwd; uname -s",
        "hello 42\n/\nLinux\n",
        0,
    )?;
    check(&mut t, "sh -c 'exit 3'", "", 3)?;
    check(
        &mut t,
        "mkdir -p /tmp/t && echo data > /tmp/t/f && cat /tmp/t/f && seq 3 | sort -r",
        "data\n3\n2\n1\n",
        0,
    )?;
    check(&mut t, "tty", "/dev/pts/0\n", 0)?;
    Ok(())
}

fn two_sessions(target: Target) -> Result<(), Failed> {
    let server = Server::start(target, &["--no-console"])?;
    let mut a = server.connect()?;
    let mut b = server.connect()?;
    check(&mut a, "mkdir -p /tmp/a && cd /tmp/a", "", 0)?;
    check(&mut b, "mkdir -p /tmp/b && cd /tmp/b", "", 0)?;
    check(&mut a, "pwd", "/tmp/a\n", 0)?;
    check(
        &mut b,
        "pwd; echo b > here; cat /tmp/b/here",
        "/tmp/b\nb\n",
        0,
    )?;
    check(
        &mut a,
        "pwd; cat here",
        "/tmp/a\ncat: can't open 'here': No such file or directory\n",
        1,
    )?;
    let (pid_a, _) = a.run("echo $$", STEP)?;
    let (pid_b, _) = b.run("echo $$", STEP)?;
    if pid_a == pid_b {
        return Err(format!("both sessions have shell pid {pid_a}").into());
    }
    Ok(())
}

fn dropped_session(target: Target) -> Result<(), Failed> {
    let server = Server::start(target, &["--no-console"])?;
    let mut watcher = server.connect()?;
    let before = watcher.user_processes(STEP)?;
    let mut victim = server.connect()?;
    let (shell, _) = victim.run("echo $$", STEP)?;
    victim.send_line("sleep 100")?;
    let deadline = Instant::now() + STEP;
    loop {
        let now = watcher.user_processes(STEP)?;
        if now.iter().any(|p| p.ends_with(" sleep")) {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("sleep 100 never showed up:\n{}", now.join("\n")).into());
        }
    }
    victim.hang_up();
    let deadline = Instant::now() + STEP;
    loop {
        let now = watcher.user_processes(STEP)?;
        if now == before {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!(
                "processes left after the connection of shell {} dropped:\nbefore:\n{}\nnow:\n{}",
                shell.trim(),
                before.join("\n"),
                now.join("\n")
            )
            .into());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    // ps agrees (it lists itself and the watcher's shell and telnetd).
    let (ps, _) = watcher.run("ps | grep -c '[s]leep'", STEP)?;
    if ps.trim() != "0" {
        return Err(format!("ps still counts {} sleep processes", ps.trim()).into());
    }
    Ok(())
}

fn console_alongside(target: Target) -> Result<(), Failed> {
    let mut server = Server::start(target, &[])?;
    let mut t = server.connect()?;
    check(&mut t, "echo telnet-$((1+1))", "telnet-2\n", 0)?;
    let mut stdin = server.stdin.take().ok_or("no stdin")?;
    stdin.write_all(b"echo console-$((2+3))\n")?;
    server.expect_stdout("console-5\n", STEP)?;
    check(&mut t, "echo still-$((3+4))", "still-7\n", 0)?;
    // End of the console's input: its shell (init) exits, the image
    // powers off with its status, and the session goes with it.
    stdin.write_all(b"exit 0\n")?;
    drop(stdin);
    t.expect_closed(STEP)?;
    let deadline = Instant::now() + STEP;
    let status = loop {
        if let Some(s) = server.child.try_wait()? {
            break s;
        }
        if Instant::now() > deadline {
            return Err("the image did not end after its console's input ended".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    if status.code() != Some(0) {
        return Err(format!("the image ended with {status}").into());
    }
    Ok(())
}

fn exit_closes(target: Target) -> Result<(), Failed> {
    let server = Server::start(target, &["--no-console"])?;
    let mut t = server.connect()?;
    t.send_line("exit")?;
    t.expect_closed(STEP)?;
    // The daemon still serves new connections.
    let mut again = server.connect()?;
    check(&mut again, "echo again", "again\n", 0)?;
    Ok(())
}

fn custom_command(target: Target) -> Result<(), Failed> {
    let server = Server::start(
        target,
        &["--no-console", "--telnet-cmd", "echo custom-$((2*4)); tty"],
    )?;
    let mut t = Telnet::connect(&server.addr)?;
    let at = t.expect(0, "custom-8\nnot a tty\n", BOOT)?;
    t.expect_closed(STEP)?;
    if t.seen.len() != at {
        return Err(format!("more output than expected: {:?}", t.seen).into());
    }
    Ok(())
}

fn bad_address(target: Target) -> Result<(), Failed> {
    for addr in ["nonsense", "127.0.0.1:99999", "256.1.2.3:23"] {
        let mut cmd = cross::command(target, image(target)?);
        cmd.args(["--telnet", addr, "-c", "echo booted"]);
        let out = run_with_timeout(cmd, STEP)?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = stderr.lines().collect();
        let one_error =
            lines.len() == 1 && lines[0].starts_with(&format!("error: --telnet {addr}"));
        if out.status.code() != Some(2) || !one_error || !out.stdout.is_empty() {
            return Err(format!(
                "--telnet {addr}: expected status 2, one error line and no output; got {:?}, stderr {stderr:?}, stdout {:?}",
                out.status.code(),
                String::from_utf8_lossy(&out.stdout)
            )
            .into());
        }
    }
    Ok(())
}
