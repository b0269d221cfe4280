//! Legacy exception handling (`try`/`catch`/`catch_all`/`delegate`/
//! `throw`/`rethrow`) lowered with the try-call protocol of the
//! `w2native-sjlj` crate.
//!
//! Every `try` frame owns a *landing* block taking one parameter, a pointer
//! to an exception buffer (`sjlj::layout`). Whatever raises an exception in
//! the `try` body branches there:
//! - a call (direct, imported, indirect) goes through the runtime builtin
//!   `exn_try_call` with the frame's own buffer, and branches to the
//!   landing when it reports "caught";
//! - a `throw` fills the frame's buffer and branches (no runtime call);
//! - a `rethrow` or a `delegate` forwards the buffer it holds.
//!
//! The landing is filled when the body ends (one pass: we only then know
//! whether the `try` has `catch` clauses or a `delegate`): it becomes a
//! chain of tag compares leading to the catch bodies, ending in
//! `catch_all` or in propagation to the enclosing handler. An exception
//! with no handler in this function leaves it through `exn_throw` /
//! `exn_rethrow`, which unwind to the innermost try-call of a caller.
//!
//! "Enclosing handler" of a point = the innermost `try` frame still in its
//! body. A `delegate l` rethrows from the position of label `l`, so its
//! handler is searched from that frame outwards.

use cranelift_codegen::ir::{
    self, condcodes::IntCC, types, InstBuilder, MemFlagsData, StackSlot, StackSlotData,
    StackSlotKind, Value,
};
use w2native_environ::{Builtin, Trap};
use w2native_sjlj::{layout, protocol};

use super::{CodeTranslator, Frame, Kind};
use crate::error::Result;
use crate::module_info::invoke_callee_type;

/// Per-function exception state.
#[derive(Default)]
pub(super) struct ExnState {
    tries: Vec<TryData>,
    /// One slot for the params/results of every try-call, grown as needed.
    values: Option<StackSlot>,
    /// The exception buffer of `invoke_*` calls.
    invoke_buffer: Option<StackSlot>,
}

struct TryData {
    landing: ir::Block,
    /// The frame's exception buffer, made on first use.
    buffer: Option<StackSlot>,
    /// Whether anything branches to `landing`.
    used: bool,
    /// Set once the body is over (first `catch`/`catch_all`).
    catching: bool,
    /// The caught exception's buffer, in the catch bodies.
    exn: Option<Value>,
    /// Where the next catch clause's tag test goes (`None` after
    /// `catch_all`, or when the landing is never reached).
    cursor: Option<ir::Block>,
}

fn trusted() -> MemFlagsData {
    MemFlagsData::trusted()
}

impl<'a, 'e, 'f> CodeTranslator<'a, 'e, 'f> {
    /// Most payload values a tag of this module carries: the size of every
    /// exception buffer of the module (the runtime computes the same).
    fn exn_capacity(&self) -> u32 {
        let desc = self.env.env.desc;
        desc.tags
            .iter()
            .map(|&t| desc.types[t as usize].params.len() as u32)
            .max()
            .unwrap_or(0)
    }

    /// The innermost `try` still in its body among `control[..=top]`.
    fn handler_from(&self, top: usize) -> Option<usize> {
        self.control[..=top]
            .iter()
            .rev()
            .find_map(|f| match f.kind {
                Kind::Try { id } if !self.exn.tries[id].catching => Some(id),
                _ => None,
            })
    }

    /// The handler of the current position, if it is in this function.
    pub(super) fn current_handler(&self) -> Option<usize> {
        if self.control.is_empty() {
            return None;
        }
        self.handler_from(self.control.len() - 1)
    }

    fn buffer_addr(&mut self, id: usize) -> Value {
        let slot = match self.exn.tries[id].buffer {
            Some(s) => s,
            None => {
                let size = layout::buffer_size(self.exn_capacity());
                let s = self.b.create_sized_stack_slot(StackSlotData::new(
                    StackSlotKind::ExplicitSlot,
                    size,
                    4,
                ));
                self.exn.tries[id].buffer = Some(s);
                s
            }
        };
        let ptr = self.env.ptr();
        self.b.ins().stack_addr(ptr, slot, 0)
    }

    /// The try-call values slot, with room for `n` values.
    fn values_slot(&mut self, n: usize) -> StackSlot {
        let size = (n.max(1) as u32) * layout::SLOT;
        match self.exn.values {
            Some(s) => {
                let data = &mut self.b.func.sized_stack_slots[s];
                data.size = data.size.max(size);
                s
            }
            None => {
                let s = self.b.create_sized_stack_slot(StackSlotData::new(
                    StackSlotKind::ExplicitSlot,
                    size,
                    4,
                ));
                self.exn.values = Some(s);
                s
            }
        }
    }

