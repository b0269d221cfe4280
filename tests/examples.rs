//! The examples/ golden suite: every `examples/NAME.c` is built for
//! wasm32-wasi with clang-19, compiled to a native executable by w2native,
//! run, and its stdout, stderr and exit status compared with the golden
//! files (format in examples/README.md).
//!
//! Every program runs for each target: natively on the host, and for the
//! other architectures under qemu-user (`qemu-aarch64 ./exe`; outputs are
//! static, so no sysroot is needed). A cross trial whose runtime library is
//! missing fails and names the command that builds it (`cargo xtask test`
//! builds them all before running the suites). Trial names are
//! `NAME::BOUNDS` on the host and `NAME::TARGET::BOUNDS` for cross targets.

use libtest_mimic::{Arguments, Failed, Trial};
use std::path::{Path, PathBuf};
use std::time::Duration;
use w2native::{BoundsMode, CompileOptions, Target};
use w2native_tests::{cprog, cross};

fn main() {
    let args = Arguments::from_args();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut sources: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("examples directory")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "c"))
        .collect();
    sources.sort();
    let mut trials = Vec::new();
    let host = Target::host();
    for (target, _) in cross::targets() {
        for source in &sources {
            for bounds in [BoundsMode::Guard, BoundsMode::Explicit] {
                let stem = source.file_stem().unwrap().to_string_lossy();
                let bounds_name = format!("{bounds:?}").to_lowercase();
                let name = if target == host {
                    format!("{stem}::{bounds_name}")
                } else {
                    format!("{stem}::{target}::{bounds_name}")
                };
                let source = source.clone();
                trials.push(Trial::test(name, move || check(&source, target, bounds)));
            }
        }
    }
    libtest_mimic::run(&args, trials).exit();
}

fn read_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .map(|s| s.lines().map(str::to_string).collect())
        .unwrap_or_default()
}

/// Trap messages end in `+0x<code offset>`, which moves whenever codegen
/// changes; goldens write `+0x?`.
fn normalize_offsets(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("+0x") {
        out.push_str(&rest[..i + 3]);
        rest = rest[i + 3..].trim_start_matches(|c: char| c.is_ascii_hexdigit());
        out.push('?');
    }
    out.push_str(rest);
    out
}

fn check(source: &Path, target: Target, bounds: BoundsMode) -> Result<(), Failed> {
    let stem = source.file_stem().unwrap().to_string_lossy().into_owned();
    let golden = |ext: &str| source.with_extension(ext);
    cross::runtime(target)?;
    let work = tempfile::tempdir()?;
    let wasm_path = cprog::build_wasm(source, &read_lines(&golden("cflags")), work.path())?;
    let wasm = std::fs::read(&wasm_path)?;
    let exe = work.path().join(&stem);
    let mut opts = CompileOptions::new(target, "app", &stem);
    opts.bounds = bounds;
    w2native::build_executable(&wasm, &opts, &exe)?;

    // Threaded programs run `NAME.repeat` times (each with its timeout):
    // a rare deadlock or lost wakeup must show up here.
    let repeat: u32 = std::fs::read_to_string(golden("repeat"))
        .map(|s| s.trim().parse().expect("repeat file holds a count"))
        .unwrap_or(1);
    for run in 1..=repeat {
        run_once(&exe, source, target).map_err(|e| {
            Failed::from(format!(
                "run {run} of {repeat}: {}",
                e.message().unwrap_or("")
            ))
        })?;
    }
    Ok(())
}

fn run_once(exe: &Path, source: &Path, target: Target) -> Result<(), Failed> {
    let stem = source.file_stem().unwrap().to_string_lossy().into_owned();
    let golden = |ext: &str| source.with_extension(ext);
    let run_dir = tempfile::tempdir()?;
    let mut cmd = cross::command(target, exe);
    cmd.args(read_lines(&golden("args")))
        .current_dir(run_dir.path())
        .env("W2N_EXAMPLE", "42");
    let out = cprog::run_with_timeout(cmd, Duration::from_secs(180))?;

    let stdout = String::from_utf8_lossy(&out.stdout);
    let expected_stdout =
        std::fs::read_to_string(golden("stdout")).map_err(|e| format!("{stem}.stdout: {e}"))?;
    if stdout != expected_stdout {
        return Err(
            format!("stdout differs\n--- expected\n{expected_stdout}--- got\n{stdout}").into(),
        );
    }
    let stderr = normalize_offsets(&String::from_utf8_lossy(&out.stderr));
    let expected_stderr = std::fs::read_to_string(golden("stderr")).unwrap_or_default();
    if stderr != expected_stderr {
        return Err(
            format!("stderr differs\n--- expected\n{expected_stderr}--- got\n{stderr}").into(),
        );
    }
    let expected_status: i32 = std::fs::read_to_string(golden("status"))
        .map(|s| s.trim().parse().expect("status file holds an integer"))
        .unwrap_or(0);
    match out.status.code() {
        Some(code) if code == expected_status => Ok(()),
        other => Err(format!("exit status {other:?}, expected {expected_status}").into()),
    }
}
