//! `cargo xtask runtime --target <arch>`: the runtime library (and the spec
//! test driver) built for a target, where `w2native build --target` finds it.
//!
//! The host target is built with the workspace's own toolchain into
//! `target/release/`. The cross targets are built with Debian's Rust
//! (`rustc-web`, which ships the std sources) and `-Zbuild-std`, because the
//! rustup toolchain here has no prebuilt std for them; the output goes to its
//! own target directory, `target/cross/<triple>/release/`, so the two
//! toolchains never invalidate each other's cache. The first build of a
//! target compiles std (a few minutes); later runs take seconds.

use crate::{cargo, deps, root, sh, step};
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

/// A target as the xtask and the `w2native` CLI name it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub name: &'static str,
    pub triple: &'static str,
    /// Prefix of the Debian cross toolchain, `None` for the host.
    pub gnu_prefix: Option<&'static str>,
    /// Debian's name of the architecture in `libc6-dev-<arch>-cross`.
    pub debian_arch: &'static str,
}

pub const X86_64: Target = Target {
    name: "x86_64",
    triple: "x86_64-unknown-linux-gnu",
    gnu_prefix: None,
    debian_arch: "amd64",
};
pub const AARCH64: Target = Target {
    name: "aarch64",
    triple: "aarch64-unknown-linux-gnu",
    gnu_prefix: Some("aarch64-linux-gnu"),
    debian_arch: "arm64",
};
pub const RISCV64: Target = Target {
    name: "riscv64",
    triple: "riscv64gc-unknown-linux-gnu",
    gnu_prefix: Some("riscv64-linux-gnu"),
    debian_arch: "riscv64",
};
pub const ALL: [Target; 3] = [X86_64, AARCH64, RISCV64];
pub const CROSS: [Target; 2] = [AARCH64, RISCV64];

/// Debian's Rust toolchain used for cross builds (packages rustc-web and
/// cargo-web install these).
const DEBIAN_RUSTC: &str = "/usr/bin/rustc";
const DEBIAN_CARGO: &str = "/usr/bin/cargo";

/// The crates built per target: the runtime linked into every executable,
/// and the driver that runs spec-testsuite commands (tests/spec_cross.rs).
const PACKAGES: &[&str] = &["runtime-support", "w2native-spec-driver"];

pub fn parse_target(name: &str) -> Result<Target, String> {
    let name = match name {
        "x86-64" | "x64" | "amd64" => "x86_64",
        "arm64" => "aarch64",
        "riscv64gc" => "riscv64",
        other => other,
    };
    ALL.into_iter().find(|t| t.name == name).ok_or(format!(
        "unknown target `{name}` (expected x86_64, aarch64 or riscv64)"
    ))
}

/// Debian packages needed to build and run outputs for `t`.
pub fn packages(t: Target) -> Vec<String> {
    match t.gnu_prefix {
        None => vec!["gcc".into(), "libc6-dev".into()],
        Some(prefix) => vec![
            "rustc-web".into(),
            "cargo-web".into(),
            "rust-web-src".into(),
            format!("gcc-{prefix}"),
            format!("libc6-dev-{}-cross", t.debian_arch),
            "qemu-user".into(),
        ],
    }
}

/// Cargo's target directory (honours `CARGO_TARGET_DIR`, as w2native's
/// runtime lookup does: it searches next to its own executable).
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

/// Where the built libraries of `t` are.
pub fn output_dir(t: Target) -> PathBuf {
    match t.gnu_prefix {
        None => target_dir().join("release"),
        Some(_) => target_dir().join("cross").join(t.triple).join("release"),
    }
}

/// `cargo xtask runtime [--target T]...`; no target means all three.
pub fn runtime_command(args: &[String]) -> Result<(), String> {
    let mut targets = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--target" => {
                let t = it.next().ok_or("--target needs a value")?;
                for name in t.split(',') {
                    targets.push(parse_target(name)?);
                }
            }
            other => match other.strip_prefix("--target=") {
                Some(t) => targets.push(parse_target(t)?),
                None => return Err(format!("unexpected argument `{other}`")),
            },
        }
    }
    if targets.is_empty() {
        targets = ALL.to_vec();
    }
    for t in targets {
        build_runtime(t)?;
    }
    Ok(())
}

/// Installs what `t` needs and builds its runtime and spec driver.
pub fn build_runtime(t: Target) -> Result<(), String> {
    let pkgs = packages(t);
    deps::install(&pkgs.iter().map(String::as_str).collect::<Vec<_>>())?;
    let start = Instant::now();
    match t.gnu_prefix {
        None => {
            step(&format!("building the runtime for {} (host)", t.name));
            let mut cmd = cargo();
            cmd.args(["build", "--release"]);
            for p in PACKAGES {
                cmd.args(["-p", p]);
            }
            sh(&mut cmd)?;
        }
        Some(prefix) => {
            let std_built = std::fs::read_dir(output_dir(t).join("deps"))
                .map(|d| {
                    d.flatten()
                        .any(|e| e.file_name().to_string_lossy().starts_with("libstd-"))
                })
                .unwrap_or(false);
            step(&format!(
                "cross-building the runtime for {} with Debian's Rust + build-std{}",
                t.name,
                if std_built {
                    ""
                } else {
                    " (first build: compiles std, a few minutes)"
                }
            ));
            sh(&mut cross_cargo(t, prefix))?;
        }
    }
    let dir = output_dir(t);
    eprintln!(
        "    {} runtime ready in {:.1}s: {}",
        t.name,
        start.elapsed().as_secs_f64(),
        dir.join("libruntime_support.a").display()
    );
    Ok(())
}

fn cross_cargo(t: Target, prefix: &str) -> Command {
    let mut cmd = Command::new(DEBIAN_CARGO);
    cmd.args(["build", "--release", "--locked", "--target", t.triple]);
    for p in PACKAGES {
        cmd.args(["-p", p]);
    }
    cmd.arg("-Zbuild-std=std,panic_abort")
        .arg("--config")
        .arg(format!("target.{}.linker=\"{prefix}-gcc\"", t.triple));
    // The outer `cargo xtask` (rustup's cargo) exports variables naming its
    // own toolchain; none of them may leak into Debian's cargo.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        if key.starts_with("CARGO") || key.starts_with("RUSTUP") || key.starts_with("RUSTC") {
            cmd.env_remove(&key);
        }
    }
    cmd.env("RUSTC", DEBIAN_RUSTC)
        // build-std is unstable; Debian's stable toolchain allows it this way.
        .env("RUSTC_BOOTSTRAP", "1")
        .env("CARGO_TARGET_DIR", target_dir().join("cross"));
    if let Some(home) = std::env::var_os("CARGO_HOME") {
        // Keep the registry cache of the host toolchain (no re-download).
        cmd.env("CARGO_HOME", home);
    }
    cmd
}
