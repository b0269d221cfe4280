//! Opcode dispatch: wasm operators to Cranelift instructions.
//!
//! The translator keeps a value stack (SSA values standing for the wasm
//! operand stack) and a control stack of [`Frame`]s. A frame's results
//! arrive at its `dest` block as block parameters; a loop's header takes the
//! loop's parameters the same way, which is how block params and results
//! (multi-value) become Cranelift block params.
//!
//! After an unconditional transfer (`br`, `br_table`, `return`,
//! `unreachable`) the rest of the enclosing block is dead: nothing is emitted
//! and nested `block`/`loop`/`if` are only counted (`dead_depth`) until the
//! `else` or `end` that makes code reachable again. Every operator has been
//! validated before it gets here, so types and stack depths can be trusted.

use cranelift_codegen::ir::{
    self, condcodes::FloatCC, condcodes::IntCC, types, AtomicRmwOp, BlockArg, InstBuilder,
    JumpTableData, MemFlagsData, Type, Value,
};
use cranelift_frontend::{FunctionBuilder, Variable};
use w2native_environ::{Builtin, Trap};
use wasmparser::{BlockType, MemArg, Operator};

use super::env::FuncEnv;
use crate::error::{unsupported, Result};
use crate::module_info::val_type;

#[derive(Clone, Copy, Debug)]
enum Kind {
    Block,
    Loop {
        header: ir::Block,
    },
    If {
        else_block: ir::Block,
        else_seen: bool,
    },
    /// A legacy `try`; its exception state is `exceptions::ExnState`'s
    /// entry `id`.
    Try {
        id: usize,
    },
}

#[path = "exceptions.rs"]
mod exceptions;

#[derive(Debug)]
struct Frame {
    kind: Kind,
    /// The block after `end`; its params are the frame's results.
    dest: ir::Block,
    /// Value stack height below the frame's params.
    height: usize,
    params: usize,
    results: usize,
    /// Whether anything jumps to `dest` (otherwise the code after `end` is dead).
    branched: bool,
}

pub(crate) struct CodeTranslator<'a, 'e, 'f> {
    pub b: FunctionBuilder<'f>,
    pub env: FuncEnv<'a, 'e>,
    pub locals: Vec<Variable>,
    stack: Vec<Value>,
    control: Vec<Frame>,
    reachable: bool,
    dead_depth: u32,
    /// Offset of the operator being translated, for error messages.
    offset: u64,
    exn: exceptions::ExnState,
}

type Sig = (Vec<Type>, Vec<Type>);

impl<'a, 'e, 'f> CodeTranslator<'a, 'e, 'f> {
    /// Starts translating with the builder in the entry block; `results` are
    /// the function's result types.
    pub fn new(
        b: FunctionBuilder<'f>,
        env: FuncEnv<'a, 'e>,
        locals: Vec<Variable>,
        results: &[Type],
    ) -> Self {
        let mut t = CodeTranslator {
            b,
            env,
            locals,
            stack: Vec::new(),
            control: Vec::new(),
            reachable: true,
            dead_depth: 0,
            offset: 0,
            exn: exceptions::ExnState::default(),
        };
        // The function body is a block whose `end` returns.
        let dest = t.b.create_block();
        for &ty in results {
            t.b.append_block_param(dest, ty);
        }
        t.control.push(Frame {
            kind: Kind::Block,
            dest,
            height: 0,
            params: 0,
            results: results.len(),
            branched: false,
        });
        t
    }

    /// True once the function's final `end` has been translated.
    pub fn done(&self) -> bool {
        self.control.is_empty()
    }

    fn push(&mut self, v: Value) {
        self.stack.push(v);
    }

    fn pop(&mut self) -> Value {
        self.stack
            .pop()
            .expect("validated: operand stack underflow")
    }

    fn pop2(&mut self) -> (Value, Value) {
        let y = self.pop();
        let x = self.pop();
        (x, y)
    }

    fn pop3(&mut self) -> (Value, Value, Value) {
        let z = self.pop();
        let (x, y) = self.pop2();
        (x, y, z)
    }

    fn peekn(&self, n: usize) -> &[Value] {
        &self.stack[self.stack.len() - n..]
    }

    fn popn(&mut self, n: usize) -> Vec<Value> {
        self.stack.split_off(self.stack.len() - n)
    }

    fn block_sig(&self, bt: BlockType) -> Result<Sig> {
        let desc = self.env.env.desc;
        Ok(match bt {
            BlockType::Empty => (vec![], vec![]),
            BlockType::Type(t) => (vec![], vec![self.env.val_type(val_type(t, self.offset)?)]),
            BlockType::FuncType(i) => {
                let ft = &desc.types[i as usize];
                let conv = |ts: &[w2native_environ::ValType]| {
                    ts.iter().map(|&t| self.env.val_type(t)).collect()
                };
                (conv(&ft.params), conv(&ft.results))
            }
        })
    }

    fn new_block(&mut self, params: &[Type]) -> ir::Block {
        let block = self.b.create_block();
        for &ty in params {
            self.b.append_block_param(block, ty);
        }
        block
    }

    fn args(values: &[Value]) -> Vec<BlockArg> {
        values.iter().map(|&v| BlockArg::Value(v)).collect()
    }

    fn jump(&mut self, block: ir::Block, values: &[Value]) {
        let args = Self::args(values);
        self.b.ins().jump(block, &args);
    }

