//! IR rewrites that fit wasm's 32-bit address arithmetic to the native
//! addressing modes. The translator emits what wasm says: an `i32`
//! address, zero-extended, added to the heap base. Cranelift's backends
//! then pay for the 32-bit steps and the extensions (a `mov r32, r32`, a
//! `lea` and a shift before a load that could have done it all). Each
//! rewrite keeps every value and every trap site; they run in this order
//! on each function before Cranelift compiles it.

mod base_slot;
mod fold;
mod load_extend;
mod loop_params;
mod sub_const;

use cranelift_codegen::ir;

#[cfg(test)]
pub(crate) use base_slot::heap_base_in_slot;
#[cfg(test)]
pub(crate) use loop_params::widen_address_params;

/// Largest function (IR values) `fold` and `loop_params` rewrite. In a
/// huge function whose registers are all taken (sqlite's interpreter loop,
/// 40% of its instructions spills, reloads and moves), the wider live
/// values changed the register allocation for the worse: +5% and +2.8%
/// there, while every smaller function of the benchmarks got faster or
/// stayed.
pub(crate) const WIDEN_MAX_VALUES: usize = 10_000;

/// Smallest function (IR values) whose heap base `base_slot` moves to a
/// stack slot: sqlite's interpreter loop (15,000 values) lost 10% of its
/// instructions and 17% of its code, `printf_core` and b-tree `balance`
/// (3,000-10,000) 2-4% of their instructions; at 1,000 and below, the
/// reloads cost more than the spills they replace.
const BASE_SLOT_MIN_VALUES: usize = 3_000;

/// Every `uextend.i64` of an `i32` (a wasm address on its way to the heap
/// base, or an `i64.extend_i32_u`), with its argument alias-resolved: what
/// each rewrite here starts from.
fn zero_extensions(func: &ir::Function) -> Vec<(ir::Inst, ir::Value)> {
    let dfg = &func.dfg;
    func.layout
        .blocks()
        .flat_map(|block| func.layout.block_insts(block))
        .filter_map(|inst| match dfg.insts[inst] {
            ir::InstructionData::Unary {
                opcode: ir::Opcode::Uextend,
                arg,
            } if dfg.value_type(dfg.first_result(inst)) == ir::types::I64
                && dfg.value_type(arg) == ir::types::I32 =>
            {
                Some((inst, dfg.resolve_aliases(arg)))
            }
            _ => None,
        })
        .collect()
}

pub(crate) fn rewrite(func: &mut ir::Function, base_offset: i32) {
    if func.dfg.num_values() > BASE_SLOT_MIN_VALUES {
        base_slot::heap_base_in_slot(func, base_offset);
    }
    // `x - k` as `x + (-k)`: one `lea` instead of `mov` + `sub`.
    sub_const::sub_const_as_add(func);
    // Before the two below, which then see the 32-bit loads and loop
    // parameters it zero-extends.
    fold::fold_address_arith(func);
    load_extend::widen_address_loads(func);
    loop_params::widen_address_params(func);
}
