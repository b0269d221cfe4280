//! The heap base in a stack slot, for huge functions.

use cranelift_codegen::cursor::{Cursor, FuncCursor};
use cranelift_codegen::ir::{self, InstBuilder, StackSlotData, StackSlotKind};

/// In a function too big for its registers, the heap base loaded at entry
/// lives across everything and regalloc2 spills it, at a large frame
/// offset. Storing it once in an explicit slot (the lowest one in the
/// frame) and loading it at each use gives the allocator short live ranges
/// and shorter instructions.
pub fn heap_base_in_slot(func: &mut ir::Function, base_offset: i32) {
    let Some(entry) = func.layout.entry_block() else {
        return;
    };
    let vmctx = func.dfg.block_params(entry)[0];
    let Some(load) = func.layout.block_insts(entry).find(|&inst| {
        matches!(func.dfg.insts[inst], ir::InstructionData::Load {
            opcode: ir::Opcode::Load, arg, offset, ..
        } if arg == vmctx && i32::from(offset) == base_offset)
    }) else {
        return;
    };
    let base = func.dfg.first_result(load);
    let users: Vec<ir::Inst> = func
        .layout
        .blocks()
        .flat_map(|b| func.layout.block_insts(b))
        .filter(|&inst| func.dfg.inst_args(inst).contains(&base))
        .collect();
    if users.is_empty() {
        // The load is dead and goes (it is `can_move`): a function without
        // memory accesses may be context-free, called with a null vmctx.
        return;
    }
    let ptr = func.dfg.value_type(base);
    let slot = func.create_sized_stack_slot(StackSlotData::new(
        StackSlotKind::ExplicitSlot,
        ptr.bytes(),
        ptr.bytes().ilog2() as u8,
    ));
    let mut pos = FuncCursor::new(func).after_inst(load);
    pos.ins().stack_store(ptr, base, slot, 0);
    for inst in users {
        pos.goto_inst(inst);
        let reload = pos.ins().stack_load(ptr, ptr, slot, 0);
        for arg in pos.func.dfg.inst_args_mut(inst) {
            if *arg == base {
                *arg = reload;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translate::tests::translate_with;
    use crate::BoundsMode;

    fn slots_after(wat: &str) -> usize {
        let mut func = translate_with(wat, BoundsMode::Guard).expect("translates")[0].clone();
        let base_offset =
            crate::module_info::ModuleInfo::parse(&wat::parse_str(wat).expect("parses"), "t")
                .expect("module")
                .desc
                .offsets(8)
                .memory_base() as i32;
        heap_base_in_slot(&mut func, base_offset);
        func.sized_stack_slots.len()
    }

    #[test]
    fn a_base_without_uses_stays_unloaded() {
        // A memory-free function may be context-free (null vmctx): its dead
        // base load must stay dead, not feed a store.
        let wat = "(module (memory 1) (func (param i32) (result i32) (i32.add (local.get 0) (i32.const 1))))";
        assert_eq!(slots_after(wat), 0);
    }

    #[test]
    fn a_used_base_gets_its_slot() {
        let wat = "(module (memory 1) (func (param i32) (result i32) (i32.load (local.get 0))))";
        assert_eq!(slots_after(wat), 1);
    }
}
