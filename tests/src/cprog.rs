//! Building C programs for wasm32-wasi with Debian's clang-19 and running
//! the native executables w2native makes of them.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub const CLANG: &str = "clang-19";

/// Compiles `source` to `out_dir/<stem>.wasm`. Compile and link are separate
/// steps: when clang links with -O it runs wasm-opt, which drops the name
/// section that trap messages use.
pub fn build_wasm(source: &Path, cflags: &[String], out_dir: &Path) -> Result<PathBuf, String> {
    let stem = source.file_stem().unwrap().to_string_lossy();
    let object = out_dir.join(format!("{stem}.o"));
    let wasm = out_dir.join(format!("{stem}.wasm"));
    run_tool(
        Command::new(CLANG)
            .args(["--target=wasm32-wasi", "-O2", "-c"])
            .args(cflags)
            .arg(source)
            .arg("-o")
            .arg(&object),
    )?;
    run_tool(
        Command::new(CLANG)
            .arg("--target=wasm32-wasi")
            .args(
                cflags
                    .iter()
                    .filter(|f| f.starts_with("-Wl,") || f.starts_with("-l")),
            )
            .arg(&object)
            .arg("-o")
            .arg(&wasm),
    )?;
    Ok(wasm)
}

fn run_tool(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| {
        format!(
            "cannot run {:?}: {e} (install clang-19, lld-19 and wasi-libc: `cargo xtask setup`)",
            cmd.get_program()
        )
    })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{:?} failed:\n{}",
            cmd,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Runs `cmd` with stdin from /dev/null, killing it after `timeout`.
pub fn run_with_timeout(cmd: Command, timeout: Duration) -> Result<Output, String> {
    run_with_input(cmd, None, timeout)
}

/// Runs `cmd` with `input` on its stdin (a pipe; `None`: /dev/null) and its
/// stdout and stderr captured apart, killing it after `timeout`. Both are
/// read while it runs, so they may be larger than a pipe buffer.
pub fn run_with_input(
    mut cmd: Command,
    input: Option<Vec<u8>>,
    timeout: Duration,
) -> Result<Output, String> {
    let stdin = if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    };
    cmd.stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = spawn_retrying_busy(&mut cmd)?;
    if let (Some(mut stdin), Some(input)) = (child.stdin.take(), input) {
        std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
    }
    let stdout = read_in_background(child.stdout.take());
    let stderr = read_in_background(child.stderr.take());
    let status = wait_with_deadline(&mut child, timeout)?;
    let join = |r: JoinHandle<Vec<u8>>| r.join().map_err(|_| "output reader panicked");
    Ok(Output {
        status,
        stdout: join(stdout)?,
        stderr: join(stderr)?,
    })
}

/// Runs `cmd` with stdin from /dev/null and its stdout and stderr on one
/// pipe, as a terminal would show them (in the order they were written),
/// and kills it after `timeout`. Returns its status and that output.
pub fn run_merged_with_timeout(
    mut cmd: Command,
    timeout: Duration,
) -> Result<(ExitStatus, Vec<u8>), String> {
    let (reader, writer) = std::io::pipe().map_err(|e| e.to_string())?;
    let writer2 = writer.try_clone().map_err(|e| e.to_string())?;
    cmd.stdin(Stdio::null()).stdout(writer).stderr(writer2);
    let mut child = spawn_retrying_busy(&mut cmd)?;
    // The Command holds the pipe's write ends: drop them, or the reader
    // never sees the end.
    drop(cmd);
    let collect = read_in_background(Some(reader));
    let status = wait_with_deadline(&mut child, timeout)?;
    // Background guest processes cannot hold the pipe: the image is one
    // host process, and it has exited.
    let out = collect.join().map_err(|_| "output reader panicked")?;
    Ok((status, out))
}

/// Reads `from` to its end on a thread of its own (nothing if `None`).
fn read_in_background(from: Option<impl Read + Send + 'static>) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut out = Vec::new();
        if let Some(mut from) = from {
            let _ = from.read_to_end(&mut out);
        }
        out
    })
}

/// Waits for `child`, killing it after `timeout`.
fn wait_with_deadline(child: &mut Child, timeout: Duration) -> Result<ExitStatus, String> {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return Ok(status);
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("timed out after {}s", timeout.as_secs()));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Spawns `cmd`, retrying on ETXTBSY: when another test thread forks while
/// this one still holds the freshly linked executable open for writing, the
/// forked child keeps that descriptor until it execs, and executing the file
/// fails for that short moment.
pub fn spawn_retrying_busy(cmd: &mut Command) -> Result<std::process::Child, String> {
    let mut attempts = 0;
    loop {
        match cmd.spawn() {
            Ok(child) => return Ok(child),
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && attempts < 50 => {
                attempts += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(format!("cannot start {:?}: {e}", cmd.get_program())),
        }
    }
}
