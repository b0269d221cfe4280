//! Moves the zero-extension of a wasm address inside arithmetic that
//! provably does not wrap, so the arithmetic folds into the native
//! addressing mode.
//!
//! A wasm address is an `i32`: `a[i]` on a static array is
//! `i32.add (i32.shl i 2) &a`, which the translator zero-extends before
//! adding the heap base. Cranelift cannot move the extension inside (the
//! 32-bit sum could wrap at 2^32), so such an access costs a shift and an
//! add before the load, and a register for their result. When the value
//! ranges (`value_ranges`) show that no step wraps, `zext(a + b)` is
//! `zext(a) + zext(b)` and `zext(a << k)` is `zext(a) << k`, and the 64-bit
//! form becomes part of the access: `disp(base, index, scale)` on x86_64.
//! clang does the same to wasm2c's C with its own range analysis. Only
//! extensions used solely by adds (heap addresses and their explicit
//! checks) are rewritten: elsewhere the wide form would cost as much.

use std::collections::HashSet;

use cranelift_codegen::cursor::{Cursor, FuncCursor};
use cranelift_codegen::flowgraph::ControlFlowGraph;
use cranelift_codegen::ir::{self, types, InstBuilder, InstructionData as I, Opcode, Value};

use crate::value_ranges::{i32_constant as constant, Ranges};

/// The 64-bit form of a non-wrapping `i32` expression.
enum Wide {
    Zext(Value),
    Const(u32),
    Add(Box<Wide>, Box<Wide>),
    Shl(Box<Wide>, u32),
    Mul(Box<Wide>, u32),
}

pub(crate) fn fold_address_arith(func: &mut ir::Function) {
    if func.dfg.num_values() > super::WIDEN_MAX_VALUES {
        return;
    }
    let candidates = address_extends(func);
    if candidates.is_empty() {
        return;
    }
    let cfg = ControlFlowGraph::with_function(func);
    let mut ranges = Ranges::new(func, &cfg);
    let plans: Vec<(ir::Inst, Wide)> = candidates
        .into_iter()
        .filter_map(|(inst, arg)| Some((inst, plan(func, &mut ranges, arg)?)))
        .collect();
    drop(ranges);
    for (inst, wide) in plans {
        let result = func.dfg.first_result(inst);
        let srcloc = func.srcloc(inst);
        let mut pos = FuncCursor::new(func).with_srcloc(srcloc).at_inst(inst);
        let value = build(&mut pos, &wide);
        func.layout.remove_inst(inst);
        func.dfg.detach_inst_results(inst);
        func.dfg.change_to_alias(result, value);
    }
}

/// The zero-extensions whose result only feeds adds: `(inst, arg)`.
fn address_extends(func: &ir::Function) -> Vec<(ir::Inst, Value)> {
    let dfg = &func.dfg;
    let other_uses: HashSet<Value> = func
        .layout
        .blocks()
        .flat_map(|block| func.layout.block_insts(block))
        .filter(|&inst| dfg.insts[inst].opcode() != Opcode::Iadd)
        .flat_map(|inst| dfg.inst_values(inst))
        .map(|v| dfg.resolve_aliases(v))
        .collect();
    let mut extends = super::zero_extensions(func);
    extends.retain(|&(inst, _)| !other_uses.contains(&dfg.first_result(inst)));
    extends
}

/// The wide form of `v` when it is arithmetic that provably does not wrap;
/// `None` when only a plain extension is known to be right.
fn plan(func: &ir::Function, ranges: &mut Ranges<'_>, v: Value) -> Option<Wide> {
    let dfg = &func.dfg;
    let I::Binary { opcode, args } = dfg.insts[dfg.value_def(v).inst()?] else {
        return None;
    };
    let [a, b] = args.map(|x| dfg.resolve_aliases(x));
    // `Ranges` answers only for results that cannot wrap (or lose bits).
    ranges.of(v)?;
    Some(match opcode {
        Opcode::Iadd => Wide::Add(
            Box::new(leaf(func, ranges, a)),
            Box::new(leaf(func, ranges, b)),
        ),
        Opcode::Ishl => Wide::Shl(Box::new(leaf(func, ranges, a)), constant(func, b)? & 31),
        Opcode::Imul => match (constant(func, a), constant(func, b)) {
            (_, Some(c)) => Wide::Mul(Box::new(leaf(func, ranges, a)), c),
            (Some(c), _) => Wide::Mul(Box::new(leaf(func, ranges, b)), c),
            _ => return None,
        },
        _ => return None,
    })
}

fn leaf(func: &ir::Function, ranges: &mut Ranges<'_>, v: Value) -> Wide {
    plan(func, ranges, v)
        .or_else(|| constant(func, v).map(Wide::Const))
        .unwrap_or(Wide::Zext(v))
}

fn build(pos: &mut FuncCursor<'_>, wide: &Wide) -> Value {
    match wide {
        Wide::Zext(v) => pos.ins().uextend(types::I64, *v),
        Wide::Const(c) => pos.ins().iconst(types::I64, i64::from(*c)),
        Wide::Add(a, b) => {
            let (a, b) = (build(pos, a), build(pos, b));
            pos.ins().iadd(a, b)
        }
        Wide::Shl(a, k) => {
            let a = build(pos, a);
            let k = pos.ins().iconst(types::I64, i64::from(*k));
            pos.ins().ishl(a, k)
        }
        Wide::Mul(a, c) => {
            let a = build(pos, a);
            let c = pos.ins().iconst(types::I64, i64::from(*c));
            pos.ins().imul(a, c)
        }
    }
}
