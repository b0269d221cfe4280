//! `cargo xtask <command>`: the two commands of the README and their parts.
//!
//! - `run`: set up the machine, build the guest (cached), the compiler and
//!   `linux-x64`, then boot it (the main job);
//! - `test`: set up what the tests need (cross runtimes included), then run
//!   every test suite;
//! - `setup`: install Debian packages and build the compiler and the runtime
//!   for every target;
//! - `runtime [--target T]`: build the runtime for x86_64, aarch64 or
//!   riscv64 (cross builds use Debian's Rust, see `cross.rs`);
//! - `guest`: build kernel.wasm and busybox.wasm (cached by input hash);
//! - `boot-bench`: time the Linux image's build, boot and idle CPU;
//! - `telnet-stress`: many concurrent `--telnet` sessions against one image;
//! - `busybox-tests [--target T] [APPLET...]`: BusyBox's own testsuite in
//!   the guest against a native baseline (`busybox_tests.rs`).
//!
//! Everything a fresh Debian bookworm machine lacks is installed here with
//! apt-get; nothing relies on a package installed by hand.

mod bench;
mod boot_bench;
mod busybox_tests;
mod cross;
mod deps;
mod fuzz;
// The Linux suites' pseudo-terminal driver, shared by path: depending on
// the test crate would build the whole compiler for xtask. boot-bench uses
// only part of it.
#[path = "../../tests/src/pty.rs"]
#[allow(dead_code)]
mod pty;
mod telnet_stress;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("setup") => setup(),
        Some("test") => test(&args[1..]),
        Some("runtime") => cross::runtime_command(&args[1..]),
        Some("bench") => bench::bench_command(&args[1..]),
        Some("boot-bench") => boot_bench::boot_bench_command(&args[1..]),
        Some("fuzz") => fuzz::fuzz_command(&args[1..]),
        Some("telnet-stress") => telnet_stress::telnet_stress_command(&args[1..]),
        Some("busybox-tests") => busybox_tests::busybox_tests_command(&args[1..]),
        Some("guest") => guest().map(|(kernel, busybox)| {
            // The cache keeps older builds too: say which ones are current.
            println!("{}\n{}", kernel.display(), busybox.display());
        }),
        Some("run") => run(),
        _ => {
            eprintln!(
                "usage: cargo xtask <command>\n\n  run     set up, build guest + compiler + linux-x64, boot it\n  test    run all tests (installs what they need)\n  setup   install packages, build compiler and runtime (all targets)\n  runtime [--target x86_64|aarch64|riscv64]  build the runtime for a target (default: all)\n  guest   build kernel.wasm and busybox.wasm (cached), print their paths\n  bench [--runs N] [--only a,b] [--callgrind] [--interrupt-checks] [--install-wasmtime] [--no-write]  workloads vs native, wasm2c, wasmtime\n  fuzz [--cases N] [--seed S] [--malformed M] | fuzz one SEED | fuzz reduce SEED  differential fuzzing against wasmi\n  boot-bench [--runs N] [--idle-secs S]  time the Linux image: build, -c true, first prompt, idle CPU\n  busybox-tests [--target T] [APPLET...]  BusyBox's testsuite in the guest vs native\n  telnet-stress [--sessions N] [--commands M] [--rounds R]  many telnet sessions against a headless image"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

pub fn step(what: &str) {
    eprintln!("==> {what}");
}

/// Runs a command in the workspace root, failing with its name on error.
pub fn sh(cmd: &mut Command) -> Result<(), String> {
    let status = cmd
        .current_dir(root())
        .status()
        .map_err(|e| format!("cannot run {:?}: {e}", cmd.get_program()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?} failed ({status})"))
    }
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn setup() -> Result<(), String> {
    deps::install(deps::ALL)?;
    build_compiler()?;
    build_cross_runtimes()
}

/// The runtimes of the cross targets, which the examples suite (and
/// `w2native build --target`) need.
fn build_cross_runtimes() -> Result<(), String> {
    for t in cross::CROSS {
        cross::build_runtime(t)?;
    }
    Ok(())
}

fn build_compiler() -> Result<(), String> {
    step("building the compiler and the runtime (release)");
    sh(cargo().args([
        "build",
        "--release",
        "-p",
        "w2native",
        "-p",
        "runtime-support",
    ]))
}

fn test(extra: &[String]) -> Result<(), String> {
    deps::install(deps::TEST)?;
    build_compiler()?;
    build_cross_runtimes()?;
    step("running all test suites");
    // The cross spec suite (tests/spec_cross.rs) is opt-in for plain
    // `cargo test`; here it runs for both cross targets.
    sh(cargo()
        .args(["test", "--workspace", "--release"])
        .args(extra)
        .env("W2NATIVE_SPEC_CROSS", "all"))
}

/// Builds the guest modules; returns (kernel.wasm, busybox.wasm).
fn guest() -> Result<(PathBuf, PathBuf), String> {
    deps::install(deps::ALL)?;
    let kernel = guest_script("build-kernel.sh")?;
    let busybox = guest_script("build-userland.sh")?;
    Ok((kernel, busybox))
}

/// The guest modules for the measuring commands: the ones the tests'
/// variables `W2NATIVE_KERNEL_WASM` and `W2NATIVE_BUSYBOX_WASM` (both) name,
/// e.g. while a guest rebuild is running, else [`guest`]'s.
fn guest_or_env() -> Result<(PathBuf, PathBuf), String> {
    match (
        std::env::var_os("W2NATIVE_KERNEL_WASM"),
        std::env::var_os("W2NATIVE_BUSYBOX_WASM"),
    ) {
        (Some(k), Some(b)) => Ok((k.into(), b.into())),
        _ => guest(),
    }
}

/// Runs a guest build script; its last stdout line is the artifact path.
fn guest_script(script: &str) -> Result<PathBuf, String> {
    step(&format!("guest/{script} (cached by input hash)"));
    let out = Command::new("bash")
        .arg(root().join("guest").join(script))
        .current_dir(root())
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run guest/{script}: {e}"))?;
    if !out.status.success() {
        return Err(format!("guest/{script} failed ({})", out.status));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let path = stdout.lines().last().unwrap_or("").trim();
    if path.is_empty() || !Path::new(path).is_file() {
        return Err(format!(
            "guest/{script} did not print the path of its output"
        ));
    }
    Ok(PathBuf::from(path))
}

fn run() -> Result<(), String> {
    let (kernel, busybox) = guest()?;
    build_compiler()?;
    let output = root().join("linux-x64");
    step("building linux-x64");
    sh(Command::new(root().join("target/release/w2native"))
        .arg("build")
        .arg(&kernel)
        .arg(&busybox)
        .arg("-o")
        .arg(&output))?;
    step("booting linux-x64 (exit the shell to return)");
    let status = Command::new(&output)
        .status()
        .map_err(|e| format!("cannot run {}: {e}", output.display()))?;
    // The guest's exit status is the image's: pass it on, it is not an error
    // of this command.
    std::process::exit(status.code().unwrap_or(1))
}
