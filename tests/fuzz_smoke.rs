//! The differential fuzzer keeps working: a few cases of `fuzz/` (each
//! compiled into its own shared object) agree with the reference
//! interpreter in both bounds modes. The real runs are
//! `cargo xtask fuzz --cases N` (docs/fuzzing.md).

use w2native::BoundsMode;
use w2native_fuzz::{check_one, generate, Verdict};

#[test]
fn generated_cases_agree_with_the_reference() {
    for seed in 0..12u64 {
        let wasm = generate(seed).expect("wasm-smith makes a module");
        let bounds = if seed % 2 == 0 {
            BoundsMode::Guard
        } else {
            BoundsMode::Explicit
        };
        match check_one(&wasm, seed, bounds) {
            Verdict::Agree { .. } => {}
            other => panic!("seed {seed} ({bounds:?}): {other:?}"),
        }
    }
}
