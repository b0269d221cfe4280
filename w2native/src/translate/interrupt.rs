//! Interrupt checks: the points where a running function can be stopped.
//!
//! With `CompileOptions::interruptible`, every loop header and the entry of
//! every function that calls something loads the `u32` at
//! `vmctx + VMOffsets::interrupt()` and, if it is non-zero, calls the
//! `interrupt` builtin from a cold block. Any unbounded execution passes
//! one of these points (a loop, or recursion through a call), so a runtime
//! that sets the flag from another thread gets control within a bounded
//! time: the Linux Runner delivers signals and lets the kernel schedule
//! there (epoch-style interruption, as in wasmtime, with the epoch reduced
//! to one flag the runtime sets per instance).
//!
//! The fast path is one load and one compare-and-branch; leaf functions
//! without loops get no check at all (they end by themselves).

use cranelift_codegen::ir::{types, AbiParam, InstBuilder, MemFlagsData, Signature};
use cranelift_codegen::isa::{CallConv, TargetIsa};
use cranelift_frontend::FunctionBuilder;
use w2native_environ::Builtin;
use wasmparser::{Operator, OperatorsReader};

use super::env::FuncEnv;

/// The calling convention of the `interrupt` builtin call. On x86_64 the
/// runtime's entry for it is a trampoline that keeps every register
/// (`runtime-support/src/arch/interrupt_x86_64.S`), so the call is
/// `preserve_all`: with an ordinary call in the cold block, every value
/// live across a loop header counts as live across a call, and the register
/// allocator spilled loop variables (even the memory base) to the stack in
/// the hot path (quicksort: +77% instructions). Elsewhere the builtin is
/// the plain C function for now.
pub fn call_conv(isa: &dyn TargetIsa) -> CallConv {
    match isa.triple().architecture {
        target_lexicon::Architecture::X86_64 => CallConv::PreserveAll,
        _ => isa.default_call_conv(),
    }
}

