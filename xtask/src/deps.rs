//! Debian packages the project needs, installed with apt-get when missing.

use crate::step;
use std::process::Command;

/// What the test suites need: the wasm32 C toolchain for the examples, wabt
/// and binaryen for cross-checks, cross linkers and qemu for the other targets.
pub const TEST: &[&str] = &[
    "clang-19",
    "lld-19",
    "llvm-19",
    "libclang-rt-19-dev-wasm32",
    "wasi-libc",
    "wabt",
    "gcc",
    "libc6-dev",
    "qemu-user",
    "gcc-aarch64-linux-gnu",
    "gcc-riscv64-linux-gnu",
    "libc6-dev-arm64-cross",
    "libc6-dev-riscv64-cross",
    "rustc-web",
    "cargo-web",
    "rust-web-src",
];

/// Everything, including what the guest build and benchmarks need.
pub const ALL: &[&str] = &[
    "clang-19",
    "lld-19",
    "llvm-19",
    "libclang-rt-19-dev-wasm32",
    "wasi-libc",
    "wabt",
    "binaryen",
    "gcc",
    "libc6-dev",
    "qemu-user",
    "gcc-aarch64-linux-gnu",
    "gcc-riscv64-linux-gnu",
    "libc6-dev-arm64-cross",
    "libc6-dev-riscv64-cross",
    "rustc-web",
    "cargo-web",
    "rust-web-src",
    "linux-source-6.1",
    "bc",
    "bison",
    "flex",
    "cpio",
    "xz-utils",
    "dpkg-dev",
    "hyperfine",
];

fn installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        .unwrap_or(false)
}

pub fn install(packages: &[&str]) -> Result<(), String> {
    let missing: Vec<&str> = packages.iter().copied().filter(|p| !installed(p)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    step(&format!(
        "installing Debian packages: {}",
        missing.join(" ")
    ));
    let apt = |args: &[&str]| -> Result<(), String> {
        let status = Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .map_err(|e| format!("cannot run apt-get: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!(
                "apt-get {} failed ({status}); run as root, or install: {}",
                args[0],
                missing.join(" ")
            ))
        }
    };
    apt(&["update", "-q"])?;
    let mut args = vec!["install", "-y", "-q", "--no-install-recommends"];
    args.extend(&missing);
    apt(&args)
}
