//! `uextend` of a 32-bit load as one zero-extending load.

use cranelift_codegen::ir;

/// Rewrites each `uextend.i64 (load.i32 p)` (a wasm address read from
/// memory, widened to index the heap) as `uload32.i64 p`, with the `i32`
/// value's other uses reading `ireduce` of it. Same loads, same trap
/// sites; but Cranelift's x86_64 backend only knows that 32-bit arithmetic
/// clears the upper half, not that a 32-bit load does, and otherwise
/// zero-extends again with a `mov r32, r32` before every such address
/// (sqlite: -3% instructions). 8- and 16-bit loads need nothing: Cranelift
/// already folds their extension.
pub(crate) fn widen_address_loads(func: &mut ir::Function) {
    use cranelift_codegen::cursor::{Cursor, FuncCursor};
    use cranelift_codegen::ir::{types, InstBuilder, InstructionData as I, Opcode};

    let mut widened: std::collections::HashMap<ir::Inst, Vec<ir::Inst>> = Default::default();
    for (inst, arg) in super::zero_extensions(func) {
        let Some(load) = func.dfg.value_def(arg).inst() else {
            continue;
        };
        if let I::Load {
            opcode: Opcode::Load,
            arg: ptr,
            ..
        } = func.dfg.insts[load]
        {
            if func.dfg.value_type(ptr) == types::I64 {
                widened.entry(load).or_default().push(inst);
            }
        }
    }
    for (load, extends) in widened {
        let I::Load {
            flags,
            arg: ptr,
            offset,
            ..
        } = func.dfg.insts[load]
        else {
            unreachable!("collected above")
        };
        let flags = func.dfg.mem_flags[flags];
        let srcloc = func.srcloc(load);
        let mut pos = FuncCursor::new(func).with_srcloc(srcloc).at_inst(load);
        let wide = pos.ins().uload32(flags, ptr, offset);
        func.replace(load).ireduce(types::I32, wide);
        for extend in extends {
            let result = func.dfg.first_result(extend);
            func.layout.remove_inst(extend);
            func.dfg.detach_inst_results(extend);
            func.dfg.change_to_alias(result, wide);
        }
    }
}
