//! Translator tests: small modules per operator family, each function run
//! through the Cranelift verifier and compiled for the host, in every
//! bounds mode. Behaviour is checked end to end by the spec testsuite; here
//! we check that every operator produces well-formed IR and that errors
//! carry their location.

use super::{translate_function, TranslateEnv};
use crate::abi::TargetAbi;
use crate::error::CompileError;
use crate::module_info::ModuleInfo;
use crate::{BoundsMode, Target};
use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::ir;
use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_frontend::FunctionBuilderContext;

/// Translates every function of `wat` for `target` with `bounds`, verifies
/// and compiles each, and returns the functions.
fn translate_for(
    wat: &str,
    bounds: BoundsMode,
    target: Target,
) -> Result<Vec<ir::Function>, CompileError> {
    let wasm = wat::parse_str(wat).expect("test module parses");
    let info = ModuleInfo::parse(&wasm, "test")?;
    let isa: OwnedTargetIsa = target.isa().expect("target ISA");
    let abi = TargetAbi::new(&*isa);
    let env = TranslateEnv {
        desc: &info.desc,
        offsets: info.desc.offsets(abi.pointer_bytes()),
        abi,
        bounds,
        elision: Default::default(),
        interruptible: None,
        context_free: Vec::new(),
    };
    let mut ctx = FunctionBuilderContext::new();
    let mut out = Vec::new();
    for (i, input) in info.functions.into_iter().enumerate() {
        let func = translate_function(&env, i as u32, input, &mut ctx)?;
        if let Err(errors) = cranelift_codegen::verify_function(&func, &*isa) {
            panic!(
                "verifier errors in function {i}:\n{errors}\n{}",
                func.display()
            );
        }
        let mut cctx = cranelift_codegen::Context::for_function(func.clone());
        if let Err(e) = cctx.compile(&*isa, &mut ControlPlane::default()) {
            panic!(
                "compile error in function {i}: {:?}\n{}",
                e.inner,
                func.display()
            );
        }
        out.push(func);
    }
    Ok(out)
}

pub(crate) fn translate_with(
    wat: &str,
    bounds: BoundsMode,
) -> Result<Vec<ir::Function>, CompileError> {
    translate_for(wat, bounds, Target::X86_64)
}

/// Translates in every bounds mode and for every target; returns the
/// guard-mode x86_64 functions.
fn check(wat: &str) -> Vec<ir::Function> {
    for mode in [BoundsMode::Explicit, BoundsMode::None] {
        translate_with(wat, mode).unwrap_or_else(|e| panic!("{mode:?}: {e}"));
    }
    for target in [Target::Aarch64, Target::Riscv64] {
        translate_for(wat, BoundsMode::Guard, target).unwrap_or_else(|e| panic!("{target:?}: {e}"));
    }
    translate_with(wat, BoundsMode::Guard).unwrap_or_else(|e| panic!("{e}"))
}

fn clif(f: &ir::Function) -> String {
    f.display().to_string()
}

#[test]
fn empty_and_constants() {
    let fs = check(
        r#"(module
            (func)
            (func (result i32) i32.const 42)
            (func (result i64 f32 f64) i64.const -1 f32.const 1.5 f64.const -0.0)
            (func (result i32 i64 i32 i64 f32 f64 f32 f64 i32)
                i32.const 1 i64.const 2 i32.const 3 i64.const 4
                f32.const 5 f64.const 6 f32.const 7 f64.const 8 i32.const 9)
            (func (param i32 i64 f32 f64) (local i32 i64 f32 f64 funcref externref)
                local.get 0 local.set 4
                local.get 1 local.tee 5 drop
                local.get 2 local.set 6 local.get 3 local.set 7
                local.get 8 drop local.get 9 drop))"#,
    );
    assert_eq!(fs.len(), 5);
    assert!(clif(&fs[0]).contains("stack_limit"), "{}", clif(&fs[0]));
}