    fn branch_to_landing(&mut self, id: usize, buffer: Value) {
        self.exn.tries[id].used = true;
        let landing = self.exn.tries[id].landing;
        self.jump(landing, &[buffer]);
    }

    /// Sends the exception in `buffer` to the handler searched from frame
    /// `from` (inclusive), or out of the function.
    fn propagate(&mut self, from: Option<usize>, buffer: Value) {
        match from.and_then(|top| self.handler_from(top)) {
            Some(id) => self.branch_to_landing(id, buffer),
            None => {
                self.env
                    .builtin(&mut self.b, Builtin::exn_rethrow, &[buffer]);
                self.env.trap(&mut self.b, Trap::UncaughtException);
            }
        }
    }

    /// A call of type `type_index` to `(func_ptr, callee_vmctx)` inside the
    /// body of try `id`: through the runtime, branching to the landing when
    /// an exception comes back.
    pub(super) fn try_call(
        &mut self,
        id: usize,
        type_index: u32,
        func_ptr: Value,
        callee_vmctx: Value,
        args: &[Value],
    ) -> Vec<Value> {
        let ty = &self.env.env.desc.types[type_index as usize];
        let results: Vec<ir::Type> = ty.results.iter().map(|&t| self.env.val_type(t)).collect();
        let slot = self.values_slot(args.len().max(results.len()));
        let ptr = self.env.ptr();
        let values = self.b.ins().stack_addr(ptr, slot, 0);
        for (i, &a) in args.iter().enumerate() {
            self.b
                .ins()
                .store(trusted(), a, values, (i as u32 * layout::SLOT) as i32);
        }
        let buffer = self.buffer_addr(id);
        let ti = self.env.i32(&mut self.b, type_index);
        let rc = self.env.builtin(
            &mut self.b,
            Builtin::exn_try_call,
            &[callee_vmctx, func_ptr, ti, values, buffer],
        );
        debug_assert_eq!(protocol::RETURNED, 0);
        self.exn.tries[id].used = true;
        let landing = self.exn.tries[id].landing;
        let next = self.b.create_block();
        self.b
            .ins()
            .brif(rc, landing, &[ir::BlockArg::Value(buffer)], next, &[]);
        self.b.seal_block(next);
        self.b.switch_to_block(next);
        results
            .iter()
            .enumerate()
            .map(|(i, &t)| {
                self.b
                    .ins()
                    .load(t, trusted(), values, (i as u32 * layout::SLOT) as i32)
            })
            .collect()
    }

    /// A call to imported function `index` if it is an emscripten
    /// `invoke_*`: `table[args[0]](args[1..])` as a try-call that swallows
    /// an `emscripten_longjmp` (the callee's results are then zeros) and
    /// passes any other exception on. `None` for any other function.
    pub(super) fn call_invoke(&mut self, index: u32, args: &[Value]) -> Option<Vec<Value>> {
        let desc = self.env.env.desc;
        if index >= desc.num_imported_funcs {
            return None;
        }
        let imp = desc
            .imports
            .iter()
            .filter(|i| matches!(i.kind, w2native_environ::ImportKind::Func(_)))
            .nth(index as usize)?;
        if !w2native_sjlj::emscripten::is_invoke(&imp.module, &imp.field) {
            return None;
        }
        let callee_ty = invoke_callee_type(desc.func_type(index));
        let type_index = desc.types.iter().position(|t| *t == callee_ty)? as u32;
        let (func_ptr, callee_vmctx) =
            self.env
                .indirect_callee(&mut self.b, type_index, 0, args[0]);

        let results: Vec<ir::Type> = callee_ty
            .results
            .iter()
            .map(|&t| self.env.val_type(t))
            .collect();
        let slot = self.values_slot((args.len() - 1).max(results.len()));
        let ptr = self.env.ptr();
        let values = self.b.ins().stack_addr(ptr, slot, 0);
        for (i, &a) in args[1..].iter().enumerate() {
            self.b
                .ins()
                .store(trusted(), a, values, (i as u32 * layout::SLOT) as i32);
        }
        let buffer_slot = match self.exn.invoke_buffer {
            Some(s) => s,
            None => {
                let size = layout::buffer_size(self.exn_capacity());
                let s = self.b.create_sized_stack_slot(StackSlotData::new(
                    StackSlotKind::ExplicitSlot,
                    size,
                    4,
                ));
                self.exn.invoke_buffer = Some(s);
                s
            }
        };
        let buffer = self.b.ins().stack_addr(ptr, buffer_slot, 0);
        let ti = self.env.i32(&mut self.b, type_index);
        let rc = self.env.builtin(
            &mut self.b,
            Builtin::exn_try_call,
            &[callee_vmctx, func_ptr, ti, values, buffer],
        );
        let caught = self.b.create_block();
        let returned = self.b.create_block();
        let join = self.new_block(&results);
        self.b.ins().brif(rc, caught, &[], returned, &[]);
        self.b.seal_block(caught);
        self.b.seal_block(returned);

        self.b.switch_to_block(returned);
        let vals: Vec<Value> = results
            .iter()
            .enumerate()
            .map(|(i, &t)| {
                self.b
                    .ins()
                    .load(t, trusted(), values, (i as u32 * layout::SLOT) as i32)
            })
            .collect();
        self.jump(join, &vals);

        self.b.switch_to_block(caught);
        let other = self
            .env
            .builtin(&mut self.b, Builtin::exn_invoke_caught, &[buffer]);
        let longjmp = self.b.create_block();
        let pass_on = self.b.create_block();
        self.b.ins().brif(other, pass_on, &[], longjmp, &[]);
        self.b.seal_block(longjmp);
        self.b.seal_block(pass_on);
        self.b.switch_to_block(pass_on);
        let top = self.control.len().checked_sub(1);
        self.propagate(top, buffer);
        self.b.switch_to_block(longjmp);
        let zeros: Vec<Value> = results
            .iter()
            .map(|&t| match t {
                types::F32 => self.b.ins().f32const(0.0),
                types::F64 => self.b.ins().f64const(0.0),
                t => self.b.ins().iconst(t, 0),
            })
            .collect();
        self.jump(join, &zeros);

        self.b.seal_block(join);
        self.b.switch_to_block(join);
        Some(self.b.block_params(join).to_vec())
    }