    /// Where a branch to relative depth `depth` goes and how many values it carries.
    fn branch_target(&mut self, depth: u32) -> (ir::Block, usize) {
        let i = self.control.len() - 1 - depth as usize;
        let frame = &mut self.control[i];
        match frame.kind {
            Kind::Loop { header } => (header, frame.params),
            _ => {
                frame.branched = true;
                (frame.dest, frame.results)
            }
        }
    }

    /// Translates one validated operator at byte `offset`.
    pub fn op(&mut self, op: &Operator<'_>, offset: u64) -> Result<()> {
        self.offset = offset;
        self.b.set_srcloc(ir::SourceLoc::new(offset as u32));
        if !self.reachable {
            return self.dead_op(op);
        }
        self.live_op(op)
    }

    fn dead_op(&mut self, op: &Operator<'_>) -> Result<()> {
        match op {
            Operator::Block { .. }
            | Operator::Loop { .. }
            | Operator::If { .. }
            | Operator::Try { .. } => self.dead_depth += 1,
            Operator::Else if self.dead_depth == 0 => self.op_else(),
            Operator::End if self.dead_depth == 0 => self.op_end(),
            Operator::Catch { tag_index } if self.dead_depth == 0 => self.op_catch(*tag_index)?,
            Operator::CatchAll if self.dead_depth == 0 => self.op_catch_all(),
            Operator::Delegate { relative_depth } if self.dead_depth == 0 => {
                self.op_delegate(*relative_depth)
            }
            Operator::End | Operator::Delegate { .. } => self.dead_depth -= 1,
            other => self.check_supported(other)?,
        }
        Ok(())
    }

    /// Even dead code must not hide an operator we cannot compile: the error
    /// has to be the same whether or not the code is reachable.
    fn check_supported(&self, op: &Operator<'_>) -> Result<()> {
        if is_unsupported(op) {
            return Err(self.unsupported(op));
        }
        Ok(())
    }

    fn unsupported(&self, op: &Operator<'_>) -> crate::error::CompileError {
        let text = format!("{op:?}");
        let name = text.split([' ', '{', '(']).next().unwrap_or("?");
        unsupported(self.offset, format!("operator `{name}` is not supported"))
    }

    fn op_else(&mut self) {
        let frame = self.control.last_mut().expect("validated: else inside if");
        let Kind::If {
            else_block,
            else_seen,
        } = &mut frame.kind
        else {
            unreachable!("validated: else inside if")
        };
        *else_seen = true;
        let else_block = *else_block;
        let (dest, results, height) = (frame.dest, frame.results, frame.height);
        if self.reachable {
            frame.branched = true;
            let vals = self.peekn(results).to_vec();
            self.jump(dest, &vals);
        }
        self.stack.truncate(height);
        self.b.switch_to_block(else_block);
        let params = self.b.block_params(else_block).to_vec();
        self.stack.extend(params);
        self.reachable = true;
    }

    fn op_end(&mut self) {
        let mut frame = self.control.pop().expect("validated: end matches a frame");
        if self.reachable {
            let vals = self.peekn(frame.results).to_vec();
            self.jump(frame.dest, &vals);
            frame.branched = true;
        }
        match frame.kind {
            Kind::If {
                else_block,
                else_seen: false,
            } => {
                // No `else`: the params flow through (validation made the
                // param and result types equal).
                self.b.switch_to_block(else_block);
                let params = self.b.block_params(else_block).to_vec();
                self.jump(frame.dest, &params);
                frame.branched = true;
            }
            Kind::Loop { header } => self.b.seal_block(header),
            Kind::Try { id } => self.end_try(id),
            _ => {}
        }
        self.stack.truncate(frame.height);
        if frame.branched {
            self.b.switch_to_block(frame.dest);
            self.b.seal_block(frame.dest);
            let params = self.b.block_params(frame.dest).to_vec();
            if self.control.is_empty() {
                self.b.ins().return_(&params);
                self.reachable = false;
            } else {
                self.stack.extend(params);
                self.reachable = true;
            }
        } else {
            self.reachable = false;
        }
    }

