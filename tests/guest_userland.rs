//! busybox.wasm without a kernel: builds the userland (a cache hit unless
//! guest/ changed) and runs guest/tests-userland/check.sh, which validates the
//! module, compares its imports and exports with docs/guest-abi.md, and runs
//! applets and libc tests on a minimal syscall shim.

use std::path::Path;
use std::process::Command;

#[test]
fn busybox_wasm_matches_the_guest_abi() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Command::new("bash")
        .arg(root.join("guest/tests-userland/check.sh"))
        .current_dir(&root)
        .output()
        .expect("run guest/tests-userland/check.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let summary = stdout.lines().last().unwrap_or("");
    assert!(
        out.status.success() && summary.ends_with(" 0 failed"),
        "check.sh failed ({}):\n{stdout}\n{}",
        out.status,
        stderr
            .lines()
            .rev()
            .take(30)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n")
    );
    println!("{summary}");
}