    pub(super) fn op_try(&mut self, params: usize, results: &[ir::Type]) {
        let dest = self.new_block(results);
        let landing = self.b.create_block();
        let ptr = self.env.ptr();
        self.b.append_block_param(landing, ptr);
        let id = self.exn.tries.len();
        self.exn.tries.push(TryData {
            landing,
            buffer: None,
            used: false,
            catching: false,
            exn: None,
            cursor: None,
        });
        self.control.push(Frame {
            kind: Kind::Try { id },
            dest,
            height: self.stack.len() - params,
            params,
            results: results.len(),
            branched: false,
        });
    }

    /// Ends the body or the previous catch body of the innermost frame (a
    /// `try`), leaving the builder at that try's dispatch cursor (or with
    /// no reachable code). Returns the try's id.
    fn end_clause(&mut self) -> usize {
        let frame = self.control.last_mut().expect("validated: catch in try");
        let Kind::Try { id } = frame.kind else {
            unreachable!("validated: catch in try")
        };
        let (dest, results, height) = (frame.dest, frame.results, frame.height);
        if self.reachable {
            frame.branched = true;
            let vals = self.peekn(results).to_vec();
            self.jump(dest, &vals);
        }
        self.stack.truncate(height);
        self.reachable = false;
        if !self.exn.tries[id].catching {
            self.end_body(id);
        }
        id
    }

    pub(super) fn op_catch(&mut self, tag: u32) -> Result<()> {
        let id = self.end_clause();
        let Some(cursor) = self.exn.tries[id].cursor else {
            return Ok(()); // never reached: the catch body is dead code
        };
        let exn = self.exn.tries[id].exn.expect("set with the cursor");
        self.b.switch_to_block(cursor);
        let ptr = self.env.ptr();
        let actual = self.b.ins().load(ptr, trusted(), exn, layout::TAG as i32);
        let t = self.env.i32(&mut self.b, tag);
        let expected = self.env.builtin(&mut self.b, Builtin::exn_tag, &[t]);
        let eq = self.b.ins().icmp(IntCC::Equal, actual, expected);
        let body = self.b.create_block();
        let next = self.b.create_block();
        self.b.ins().brif(eq, body, &[], next, &[]);
        self.b.seal_block(body);
        self.b.seal_block(next);
        self.exn.tries[id].cursor = Some(next);
        self.b.switch_to_block(body);
        let desc = self.env.env.desc;
        let params = desc.types[desc.tags[tag as usize] as usize].params.clone();
        for (i, ty) in params.into_iter().enumerate() {
            let ty = self.env.val_type(ty);
            let v = self
                .b
                .ins()
                .load(ty, trusted(), exn, layout::payload(i as u32) as i32);
            self.push(v);
        }
        self.reachable = true;
        Ok(())
    }

