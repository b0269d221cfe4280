//! Hostile input: broken bytes must get a clean error from the compiler.
//!
//! A mutant of a valid module is made by truncation, bit flips, byte
//! overwrites, a run of random bytes, or a deleted range. [`check`] compiles
//! it in process: a result or an error of one line is fine, a panic is a
//! finding. Hangs are caught by the caller's watchdog; the CLI's
//! no-partial-output promise is checked by [`check_cli`] on a sample.

use crate::Rng;
use std::path::Path;
use std::process::Command;

/// One mutation of `wasm`.
pub fn mutate(wasm: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut out = wasm.to_vec();
    if out.is_empty() {
        return out;
    }
    let at = rng.below(out.len() as u64) as usize;
    match rng.below(5) {
        0 => out.truncate(at),
        1 => {
            for _ in 0..=rng.below(4) {
                let i = rng.below(out.len() as u64) as usize;
                out[i] ^= 1 << rng.below(8);
            }
        }
        2 => {
            for _ in 0..=rng.below(4) {
                let i = rng.below(out.len() as u64) as usize;
                out[i] = [0x00, 0x7f, 0x80, 0xff, 0x41, 0x0b][rng.below(6) as usize];
            }
        }
        3 => {
            let n = (1 + rng.below(16)) as usize;
            for i in at..(at + n).min(out.len()) {
                out[i] = rng.next_u64() as u8;
            }
        }
        _ => {
            let n = (1 + rng.below(64)) as usize;
            out.drain(at..(at + n).min(out.len()));
        }
    }
    out
}

/// What the compiler did with some bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum Reaction {
    Compiled,
    Rejected,
    /// A panic, or an error message of more than one line.
    Finding(String),
}

/// Compiles `bytes` in process.
pub fn check(bytes: &[u8]) -> Reaction {
    let opts = w2native::CompileOptions::new(w2native::Target::host(), "mal", "mal");
    match std::panic::catch_unwind(|| w2native::compile_module(bytes, &opts)) {
        Ok(Ok(_)) => Reaction::Compiled,
        Ok(Err(e)) => {
            let text = e.to_string();
            if text.trim().is_empty() || text.trim().contains('\n') {
                Reaction::Finding(format!("error is not one line: {text:?}"))
            } else {
                Reaction::Rejected
            }
        }
        Err(p) => Reaction::Finding(format!("panic: {}", crate::native::panic_text(&p))),
    }
}

/// Runs `cli compile in.wasm -o out.o` in `dir`: success must leave an
/// object, failure exactly one `error:` line, exit status 1 and no file.
pub fn check_cli(cli: &Path, bytes: &[u8], dir: &Path) -> Result<(), String> {
    let input = dir.join("in.wasm");
    let output = dir.join("out.o");
    let _ = std::fs::remove_file(&output);
    std::fs::write(&input, bytes).map_err(|e| e.to_string())?;
    let out = Command::new(cli)
        .arg("compile")
        .arg(&input)
        .arg("-o")
        .arg(&output)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", cli.display()))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.success() {
        return if output.exists() {
            Ok(())
        } else {
            Err("exit 0 without an output file".into())
        };
    }
    if output.exists() {
        return Err(format!(
            "failed ({}) but left {}",
            out.status,
            output.display()
        ));
    }
    if out.status.code() != Some(1) {
        return Err(format!("exit status {} (stderr {stderr:?})", out.status));
    }
    let lines: Vec<&str> = stderr.lines().collect();
    if lines.len() != 1 || !lines[0].starts_with("error:") {
        return Err(format!("stderr is not one `error:` line: {stderr:?}"));
    }
    Ok(())
}