/// Defined functions (ascending indices) whose body has a legacy `try`
/// (`ModuleDesc::funcs_with_try`). The module was validated already; a
/// section that does not read simply ends the list.
pub fn funcs_with_try(wasm: &[u8]) -> Vec<u32> {
    let mut out = Vec::new();
    let mut index = 0;
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        let Ok(wasmparser::Payload::CodeSectionEntry(body)) = payload else {
            continue;
        };
        if let Ok(mut ops) = body.get_operators_reader() {
            while !ops.eof() {
                match ops.read() {
                    Ok(Operator::Try { .. }) => {
                        out.push(index);
                        break;
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
        }
        index += 1;
    }
    out
}

/// Whether the function entry needs a check: the body calls something
/// (direct, indirect or through the exception lowering). Loops get their
/// own checks, so a leaf function needs none at its entry.
pub(crate) fn entry_needs_check(mut ops: OperatorsReader<'_>) -> bool {
    while !ops.eof() {
        match ops.read() {
            Ok(
                Operator::Call { .. }
                | Operator::CallIndirect { .. }
                | Operator::ReturnCall { .. }
                | Operator::ReturnCallIndirect { .. }
                | Operator::CallRef { .. }
                | Operator::ReturnCallRef { .. },
            ) => return true,
            Ok(_) => {}
            // The real pass reports the error; a check does no harm.
            Err(_) => return true,
        }
    }
    false
}

/// Emits a check at the current position: the builder continues in a new
/// block reached from both the fast path and the cold call.
pub(crate) fn emit_check(b: &mut FunctionBuilder, env: &mut FuncEnv<'_, '_>) {
    // Not readonly: another thread sets it, and every pass around a loop
    // must reload it. The call in the cold block is what keeps Cranelift's
    // alias analysis from taking the header's load for a repeat of an
    // earlier one: it clobbers memory on one path into the continuation,
    // so each header gets its own memory state.
    let flags = MemFlagsData::trusted();
    let offset = env.env.offsets.interrupt() as i32;
    let flag = b.ins().load(types::I32, flags, env.vmctx, offset);
    // (An explicit `icmp` does not get the load folded into a
    // `cmp [mem], 0` by the x86_64 backend either: load, test, jne.)
    let cold = b.create_block();
    let cont = b.create_block();
    b.ins().brif(flag, cold, &[], cont, &[]);
    b.set_cold_block(cold);
    b.seal_block(cold);
    b.switch_to_block(cold);
    call_builtin(b, env);
    b.ins().jump(cont, &[]);
    b.seal_block(cont);
    b.switch_to_block(cont);
}

/// `interrupt(vmctx)` through the builtins table, with the convention of
/// [`call_conv`] and no result (what `preserve_all` allows; the builtin's
/// status is always 0).
fn call_builtin(b: &mut FunctionBuilder, env: &mut FuncEnv<'_, '_>) {
    let Some(call_conv) = env.env.interruptible else {
        return;
    };
    let ptr = env.ptr();
    let mut sig = Signature::new(call_conv);
    sig.params.push(AbiParam::new(ptr));
    if call_conv != CallConv::PreserveAll {
        sig.returns.push(AbiParam::new(types::I32));
    }
    let sig = b.import_signature(sig);
    let readonly = MemFlagsData::trusted().with_readonly();
    let table = b
        .ins()
        .load(ptr, readonly, env.vmctx, env.env.offsets.builtins() as i32);
    let offset = Builtin::interrupt.index() * env.env.abi.pointer_bytes();
    let func = b.ins().load(ptr, readonly, table, offset as i32);
    b.ins().call_indirect(sig, func, &[env.vmctx]);
}

#[cfg(test)]
mod tests {
    use crate::module_info::ModuleInfo;
    use crate::{CompileOptions, Target};

    /// The CLIF of every function, split per function, with checks on or off.
    fn clif(wat: &str, on: bool) -> Vec<String> {
        let wasm = wat::parse_str(wat).expect("test module parses");
        let info = ModuleInfo::parse(&wasm, "test").expect("valid module");
        let isa = Target::X86_64.isa().expect("x86_64 ISA");
        let mut opts = CompileOptions::new(Target::X86_64, "t", "t");
        opts.interruptible = Some(on);
        let text = crate::codegen::functions_as_clif(info, &*isa, &opts).expect("translates");
        text.split("; function ")
            .skip(1)
            .map(str::to_string)
            .collect()
    }

    const MODULE: &str = r#"(module
        (memory 1)
        (func $spin (param i32) (result i32)
          (loop $l
            (local.set 0 (i32.add (local.get 0) (i32.const 1)))
            (br_if $l (i32.ne (local.get 0) (i32.const 1000))))
          (local.get 0))
        (func $leaf (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
        (func $caller (param i32) (result i32) (call $leaf (local.get 0))))"#;

    /// The load of `vmctx.interrupt` (72 on a 64-bit target).
    const FLAG_LOAD: &str = "load.i32 notrap aligned v0+72";

    #[test]
    fn loops_and_calling_functions_get_checks_leaves_do_not() {
        let f = clif(MODULE, true);
        assert_eq!(f.len(), 3);
        let count = |s: &str| s.matches(FLAG_LOAD).count();
        assert_eq!(count(&f[0]), 1, "one check in the loop header:\n{}", f[0]);
        assert!(
            f[0].contains(" cold:"),
            "the call is in a cold block:\n{}",
            f[0]
        );
        assert_eq!(count(&f[1]), 0, "a leaf without loops has none:\n{}", f[1]);
        assert_eq!(
            count(&f[2]),
            1,
            "a function that calls checks at entry:\n{}",
            f[2]
        );
    }

    /// A loop inside a legacy `try` gets no check: a handler run there may
    /// longjmp to this function's setjmp, which only its try-calls catch.
    #[test]
    fn no_loop_check_inside_legacy_try() {
        let f = clif(
            r#"(module
                (func $in_try (param i32)
                  try
                    loop $l
                      local.get 0
                      br_if $l
                    end
                  catch_all
                  end)
                (func $outside (param i32) (loop $l (br_if $l (local.get 0)))))"#,
            true,
        );
        assert_eq!(f[0].matches(FLAG_LOAD).count(), 0, "{}", f[0]);
        assert_eq!(f[1].matches(FLAG_LOAD).count(), 1, "{}", f[1]);
    }

    #[test]
    fn off_means_no_checks() {
        for f in clif(MODULE, false) {
            assert!(!f.contains(FLAG_LOAD), "unexpected check:\n{f}");
        }
    }
}
