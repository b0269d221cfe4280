//! Differential fuzzing of w2native.
//!
//! A case is one seed: [`generate`] turns it into a module with `wasm-smith`
//! (configured to the proposals both w2native and the reference support),
//! [`native`] compiles it with w2native ahead of time (many cases per shared
//! object) and runs every exported function, [`reference`] runs the same
//! module in the `wasmi` interpreter, and [`Outcome::diff`] compares results,
//! trap kinds, and the final state of exported globals, tables and memories.
//!
//! [`malformed`] feeds broken bytes (truncations, bit flips) to the compiler
//! and checks that each one gets a clean error.
//!
//! The bounded run is `cargo xtask fuzz --cases N [--seed S]` (stable Rust);
//! `fuzz_targets/differential.rs` is the same check as a libFuzzer target
//! for nightly `cargo fuzz`. Use the spec testsuite (`tests/spec.rs`) for
//! conformance; this crate finds what no hand-written test thought of.

pub mod malformed;
pub mod native;
pub mod reference;

use arbitrary::Unstructured;

/// Fuel each module gets (`wasm-smith`'s `ensure_termination`): every loop
/// iteration and function entry costs one; when it is gone the module traps
/// with `unreachable` on both sides. Shared by all calls of one case.
pub const FUEL: u32 = 5_000;

/// A wasm value as both engines can report it. References compare by
/// null-ness only (their identity is engine-private).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value {
    I32(i32),
    I64(i64),
    F32(u32),
    F64(u64),
    /// A funcref or externref: `true` when null.
    Ref {
        null: bool,
    },
}

impl Value {
    /// Equal up to NaN payloads (the spec lets a NaN result be any
    /// arithmetic NaN; `canonicalize_nans` makes most of them canonical).
    fn same(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::F32(a), Value::F32(b)) => {
                a == b || (f32::from_bits(*a).is_nan() && f32::from_bits(*b).is_nan())
            }
            (Value::F64(a), Value::F64(b)) => {
                a == b || (f64::from_bits(*a).is_nan() && f64::from_bits(*b).is_nan())
            }
            _ => self == other,
        }
    }
}

/// The value types the generator produces in signatures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    I32,
    I64,
    F32,
    F64,
    FuncRef,
    ExternRef,
}

/// Trap kinds, the union of both engines' names mapped to the spec's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrapKind {
    Unreachable,
    MemoryOutOfBounds,
    /// `table.get/set/...` out of bounds and `call_indirect` past the end.
    TableOutOfBounds,
    IndirectCallToNull,
    BadSignature,
    IntegerOverflow,
    IntegerDivisionByZero,
    BadConversionToInteger,
    NullReference,
    /// Resource exhaustion: the engines may legitimately differ here.
    StackOverflow,
    Other,
}

/// What one call did.
#[derive(Clone, Debug, PartialEq)]
pub enum CallResult {
    Returned(Vec<Value>),
    Trapped(TrapKind),
}

/// An exported table: its size and which slots are null.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableState {
    pub size: u64,
    pub nulls: Vec<bool>,
}

/// Everything a case observed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outcome {
    /// `Some(kind)` if instantiation (segments or the start function) trapped.
    pub instantiation_trap: Option<TrapKind>,
    /// Each exported function called, in export order.
    pub calls: Vec<(String, CallResult)>,
    pub globals: Vec<(String, Value)>,
    pub tables: Vec<(String, TableState)>,
    /// Exported memories: name, size in pages, contents.
    pub memories: Vec<(String, u64, Vec<u8>)>,
    /// A call exhausted the stack on this side: the rest is not comparable.
    pub exhausted: bool,
}