    fn live_op(&mut self, op: &Operator<'_>) -> Result<()> {
        use Operator as O;
        macro_rules! bin {
            ($f:ident) => {{
                let (x, y) = self.pop2();
                let v = self.b.ins().$f(x, y);
                self.push(v);
            }};
        }
        macro_rules! un {
            ($f:ident) => {{
                let x = self.pop();
                let v = self.b.ins().$f(x);
                self.push(v);
            }};
        }
        macro_rules! conv {
            ($f:ident, $ty:expr) => {{
                let x = self.pop();
                let v = self.b.ins().$f($ty, x);
                self.push(v);
            }};
        }
        macro_rules! icmp {
            ($cc:ident) => {{
                let (x, y) = self.pop2();
                let c = self.b.ins().icmp(IntCC::$cc, x, y);
                let v = self.b.ins().uextend(types::I32, c);
                self.push(v);
            }};
        }
        macro_rules! fcmp {
            ($cc:ident) => {{
                let (x, y) = self.pop2();
                let c = self.b.ins().fcmp(FloatCC::$cc, x, y);
                let v = self.b.ins().uextend(types::I32, c);
                self.push(v);
            }};
        }
        macro_rules! sext {
            ($from:expr, $to:expr) => {{
                let x = self.pop();
                let n = self.b.ins().ireduce($from, x);
                let v = self.b.ins().sextend($to, n);
                self.push(v);
            }};
        }
        macro_rules! load {
            ($m:expr, $kind:ident, $ty:expr, $bytes:expr) => {{
                self.load($m, $bytes, |b, flags, p, off| {
                    b.ins().$kind($ty, flags, p, off)
                })
            }};
        }
        macro_rules! load32 {
            ($m:expr, $kind:ident) => {{
                self.load($m, 4, |b, flags, p, off| b.ins().$kind(flags, p, off))
            }};
        }
        macro_rules! store {
            ($m:expr, $kind:ident, $bytes:expr) => {{
                let v = self.pop();
                let addr = self.pop();
                let (p, off) = self.env.heap_addr(&mut self.b, addr, $m.offset, $bytes);
                let flags = self.env.heap_flags();
                self.b.ins().$kind(flags, v, p, off);
            }};
        }
        macro_rules! rmw {
            ($m:expr, $ty:expr, $mem:expr, $op:ident) => {
                self.atomic_rmw($m, $ty, $mem, AtomicRmwOp::$op)?
            };
        }
        use types::{F32, F64, I16, I32, I64, I8};

        match *op {
            // ----- control -----
            O::Unreachable => {
                self.env.trap(&mut self.b, Trap::UnreachableCodeReached);
                self.reachable = false;
            }
            O::Nop => {}
            O::Block { blockty } => {
                let (params, results) = self.block_sig(blockty)?;
                let dest = self.new_block(&results);
                self.control.push(Frame {
                    kind: Kind::Block,
                    dest,
                    height: self.stack.len() - params.len(),
                    params: params.len(),
                    results: results.len(),
                    branched: false,
                });
            }
            O::Loop { blockty } => {
                let (params, results) = self.block_sig(blockty)?;
                let header = self.new_block(&params);
                let dest = self.new_block(&results);
                let args = self.popn(params.len());
                self.jump(header, &args);
                self.b.switch_to_block(header);
                let header_params = self.b.block_params(header).to_vec();
                // Not inside a legacy `try`: a handler run by the check may
                // longjmp to this function's setjmp, which only its try-calls
                // can catch (a loop there that calls something is still
                // stopped, at the callee's entry check, inside a try-call).
                let in_try = self
                    .control
                    .iter()
                    .any(|f| matches!(f.kind, Kind::Try { .. }));
                if self.env.env.interruptible.is_some() && !in_try {
                    super::interrupt::emit_check(&mut self.b, &mut self.env);
                }
                self.control.push(Frame {
                    kind: Kind::Loop { header },
                    dest,
                    height: self.stack.len(),
                    params: params.len(),
                    results: results.len(),
                    branched: false,
                });
                self.stack.extend(header_params);
            }
            O::If { blockty } => {
                let (params, results) = self.block_sig(blockty)?;
                let cond = self.pop();
                let then_block = self.b.create_block();
                let else_block = self.new_block(&params);
                let dest = self.new_block(&results);
                let args = Self::args(self.peekn(params.len()));
                self.b.ins().brif(cond, then_block, &[], else_block, &args);
                self.b.seal_block(then_block);
                self.b.seal_block(else_block);
                self.b.switch_to_block(then_block);
                self.control.push(Frame {
                    kind: Kind::If {
                        else_block,
                        else_seen: false,
                    },
                    dest,
                    height: self.stack.len() - params.len(),
                    params: params.len(),
                    results: results.len(),
                    branched: false,
                });
            }
            O::Else => self.op_else(),
            O::End => self.op_end(),
            O::Br { relative_depth } => {
                let (target, n) = self.branch_target(relative_depth);
                let vals = self.peekn(n).to_vec();
                self.jump(target, &vals);
                self.reachable = false;
            }
            O::BrIf { relative_depth } => {
                let cond = self.pop();
                let (target, n) = self.branch_target(relative_depth);
                let args = Self::args(self.peekn(n));
                let next = self.b.create_block();
                self.b.ins().brif(cond, target, &args, next, &[]);
                self.b.seal_block(next);
                self.b.switch_to_block(next);
            }
            O::BrTable { ref targets } => {
                let index = self.pop();
                let mut depths = Vec::with_capacity(targets.len() as usize);
                for t in targets.targets() {
                    depths.push(t.map_err(crate::error::invalid)?);
                }
                let (def_block, n) = self.branch_target(targets.default());
                let args = Self::args(self.peekn(n));
                let def = self.b.func.dfg.block_call(def_block, &args);
                let mut calls = Vec::with_capacity(depths.len());
                for d in depths {
                    let (block, _) = self.branch_target(d);
                    calls.push(self.b.func.dfg.block_call(block, &args));
                }
                let jt = self.b.create_jump_table(JumpTableData::new(def, &calls));
                self.b.ins().br_table(index, jt);
                self.reachable = false;
            }
            O::Return => {
                let n = self.control[0].results;
                let vals = self.peekn(n).to_vec();
                self.b.ins().return_(&vals);
                self.reachable = false;
            }
            O::Call { function_index } => {
                let ty = self.env.env.desc.func_type(function_index);
                let args = self.popn(ty.params.len());
                let invoke = self.call_invoke(function_index, &args);
                let results = match (invoke, self.current_handler()) {
                    (Some(results), _) => results,
                    (None, Some(id)) => {
                        let type_index = self.env.env.desc.funcs[function_index as usize];
                        let (f, v) = self.env.callee(&mut self.b, function_index);
                        self.try_call(id, type_index, f, v, &args)
                    }
                    (None, None) => self.env.call(&mut self.b, function_index, &args),
                };
                self.stack.extend(results);
            }
            O::CallIndirect {
                type_index,
                table_index,
            } => {
                let elem = self.pop();
                let n = self.env.env.desc.types[type_index as usize].params.len();
                let args = self.popn(n);
                let results = match self.current_handler() {
                    Some(id) => {
                        let (f, v) =
                            self.env
                                .indirect_callee(&mut self.b, type_index, table_index, elem);
                        self.try_call(id, type_index, f, v, &args)
                    }
                    None => {
                        self.env
                            .call_indirect(&mut self.b, type_index, table_index, elem, &args)
                    }
                };
                self.stack.extend(results);
            }
            O::Try { blockty } => {
                let (params, results) = self.block_sig(blockty)?;
                self.op_try(params.len(), &results);
            }
            O::Catch { tag_index } => self.op_catch(tag_index)?,
            O::CatchAll => self.op_catch_all(),
            O::Delegate { relative_depth } => self.op_delegate(relative_depth),
            O::Throw { tag_index } => self.op_throw(tag_index),
            O::Rethrow { relative_depth } => self.op_rethrow(relative_depth),
            O::Drop => {
                self.pop();
            }
            O::Select | O::TypedSelect { .. } => {
                let (x, y, c) = self.pop3();
                let v = self.b.ins().select(c, x, y);
                self.push(v);
            }
            O::TypedSelectMulti { ref tys } if tys.len() == 1 => {
                let (x, y, c) = self.pop3();
                let v = self.b.ins().select(c, x, y);
                self.push(v);
            }

            // ----- variables -----
            O::LocalGet { local_index } => {
                let v = self.b.use_var(self.locals[local_index as usize]);
                self.push(v);
            }
            O::LocalSet { local_index } => {
                let v = self.pop();
                self.b.def_var(self.locals[local_index as usize], v);
            }
            O::LocalTee { local_index } => {
                let v = *self.stack.last().expect("validated");
                self.b.def_var(self.locals[local_index as usize], v);
            }
            O::GlobalGet { global_index } => {
                let v = self.env.global_get(&mut self.b, global_index);
                self.push(v);
            }
            O::GlobalSet { global_index } => {
                let v = self.pop();
                self.env.global_set(&mut self.b, global_index, v);
            }

            // ----- memory -----
            O::I32Load { memarg } => load!(memarg, load, I32, 4),
            O::I64Load { memarg } => load!(memarg, load, I64, 8),
            O::F32Load { memarg } => load!(memarg, load, F32, 4),
            O::F64Load { memarg } => load!(memarg, load, F64, 8),
            O::I32Load8S { memarg } => load!(memarg, sload8, I32, 1),
            O::I32Load8U { memarg } => load!(memarg, uload8, I32, 1),
            O::I32Load16S { memarg } => load!(memarg, sload16, I32, 2),
            O::I32Load16U { memarg } => load!(memarg, uload16, I32, 2),
            O::I64Load8S { memarg } => load!(memarg, sload8, I64, 1),
            O::I64Load8U { memarg } => load!(memarg, uload8, I64, 1),
            O::I64Load16S { memarg } => load!(memarg, sload16, I64, 2),
            O::I64Load16U { memarg } => load!(memarg, uload16, I64, 2),
            O::I64Load32S { memarg } => load32!(memarg, sload32),
            O::I64Load32U { memarg } => load32!(memarg, uload32),
            O::I32Store { memarg } => store!(memarg, store, 4),
            O::I64Store { memarg } => store!(memarg, store, 8),
            O::F32Store { memarg } => store!(memarg, store, 4),
            O::F64Store { memarg } => store!(memarg, store, 8),
            O::I32Store8 { memarg } | O::I64Store8 { memarg } => store!(memarg, istore8, 1),
            O::I32Store16 { memarg } | O::I64Store16 { memarg } => store!(memarg, istore16, 2),
            O::I64Store32 { memarg } => store!(memarg, istore32, 4),
            O::MemorySize { .. } => {
                let v = self.env.memory_size(&mut self.b);
                self.push(v);
            }
            O::MemoryGrow { .. } => {
                let delta = self.pop();
                let v = self
                    .env
                    .builtin(&mut self.b, Builtin::memory_grow, &[delta]);
                self.push(v);
            }
            O::MemoryFill { .. } => {
                let (d, v, n) = self.pop3();
                self.env.memory_fill(&mut self.b, d, v, n);
            }
            O::MemoryCopy { .. } => {
                let (d, s, n) = self.pop3();
                self.env.memory_copy(&mut self.b, d, s, n);
            }
            O::MemoryInit { data_index, .. } => {
                let (d, s, n) = self.pop3();
                let seg = self.env.i32(&mut self.b, data_index);
                self.env.builtin_or_trap(
                    &mut self.b,
                    Builtin::memory_init,
                    &[seg, d, s, n],
                    Trap::MemoryOutOfBounds,
                );
            }
            O::DataDrop { data_index } => {
                let seg = self.env.i32(&mut self.b, data_index);
                self.env.builtin(&mut self.b, Builtin::data_drop, &[seg]);
            }

            // ----- constants -----
            O::I32Const { value } => {
                let v = self.b.ins().iconst(I32, i64::from(value));
                self.push(v);
            }
            O::I64Const { value } => {
                let v = self.b.ins().iconst(I64, value);
                self.push(v);
            }
            O::F32Const { value } => {
                let v = self
                    .b
                    .ins()
                    .f32const(ir::immediates::Ieee32::with_bits(value.bits()));
                self.push(v);
            }
            O::F64Const { value } => {
                let v = self
                    .b
                    .ins()
                    .f64const(ir::immediates::Ieee64::with_bits(value.bits()));
                self.push(v);
            }

            // ----- integer comparisons -----
            O::I32Eqz | O::I64Eqz => {
                let x = self.pop();
                let c = self.b.ins().icmp_imm_s(IntCC::Equal, x, 0);
                let v = self.b.ins().uextend(I32, c);
                self.push(v);
            }
            O::I32Eq | O::I64Eq => icmp!(Equal),
            O::I32Ne | O::I64Ne => icmp!(NotEqual),
            O::I32LtS | O::I64LtS => icmp!(SignedLessThan),
            O::I32LtU | O::I64LtU => icmp!(UnsignedLessThan),
            O::I32GtS | O::I64GtS => icmp!(SignedGreaterThan),
            O::I32GtU | O::I64GtU => icmp!(UnsignedGreaterThan),
            O::I32LeS | O::I64LeS => icmp!(SignedLessThanOrEqual),
            O::I32LeU | O::I64LeU => icmp!(UnsignedLessThanOrEqual),
            O::I32GeS | O::I64GeS => icmp!(SignedGreaterThanOrEqual),
            O::I32GeU | O::I64GeU => icmp!(UnsignedGreaterThanOrEqual),

            // ----- float comparisons (NotEqual is true on NaN, the rest false) -----
            O::F32Eq | O::F64Eq => fcmp!(Equal),
            O::F32Ne | O::F64Ne => fcmp!(NotEqual),
            O::F32Lt | O::F64Lt => fcmp!(LessThan),
            O::F32Gt | O::F64Gt => fcmp!(GreaterThan),
            O::F32Le | O::F64Le => fcmp!(LessThanOrEqual),
            O::F32Ge | O::F64Ge => fcmp!(GreaterThanOrEqual),

            // ----- integer arithmetic -----
            O::I32Clz | O::I64Clz => un!(clz),
            O::I32Ctz | O::I64Ctz => un!(ctz),
            O::I32Popcnt | O::I64Popcnt => un!(popcnt),
            O::I32Add | O::I64Add => bin!(iadd),
            O::I32Sub | O::I64Sub => bin!(isub),
            O::I32Mul | O::I64Mul => bin!(imul),
            // Cranelift's division traps exactly as wasm's does (zero divisor,
            // and MIN / -1 for the signed one); `srem` gives 0 for MIN % -1.
            O::I32DivS | O::I64DivS => bin!(sdiv),
            O::I32DivU | O::I64DivU => bin!(udiv),
            O::I32RemS | O::I64RemS => bin!(srem),
            O::I32RemU | O::I64RemU => bin!(urem),
            O::I32And | O::I64And => bin!(band),
            O::I32Or | O::I64Or => bin!(bor),
            O::I32Xor | O::I64Xor => bin!(bxor),
            // Shift and rotate amounts are taken modulo the width, as in wasm.
            O::I32Shl | O::I64Shl => bin!(ishl),
            O::I32ShrS | O::I64ShrS => bin!(sshr),
            O::I32ShrU | O::I64ShrU => bin!(ushr),
            O::I32Rotl | O::I64Rotl => bin!(rotl),
            O::I32Rotr | O::I64Rotr => bin!(rotr),

            // ----- float arithmetic -----
            O::F32Abs | O::F64Abs => un!(fabs),
            O::F32Neg | O::F64Neg => un!(fneg),
            O::F32Ceil | O::F64Ceil => un!(ceil),
            O::F32Floor | O::F64Floor => un!(floor),
            O::F32Trunc | O::F64Trunc => un!(trunc),
            O::F32Nearest | O::F64Nearest => un!(nearest),
            O::F32Sqrt | O::F64Sqrt => un!(sqrt),
            O::F32Add | O::F64Add => bin!(fadd),
            O::F32Sub | O::F64Sub => bin!(fsub),
            O::F32Mul | O::F64Mul => bin!(fmul),
            O::F32Div | O::F64Div => bin!(fdiv),
            // Cranelift's fmin/fmax propagate NaN and order -0 below +0,
            // which is exactly wasm's definition.
            O::F32Min | O::F64Min => bin!(fmin),
            O::F32Max | O::F64Max => bin!(fmax),
            O::F32Copysign | O::F64Copysign => bin!(fcopysign),

            // ----- conversions -----
            O::I32WrapI64 => conv!(ireduce, I32),
            O::I64ExtendI32S => conv!(sextend, I64),
            O::I64ExtendI32U => conv!(uextend, I64),
            O::I32TruncF32S | O::I32TruncF64S => conv!(fcvt_to_sint, I32),
            O::I32TruncF32U | O::I32TruncF64U => conv!(fcvt_to_uint, I32),
            O::I64TruncF32S | O::I64TruncF64S => conv!(fcvt_to_sint, I64),
            O::I64TruncF32U | O::I64TruncF64U => conv!(fcvt_to_uint, I64),
            O::I32TruncSatF32S | O::I32TruncSatF64S => conv!(fcvt_to_sint_sat, I32),
            O::I32TruncSatF32U | O::I32TruncSatF64U => conv!(fcvt_to_uint_sat, I32),
            O::I64TruncSatF32S | O::I64TruncSatF64S => conv!(fcvt_to_sint_sat, I64),
            O::I64TruncSatF32U | O::I64TruncSatF64U => conv!(fcvt_to_uint_sat, I64),
            O::F32ConvertI32S | O::F32ConvertI64S => conv!(fcvt_from_sint, F32),
            O::F32ConvertI32U | O::F32ConvertI64U => conv!(fcvt_from_uint, F32),
            O::F64ConvertI32S | O::F64ConvertI64S => conv!(fcvt_from_sint, F64),
            O::F64ConvertI32U | O::F64ConvertI64U => conv!(fcvt_from_uint, F64),
            O::F32DemoteF64 => conv!(fdemote, F32),
            O::F64PromoteF32 => conv!(fpromote, F64),
            O::I32ReinterpretF32 => self.bitcast(I32),
            O::I64ReinterpretF64 => self.bitcast(I64),
            O::F32ReinterpretI32 => self.bitcast(F32),
            O::F64ReinterpretI64 => self.bitcast(F64),
            O::I32Extend8S => sext!(I8, I32),
            O::I32Extend16S => sext!(I16, I32),
            O::I64Extend8S => sext!(I8, I64),
            O::I64Extend16S => sext!(I16, I64),
            O::I64Extend32S => sext!(I32, I64),

            // ----- reference types and tables -----
            O::RefNull { .. } => {
                let v = self.env.null_ref(&mut self.b);
                self.push(v);
            }
            O::RefIsNull => {
                let x = self.pop();
                let c = self.b.ins().icmp_imm_s(IntCC::Equal, x, 0);
                let v = self.b.ins().uextend(I32, c);
                self.push(v);
            }
            O::RefFunc { function_index } => {
                let v = self.env.ref_func(&mut self.b, function_index);
                self.push(v);
            }
            O::TableGet { table } => {
                let i = self.pop();
                let v = self.env.table_get(&mut self.b, table, i);
                self.push(v);
            }
            O::TableSet { table } => {
                let (i, v) = self.pop2();
                self.env.table_set(&mut self.b, table, i, v);
            }
            O::TableSize { table } => {
                let v = self.env.table_size(&mut self.b, table);
                self.push(v);
            }
            O::TableGrow { table } => {
                let (init, delta) = self.pop2();
                let t = self.env.i32(&mut self.b, table);
                let v = self
                    .env
                    .builtin(&mut self.b, Builtin::table_grow, &[t, init, delta]);
                self.push(v);
            }
            O::TableFill { table } => {
                let (d, v, n) = self.pop3();
                let t = self.env.i32(&mut self.b, table);
                self.env.builtin_or_trap(
                    &mut self.b,
                    Builtin::table_fill,
                    &[t, d, v, n],
                    Trap::TableOutOfBounds,
                );
            }
            O::TableCopy {
                dst_table,
                src_table,
            } => {
                let (d, s, n) = self.pop3();
                let dt = self.env.i32(&mut self.b, dst_table);
                let st = self.env.i32(&mut self.b, src_table);
                self.env.builtin_or_trap(
                    &mut self.b,
                    Builtin::table_copy,
                    &[dt, st, d, s, n],
                    Trap::TableOutOfBounds,
                );
            }
            O::TableInit { elem_index, table } => {
                let (d, s, n) = self.pop3();
                let t = self.env.i32(&mut self.b, table);
                let seg = self.env.i32(&mut self.b, elem_index);
                self.env.builtin_or_trap(
                    &mut self.b,
                    Builtin::table_init,
                    &[t, seg, d, s, n],
                    Trap::TableOutOfBounds,
                );
            }
            O::ElemDrop { elem_index } => {
                let seg = self.env.i32(&mut self.b, elem_index);
                self.env.builtin(&mut self.b, Builtin::elem_drop, &[seg]);
            }

            // ----- threads -----
            O::AtomicFence { .. } => {
                self.b.ins().fence();
            }
            O::I32AtomicLoad { memarg } => self.atomic_load(memarg, I32, I32)?,
            O::I64AtomicLoad { memarg } => self.atomic_load(memarg, I64, I64)?,
            O::I32AtomicLoad8U { memarg } => self.atomic_load(memarg, I32, I8)?,
            O::I32AtomicLoad16U { memarg } => self.atomic_load(memarg, I32, I16)?,
            O::I64AtomicLoad8U { memarg } => self.atomic_load(memarg, I64, I8)?,
            O::I64AtomicLoad16U { memarg } => self.atomic_load(memarg, I64, I16)?,
            O::I64AtomicLoad32U { memarg } => self.atomic_load(memarg, I64, I32)?,
            O::I32AtomicStore { memarg } | O::I64AtomicStore32 { memarg } => {
                self.atomic_store(memarg, I32)?
            }
            O::I64AtomicStore { memarg } => self.atomic_store(memarg, I64)?,
            O::I32AtomicStore8 { memarg } | O::I64AtomicStore8 { memarg } => {
                self.atomic_store(memarg, I8)?
            }
            O::I32AtomicStore16 { memarg } | O::I64AtomicStore16 { memarg } => {
                self.atomic_store(memarg, I16)?
            }

            O::I32AtomicRmwAdd { memarg } => rmw!(memarg, I32, I32, Add),
            O::I64AtomicRmwAdd { memarg } => rmw!(memarg, I64, I64, Add),
            O::I32AtomicRmw8AddU { memarg } => rmw!(memarg, I32, I8, Add),
            O::I32AtomicRmw16AddU { memarg } => rmw!(memarg, I32, I16, Add),
            O::I64AtomicRmw8AddU { memarg } => rmw!(memarg, I64, I8, Add),
            O::I64AtomicRmw16AddU { memarg } => rmw!(memarg, I64, I16, Add),
            O::I64AtomicRmw32AddU { memarg } => rmw!(memarg, I64, I32, Add),
            O::I32AtomicRmwSub { memarg } => rmw!(memarg, I32, I32, Sub),
            O::I64AtomicRmwSub { memarg } => rmw!(memarg, I64, I64, Sub),
            O::I32AtomicRmw8SubU { memarg } => rmw!(memarg, I32, I8, Sub),
            O::I32AtomicRmw16SubU { memarg } => rmw!(memarg, I32, I16, Sub),
            O::I64AtomicRmw8SubU { memarg } => rmw!(memarg, I64, I8, Sub),
            O::I64AtomicRmw16SubU { memarg } => rmw!(memarg, I64, I16, Sub),
            O::I64AtomicRmw32SubU { memarg } => rmw!(memarg, I64, I32, Sub),
            O::I32AtomicRmwAnd { memarg } => rmw!(memarg, I32, I32, And),
            O::I64AtomicRmwAnd { memarg } => rmw!(memarg, I64, I64, And),
            O::I32AtomicRmw8AndU { memarg } => rmw!(memarg, I32, I8, And),
            O::I32AtomicRmw16AndU { memarg } => rmw!(memarg, I32, I16, And),
            O::I64AtomicRmw8AndU { memarg } => rmw!(memarg, I64, I8, And),
            O::I64AtomicRmw16AndU { memarg } => rmw!(memarg, I64, I16, And),
            O::I64AtomicRmw32AndU { memarg } => rmw!(memarg, I64, I32, And),
            O::I32AtomicRmwOr { memarg } => rmw!(memarg, I32, I32, Or),
            O::I64AtomicRmwOr { memarg } => rmw!(memarg, I64, I64, Or),
            O::I32AtomicRmw8OrU { memarg } => rmw!(memarg, I32, I8, Or),
            O::I32AtomicRmw16OrU { memarg } => rmw!(memarg, I32, I16, Or),
            O::I64AtomicRmw8OrU { memarg } => rmw!(memarg, I64, I8, Or),
            O::I64AtomicRmw16OrU { memarg } => rmw!(memarg, I64, I16, Or),
            O::I64AtomicRmw32OrU { memarg } => rmw!(memarg, I64, I32, Or),
            O::I32AtomicRmwXor { memarg } => rmw!(memarg, I32, I32, Xor),
            O::I64AtomicRmwXor { memarg } => rmw!(memarg, I64, I64, Xor),
            O::I32AtomicRmw8XorU { memarg } => rmw!(memarg, I32, I8, Xor),
            O::I32AtomicRmw16XorU { memarg } => rmw!(memarg, I32, I16, Xor),
            O::I64AtomicRmw8XorU { memarg } => rmw!(memarg, I64, I8, Xor),
            O::I64AtomicRmw16XorU { memarg } => rmw!(memarg, I64, I16, Xor),
            O::I64AtomicRmw32XorU { memarg } => rmw!(memarg, I64, I32, Xor),
            O::I32AtomicRmwXchg { memarg } => rmw!(memarg, I32, I32, Xchg),
            O::I64AtomicRmwXchg { memarg } => rmw!(memarg, I64, I64, Xchg),
            O::I32AtomicRmw8XchgU { memarg } => rmw!(memarg, I32, I8, Xchg),
            O::I32AtomicRmw16XchgU { memarg } => rmw!(memarg, I32, I16, Xchg),
            O::I64AtomicRmw8XchgU { memarg } => rmw!(memarg, I64, I8, Xchg),
            O::I64AtomicRmw16XchgU { memarg } => rmw!(memarg, I64, I16, Xchg),
            O::I64AtomicRmw32XchgU { memarg } => rmw!(memarg, I64, I32, Xchg),
            O::I32AtomicRmwCmpxchg { memarg } => self.atomic_cas(memarg, I32, I32)?,
            O::I64AtomicRmwCmpxchg { memarg } => self.atomic_cas(memarg, I64, I64)?,
            O::I32AtomicRmw8CmpxchgU { memarg } => self.atomic_cas(memarg, I32, I8)?,
            O::I32AtomicRmw16CmpxchgU { memarg } => self.atomic_cas(memarg, I32, I16)?,
            O::I64AtomicRmw8CmpxchgU { memarg } => self.atomic_cas(memarg, I64, I8)?,
            O::I64AtomicRmw16CmpxchgU { memarg } => self.atomic_cas(memarg, I64, I16)?,
            O::I64AtomicRmw32CmpxchgU { memarg } => self.atomic_cas(memarg, I64, I32)?,
            O::MemoryAtomicWait32 { memarg } => {
                self.atomic_wait(memarg, Builtin::memory_atomic_wait32, 4)
            }
            O::MemoryAtomicWait64 { memarg } => {
                self.atomic_wait(memarg, Builtin::memory_atomic_wait64, 8)
            }
            O::MemoryAtomicNotify { memarg } => {
                let count = self.pop();
                let addr = self.pop();
                let addr = self.wait_addr(memarg, addr, 4);
                let v =
                    self.env
                        .builtin(&mut self.b, Builtin::memory_atomic_notify, &[addr, count]);
                self.push(v);
            }

            ref other => return Err(self.unsupported(other)),
        }
        Ok(())
    }

