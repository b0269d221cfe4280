//! Rule 4's value ranges over Cranelift IR: which values of a wasm `i32`
//! an address may take, from constants, arithmetic that cannot wrap and
//! loop induction variables (`boundscheck_elision::induction_range` does
//! the reasoning; this module only reads the IR).

use std::collections::HashMap;

use boundscheck_elision::{induction_range, Cmp, Increment, Range};
use cranelift_codegen::flowgraph::ControlFlowGraph;
use cranelift_codegen::ir::{
    self,
    condcodes::{CondCode, IntCC},
    types, BlockArg, InstructionData as I, Opcode, Value, ValueDef,
};

/// How deep the walk from an address to its sources may go.
const MAX_DEPTH: usize = 24;

/// `v` when it is an `i32` constant.
pub fn i32_constant(func: &ir::Function, v: Value) -> Option<u32> {
    let dfg = &func.dfg;
    match dfg.insts[dfg.value_def(v).inst()?] {
        I::UnaryImm {
            opcode: Opcode::Iconst,
            imm,
        } if dfg.value_type(v) == types::I32 => Some(imm.bits() as u32),
        _ => None,
    }
}

pub struct Ranges<'f> {
    func: &'f ir::Function,
    cfg: &'f ControlFlowGraph,
    /// `None` also marks a value being worked out: a cycle other than
    /// an induction variable's increment is unknown.
    memo: HashMap<Value, Option<Range>>,
    depth: usize,
}

impl<'f> Ranges<'f> {
    pub fn new(func: &'f ir::Function, cfg: &'f ControlFlowGraph) -> Self {
        Ranges {
            func,
            cfg,
            memo: HashMap::new(),
            depth: 0,
        }
    }

    pub fn of(&mut self, v: Value) -> Option<Range> {
        if let Some(&r) = self.memo.get(&v) {
            return r;
        }
        if self.depth >= MAX_DEPTH {
            return None;
        }
        self.memo.insert(v, None);
        self.depth += 1;
        let r = self.compute(v);
        self.depth -= 1;
        self.memo.insert(v, r);
        r
    }

    fn constant(&self, v: Value) -> Option<u32> {
        i32_constant(self.func, v)
    }

    fn compute(&mut self, v: Value) -> Option<Range> {
        let dfg = &self.func.dfg;
        if dfg.value_type(v) != types::I32 {
            return None;
        }
        match dfg.value_def(v) {
            ValueDef::Result(inst, 0) => match dfg.insts[inst] {
                I::UnaryImm {
                    opcode: Opcode::Iconst,
                    imm,
                } => Some(Range::constant(imm.bits() as u32)),
                I::Binary {
                    opcode,
                    args: [a, b],
                } => {
                    let (ca, cb) = (self.constant(a), self.constant(b));
                    match opcode {
                        Opcode::Iadd => self.of(a)?.plus(self.of(b)?),
                        Opcode::Ishl => self.of(a)?.shifted(cb? & 31),
                        Opcode::Ushr => Some(Range::ushr(self.of(a), cb? & 31)),
                        Opcode::Imul => match (ca, cb) {
                            (_, Some(c)) => self.of(a)?.times(c),
                            (Some(c), _) => self.of(b)?.times(c),
                            _ => None,
                        },
                        Opcode::Band => match (ca, cb) {
                            (_, Some(m)) => Some(Range::and_mask(self.of(a), m)),
                            (Some(m), _) => Some(Range::and_mask(self.of(b), m)),
                            _ => None,
                        },
                        Opcode::Urem => Range::urem(self.of(a), cb?),
                        Opcode::Udiv => Range::udiv(self.of(a), cb?),
                        _ => None,
                    }
                }
                // Table lookups index with bytes and halfwords.
                I::Load {
                    opcode: Opcode::Uload8,
                    ..
                } => Some(Range::bits(8)),
                I::Load {
                    opcode: Opcode::Uload16,
                    ..
                } => Some(Range::bits(16)),
                I::Unary {
                    opcode: Opcode::Uextend,
                    arg,
                } => Some(Range::bits(dfg.value_type(arg).bits())),
                I::Unary {
                    opcode: Opcode::Clz | Opcode::Ctz | Opcode::Popcnt,
                    ..
                } => Some(Range { lo: 0, hi: 32 }),
                _ => None,
            },
            ValueDef::Param(block, index) => self.block_param(block, index, v),
            _ => None,
        }
    }