impl Outcome {
    /// The first difference between the reference (`self`) and `native`, if
    /// any. Once either side exhausts its stack, only the calls before that
    /// are compared (the engines' limits differ, so do partial side effects).
    pub fn diff(&self, native: &Outcome) -> Option<String> {
        let exhausted = Some(TrapKind::StackOverflow);
        if self.instantiation_trap == exhausted || native.instantiation_trap == exhausted {
            return None;
        }
        if self.instantiation_trap != native.instantiation_trap {
            return Some(format!(
                "instantiation: reference {:?}, native {:?}",
                self.instantiation_trap, native.instantiation_trap
            ));
        }
        for (i, (r, n)) in self.calls.iter().zip(&native.calls).enumerate() {
            let exhausted = |c: &CallResult| c == &CallResult::Trapped(TrapKind::StackOverflow);
            if exhausted(&r.1) || exhausted(&n.1) {
                return None;
            }
            let same = match (&r.1, &n.1) {
                (CallResult::Returned(a), CallResult::Returned(b)) => {
                    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same(y))
                }
                (a, b) => a == b,
            };
            if !same {
                return Some(format!(
                    "call #{i} `{}`: reference {:?}, native {:?}",
                    r.0, r.1, n.1
                ));
            }
        }
        if self.exhausted || native.exhausted {
            return None;
        }
        if self.calls.len() != native.calls.len() {
            return Some(format!(
                "calls: reference made {}, native {}",
                self.calls.len(),
                native.calls.len()
            ));
        }
        for ((name, r), (_, n)) in self.globals.iter().zip(&native.globals) {
            if !r.same(n) {
                return Some(format!("global `{name}`: reference {r:?}, native {n:?}"));
            }
        }
        for ((name, r), (_, n)) in self.tables.iter().zip(&native.tables) {
            if r != n {
                return Some(format!(
                    "table `{name}`: reference size {}, native size {} (or null slots differ)",
                    r.size, n.size
                ));
            }
        }
        for ((name, rp, r), (_, np, n)) in self.memories.iter().zip(&native.memories) {
            if rp != np {
                return Some(format!(
                    "memory `{name}`: reference {rp} pages, native {np} pages"
                ));
            }
            if let Some(at) = r.iter().zip(n).position(|(a, b)| a != b) {
                return Some(format!(
                    "memory `{name}` differs at byte {at:#x}: reference {:#04x}, native {:#04x}",
                    r[at], n[at]
                ));
            }
        }
        if (self.globals.len(), self.tables.len(), self.memories.len())
            != (
                native.globals.len(),
                native.tables.len(),
                native.memories.len(),
            )
        {
            return Some("different numbers of exported globals/tables/memories".into());
        }
        None
    }
}

/// A small deterministic generator (SplitMix64) for bytes and arguments.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5851_f42d_4c95_7f2d)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// The `wasm-smith` configuration: what w2native compiles and wasmi runs.
/// Not generated: SIMD, GC, tail calls, memory64, multi-memory, exceptions
/// (wasmi has none), threads (wasmi has no atomics), imports (every case is
/// self-contained).
pub fn config(rng: &mut Rng) -> wasm_smith::Config {
    wasm_smith::Config {
        simd_enabled: false,
        relaxed_simd_enabled: false,
        gc_enabled: false,
        tail_call_enabled: false,
        memory64_enabled: false,
        exceptions_enabled: false,
        threads_enabled: false,
        wide_arithmetic_enabled: false,
        custom_page_sizes_enabled: false,
        shared_everything_threads_enabled: false,
        multi_value_enabled: true,
        bulk_memory_enabled: true,
        reference_types_enabled: true,
        sign_extension_ops_enabled: true,
        saturating_float_to_int_enabled: true,
        extended_const_enabled: true,
        max_imports: 0,
        max_memories: 1,
        max_tables: 2,
        max_memory32_bytes: 16 << 16,
        memory_max_size_required: true,
        max_table_elements: 200,
        table_max_size_required: true,
        max_funcs: 30,
        max_instructions: 100 + rng.below(1900) as usize,
        max_exports: 30,
        max_tags: 0,
        export_everything: true,
        min_types: 1,
        min_funcs: 1,
        canonicalize_nans: rng.below(4) != 0,
        // Half of the cases run without traps (addresses masked, divisors
        // checked...), so calls get past their first instructions.
        disallow_traps: rng.below(2) == 0,
        allow_start_export: true,
        ..wasm_smith::Config::default()
    }
}