    fn load(
        &mut self,
        m: MemArg,
        bytes: u32,
        emit: impl FnOnce(&mut FunctionBuilder<'f>, MemFlagsData, Value, i32) -> Value,
    ) {
        let addr = self.pop();
        let (p, off) = self.env.heap_addr(&mut self.b, addr, m.offset, bytes);
        let flags = self.env.heap_flags();
        let v = emit(&mut self.b, flags, p, off);
        self.push(v);
    }

    fn bitcast(&mut self, to: Type) {
        let x = self.pop();
        let v = self.b.ins().bitcast(to, MemFlagsData::new(), x);
        self.push(v);
    }

    /// Native address for an atomic access of `mem` width: misaligned
    /// effective addresses trap before anything else happens.
    fn atomic_addr(&mut self, m: MemArg, addr: Value, mem: Type) -> Value {
        let bytes = mem.bytes();
        if bytes > 1 {
            let index = self.env.to_ptr(&mut self.b, addr);
            let ea = self.b.ins().iadd_imm_s(index, m.offset as i64);
            let low = self.b.ins().band_imm_u(ea, i64::from(bytes - 1));
            self.env.trapnz(&mut self.b, low, Trap::HeapMisaligned);
        }
        let (p, off) = self.env.heap_addr(&mut self.b, addr, m.offset, bytes);
        if off == 0 {
            p
        } else {
            self.b.ins().iadd_imm_s(p, i64::from(off))
        }
    }

    fn atomic_load(&mut self, m: MemArg, ty: Type, mem: Type) -> Result<()> {
        let addr = self.pop();
        let p = self.atomic_addr(m, addr, mem);
        let flags = self.env.heap_flags();
        let v = self.b.ins().atomic_load(mem, flags, p);
        let v = if mem == ty {
            v
        } else {
            self.b.ins().uextend(ty, v)
        };
        self.push(v);
        Ok(())
    }

    fn atomic_store(&mut self, m: MemArg, mem: Type) -> Result<()> {
        let v = self.pop();
        let addr = self.pop();
        let p = self.atomic_addr(m, addr, mem);
        let v = self.narrow(v, mem);
        let flags = self.env.heap_flags();
        self.b.ins().atomic_store(flags, v, p);
        Ok(())
    }

    fn narrow(&mut self, v: Value, mem: Type) -> Value {
        if self.b.func.dfg.value_type(v) == mem {
            v
        } else {
            self.b.ins().ireduce(mem, v)
        }
    }

    fn atomic_rmw(&mut self, m: MemArg, ty: Type, mem: Type, op: AtomicRmwOp) -> Result<()> {
        let v = self.pop();
        let addr = self.pop();
        let p = self.atomic_addr(m, addr, mem);
        let v = self.narrow(v, mem);
        let flags = self.env.heap_flags();
        let old = self.b.ins().atomic_rmw(mem, flags, op, p, v);
        let old = if mem == ty {
            old
        } else {
            self.b.ins().uextend(ty, old)
        };
        self.push(old);
        Ok(())
    }

    fn atomic_cas(&mut self, m: MemArg, ty: Type, mem: Type) -> Result<()> {
        let (expected, replacement) = self.pop2();
        let addr = self.pop();
        let p = self.atomic_addr(m, addr, mem);
        let expected = self.narrow(expected, mem);
        let replacement = self.narrow(replacement, mem);
        let flags = self.env.heap_flags();
        let old = self.b.ins().atomic_cas(flags, p, expected, replacement);
        let old = if mem == ty {
            old
        } else {
            self.b.ins().uextend(ty, old)
        };
        self.push(old);
        Ok(())
    }

    /// The wasm address a wait/notify builtin gets: alignment and bounds are
    /// checked here (explicitly, whatever the bounds mode, since the runtime
    /// does the access), so the effective address fits in 32 bits.
    fn wait_addr(&mut self, m: MemArg, addr: Value, bytes: u32) -> Value {
        let index = self.env.to_ptr(&mut self.b, addr);
        let ea = self.b.ins().iadd_imm_s(index, m.offset as i64);
        let low = self.b.ins().band_imm_u(ea, i64::from(bytes - 1));
        self.env.trapnz(&mut self.b, low, Trap::HeapMisaligned);
        let end = self.b.ins().iadd_imm_s(ea, i64::from(bytes));
        let length = self.env.memory_length(&mut self.b);
        let oob = self.b.ins().icmp(IntCC::UnsignedGreaterThan, end, length);
        self.env.trapnz(&mut self.b, oob, Trap::MemoryOutOfBounds);
        if self.env.ptr() == types::I32 {
            ea
        } else {
            self.b.ins().ireduce(types::I32, ea)
        }
    }

    fn atomic_wait(&mut self, m: MemArg, builtin: Builtin, bytes: u32) {
        let timeout = self.pop();
        let expected = self.pop();
        let addr = self.pop();
        let addr = self.wait_addr(m, addr, bytes);
        let v = self
            .env
            .builtin(&mut self.b, builtin, &[addr, expected, timeout]);
        let bad = self.b.ins().icmp_imm_s(IntCC::Equal, v, -1);
        self.env.trapnz(&mut self.b, bad, Trap::AtomicWaitNonShared);
        self.push(v);
    }
}

/// Operators of proposals w2native does not compile (yet). The validator
/// only lets through what `supported_features` enables, so this is the
/// new exception-handling instructions (the legacy ones are lowered in
/// `exceptions.rs`).
fn is_unsupported(op: &Operator<'_>) -> bool {
    matches!(op, Operator::TryTable { .. } | Operator::ThrowRef)
}