#[test]
fn control_flow() {
    check(
        r#"(module
            (func (param i32) (result i32)
                (block (result i32)
                    (loop (result i32)
                        (drop (br_if 1 (i32.const 7) (i32.eqz (local.get 0))))
                        local.get 0 i32.const 1 i32.sub local.set 0
                        br 0)))
            (func (param i32) (result i32)
                (if (result i32) (local.get 0) (then i32.const 1) (else i32.const 2)))
            (func (param i32)
                (if (local.get 0) (then nop)))
            (func (param i32) (result i32)
                (block (block (block (br_table 0 1 2 (local.get 0))) (return (i32.const 1))) (return (i32.const 2)))
                i32.const 3)
            (func (param i32) (result i32)
                (block (result i32) (i32.const 7) (local.get 0) (br_table 0 0 0)))
            (func (result i32) unreachable)
            (func (result i32) (return (i32.const 1)) i32.const 2 i32.add)
            (func (param i32) (result i32)
                (block (result i32)
                    i32.const 1 br 0
                    (block (loop (if (i32.const 0) (then (br 2)) (else unreachable))))
                    i32.const 5))
            (func (param i32) (result i32)
                (if (result i32) (local.get 0) (then unreachable) (else i32.const 3)))
            (func (param i32) (result i32)
                (if (result i32) (local.get 0) (then i32.const 3) (else unreachable)))
            (func (param i32)
                (loop (br_if 0 (local.get 0))))
            (func (param i32) (result i32)
                (block (result i32) (br 0 (i32.const 1)) (if (then)) (i32.const 2)))
            (func (result i32) (block (unreachable)) (i32.const 9))
            (func (param i32) (result i32)
                (block (br_table 0 (local.get 0))) (i32.const 1))
            (func (param i32) (result i32)
                (i32.const 4) (loop (param i32) (result i32) (br_table 0 1 (local.get 0)))))"#,
    );
}

#[test]
fn multi_value_blocks() {
    check(
        r#"(module
            (type $pp (func (param i32 i32) (result i32 i32)))
            (func (result i32 i32) i32.const 1 i32.const 2)
            (func (param i32) (result i32)
                i32.const 1 i32.const 2
                (block (type $pp) (param i32 i32) (result i32 i32) (br_if 0 (local.get 0)))
                i32.add)
            (func (param i32) (result i64)
                i64.const 1 i64.const 10
                (loop (param i64 i64) (result i64)
                    i64.add
                    (br_if 1 (i64.const 0) (local.get 0)) drop
                    i64.const 2 (br_if 0 (local.get 0))
                    drop)
                )
            (func (param i32) (result i32 i32)
                i32.const 5
                (if (param i32) (result i32 i32) (local.get 0)
                    (then i32.const 1)
                    (else i32.const 2)))
            (func (param i32) (result f64)
                f64.const 1
                (if (param f64) (result f64) (local.get 0) (then f64.neg)))
            (func (param i32) (result i32 i64)
                (block $b (result i32 i64)
                    (br_table $b $b (i32.const 1) (i64.const 2) (local.get 0)))))"#,
    );
}

#[test]
fn calls() {
    let fs = check(
        r#"(module
            (import "env" "f" (func $imp (param i32) (result i32)))
            (type $t (func (param i32) (result i32)))
            (table 2 funcref)
            (elem (i32.const 0) $id $imp)
            (func $id (param i32) (result i32) local.get 0)
            (func (result i32) (call $id (call $imp (i32.const 1))))
            (func (param i32) (result i32) (call_indirect (type $t) (i32.const 3) (local.get 0)))
            (func $pair (result i32 i64) i32.const 1 i64.const 2)
            (func (result i32) (call $pair) drop))"#,
    );
    let direct = clif(&fs[1]);
    assert!(direct.contains("call fn"), "{direct}");
    assert!(direct.contains("call_indirect"), "{direct}");
    let indirect = clif(&fs[2]);
    // Bounds and signature compares; a null element faults on the type-id
    // load, whose trap code (user5) names the trap.
    assert_eq!(indirect.matches("trapnz").count(), 2, "{indirect}");
    assert!(indirect.contains("user5"), "{indirect}");
}