/// The module of case `seed` (deterministic).
pub fn generate(seed: u64) -> Result<Vec<u8>, String> {
    let (bytes, config) = case_input(seed);
    generate_from(&bytes, config)
}

/// The generator's input of case `seed`: its bytes and configuration.
pub fn case_input(seed: u64) -> (Vec<u8>, wasm_smith::Config) {
    let mut rng = Rng::new(seed);
    let len = 512 + rng.below(16 << 10) as usize;
    let bytes: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
    let config = config(&mut rng);
    (bytes, config)
}

/// Shrinks the generator's input of a diverging case while it still
/// diverges: fewer input bytes (wasm-smith then stops early), fewer
/// functions and instructions. Returns the smallest diverging module.
pub fn reduce(seed: u64, bounds: w2native::BoundsMode) -> Option<Vec<u8>> {
    let (mut bytes, mut config) = case_input(seed);
    let diverges = |bytes: &[u8], config: &wasm_smith::Config| -> Option<Vec<u8>> {
        let wasm = generate_from(bytes, config.clone()).ok()?;
        matches!(check_one(&wasm, seed, bounds), Verdict::Diverged(_)).then_some(wasm)
    };
    let mut best = diverges(&bytes, &config)?;
    loop {
        let mut progress = false;
        for cut in [2, 4, 8, 16, 64] {
            let keep = bytes.len() - bytes.len() / cut;
            if keep < bytes.len() {
                if let Some(w) = diverges(&bytes[..keep], &config) {
                    if w.len() < best.len() {
                        bytes.truncate(keep);
                        best = w;
                        progress = true;
                        break;
                    }
                }
            }
        }
        for (funcs, insts) in [(1, 10), (2, 20), (4, 50), (8, 100), (16, 400)] {
            if config.max_funcs <= funcs && config.max_instructions <= insts {
                continue;
            }
            let mut smaller = config.clone();
            smaller.max_funcs = smaller.max_funcs.min(funcs);
            smaller.max_instructions = smaller.max_instructions.min(insts);
            if let Some(w) = diverges(&bytes, &smaller) {
                if w.len() < best.len() {
                    config = smaller;
                    best = w;
                    progress = true;
                    break;
                }
            }
        }
        if !progress {
            return Some(best);
        }
    }
}

/// The module `wasm-smith` makes of `bytes`, with fuel instrumentation.
pub fn generate_from(bytes: &[u8], config: wasm_smith::Config) -> Result<Vec<u8>, String> {
    let mut u = Unstructured::new(bytes);
    let mut module = wasm_smith::Module::new(config, &mut u).map_err(|e| e.to_string())?;
    module.ensure_termination(FUEL).map_err(|e| e.to_string())?;
    Ok(module.to_bytes())
}

/// Arguments for a call to a function with `params`, drawn from `rng`:
/// boundary values half of the time.
pub fn arguments(params: &[Ty], rng: &mut Rng) -> Vec<Value> {
    const I32S: [i32; 8] = [0, 1, -1, i32::MIN, i32::MAX, 0x10000, 0xffff, 8];
    const I64S: [i64; 7] = [0, 1, -1, i64::MIN, i64::MAX, 0x1_0000_0000, 0xffff_ffff];
    const F32S: [u32; 7] = [
        0,
        0x8000_0000,
        0x7fc0_0000,
        0x7f80_0000,
        0x3f80_0000,
        0x4f00_0000,
        1,
    ];
    const F64S: [u64; 6] = [
        0,
        0x8000_0000_0000_0000,
        0x7ff8_0000_0000_0000,
        0x7ff0_0000_0000_0000,
        0x3ff0_0000_0000_0000,
        0x43e0_0000_0000_0000,
    ];
    params
        .iter()
        .map(|t| {
            let special = rng.below(2) == 0;
            let r = rng.next_u64();
            match t {
                Ty::I32 if special => Value::I32(I32S[(r % 8) as usize]),
                Ty::I32 => Value::I32(r as i32),
                Ty::I64 if special => Value::I64(I64S[(r % 7) as usize]),
                Ty::I64 => Value::I64(r as i64),
                Ty::F32 if special => Value::F32(F32S[(r % 7) as usize]),
                Ty::F32 => Value::F32(r as u32),
                Ty::F64 if special => Value::F64(F64S[(r % 6) as usize]),
                Ty::F64 => Value::F64(r),
                Ty::FuncRef | Ty::ExternRef => Value::Ref { null: true },
            }
        })
        .collect()
}

