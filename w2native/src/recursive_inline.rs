//! Recursive inlining: a small function that calls itself gets one copy of
//! its own body at each of those call sites, so each call does the work of
//! two levels of the recursion. Tree walks and naive recursions spend most
//! of their time entering and leaving frames (a binary tree's leaves are
//! half its calls), and Cranelift gives every calling function a full
//! prologue; halving the calls halves that. GCC does the same (its
//! `max-inline-recursive-depth` parameters); clang does not, which is why
//! wasm2c's output keeps every call.
//!
//! Only self-calls are inlined: a trap in the inlined copy is still in the
//! function the trap table names, so trap messages stay exact.

use cranelift_codegen::inline::{Inline, InlineCommand};
use cranelift_codegen::ir::{self, ExternalName, Opcode, UserExternalName};
use cranelift_codegen::Context;
use std::borrow::Cow;

/// Largest function (IR instructions) that is copied into itself: above
/// this, the calls are a small part of the work and the copies a large part
/// of the instruction cache.
const MAX_INSTRUCTIONS: usize = 120;

/// Most self-call sites that are expanded: each adds a copy of the body.
const MAX_SITES: usize = 2;

/// Inlines `ctx.func` (defined function `def_index`) into its own direct
/// self-calls, one level deep, when it is small enough. Returns whether it
/// did.
pub fn inline_self_calls(ctx: &mut Context, def_index: u32) -> Result<bool, String> {
    let func = &ctx.func;
    let me = crate::codegen::defined_func_name(def_index);
    let mut instructions = 0;
    let mut sites = 0;
    for block in func.layout.blocks() {
        for inst in func.layout.block_insts(block) {
            instructions += 1;
            match func.dfg.insts[inst].opcode() {
                Opcode::Call if is_call_to(func, inst, &me) => sites += 1,
                // Inlining rewrites a callee's returns into jumps; keep
                // tail calls and exception edges out of that.
                Opcode::ReturnCall
                | Opcode::ReturnCallIndirect
                | Opcode::TryCall
                | Opcode::TryCallIndirect => return Ok(false),
                _ => {}
            }
        }
    }
    if sites == 0 || sites > MAX_SITES || instructions > MAX_INSTRUCTIONS {
        return Ok(false);
    }
    let body = func.clone();
    ctx.inline(SelfCalls { me, body })
        .map_err(|e| format!("inlining self-calls: {e:?}"))
}

fn is_call_to(func: &ir::Function, inst: ir::Inst, name: &UserExternalName) -> bool {
    let ir::InstructionData::Call { func_ref, .. } = func.dfg.insts[inst] else {
        return false;
    };
    is_ref_to(func, func_ref, name)
}

fn is_ref_to(func: &ir::Function, func_ref: ir::FuncRef, name: &UserExternalName) -> bool {
    match &func.dfg.ext_funcs[func_ref].name {
        ExternalName::User(r) => func.params.user_named_funcs()[*r] == *name,
        _ => false,
    }
}

struct SelfCalls {
    me: UserExternalName,
    body: ir::Function,
}

impl Inline for SelfCalls {
    fn inline(
        &mut self,
        caller: &ir::Function,
        _call_inst: ir::Inst,
        call_opcode: Opcode,
        callee: ir::FuncRef,
        _call_args: &[ir::Value],
    ) -> InlineCommand<'_> {
        if call_opcode == Opcode::Call && is_ref_to(caller, callee, &self.me) {
            InlineCommand::Inline {
                callee: Cow::Borrowed(&self.body),
                // One level: the copy's own self-calls stay calls.
                visit_callee: false,
            }
        } else {
            InlineCommand::KeepCall
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translate::tests::translate_with;
    use crate::BoundsMode;
    use cranelift_codegen::control::ControlPlane;

    /// Runs the pass on function `index` of `wat`; returns whether it
    /// inlined and how many self-calls the function has afterwards.
    fn run(wat: &str, index: u32) -> (bool, usize) {
        let funcs = translate_with(wat, BoundsMode::Guard).expect("translates");
        let mut ctx = Context::for_function(funcs[index as usize].clone());
        let inlined = inline_self_calls(&mut ctx, index).expect("inlines");
        let me = crate::codegen::defined_func_name(index);
        let func = &ctx.func;
        let calls = func
            .layout
            .blocks()
            .flat_map(|b| func.layout.block_insts(b))
            .filter(|&i| is_call_to(func, i, &me))
            .count();
        for target in [
            crate::Target::X86_64,
            crate::Target::Aarch64,
            crate::Target::Riscv64,
        ] {
            let isa = target.isa().expect("target ISA");
            cranelift_codegen::verify_function(&ctx.func, &*isa).expect("verifies");
            let mut compiled = Context::for_function(ctx.func.clone());
            compiled
                .compile(&*isa, &mut ControlPlane::default())
                .unwrap_or_else(|e| panic!("{target:?}: {:?}", e.inner));
        }
        (inlined, calls)
    }

    const TREE: &str = r#"(module (memory 1)
        (func $sum (param $n i32) (result i64)
          (if (result i64) (i32.eqz (i32.load (local.get $n)))
            (then (i64.load32_u offset=8 (local.get $n)))
            (else (i64.add (call $sum (i32.load (local.get $n)))
                           (call $sum (i32.load offset=4 (local.get $n))))))))"#;

    #[test]
    fn two_sites_each_get_a_copy() {
        // Each copy brings its own two calls, which stay calls.
        assert_eq!(run(TREE, 0), (true, 4));
    }

    #[test]
    fn one_site_in_a_loop() {
        let wat = r#"(module
            (func $fib (param $n i32) (result i32) (local $acc i32)
              (block $done
                (br_if $done (i32.lt_u (local.get $n) (i32.const 2)))
                (loop $l
                  (local.set $acc (i32.add (local.get $acc)
                    (call $fib (i32.sub (local.get $n) (i32.const 1)))))
                  (br_if $l (i32.gt_u (local.tee $n (i32.sub (local.get $n) (i32.const 2)))
                                      (i32.const 1)))))
              (i32.add (local.get $n) (local.get $acc))))"#;
        assert_eq!(run(wat, 0), (true, 1));
    }

    #[test]
    fn three_sites_are_left_alone() {
        let wat = r#"(module
            (func $t (param $n i32) (result i32)
              (if (result i32) (i32.lt_u (local.get $n) (i32.const 3))
                (then (local.get $n))
                (else (i32.add (call $t (i32.sub (local.get $n) (i32.const 1)))
                        (i32.add (call $t (i32.sub (local.get $n) (i32.const 2)))
                                 (call $t (i32.sub (local.get $n) (i32.const 3)))))))))"#;
        assert_eq!(run(wat, 0), (false, 3));
    }

    #[test]
    fn large_functions_are_left_alone() {
        let adds = "(local.set $x (i32.add (local.get $x) (i32.const 7)))".repeat(MAX_INSTRUCTIONS);
        let wat = format!(
            r#"(module (func $big (param $x i32) (result i32)
                 {adds}
                 (if (result i32) (i32.eqz (local.get $x))
                   (then (i32.const 0))
                   (else (call $big (i32.sub (local.get $x) (i32.const 1)))))))"#
        );
        assert_eq!(run(&wat, 0), (false, 1));
    }

    #[test]
    fn calls_to_other_functions_are_left_alone() {
        let wat = r#"(module
            (func $leaf (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
            (func $caller (param i32) (result i32) (call $leaf (call $leaf (local.get 0)))))"#;
        assert_eq!(run(wat, 1), (false, 0));
    }
}
