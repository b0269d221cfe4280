//! `isub` of a constant as `iadd`.

use cranelift_codegen::ir;

/// Rewrites each `isub x, k` with a constant `k` as `iadd x, -k`. The
/// shadow-stack frame of C code compiled to wasm is `__stack_pointer - k`,
/// and every access to a local array or spilled variable adds to it.
/// Cranelift rematerializes an add or sub of a constant in each block that
/// uses it, loops included (one ALU op instead of a live register); its
/// x86_64 backend lowers that add to one three-operand `lea`, which it can
/// also fuse with the following address add, but the sub to `mov` + `sub`
/// (two-operand). Same value, same wrapping.
pub(crate) fn sub_const_as_add(func: &mut ir::Function) {
    use cranelift_codegen::cursor::{Cursor, FuncCursor};
    use cranelift_codegen::ir::{types, InstBuilder, InstructionData as I, Opcode};

    let mut subs = Vec::new();
    for block in func.layout.blocks() {
        for inst in func.layout.block_insts(block) {
            let I::Binary {
                opcode: Opcode::Isub,
                args: [x, y],
            } = func.dfg.insts[inst]
            else {
                continue;
            };
            let ty = func.dfg.value_type(y);
            if ty != types::I32 && ty != types::I64 {
                continue;
            }
            let Some(def) = func.dfg.value_def(y).inst() else {
                continue;
            };
            if let I::UnaryImm {
                opcode: Opcode::Iconst,
                imm,
            } = func.dfg.insts[def]
            {
                let neg = imm.bits().wrapping_neg();
                let neg = if ty == types::I32 {
                    i64::from(neg as u32)
                } else {
                    neg
                };
                subs.push((inst, x, ty, neg));
            }
        }
    }
    for (inst, x, ty, neg) in subs {
        let mut pos = FuncCursor::new(func).at_inst(inst);
        let k = pos.ins().iconst(ty, neg);
        func.replace(inst).iadd(x, k);
    }
}
