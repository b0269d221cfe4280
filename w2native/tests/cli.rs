//! The command line on bad input: one `error:` line naming what and where,
//! exit status 1, no panic, and never a (partial) output file.

use std::path::Path;
use std::process::{Command, Output};

fn w2native(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_w2native"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run w2native")
}

/// Asserts the failure shape and returns the single stderr line.
fn expect_one_error_line(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "exit status; stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "panic: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "expected one line, got: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    lines[0].to_string()
}

fn check_rejected(wasm: &[u8], expected_parts: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.wasm"), wasm).unwrap();
    for cmd in [
        ["build", "bad.wasm", "-o", "out"],
        ["compile", "bad.wasm", "-o", "out"],
    ] {
        let out = w2native(&cmd, dir.path());
        let line = expect_one_error_line(&out);
        for part in expected_parts {
            assert!(line.contains(part), "`{line}` should contain `{part}`");
        }
        assert!(
            !dir.path().join("out").exists(),
            "no output file after an error"
        );
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            leftovers.len(),
            1,
            "temporary files left behind: {leftovers:?}"
        );
    }
}

#[test]
fn truncated_module() {
    let wasm = wat::parse_str("(module (func (export \"f\") (result i32) i32.const 7))").unwrap();
    check_rejected(
        &wasm[..wasm.len() - 3],
        &["bad.wasm", "invalid module", "offset 0x"],
    );
}

#[test]
fn not_a_wasm_file() {
    check_rejected(b"#!/bin/sh\necho hi\n", &["bad.wasm", "magic header"]);
}

#[test]
fn type_error_names_the_function() {
    let wasm = wat::parse_str(
        "(module (func $ok) (func $broken (result i32) i64.const 1) (export \"broken\" (func $broken)))",
    )
    .unwrap();
    // wat emits a name section, so the function is named `broken`.
    check_rejected(
        &wasm,
        &[
            "bad.wasm",
            "function 1 `broken`",
            "offset 0x",
            "type mismatch",
        ],
    );
}

#[test]
fn unsupported_proposal() {
    let wasm = wat::parse_str("(module (func (result v128) v128.const i64x2 1 2))").unwrap();
    check_rejected(&wasm, &["bad.wasm", "SIMD"]);
}

#[test]
fn missing_input_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = w2native(&["build", "nope.wasm", "-o", "out"], dir.path());
    let line = expect_one_error_line(&out);
    assert!(line.contains("nope.wasm"), "{line}");
}

#[test]
fn unwritable_output() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = wat::parse_str("(module (func (export \"_start\")))").unwrap();
    std::fs::write(dir.path().join("ok.wasm"), wasm).unwrap();
    for cmd in ["build", "compile"] {
        let out = w2native(&[cmd, "ok.wasm", "-o", "no/such/dir/out"], dir.path());
        let line = expect_one_error_line(&out);
        assert!(line.contains("no/such/dir/out"), "{line}");
    }
}

#[test]
fn special_file_output_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = wat::parse_str("(module (func (export \"_start\")))").unwrap();
    std::fs::write(dir.path().join("ok.wasm"), wasm).unwrap();
    std::fs::create_dir(dir.path().join("adir")).unwrap();
    for cmd in ["build", "compile"] {
        let out = w2native(&[cmd, "ok.wasm", "-o", "adir"], dir.path());
        let line = expect_one_error_line(&out);
        assert!(line.contains("regular file"), "{line}");
        assert!(dir.path().join("adir").is_dir());
    }
    // /dev/null must stay a device: a rename over it would replace it.
    use std::os::unix::fs::FileTypeExt;
    let out = w2native(&["compile", "ok.wasm", "-o", "/dev/null"], dir.path());
    expect_one_error_line(&out);
    assert!(std::fs::metadata("/dev/null")
        .unwrap()
        .file_type()
        .is_char_device());
}

#[test]
fn unknown_import_is_one_line_at_startup() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = wat::parse_str(
        "(module (import \"env\" \"mystery\" (func)) (func (export \"_start\") call 0))",
    )
    .unwrap();
    std::fs::write(dir.path().join("imp.wasm"), wasm).unwrap();
    let out = w2native(&["build", "imp.wasm", "-o", "imp"], dir.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = Command::new(dir.path().join("imp")).output().unwrap();
    let line = expect_one_error_line(&run);
    assert!(line.contains("env") && line.contains("mystery"), "{line}");
}

#[test]
fn help_shows_examples() {
    let dir = tempfile::tempdir().unwrap();
    let out = w2native(&["--help"], dir.path());
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("w2native build hello.wasm -o hello"),
        "{text}"
    );
}