    /// A block parameter: the union of its incoming values, or an
    /// induction variable when some of them are its increments.
    fn block_param(&mut self, block: ir::Block, index: usize, param: Value) -> Option<Range> {
        let func = self.func;
        let dfg = &func.dfg;
        if func.layout.entry_block() == Some(block) {
            return None;
        }
        let mut inits = Vec::new();
        let mut incs = Vec::new();
        for pred in self.cfg.pred_iter(block) {
            let data = &dfg.insts[pred.inst];
            let dests = data.branch_destination(&dfg.jump_tables, &dfg.exception_tables);
            for (arm, call) in dests.iter().enumerate() {
                if call.block(&dfg.value_lists) != block {
                    continue;
                }
                let BlockArg::Value(arg) = call.args(&dfg.value_lists).nth(index)? else {
                    return None;
                };
                match self.increment(arg, param) {
                    Some(step) => incs.push(self.gate(data, arm, arg, param, step)?),
                    None => inits.push(self.of(arg)?),
                }
            }
        }
        induction_range(&inits, &incs)
    }

    /// `step` when `v` is `param + step` (a constant).
    fn increment(&self, v: Value, param: Value) -> Option<u64> {
        let dfg = &self.func.dfg;
        match dfg.insts[dfg.value_def(v).inst()?] {
            I::Binary {
                opcode: Opcode::Iadd,
                args: [a, b],
            } if a == param => self.constant(b).map(u64::from),
            I::Binary {
                opcode: Opcode::Iadd,
                args: [a, b],
            } if b == param => self.constant(a).map(u64::from),
            _ => None,
        }
    }

    /// The compare under which arm `arm` of branch `data` passes the
    /// increment `next` of `param`: only a `brif` on a compare of
    /// `next` or `param` with a constant qualifies.
    fn gate(
        &self,
        data: &I,
        arm: usize,
        next: Value,
        param: Value,
        step: u64,
    ) -> Option<Increment> {
        let dfg = &self.func.dfg;
        let I::Brif {
            arg: mut cond,
            blocks,
            ..
        } = *data
        else {
            return None;
        };
        if blocks[0].block(&dfg.value_lists) == blocks[1].block(&dfg.value_lists) {
            return None;
        }
        // wasm compares are `i32`: the translator widens Cranelift's.
        if let I::Unary {
            opcode: Opcode::Uextend,
            arg,
        } = dfg.insts[dfg.value_def(cond).inst()?]
        {
            cond = arg;
        }
        let I::IntCompare {
            opcode: Opcode::Icmp,
            args: [x, y],
            cond: cc,
        } = dfg.insts[dfg.value_def(cond).inst()?]
        else {
            return None;
        };
        let (compared, bound, cc) = match (self.constant(x), self.constant(y)) {
            (_, Some(n)) => (x, n, cc),
            (Some(n), _) => (y, n, cc.swap_args()),
            _ => return None,
        };
        // The else arm is taken when the compare fails.
        let cc = if arm == 0 { cc } else { cc.complement() };
        let on_next = if compared == next {
            true
        } else if compared == param {
            false
        } else {
            return None;
        };
        let cmp = match cc {
            IntCC::UnsignedLessThan => Cmp::Ult,
            IntCC::UnsignedLessThanOrEqual => Cmp::Ule,
            IntCC::SignedLessThan => Cmp::Slt,
            IntCC::SignedLessThanOrEqual => Cmp::Sle,
            IntCC::Equal => Cmp::Eq,
            IntCC::NotEqual => Cmp::Ne,
            _ => return None,
        };
        Some(Increment {
            step,
            cmp,
            bound: u64::from(bound),
            on_next,
        })
    }
}