#[test]
fn memory_all_widths() {
    let fs = check(
        r#"(module
            (memory 1)
            (func (param i32) (result i64)
                (drop (i32.load (local.get 0)))
                (drop (i64.load offset=8 (local.get 0)))
                (drop (f32.load align=1 (local.get 0)))
                (drop (f64.load offset=4294967295 (local.get 0)))
                (drop (i32.load8_s (local.get 0)))
                (drop (i32.load8_u (local.get 0)))
                (drop (i32.load16_s (local.get 0)))
                (drop (i32.load16_u (local.get 0)))
                (drop (i64.load8_s (local.get 0)))
                (drop (i64.load8_u (local.get 0)))
                (drop (i64.load16_s (local.get 0)))
                (drop (i64.load16_u (local.get 0)))
                (drop (i64.load32_s (local.get 0)))
                (i64.store (local.get 0) (i64.const 1))
                (i32.store offset=65536 (local.get 0) (i32.const 1))
                (f32.store (local.get 0) (f32.const 1))
                (f64.store (local.get 0) (f64.const 1))
                (i32.store8 (local.get 0) (i32.const 1))
                (i32.store16 (local.get 0) (i32.const 1))
                (i64.store8 (local.get 0) (i64.const 1))
                (i64.store16 (local.get 0) (i64.const 1))
                (i64.store32 (local.get 0) (i64.const 1))
                (i64.load32_u (local.get 0)))
            (func (result i32) memory.size)
            (func (param i32) (result i32) (memory.grow (local.get 0))))"#,
    );
    // Guard mode: plain (trapping) accesses, no compares.
    let body = clif(&fs[0]);
    assert!(
        !body.contains("trapnz") && !body.contains("notrap little"),
        "{body}"
    );
    let unchecked = translate_with(
        "(module (memory 1) (func (param i32) (result i32) (i32.load (local.get 0))))",
        BoundsMode::None,
    )
    .unwrap();
    assert!(
        clif(&unchecked[0]).contains("load.i32 notrap little"),
        "{}",
        clif(&unchecked[0])
    );
    let explicit = translate_with(
        "(module (memory 1) (func (param i32) (result i32) (i32.load offset=4 (local.get 0))))",
        BoundsMode::Explicit,
    )
    .unwrap();
    assert!(
        clif(&explicit[0]).contains("trapnz"),
        "{}",
        clif(&explicit[0])
    );
}

#[test]
fn integer_ops() {
    let mut body = String::new();
    for ty in ["i32", "i64"] {
        for op in [
            "add", "sub", "mul", "div_s", "div_u", "rem_s", "rem_u", "and", "or", "xor", "shl",
            "shr_s", "shr_u", "rotl", "rotr",
        ] {
            body += &format!(
                "(func (param {ty} {ty}) (result {ty}) ({ty}.{op} (local.get 0) (local.get 1)))\n"
            );
        }
        for op in [
            "eq", "ne", "lt_s", "lt_u", "gt_s", "gt_u", "le_s", "le_u", "ge_s", "ge_u",
        ] {
            body += &format!(
                "(func (param {ty} {ty}) (result i32) ({ty}.{op} (local.get 0) (local.get 1)))\n"
            );
        }
        for op in ["clz", "ctz", "popcnt", "extend8_s", "extend16_s"] {
            body += &format!("(func (param {ty}) (result {ty}) ({ty}.{op} (local.get 0)))\n");
        }
        body += &format!("(func (param {ty}) (result i32) ({ty}.eqz (local.get 0)))\n");
    }
    body += "(func (param i64) (result i64) (i64.extend32_s (local.get 0)))\n";
    body += "(func (param i64) (result i32) (i32.wrap_i64 (local.get 0)))\n";
    body += "(func (param i32) (result i64) (i64.extend_i32_s (local.get 0)))\n";
    body += "(func (param i32) (result i64) (i64.extend_i32_u (local.get 0)))\n";
    check(&format!("(module {body})"));
}

