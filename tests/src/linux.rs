//! Shared by the Linux image suites (`linux_boot.rs`, `linux_shell.rs`):
//! finding the guest artifacts, building the runtime library the linker
//! needs, building an image, and a pseudo-terminal to drive it.
//!
//! Guest artifacts come from the guest build scripts (cached under
//! `~/.cache/w2native`; each prints the artifact path on its last line) or
//! from `$W2NATIVE_KERNEL_WASM` / `$W2NATIVE_BUSYBOX_WASM`. Every failure is
//! an error with the reason: a suite never passes without a guest.

use std::path::{Path, PathBuf};

pub use crate::pty::Pty;
use std::process::Command;

/// `$var`, else the path printed by `guest/<script>`.
pub fn guest_artifact(var: &str, script: &str) -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os(var) {
        return Ok(PathBuf::from(p));
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../guest")
        .join(script);
    let out = Command::new("nice")
        .arg(&script)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(10).collect();
        return Err(format!(
            "{} failed ({}); this test needs its output:\n{}",
            script.display(),
            out.status,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        ));
    }
    let path = PathBuf::from(stdout.lines().last().unwrap_or("").trim());
    if !path.is_file() {
        return Err(format!(
            "{} did not print an artifact path (last line: {path:?})",
            script.display()
        ));
    }
    Ok(path)
}

/// Cargo builds `runtime-support` for a test as an rlib dependency and does
/// not refresh the static library the linker uses
/// (`target/<profile>/libruntime_support.a`); build it like `cargo xtask
/// test` does, in the test's profile (a no-op when it is fresh).
pub fn build_runtime() -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    // target/<profile>/deps/<test>-<hash>
    let profile = exe
        .parent()
        .and_then(Path::parent)
        .and_then(Path::file_name)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "-q", "-p", "runtime-support"]);
    if profile == "release" {
        cmd.arg("--release");
    }
    let out = cmd.output().map_err(|e| format!("cannot run cargo: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "building runtime-support failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

/// Builds the Linux image (kernel.wasm + busybox.wasm) for `target` in a
/// temporary directory (kept alive by the returned handle).
pub fn build_image(target: w2native::Target) -> Result<(tempfile::TempDir, PathBuf), String> {
    use w2native::image::{applets, build_linux_image, ImageInput};
    use w2native::CompileOptions;
    let kernel = guest_artifact("W2NATIVE_KERNEL_WASM", "build-kernel.sh")?;
    let busybox = guest_artifact("W2NATIVE_BUSYBOX_WASM", "build-userland.sh")?;
    if target == w2native::Target::host() {
        build_runtime()?;
    } else {
        crate::cross::runtime(target)?;
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

/// Matches `line` against a golden line where `*` stands for any run of
/// characters.
pub fn wildcard_match(pattern: &str, line: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == line;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !line.starts_with(first) || line.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &line[first.len()..];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::wildcard_match;

    #[test]
    fn wildcards() {
        assert!(wildcard_match("abc", "abc"));
        assert!(!wildcard_match("abc", "abcd"));
        assert!(wildcard_match(
            "Linux version 6.1.*",
            "Linux version 6.1.192 (x)"
        ));
        assert!(wildcard_match("*1 root*sh*", "    1 root      0:00 sh -c"));
        assert!(!wildcard_match("a*b*c", "acb"));
        assert!(wildcard_match("a*", "a"));
    }
}
