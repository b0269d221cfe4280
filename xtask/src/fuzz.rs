//! `cargo xtask fuzz`: a bounded differential fuzzing run on stable Rust.
//!
//!     cargo xtask fuzz --cases N [--seed S] [--batch B] [--malformed M]
//!
//! Builds `w2native-fuzz` (release) and runs `w2native-fuzz diff`: N
//! wasm-smith modules from seed S, each compiled by w2native and compared
//! with the wasmi interpreter; it prints cases run, divergences, crashes and
//! wall time, and fails if any was found. `--malformed M` adds M mutants of
//! real modules (the cached kernel.wasm and busybox.wasm when present, and
//! generated ones) to the compiler and a sample to the CLI. The run is
//! `nice`d: the machine is shared. See docs/fuzzing.md.

use crate::{cargo, root, sh, step};
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn fuzz_command(args: &[String]) -> Result<(), String> {
    let opt = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let cases = opt("--cases").unwrap_or_else(|| "1000".into());
    let seed = opt("--seed").unwrap_or_else(|| "0".into());
    let batch = opt("--batch").unwrap_or_else(|| "50".into());
    step("building w2native and w2native-fuzz (release)");
    sh(cargo().args([
        "build",
        "--release",
        "-p",
        "w2native",
        "-p",
        "w2native-fuzz",
    ]))?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    let fuzzer = target.join("release/w2native-fuzz");
    let out = target.join("fuzz");
    let mut failed = Vec::new();
    step(&format!(
        "differential fuzzing: {cases} cases from seed {seed}"
    ));
    let status = Command::new("nice")
        .args(["-n", "19"])
        .arg(&fuzzer)
        .args([
            "diff", "--cases", &cases, "--seed", &seed, "--batch", &batch,
        ])
        .arg("--out")
        .arg(&out)
        .current_dir(root())
        .status()
        .map_err(|e| format!("cannot run {}: {e}", fuzzer.display()))?;
    if !status.success() {
        failed.push(format!(
            "differential run failed; findings in {}",
            out.display()
        ));
    }
    if let Some(m) = opt("--malformed") {
        step(&format!("malformed input: {m} mutants"));
        let mut cmd = Command::new("nice");
        cmd.args(["-n", "19"])
            .arg(&fuzzer)
            .args(["malformed", "--cases", &m, "--seed", &seed, "--cli"])
            .arg(target.join("release/w2native"))
            .args(guest_modules());
        if !cmd
            .current_dir(root())
            .status()
            .map_err(|e| format!("cannot run {}: {e}", fuzzer.display()))?
            .success()
        {
            failed.push("malformed-input run found problems".into());
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(failed.join("; "))
    }
}

/// One cached kernel.wasm and busybox.wasm, if the guest was ever built.
fn guest_modules() -> Vec<PathBuf> {
    let base = std::env::var_os("W2NATIVE_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/w2native")))
        .unwrap_or_else(|| root().join("target"))
        .join("guest");
    let mut found = Vec::new();
    for name in ["kernel.wasm", "busybox.wasm"] {
        let Ok(dirs) = std::fs::read_dir(&base) else {
            break;
        };
        if let Some(p) = dirs
            .filter_map(Result::ok)
            .map(|d| d.path().join(name))
            .find(|p| p.is_file())
        {
            found.push(p);
        }
    }
    found
}
