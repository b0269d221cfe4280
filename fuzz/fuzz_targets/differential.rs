//! libFuzzer target: the bytes drive `wasm-smith`, the module is compiled
//! by w2native and compared with wasmi (`w2native_fuzz::check_one`).
//!
//!     cargo +nightly fuzz run differential --features libfuzzer
//!
//! On stable Rust use `cargo xtask fuzz --cases N` instead.

#![no_main]

use libfuzzer_sys::fuzz_target;
use w2native_fuzz::{check_one, config, generate_from, Rng, Verdict};

fuzz_target!(|data: &[u8]| {
    let seed = data
        .iter()
        .fold(0u64, |h, b| h.rotate_left(5) ^ u64::from(*b));
    let Ok(wasm) = generate_from(data, config(&mut Rng::new(seed))) else {
        return;
    };
    let bounds = if seed % 2 == 0 {
        w2native::BoundsMode::Guard
    } else {
        w2native::BoundsMode::Explicit
    };
    match check_one(&wasm, seed, bounds) {
        Verdict::Agree { .. } | Verdict::Skipped => {}
        other => panic!("seed {seed}: {other:?}"),
    }
});
