//! Functions that need no vmctx: pure computation and direct calls of other
//! such functions (fib). Every compiled function takes the vmctx as its
//! first parameter; a caller that has to pass its own on to a callee keeps
//! it in a callee-saved register across each call (saved and restored in
//! every frame, copied into the argument register before every call). When
//! the callee never reads it, the caller passes a constant instead, and if
//! the caller needs it for nothing else either, its own vmctx is dead.
//!
//! Which functions qualify is first guessed from the operators
//! ([`CallGraph::scan`]: no memory, global, table, indirect call, import,
//! exception) and the call graph ([`CallGraph::solve`]: all callees
//! qualify), then proven on the translated IR ([`uses_vmctx`]: the
//! translator may still read the vmctx, for a stack-limit check in a
//! function with a big frame for example). A function that fails the proof
//! leaves the set and takes its callers with it; the candidates are
//! translated again until they all pass (`codegen::compile_functions`).

use cranelift_codegen::ir::{self, InstructionData, Opcode};
use wasmparser::Operator as O;

use crate::module_info::FunctionInput;

/// Defined functions' direct calls, and whether their own operators need
/// the vmctx.
pub struct CallGraph {
    needs_vmctx: Vec<bool>,
    /// Defined callees of each defined function.
    callees: Vec<Vec<u32>>,
}

impl CallGraph {
    pub fn scan(num_imported_funcs: u32, functions: &[FunctionInput<'_>]) -> Self {
        let mut needs_vmctx = Vec::with_capacity(functions.len());
        let mut callees = Vec::with_capacity(functions.len());
        for f in functions {
            let mut calls = Vec::new();
            let needs =
                scan_body(f, num_imported_funcs, functions.len(), &mut calls).unwrap_or(true);
            calls.sort_unstable();
            calls.dedup();
            needs_vmctx.push(needs);
            callees.push(calls);
        }
        CallGraph {
            needs_vmctx,
            callees,
        }
    }

    /// The largest set of functions that need no vmctx by their operators,
    /// are not in `excluded`, and call only functions of the set.
    pub fn solve(&self, excluded: &[bool]) -> Vec<bool> {
        let n = self.needs_vmctx.len();
        let mut free: Vec<bool> = (0..n)
            .map(|f| !self.needs_vmctx[f] && !excluded[f])
            .collect();
        let mut callers = vec![Vec::new(); n];
        for (f, calls) in self.callees.iter().enumerate() {
            for &c in calls {
                callers[c as usize].push(f as u32);
            }
        }
        let mut work: Vec<u32> = (0..n as u32).filter(|&f| !free[f as usize]).collect();
        while let Some(g) = work.pop() {
            for &f in &callers[g as usize] {
                if free[f as usize] {
                    free[f as usize] = false;
                    work.push(f);
                }
            }
        }
        free
    }
}

/// Whether the operators of `f` need the vmctx themselves (`None`: the body
/// does not parse; its translation reports why). Collects direct calls of
/// defined functions into `calls`. The body is not validated yet: a call of
/// a function that does not exist makes it need everything.
fn scan_body(
    f: &FunctionInput<'_>,
    num_imported: u32,
    num_defined: usize,
    calls: &mut Vec<u32>,
) -> Option<bool> {
    let mut ops = f.body.get_operators_reader().ok()?;
    while !ops.eof() {
        let op = ops.read().ok()?;
        let needs = match op {
            O::Call { function_index } => {
                if function_index < num_imported
                    || (function_index - num_imported) as usize >= num_defined
                {
                    true
                } else {
                    calls.push(function_index - num_imported);
                    false
                }
            }
            O::GlobalGet { .. }
            | O::GlobalSet { .. }
            | O::CallIndirect { .. }
            | O::ReturnCall { .. }
            | O::ReturnCallIndirect { .. }
            | O::CallRef { .. }
            | O::ReturnCallRef { .. }
            | O::RefFunc { .. }
            | O::TableGet { .. }
            | O::TableSet { .. }
            | O::TableSize { .. }
            | O::TableGrow { .. }
            | O::TableFill { .. }
            | O::TableCopy { .. }
            | O::TableInit { .. }
            | O::ElemDrop { .. }
            | O::MemorySize { .. }
            | O::MemoryGrow { .. }
            | O::MemoryFill { .. }
            | O::MemoryCopy { .. }
            | O::MemoryInit { .. }
            | O::DataDrop { .. }
            | O::Try { .. }
            | O::Catch { .. }
            | O::CatchAll
            | O::Throw { .. }
            | O::Rethrow { .. }
            | O::Delegate { .. }
            | O::TryTable { .. }
            | O::ThrowRef => true,
            // Atomics and anything else missed here are caught by
            // `uses_vmctx` on the translated function.
            ref other => is_load_or_store(other),
        };
        if needs {
            return Some(true);
        }
    }
    Some(false)
}

fn is_load_or_store(op: &O<'_>) -> bool {
    matches!(
        op,
        O::I32Load { .. }
            | O::I64Load { .. }
            | O::F32Load { .. }
            | O::F64Load { .. }
            | O::I32Load8S { .. }
            | O::I32Load8U { .. }
            | O::I32Load16S { .. }
            | O::I32Load16U { .. }
            | O::I64Load8S { .. }
            | O::I64Load8U { .. }
            | O::I64Load16S { .. }
            | O::I64Load16U { .. }
            | O::I64Load32S { .. }
            | O::I64Load32U { .. }
            | O::I32Store { .. }
            | O::I64Store { .. }
            | O::F32Store { .. }
            | O::F64Store { .. }
            | O::I32Store8 { .. }
            | O::I32Store16 { .. }
            | O::I64Store8 { .. }
            | O::I64Store16 { .. }
            | O::I64Store32 { .. }
    )
}

/// Whether the translated function reads its vmctx parameter: any use,
/// except by a load whose result is unused (the memory base the translator
/// loads in every entry block, which Cranelift drops when nothing uses it),
/// or a stack-limit check in the prologue.
pub fn uses_vmctx(func: &ir::Function) -> bool {
    if func.stack_limit.is_some() {
        return true;
    }
    let Some(entry) = func.layout.entry_block() else {
        return false;
    };
    let vmctx = func.dfg.block_params(entry)[0];
    let mut used = std::collections::HashSet::new();
    for block in func.layout.blocks() {
        for inst in func.layout.block_insts(block) {
            used.extend(func.dfg.inst_values(inst));
        }
    }
    func.layout.blocks().any(|block| {
        func.layout.block_insts(block).any(|inst| {
            if !func.dfg.inst_values(inst).any(|v| v == vmctx) {
                return false;
            }
            let dead_load = matches!(
                func.dfg.insts[inst],
                InstructionData::Load {
                    opcode: Opcode::Load,
                    ..
                }
            ) && func
                .dfg
                .inst_results(inst)
                .iter()
                .all(|r| !used.contains(r));
            !dead_load
        })
    })
}