#[test]
fn float_ops_and_conversions() {
    let mut body = String::new();
    for ty in ["f32", "f64"] {
        for op in ["add", "sub", "mul", "div", "min", "max", "copysign"] {
            body += &format!(
                "(func (param {ty} {ty}) (result {ty}) ({ty}.{op} (local.get 0) (local.get 1)))\n"
            );
        }
        for op in ["eq", "ne", "lt", "gt", "le", "ge"] {
            body += &format!(
                "(func (param {ty} {ty}) (result i32) ({ty}.{op} (local.get 0) (local.get 1)))\n"
            );
        }
        for op in ["abs", "neg", "ceil", "floor", "trunc", "nearest", "sqrt"] {
            body += &format!("(func (param {ty}) (result {ty}) ({ty}.{op} (local.get 0)))\n");
        }
        for int in ["i32", "i64"] {
            for s in ["s", "u"] {
                body += &format!(
                    "(func (param {ty}) (result {int}) ({int}.trunc_{ty}_{s} (local.get 0)))\n"
                );
                body += &format!(
                    "(func (param {ty}) (result {int}) ({int}.trunc_sat_{ty}_{s} (local.get 0)))\n"
                );
                body += &format!(
                    "(func (param {int}) (result {ty}) ({ty}.convert_{int}_{s} (local.get 0)))\n"
                );
            }
        }
    }
    body += "(func (param f64) (result f32) (f32.demote_f64 (local.get 0)))\n";
    body += "(func (param f32) (result f64) (f64.promote_f32 (local.get 0)))\n";
    body += "(func (param f32) (result i32) (i32.reinterpret_f32 (local.get 0)))\n";
    body += "(func (param f64) (result i64) (i64.reinterpret_f64 (local.get 0)))\n";
    body += "(func (param i32) (result f32) (f32.reinterpret_i32 (local.get 0)))\n";
    body += "(func (param i64) (result f64) (f64.reinterpret_i64 (local.get 0)))\n";
    check(&format!("(module {body})"));
}

#[test]
fn select_and_globals() {
    check(
        r#"(module
            (import "env" "g" (global $ig (mut i32)))
            (import "env" "c" (global $ic i64))
            (global $g (mut f64) (f64.const 1))
            (global $r (mut funcref) (ref.null func))
            (func (param i32) (result i32)
                (global.set $ig (i32.add (global.get $ig) (i32.wrap_i64 (global.get $ic))))
                (global.set $g (f64.add (global.get $g) (f64.const 1)))
                (global.set $r (global.get $r))
                (select (i32.const 1) (i32.const 2) (local.get 0)))
            (func (param i32) (result f64) (select (result f64) (f64.const 1) (f64.const 2) (local.get 0)))
            (func (param i32) (result externref)
                (select (result externref) (ref.null extern) (ref.null extern) (local.get 0))))"#,
    );
}

#[test]
fn bulk_memory_and_tables() {
    check(
        r#"(module
            (memory 1)
            (data $d "hello")
            (table $t 1 funcref)
            (table $e 1 externref)
            (elem $s func $f)
            (func $f (param i32 externref) (result i32)
                (memory.fill (i32.const 0) (i32.const 1) (i32.const 2))
                (memory.copy (i32.const 0) (i32.const 1) (i32.const 2))
                (memory.init $d (i32.const 0) (i32.const 1) (i32.const 2))
                (data.drop $d)
                (table.init $t $s (i32.const 0) (i32.const 0) (i32.const 1))
                (elem.drop $s)
                (table.copy $t $t (i32.const 0) (i32.const 0) (i32.const 1))
                (table.fill $e (i32.const 0) (local.get 1) (i32.const 1))
                (table.set $e (i32.const 0) (local.get 1))
                (drop (table.get $t (local.get 0)))
                (drop (table.grow $t (ref.func $f) (i32.const 1)))
                (drop (ref.is_null (table.get $e (i32.const 0))))
                (table.size $e)))"#,
    );
}