/// Seed of the argument stream of case `seed` (both sides draw the same).
pub fn argument_seed(seed: u64) -> u64 {
    seed.rotate_left(17) ^ 0xa5a5_a5a5
}

/// What a case came to.
#[derive(Debug)]
pub enum Verdict {
    /// Both agree (possibly after a stack exhaustion, counted separately).
    Agree {
        exhausted: bool,
    },
    /// w2native rejected a module `wasm-smith` made (a compiler bug unless
    /// the message says the feature is unsupported).
    CompileError(String),
    Diverged(String),
    /// The generator gave up on these bytes (not counted as a case).
    Skipped,
}

/// Runs one case entirely in this process (compiles into its own shared
/// object: slow, for reproduction and the libFuzzer target).
pub fn check_one(wasm: &[u8], seed: u64, bounds: w2native::BoundsMode) -> Verdict {
    let reference = reference::run(wasm, argument_seed(seed));
    let reference = match reference {
        Ok(r) => r,
        Err(e) => return Verdict::CompileError(format!("reference rejected the module: {e}")),
    };
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => return Verdict::CompileError(format!("tempdir: {e}")),
    };
    let cases = [native::Case {
        seed,
        wasm: wasm.to_vec(),
        bounds,
    }];
    let mut loaded = native::load_batch(&cases, dir.path());
    match loaded.pop() {
        Some(Ok(module)) => {
            let outcome = native::run(&module, argument_seed(seed));
            match reference.diff(&outcome) {
                None => Verdict::Agree {
                    exhausted: reference.exhausted || outcome.exhausted,
                },
                Some(d) => Verdict::Diverged(d),
            }
        }
        Some(Err(e)) => Verdict::CompileError(e),
        None => Verdict::CompileError("no module loaded".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn returned(v: Value) -> Outcome {
        Outcome {
            calls: vec![("f".into(), CallResult::Returned(vec![v]))],
            ..Outcome::default()
        }
    }

    #[test]
    fn nans_compare_equal_other_bits_do_not() {
        let a = returned(Value::F32(0x7fc0_0000));
        assert_eq!(a.diff(&returned(Value::F32(0xffc0_0001))), None);
        assert!(a.diff(&returned(Value::F32(0x3f80_0000))).is_some());
        let z = returned(Value::F64(0));
        assert!(
            z.diff(&returned(Value::F64(1 << 63))).is_some(),
            "-0 is not +0"
        );
    }

    #[test]
    fn stack_exhaustion_ends_the_comparison() {
        let mut r = returned(Value::I32(1));
        r.calls
            .push(("g".into(), CallResult::Trapped(TrapKind::StackOverflow)));
        r.exhausted = true;
        let mut n = returned(Value::I32(1));
        n.calls
            .push(("g".into(), CallResult::Trapped(TrapKind::Unreachable)));
        n.globals.push(("x".into(), Value::I32(5)));
        assert_eq!(r.diff(&n), None);
        let mut n2 = returned(Value::I32(2));
        n2.exhausted = true;
        assert!(
            r.diff(&n2).is_some(),
            "calls before the exhaustion still count"
        );
    }

    #[test]
    fn traps_compare_by_kind() {
        let t = |k| Outcome {
            calls: vec![("f".into(), CallResult::Trapped(k))],
            ..Outcome::default()
        };
        assert_eq!(
            t(TrapKind::Unreachable).diff(&t(TrapKind::Unreachable)),
            None
        );
        assert!(t(TrapKind::Unreachable)
            .diff(&t(TrapKind::MemoryOutOfBounds))
            .is_some());
    }

    #[test]
    fn generation_is_deterministic() {
        assert_eq!(generate(42), generate(42));
        assert_ne!(generate(42), generate(43));
    }
}
