//! Links compiled objects with the runtime library into an executable, using
//! the system C compiler driver (for x86_64) or Debian's cross gcc.
//!
//! Outputs are linked statically so they run anywhere, including under
//! qemu-user without a sysroot.

use crate::Target;
use std::path::{Path, PathBuf};
use std::process::Command;

/// File name of the runtime static library.
pub const RUNTIME_LIB: &str = "libruntime_support.a";

/// Subdirectory of cargo's target directory holding the cross-built runtimes.
pub const CROSS_DIR: &str = "cross";

/// Where the runtime library for `target` is looked for, in order:
/// `$W2NATIVE_RUNTIME_DIR/<triple>/`, `$W2NATIVE_RUNTIME_DIR/`, then next to
/// the w2native executable as cargo lays out a workspace build
/// (`target/release/` for the host, `target/<triple>/release/` for cross),
/// and `target/cross/<triple>/release/`, where `cargo xtask runtime` puts
/// the cross runtimes (built by another toolchain, so in their own
/// target directory).
pub fn runtime_candidates(target: Target) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(dir) = std::env::var_os("W2NATIVE_RUNTIME_DIR") {
        let dir = PathBuf::from(dir);
        dirs.push(dir.join(target.rust_triple()));
        dirs.push(dir);
    }
    if let Some(exe_dir) = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
    {
        // target/<profile>/w2native, or target/<profile>/deps/<test> for tests.
        let dir = match exe_dir.parent() {
            Some(parent) if exe_dir.ends_with("deps") => parent.to_path_buf(),
            _ => exe_dir,
        };
        let profile = dir.file_name().map(|p| p.to_os_string());
        if let (Some(profile), Some(target_dir)) = (profile, dir.parent()) {
            dirs.push(target_dir.join(target.rust_triple()).join(&profile));
            if target != Target::host() {
                dirs.push(
                    target_dir
                        .join(CROSS_DIR)
                        .join(target.rust_triple())
                        .join("release"),
                );
            }
        }
        if target == Target::host() {
            dirs.push(dir);
        }
    }
    dirs.into_iter().map(|d| d.join(RUNTIME_LIB)).collect()
}

pub fn find_runtime(target: Target) -> Result<PathBuf, String> {
    let candidates = runtime_candidates(target);
    candidates.iter().find(|p| p.is_file()).cloned().ok_or_else(|| {
        format!(
            "runtime library for {target} not found (looked for {}); {}, or set W2NATIVE_RUNTIME_DIR",
            candidates
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            runtime_hint(target)
        )
    })
}

/// What to run to get the runtime library of `target`.
pub fn runtime_hint(target: Target) -> String {
    if target == Target::host() {
        "build it with `cargo xtask runtime --target {target}` (or `cargo build --release -p runtime-support`)"
            .replace("{target}", target.name())
    } else {
        format!(
            "build it with `cargo xtask runtime --target {target}` (installs {}, then cross-builds runtime-support with build-std)",
            target.cross_packages().join(" ")
        )
    }
}

/// Whether `target` can be built and run here, and what is missing.
pub struct Readiness {
    pub target: Target,
    pub runtime: Result<PathBuf, String>,
    /// The linker, or what to install to get it.
    pub linker: Result<String, String>,
    /// How outputs run on this machine: natively, or the qemu-user command
    /// (or what to install to get it).
    pub runner: Result<String, String>,
}

impl Readiness {
    pub fn ready(&self) -> bool {
        self.runtime.is_ok() && self.linker.is_ok()
    }
}

pub fn readiness(target: Target) -> Readiness {
    let cc = linker(target);
    let linker = if on_path(&cc) {
        Ok(cc)
    } else {
        Err(format!(
            "{cc} missing: apt-get install {}",
            target.gcc_package()
        ))
    };
    let runner = if target == Target::host() {
        Ok("native".to_string())
    } else {
        let qemu = target.qemu();
        if on_path(qemu) {
            Ok(format!("{qemu} ./app"))
        } else {
            Err(format!("{qemu} missing: apt-get install qemu-user"))
        }
    };
    Readiness {
        target,
        runtime: find_runtime(target).map_err(|_| runtime_hint(target)),
        linker,
        runner,
    }
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
        .unwrap_or(false)
}

/// The C compiler driver used as linker for `target`.
pub fn linker(target: Target) -> String {
    if target == Target::host() {
        std::env::var("CC").unwrap_or_else(|_| "cc".to_string())
    } else {
        format!("{}-gcc", target.gnu_prefix())
    }
}

/// Links `objects` with the runtime into `output`. The executable is written
/// to a temporary file next to `output` and renamed, so a failed link never
/// leaves a partial output behind.
pub fn link_executable(objects: &[PathBuf], target: Target, output: &Path) -> Result<(), String> {
    check_output_path(output)?;
    let runtime = find_runtime(target)?;
    let cc = linker(target);
    let dir = output
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = tempfile::Builder::new()
        .prefix(".w2native-link-")
        .tempfile_in(dir)
        .map_err(|e| format!("cannot write output {}: {e}", output.display()))?;
    let mut cmd = Command::new(&cc);
    // Static: the output runs anywhere, also under qemu-user without a
    // sysroot. Unused runtime code and its debug info are dropped; the symbol
    // table stays, so profilers and debuggers still name functions.
    cmd.args(["-static", "-Wl,--gc-sections", "-Wl,--strip-debug"])
        .arg("-o")
        .arg(tmp.path())
        .args(objects)
        .arg(&runtime)
        .args(["-lpthread", "-lm", "-ldl", "-lrt", "-lc"]);
    let out = cmd.output().map_err(|e| {
        format!(
            "cannot run linker `{cc}`: {e} (install Debian package {})",
            target.gcc_package()
        )
    })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let first = stderr
            .lines()
            .find(|l| l.contains("error") || l.contains("undefined"))
            .unwrap_or_else(|| stderr.lines().next().unwrap_or("no output"));
        return Err(format!("linking {} failed: {first}", output.display()));
    }
    tmp.persist(output)
        .map_err(|e| format!("cannot write output {}: {}", output.display(), e.error))?;
    set_executable(output)
}

fn set_executable(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let mut perms = std::fs::metadata(path)
        .map_err(|e| e.to_string())?
        .permissions();
    perms.set_mode(0o755);
    std::fs::set_permissions(path, perms).map_err(|e| format!("{}: {e}", path.display()))
}

/// Outputs are written to a temporary file and renamed over the target, so
/// the target must be a regular file (or not exist): renaming over
/// `/dev/null` would replace the device node with a regular file.
pub fn check_output_path(output: &Path) -> Result<(), String> {
    match std::fs::metadata(output) {
        Ok(meta) if !meta.is_file() => Err(format!(
            "{}: output must be a regular file path, not a directory or device",
            output.display()
        )),
        _ => Ok(()),
    }
}