#[test]
fn atomics() {
    check(
        r#"(module
            (memory 1 1 shared)
            (func (param i32) (result i64)
                atomic.fence
                (drop (i32.atomic.load (local.get 0)))
                (drop (i64.atomic.load8_u offset=3 (local.get 0)))
                (drop (i64.atomic.load32_u (local.get 0)))
                (i32.atomic.store16 (local.get 0) (i32.const 1))
                (i64.atomic.store (local.get 0) (i64.const 1))
                (i64.atomic.store32 (local.get 0) (i64.const 1))
                (drop (i32.atomic.rmw.add (local.get 0) (i32.const 1)))
                (drop (i32.atomic.rmw8.sub_u (local.get 0) (i32.const 1)))
                (drop (i64.atomic.rmw16.and_u (local.get 0) (i64.const 1)))
                (drop (i64.atomic.rmw32.or_u (local.get 0) (i64.const 1)))
                (drop (i64.atomic.rmw.xor (local.get 0) (i64.const 1)))
                (drop (i32.atomic.rmw.xchg (local.get 0) (i32.const 1)))
                (drop (i32.atomic.rmw.cmpxchg (local.get 0) (i32.const 1) (i32.const 2)))
                (drop (i64.atomic.rmw8.cmpxchg_u (local.get 0) (i64.const 1) (i64.const 2)))
                (drop (memory.atomic.notify (local.get 0) (i32.const 1)))
                (drop (memory.atomic.wait32 (local.get 0) (i32.const 0) (i64.const -1)))
                (drop (memory.atomic.wait64 (local.get 0) (i64.const 0) (i64.const 0)))
                (i64.atomic.rmw.cmpxchg (local.get 0) (i64.const 1) (i64.const 2))))"#,
    );
}

#[test]
fn invalid_body_names_function_and_offset() {
    let err = translate_with(
        r#"(module (func $ok) (func $bad (result i32) i64.const 1))"#,
        BoundsMode::Guard,
    )
    .unwrap_err();
    match &err {
        CompileError::Invalid { loc, message } => {
            assert_eq!(loc.func.as_ref().map(|f| f.0), Some(1), "{err}");
            assert_eq!(
                loc.func.as_ref().map(|f| f.1.as_str()),
                Some("bad"),
                "{err}"
            );
            assert!(loc.offset.is_some(), "{err}");
            assert!(message.contains("type mismatch"), "{message}");
        }
        other => panic!("expected Invalid, got {other}"),
    }
}

#[test]
fn new_exceptions_are_unsupported_not_a_panic() {
    let err = translate_with(r#"(module (func try_table end))"#, BoundsMode::Guard).unwrap_err();
    assert!(
        matches!(&err, CompileError::Unsupported { loc, message } if loc.func.is_some() && message.contains("TryTable")),
        "{err}"
    );
}

#[test]
fn legacy_exceptions_translate() {
    check(
        r#"(module (tag $e (param i32)) (func $t (param i32) (throw $e (local.get 0)))
             (func (param i32) (result i32)
               try (result i32) (call $t (local.get 0)) (i32.const 0)
               catch $e
               catch_all (i32.const 1)
               end
               try (param i32) (result i32) (throw $e) delegate 0))"#,
    );
}

#[test]
fn context_is_reusable_and_deep_nesting_is_fine() {
    let mut nested = String::from("(func (param i32) (result i32) (local.get 0)");
    for i in 0..200 {
        nested += &format!(
            " (if (param i32) (result i32) (local.get 0) (then i32.const {i} i32.add) (else))"
        );
    }
    nested += ")";
    check(&format!("(module {nested} {nested})"));
}

#[test]
fn builder_context_is_clean_after_an_error() {
    let wasm = wat::parse_str(
        "(module (func (result i32) i32.const 1 try_table end) (func (param i32) (result i32) local.get 0))",
    )
    .unwrap();
    let info = ModuleInfo::parse(&wasm, "test").unwrap();
    let isa = Target::X86_64.isa().unwrap();
    let abi = TargetAbi::new(&*isa);
    let env = TranslateEnv {
        desc: &info.desc,
        offsets: info.desc.offsets(abi.pointer_bytes()),
        abi,
        bounds: BoundsMode::Guard,
        elision: Default::default(),
        interruptible: None,
        context_free: Vec::new(),
    };
    let mut ctx = FunctionBuilderContext::new();
    let mut inputs = info.functions.into_iter();
    assert!(translate_function(&env, 0, inputs.next().unwrap(), &mut ctx).is_err());
    let func = translate_function(&env, 1, inputs.next().unwrap(), &mut ctx).unwrap();
    cranelift_codegen::verify_function(&func, &*isa).unwrap();
}
