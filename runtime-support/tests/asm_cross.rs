//! Runs the hand-written unwinding assembly of every architecture through a
//! small C harness: natively for the host, and under qemu-user with the
//! Debian cross compilers for the others. An architecture whose tools are
//! missing is reported and skipped, not failed.

use std::path::Path;
use std::process::Command;

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn check(arch: &str, cc: &str, runner: Option<&str>) {
    if !have(cc) || runner.is_some_and(|r| !have(r)) {
        eprintln!("skipping {arch}: {cc} or {runner:?} not installed");
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::env::temp_dir().join(format!("w2n-asm-{arch}-{}", std::process::id()));
    // Rust assembles x86 in Intel syntax by default; GNU as needs telling.
    let asm = out.with_extension("S");
    let mut text = std::fs::read_to_string(dir.join(format!("src/arch/{arch}.S"))).unwrap();
    if arch == "x86_64" {
        text.insert_str(0, ".intel_syntax noprefix\n");
    }
    std::fs::write(&asm, text).unwrap();
    let status = Command::new(cc)
        .args(["-O2", "-static", "-Wa,--noexecstack", "-o"])
        .arg(&out)
        .arg(dir.join("tests/asm/harness.c"))
        .arg(&asm)
        .status()
        .unwrap();
    let _ = std::fs::remove_file(&asm);
    assert!(status.success(), "{cc} failed for {arch}");
    let output = match runner {
        Some(r) => Command::new(r).arg(&out).output(),
        None => Command::new(&out).output(),
    }
    .unwrap();
    let _ = std::fs::remove_file(&out);
    assert!(
        output.status.success(),
        "{arch}: {}",
        String::from_utf8_lossy(&output.stdout)
    );
}

#[test]
fn x86_64() {
    if cfg!(target_arch = "x86_64") {
        check("x86_64", "cc", None);
    } else {
        check("x86_64", "x86_64-linux-gnu-gcc", Some("qemu-x86_64"));
    }
}

#[test]
fn aarch64() {
    if cfg!(target_arch = "aarch64") {
        check("aarch64", "cc", None);
    } else {
        check("aarch64", "aarch64-linux-gnu-gcc", Some("qemu-aarch64"));
    }
}

#[test]
fn riscv64() {
    if cfg!(target_arch = "riscv64") {
        check("riscv64", "cc", None);
    } else {
        check("riscv64", "riscv64-linux-gnu-gcc", Some("qemu-riscv64"));
    }
}
