//! `boundscheck-elision` through the compiler: how many explicit checks each
//! rule removes (the traps they must keep are in `tests/wast/boundscheck-elision/`).

use w2native::{compile_module, BoundsMode, CompileOptions, Target};

fn elided(wat: &str, bounds: BoundsMode) -> usize {
    let wasm = wat::parse_str(wat).expect("test module parses");
    let mut opts = CompileOptions::new(Target::X86_64, "t", "t");
    opts.bounds = bounds;
    let (_, stats) = compile_module(&wasm, &opts).expect("compiles");
    stats.elided_checks
}

fn check(body: &str, expected: usize) {
    let wat =
        format!("(module (memory 1) (func (param $p i32) (param $c i32) (result i32) {body}))");
    assert_eq!(elided(&wat, BoundsMode::Explicit), expected, "{body}");
    assert_eq!(
        elided(&wat, BoundsMode::Guard),
        0,
        "guard mode has no checks"
    );
}

#[test]
fn constant_below_minimum() {
    check("(i32.load (i32.const 65532))", 1);
    check("(i32.load offset=65532 (i32.const 0))", 1);
    check("(i32.load (i32.const 65533))", 0);
    check("(i32.load (local.get $p))", 0);
}

#[test]
fn same_base_covered() {
    check(
        "(drop (i32.load offset=8 (local.get $p))) (i32.load (local.get $p))",
        1,
    );
    check(
        "(drop (i32.load (local.get $p))) (i32.load offset=8 (local.get $p))",
        0,
    );
    check(
        "(drop (i32.load offset=8 (local.get $p))) (drop (memory.grow (i32.const 1))) (i32.load (local.get $p))",
        1,
    );
    check(
        "(drop (i32.load (local.get $p))) (local.set $p (i32.add (local.get $p) (i32.const 4))) (i32.load (local.get $p))",
        0,
    );
}

#[test]
fn dominating_block_covers() {
    // Rule 3: the check before the `if` dominates the one inside it.
    check(
        "(drop (i32.load offset=8 (local.get $p))) (if (result i32) (local.get $c) (then (i32.load (local.get $p))) (else (i32.const 0)))",
        1,
    );
    // A larger end inside the `if` is checked.
    check(
        "(drop (i32.load (local.get $p))) (if (result i32) (local.get $c) (then (i32.load offset=8 (local.get $p))) (else (i32.const 0)))",
        0,
    );
    // A check in one arm does not dominate the code after the `if`.
    check(
        "(if (local.get $c) (then (drop (i32.load offset=8 (local.get $p))))) (i32.load (local.get $p))",
        0,
    );
}