    pub(super) fn op_catch_all(&mut self) {
        let id = self.end_clause();
        let Some(cursor) = self.exn.tries[id].cursor.take() else {
            return;
        };
        let body = self.b.create_block();
        self.b.switch_to_block(cursor);
        self.jump(body, &[]);
        self.b.seal_block(body);
        self.b.switch_to_block(body);
        self.reachable = true;
    }

    /// Called by `end` for a try frame already popped: an exception that
    /// matched no clause goes to the handler around the try.
    pub(super) fn end_try(&mut self, id: usize) {
        if !self.exn.tries[id].catching {
            // `try ... end` without clauses: the body's exceptions pass on.
            self.end_body(id);
        }
        let Some(cursor) = self.exn.tries[id].cursor.take() else {
            return;
        };
        let exn = self.exn.tries[id].exn.expect("set with the cursor");
        self.b.switch_to_block(cursor);
        let top = self.control.len().checked_sub(1);
        self.propagate(top, exn);
    }

    /// The body of try `id` is over: its landing has all its predecessors
    /// and becomes the first dispatch cursor.
    fn end_body(&mut self, id: usize) {
        let t = &mut self.exn.tries[id];
        t.catching = true;
        if t.used {
            let landing = t.landing;
            self.b.seal_block(landing);
            let exn = self.b.block_params(landing)[0];
            let t = &mut self.exn.tries[id];
            t.exn = Some(exn);
            t.cursor = Some(landing);
        }
    }

    /// `delegate depth` (the try frame is still on top): the body's
    /// exceptions go to the handler at label `depth`, then the frame ends
    /// like `end`.
    pub(super) fn op_delegate(&mut self, depth: u32) {
        let frame = self
            .control
            .last_mut()
            .expect("validated: delegate ends a try");
        let Kind::Try { id } = frame.kind else {
            unreachable!("validated: delegate ends a try")
        };
        if self.reachable {
            frame.branched = true;
            let (dest, n) = (frame.dest, frame.results);
            let vals = self.peekn(n).to_vec();
            self.jump(dest, &vals);
        }
        self.reachable = false;
        self.end_body(id);
        if let Some(cursor) = self.exn.tries[id].cursor.take() {
            let exn = self.exn.tries[id].exn.expect("set with the cursor");
            self.b.switch_to_block(cursor);
            // Label `depth` counts the frames around the try.
            let target = (self.control.len() - 1)
                .checked_sub(1)
                .and_then(|i| i.checked_sub(depth as usize));
            self.propagate(target, exn);
        }
        self.op_end();
    }

    pub(super) fn op_throw(&mut self, tag: u32) {
        let desc = self.env.env.desc;
        let params = desc.types[desc.tags[tag as usize] as usize].params.len();
        let args = self.popn(params);
        match self.current_handler() {
            Some(id) => {
                let buffer = self.buffer_addr(id);
                let t = self.env.i32(&mut self.b, tag);
                let identity = self.env.builtin(&mut self.b, Builtin::exn_tag, &[t]);
                self.b
                    .ins()
                    .store(trusted(), identity, buffer, layout::TAG as i32);
                let count = self.b.ins().iconst(types::I32, params as i64);
                self.b
                    .ins()
                    .store(trusted(), count, buffer, layout::COUNT as i32);
                for (i, &a) in args.iter().enumerate() {
                    self.b
                        .ins()
                        .store(trusted(), a, buffer, layout::payload(i as u32) as i32);
                }
                self.branch_to_landing(id, buffer);
            }
            None => {
                let slot = self.values_slot(params);
                let ptr = self.env.ptr();
                let values = self.b.ins().stack_addr(ptr, slot, 0);
                for (i, &a) in args.iter().enumerate() {
                    self.b
                        .ins()
                        .store(trusted(), a, values, (i as u32 * layout::SLOT) as i32);
                }
                let t = self.env.i32(&mut self.b, tag);
                self.env
                    .builtin(&mut self.b, Builtin::exn_throw, &[t, values]);
                self.env.trap(&mut self.b, Trap::UncaughtException);
            }
        }
        self.reachable = false;
    }

    pub(super) fn op_rethrow(&mut self, depth: u32) {
        let i = self.control.len() - 1 - depth as usize;
        let exn = match self.control[i].kind {
            Kind::Try { id } => self.exn.tries[id].exn,
            _ => None,
        };
        match exn {
            Some(exn) => {
                let top = self.control.len() - 1;
                self.propagate(Some(top), exn);
            }
            // Validated: the label is a catch; no exn means the landing
            // was never reached, so neither is this code.
            None => self.env.trap(&mut self.b, Trap::UnreachableCodeReached),
        }
        self.reachable = false;
    }
}
