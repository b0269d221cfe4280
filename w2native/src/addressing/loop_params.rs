//! Loop headers' address parameters as 64-bit values.

use cranelift_codegen::ir;

/// Turns each `i32` block parameter that is zero-extended to be used as an
/// address (a loop index, a pointer merged from two paths) into an `i64`
/// parameter holding the zero-extended value: its `uextend`s read the wide
/// parameter, its other uses `ireduce` of it, and every predecessor passes
/// `uextend` of its argument. Cranelift's x86_64 backend zero-extends a
/// block parameter with a `mov r32, r32` at every use (it knows nothing
/// about where the value came from), but drops the `uextend` of 32-bit
/// arithmetic, constants and 32-bit loads, which is what the arguments of
/// loop back edges usually are; the zero-extension moves out of the loop to
/// its entry edge. Only loop headers' parameters (measured: elsewhere it
/// did not pay), and not those reached by edges that carry no plain values
/// (exception edges).
pub(crate) fn widen_address_params(func: &mut ir::Function) {
    use cranelift_codegen::cursor::{Cursor, FuncCursor};
    use cranelift_codegen::ir::{types, BlockArg, InstBuilder, InstructionData as I, Opcode};
    use std::collections::{HashMap, HashSet};

    let Some(entry) = func.layout.entry_block() else {
        return;
    };
    if func.dfg.num_values() > super::WIDEN_MAX_VALUES {
        return;
    }
    // Candidates: non-entry i32 block parameters with a `uextend.i64` use.
    let mut extends: HashMap<ir::Value, Vec<ir::Inst>> = HashMap::new();
    for (inst, arg) in super::zero_extensions(func) {
        if let ir::ValueDef::Param(b, _) = func.dfg.value_def(arg) {
            if b != entry {
                extends.entry(arg).or_default().push(inst);
            }
        }
    }
    if extends.is_empty() {
        return;
    }
    // Every edge into a candidate's block must pass plain values.
    let mut rejected: HashSet<ir::Block> = HashSet::new();
    for block in func.layout.blocks() {
        let Some(term) = func.layout.last_inst(block) else {
            continue;
        };
        let data = func.dfg.insts[term];
        let plain = matches!(
            data,
            I::Jump { .. } | I::Brif { .. } | I::BranchTable { .. }
        );
        for dest in data.branch_destination(&func.dfg.jump_tables, &func.dfg.exception_tables) {
            let target = dest.block(&func.dfg.value_lists);
            if !plain
                || dest
                    .args(&func.dfg.value_lists)
                    .any(|a| !matches!(a, BlockArg::Value(_)))
            {
                rejected.insert(target);
            }
        }
    }
    // Loop headers: a back edge goes up in the layout (the translator lays
    // blocks out in wasm order).
    let order: HashMap<ir::Block, usize> = func
        .layout
        .blocks()
        .enumerate()
        .map(|(i, b)| (b, i))
        .collect();
    let mut headers: HashSet<ir::Block> = HashSet::new();
    for block in func.layout.blocks() {
        let Some(term) = func.layout.last_inst(block) else {
            continue;
        };
        for dest in func.dfg.insts[term]
            .branch_destination(&func.dfg.jump_tables, &func.dfg.exception_tables)
        {
            let target = dest.block(&func.dfg.value_lists);
            if order[&target] <= order[&block] {
                headers.insert(target);
            }
        }
    }
    let mut params: Vec<ir::Value> = extends
        .keys()
        .copied()
        .filter(|&p| match func.dfg.value_def(p) {
            ir::ValueDef::Param(b, _) => !rejected.contains(&b) && headers.contains(&b),
            _ => false,
        })
        .collect();
    params.sort();
    if params.is_empty() {
        return;
    }

    // Widen the parameters: i32 uses read `ireduce`, `uextend`s the wide one.
    let mut wide_of: HashMap<ir::Value, ir::Value> = HashMap::new();
    let mut widened: HashMap<(ir::Block, usize), ()> = HashMap::new();
    for &p in &params {
        let ir::ValueDef::Param(block, num) = func.dfg.value_def(p) else {
            unreachable!("filtered above")
        };
        let wide = func.dfg.replace_block_param(p, types::I64);
        let mut pos = FuncCursor::new(func).at_first_insertion_point(block);
        let narrow = pos.ins().ireduce(types::I32, wide);
        func.dfg.change_to_alias(p, narrow);
        wide_of.insert(narrow, wide);
        widened.insert((block, num), ());
        for &extend in &extends[&p] {
            let result = func.dfg.first_result(extend);
            func.layout.remove_inst(extend);
            func.dfg.detach_inst_results(extend);
            func.dfg.change_to_alias(result, wide);
        }
    }

    // Every edge into a widened parameter passes a zero-extended argument.
    let branches: Vec<ir::Inst> = func
        .layout
        .blocks()
        .filter_map(|b| func.layout.last_inst(b))
        .filter(|&i| func.dfg.insts[i].opcode().is_branch())
        .collect();
    for term in branches {
        let srcloc = func.srcloc(term);
        let mut data = func.dfg.insts[term];
        let ir::DataFlowGraph {
            jump_tables,
            exception_tables,
            value_lists,
            ..
        } = &mut func.dfg;
        let mut edits: Vec<(usize, usize, ir::Value)> = Vec::new();
        for (d, dest) in data
            .branch_destination_mut(jump_tables, exception_tables)
            .iter()
            .enumerate()
        {
            let target = dest.block(value_lists);
            for (i, arg) in dest.args(value_lists).enumerate() {
                if widened.contains_key(&(target, i)) {
                    let BlockArg::Value(v) = arg else {
                        unreachable!("edges with other arguments were rejected")
                    };
                    edits.push((d, i, v));
                }
            }
        }
        if edits.is_empty() {
            continue;
        }
        let mut wide_args = Vec::with_capacity(edits.len());
        for &(_, _, v) in &edits {
            let v = func.dfg.resolve_aliases(v);
            let reduced_load = match func.dfg.value_def(v).inst().map(|i| func.dfg.insts[i]) {
                // `widen_address_loads`' `ireduce` of a `uload32`.
                Some(I::Unary {
                    opcode: Opcode::Ireduce,
                    arg,
                }) if func
                    .dfg
                    .value_def(arg)
                    .inst()
                    .map(|i| func.dfg.insts[i].opcode())
                    == Some(Opcode::Uload32) =>
                {
                    Some(arg)
                }
                _ => None,
            };
            let w = match wide_of.get(&v).copied().or(reduced_load) {
                Some(w) => w,
                None => {
                    let mut pos = FuncCursor::new(func).with_srcloc(srcloc).at_inst(term);
                    pos.ins().uextend(types::I64, v)
                }
            };
            wide_args.push(w);
        }
        let ir::DataFlowGraph {
            jump_tables,
            exception_tables,
            value_lists,
            ..
        } = &mut func.dfg;
        let dests = data.branch_destination_mut(jump_tables, exception_tables);
        for (&(d, i, _), &w) in edits.iter().zip(&wide_args) {
            let mut n = 0;
            dests[d].update_args(value_lists, |a| {
                let out = if n == i { BlockArg::Value(w) } else { a };
                n += 1;
                out
            });
        }
        func.dfg.insts[term] = data;
    }
}
