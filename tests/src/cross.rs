//! What the suites need to run outputs of a cross target: the runtime
//! library built for it, current with the runtime's sources, and qemu-user.
//!
//! The suites never build the cross runtime themselves (that is
//! `cargo xtask runtime`, which `cargo xtask test` runs first); a missing or
//! stale one fails the trial with the command to run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;
use w2native::{link, Target};

/// Crates compiled into the runtime library, relative to the workspace.
const RUNTIME_SOURCES: &[&str] = &["runtime-support", "environ", "sjlj"];

/// The runtime library of `target`, checked to be usable by the suites.
pub fn runtime(target: Target) -> Result<PathBuf, String> {
    let ready = link::readiness(target);
    if let Err(e) = &ready.runner {
        return Err(format!("cannot run {target} executables: {e}"));
    }
    if let Err(e) = &ready.linker {
        return Err(format!("no linker for {target}: {e}"));
    }
    let lib = ready
        .runtime
        .map_err(|e| format!("runtime library for {target} missing: {e}"))?;
    if target != Target::host() {
        check_fresh(target, &lib)?;
    }
    Ok(lib)
}

/// Every target, the host's first, each with the prefix of its trials'
/// names: host trials keep their plain names, cross ones are `ARCH::...`.
pub fn targets() -> Vec<(Target, String)> {
    let host = Target::host();
    std::iter::once(host)
        .chain(Target::ALL.into_iter().filter(|t| *t != host))
        .map(|t| (t, trial_prefix(t)))
        .collect()
}

/// `""` for the host, `"ARCH::"` for a cross target (see [`targets`]).
pub fn trial_prefix(target: Target) -> String {
    if target == Target::host() {
        String::new()
    } else {
        format!("{target}::")
    }
}

/// The command that runs an executable of `target` on this machine.
pub fn command(target: Target, exe: &Path) -> Command {
    if target == Target::host() {
        Command::new(exe)
    } else {
        let mut qemu = Command::new(target.qemu());
        qemu.arg(exe);
        qemu
    }
}

/// Fails when a source file of the runtime is newer than the library: a
/// cross runtime is not rebuilt by `cargo test`, and testing stale code
/// would report someone else's bug (or hide one).
fn check_fresh(target: Target, lib: &Path) -> Result<(), String> {
    let Ok(built) = std::fs::metadata(lib).and_then(|m| m.modified()) else {
        return Ok(());
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for krate in RUNTIME_SOURCES {
        let dir = root.join(krate);
        if let Some((path, _)) = newest(&dir.join("src"))
            .into_iter()
            .chain(newest(&dir.join("Cargo.toml")))
            .find(|(_, t)| *t > built)
        {
            return Err(format!(
                "runtime library for {target} is older than {}: run `cargo xtask runtime --target {target}`",
                path.strip_prefix(&root).unwrap_or(&path).display()
            ));
        }
    }
    Ok(())
}

/// The most recently modified file under `path` (itself if a file).
fn newest(path: &Path) -> Option<(PathBuf, SystemTime)> {
    let meta = std::fs::metadata(path).ok()?;
    if meta.is_file() {
        return Some((path.to_path_buf(), meta.modified().ok()?));
    }
    std::fs::read_dir(path)
        .ok()?
        .flatten()
        .filter_map(|e| newest(&e.path()))
        .max_by_key(|(_, t)| *t)
}
