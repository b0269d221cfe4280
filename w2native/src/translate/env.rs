//! The environment hooks of the translator: everything that needs to know
//! the `vmctx` layout, the module's declarations or the bounds mode.
//!
//! `code.rs` only pushes and pops wasm values; whenever an operator touches
//! state outside the function (linear memory, globals, tables, other
//! functions, runtime builtins) it asks a [`FuncEnv`] method here. Keeping the
//! two apart means a change of vmctx layout or of the bounds strategy never
//! touches opcode dispatch.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::Ordering;

use boundscheck_elision::{CheckCache, Decision};

use cranelift_codegen::ir::{
    self, condcodes::IntCC, types, AliasRegion, AliasRegionData, ExtFuncData, ExternalName,
    InstBuilder, LibCall, MemFlagsData, SigRef, TrapCode, UserExternalName, Value,
};
use cranelift_frontend::FunctionBuilder;
use w2native_environ::{Builtin, Trap, ValType};

use super::TranslateEnv;
use crate::abi::trap_code;
use crate::BoundsMode;

/// Per-function state of the environment: caches of imported signatures and
/// values loaded once in the entry block.
pub(crate) struct FuncEnv<'a, 'e> {
    pub env: &'a TranslateEnv<'e>,
    pub vmctx: Value,
    /// Memory base, loaded once in the entry block (it never moves).
    memory_base: Option<Value>,
    regions: Regions,
    sigs: HashMap<u32, SigRef>,
    builtin_sigs: HashMap<Builtin, SigRef>,
    libcalls: HashMap<LibCall, ir::FuncRef>,
    direct: HashMap<u32, ir::FuncRef>,
    /// Explicit checks already emitted, for `boundscheck-elision`.
    checks: CheckCache<Value, ir::Block>,
}

/// Flags for loads of `vmctx` fields and runtime structures: aligned and
/// never faulting (the runtime guarantees the pointers are valid).
fn trusted() -> MemFlagsData {
    MemFlagsData::trusted()
}

/// A `VMFuncRef` never changes once its instance exists; not `can_move`,
/// since the loads must stay behind the checks that the pointer is valid.
fn funcref_field() -> MemFlagsData {
    MemFlagsData::trusted().with_readonly()
}

/// Disjoint kinds of memory compiled code touches, so Cranelift can keep a
/// global or a table length in a register across stores to linear memory
/// (and the reverse). Calls, atomics and fences still clobber everything.
#[derive(Clone, Copy, Default)]
struct Regions {
    heap: Option<AliasRegion>,
    globals: Option<AliasRegion>,
    tables: Option<AliasRegion>,
    memory_length: Option<AliasRegion>,
}

/// Flags for fields that never change during an instance's life, so
/// Cranelift may merge their loads. Not `can_move`: hoisted to the top of a
/// big function they stayed live across all of it and were spilled and
/// reloaded instead (sqlite's interpreter loop: 0.8% fewer instructions
/// without it; no change on small functions).
fn constant() -> MemFlagsData {
    MemFlagsData::trusted().with_readonly()
}

/// Installs `vmctx.stack_limit` as the function's stack limit, so the
/// prologue checks the native stack pointer against it.
pub(crate) fn install_stack_limit(env: &TranslateEnv<'_>, func: &mut ir::Function) {
    let vmctx = func.create_global_value(ir::GlobalValueData::VMContext);
    let flags = func.dfg.mem_flags.insert_unchecked(constant());
    let limit = func.create_global_value(ir::GlobalValueData::Load {
        base: vmctx,
        offset: (env.offsets.stack_limit() as i32).into(),
        global_type: env.abi.pointer_type,
        flags,
    });
    func.stack_limit = Some(limit);
}

impl<'a, 'e> FuncEnv<'a, 'e> {
    pub fn new(env: &'a TranslateEnv<'e>, vmctx: Value) -> Self {
        FuncEnv {
            env,
            vmctx,
            memory_base: None,
            regions: Regions::default(),
            sigs: HashMap::new(),
            builtin_sigs: HashMap::new(),
            libcalls: HashMap::new(),
            direct: HashMap::new(),
            checks: CheckCache::new(
                env.desc
                    .memories
                    .first()
                    .map_or(0, |m| m.limits.min.saturating_mul(65536)),
            ),
        }
    }

    pub fn ptr(&self) -> ir::Type {
        self.env.abi.pointer_type
    }

    /// Called once while the builder sits in the entry block, so the values
    /// loaded here dominate the whole function.
    pub fn init_entry(&mut self, b: &mut FunctionBuilder) {
        let mut region = |user_id, description| {
            Some(b.func.dfg.alias_regions.insert(AliasRegionData {
                user_id,
                description: Cow::Borrowed(description),
            }))
        };
        self.regions = Regions {
            heap: region(1, "linear memory"),
            globals: region(2, "global slots"),
            tables: region(3, "tables"),
            memory_length: region(4, "memory length"),
        };
        if !self.env.desc.memories.is_empty() {
            // `can_move` makes the load pure: a function that never touches
            // memory loses it, the others get it where first needed.
            let base = b.ins().load(
                self.ptr(),
                constant().with_can_move(),
                self.vmctx,
                self.env.offsets.memory_base() as i32,
            );
            self.memory_base = Some(base);
        }
    }

    pub fn trap(&self, b: &mut FunctionBuilder, trap: Trap) {
        b.ins().trap(trap_code(trap));
    }

    pub fn trapnz(&self, b: &mut FunctionBuilder, cond: Value, trap: Trap) {
        b.ins().trapnz(cond, trap_code(trap));
    }

    fn load_vmctx_ptr(&self, b: &mut FunctionBuilder, offset: u32) -> Value {
        b.ins()
            .load(self.ptr(), constant(), self.vmctx, offset as i32)
    }

    /// Zero-extends a wasm i32 to the pointer width.
    pub fn to_ptr(&self, b: &mut FunctionBuilder, v: Value) -> Value {
        if self.ptr() == types::I32 {
            v
        } else {
            b.ins().uextend(self.ptr(), v)
        }
    }

    // ----- linear memory -----

    /// `can_move`: explicit checks load the length through it, and hoisting
    /// it out of their loops is worth its long live range.
    fn memory_def(&self, b: &mut FunctionBuilder) -> Value {
        b.ins().load(
            self.ptr(),
            constant().with_can_move(),
            self.vmctx,
            self.env.offsets.memory_def() as i32,
        )
    }

    /// Current memory length in bytes. Not readonly: `memory.grow` (here or
    /// in any callee, or on another thread) changes it.
    pub fn memory_length(&self, b: &mut FunctionBuilder) -> Value {
        let def = self.memory_def(b);
        b.ins().load(
            self.ptr(),
            trusted().with_alias_region(self.regions.memory_length),
            def,
            self.env.offsets.memory_def_length() as i32,
        )
    }

    fn memory_base(&mut self, b: &mut FunctionBuilder) -> Value {
        match self.memory_base {
            Some(v) => v,
            // Only reachable for invalid modules, which the validator rejects first.
            None => self.load_vmctx_ptr(b, self.env.offsets.memory_base()),
        }
    }

    /// Flags for an access to linear memory under the current bounds mode.
    pub fn heap_flags(&self) -> MemFlagsData {
        let flags = MemFlagsData::new()
            .with_endianness(ir::Endianness::Little)
            .with_alias_region(self.regions.heap);
        match self.env.bounds {
            // The access itself faults; the trap code tells the signal
            // handler which trap it was.
            BoundsMode::Guard | BoundsMode::Explicit => {
                flags.with_trap_code(Some(TrapCode::HEAP_OUT_OF_BOUNDS))
            }
            BoundsMode::None => flags.with_notrap(),
        }
    }

    /// Native address of a `bytes`-wide access at wasm address `addr` +
    /// `offset`, with the explicit check when the bounds mode asks for it.
    /// Returns `(pointer, immediate offset)` to pass to the load or store.
    pub fn heap_addr(
        &mut self,
        b: &mut FunctionBuilder,
        addr: Value,
        offset: u64,
        bytes: u32,
    ) -> (Value, i32) {
        let index = self.to_ptr(b, addr);
        if self.env.bounds == BoundsMode::Explicit && self.needs_check(b, addr, offset, bytes) {
            // offset < 2^32 as well: the end fits in 64 bits.
            let len = b
                .ins()
                .iconst(self.ptr(), (offset + u64::from(bytes)) as i64);
            self.check_range(b, index, len);
        }
        let base = self.memory_base(b);
        let ptr = b.ins().iadd(base, index);
        match i32::try_from(offset) {
            Ok(imm) => (ptr, imm),
            Err(_) => (b.ins().iadd_imm_s(ptr, offset as i64), 0),
        }
    }

    /// Asks `boundscheck-elision` whether the explicit check of this access
    /// is needed; counts the ones it removes.
    fn needs_check(&mut self, b: &FunctionBuilder, addr: Value, offset: u64, bytes: u32) -> bool {
        let Some(block) = b.current_block().filter(|_| self.env.elision.enabled) else {
            return true;
        };
        let constant = match b.func.dfg.value_def(addr) {
            ir::ValueDef::Result(inst, _) => match b.func.dfg.insts[inst] {
                ir::InstructionData::UnaryImm {
                    opcode: ir::Opcode::Iconst,
                    imm,
                } if b.func.dfg.value_type(addr) == types::I32 => {
                    Some(u64::from(imm.bits() as u32))
                }
                _ => None,
            },
            _ => None,
        };
        let end = offset + u64::from(bytes);
        match self.checks.access(block, addr, constant, end) {
            Decision::Check => true,
            Decision::Elide(_) => {
                self.env.elision.elided.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    /// `memory.size` in pages.
    pub fn memory_size(&self, b: &mut FunctionBuilder) -> Value {
        let length = self.memory_length(b);
        let pages = b.ins().ushr_imm_u(length, 16);
        if self.ptr() == types::I32 {
            pages
        } else {
            b.ins().ireduce(types::I32, pages)
        }
    }

    /// `memory.copy`: one bounds check covering both ranges (the spec
    /// traps before writing anything), then the C library's `memmove` on
    /// native addresses. In every bounds mode: a host `memmove` running
    /// into the guard region could not be told apart from a host crash.
    pub fn memory_copy(&mut self, b: &mut FunctionBuilder, dst: Value, src: Value, len: Value) {
        let (d, s, n) = (
            self.to_ptr(b, dst),
            self.to_ptr(b, src),
            self.to_ptr(b, len),
        );
        let higher = b.ins().umax(d, s);
        self.check_range(b, higher, n);
        let base = self.memory_base(b);
        let (to, from) = (b.ins().iadd(base, d), b.ins().iadd(base, s));
        let ptr = self.ptr();
        let memmove = self.libcall(b, LibCall::Memmove, &[ptr, ptr, ptr]);
        b.ins().call(memmove, &[to, from, n]);
    }

    /// `memory.fill`, as `memory.copy`: checked, then `memset`.
    pub fn memory_fill(&mut self, b: &mut FunctionBuilder, dst: Value, value: Value, len: Value) {
        let (d, n) = (self.to_ptr(b, dst), self.to_ptr(b, len));
        self.check_range(b, d, n);
        let base = self.memory_base(b);
        let to = b.ins().iadd(base, d);
        let ptr = self.ptr();
        let memset = self.libcall(b, LibCall::Memset, &[ptr, types::I32, ptr]);
        b.ins().call(memset, &[to, value, n]);
    }

    /// Traps unless `[start, start + len)` lies inside the memory. Both are
    /// below 2^32 (zero-extended wasm values or constants), so the sum cannot
    /// wrap in 64 bits. `explicit_check` recognizes the shape it emits.
    fn check_range(&mut self, b: &mut FunctionBuilder, start: Value, len: Value) {
        assert_eq!(self.ptr(), types::I64, "linear memory on 64-bit hosts only");
        let end = b.ins().iadd(start, len);
        let length = self.memory_length(b);
        let outside = b.ins().icmp(IntCC::UnsignedGreaterThan, end, length);
        self.trapnz(b, outside, Trap::MemoryOutOfBounds);
    }

    /// A C library function, called with the platform's C convention; the
    /// object writer names it as an undefined symbol for the linker.
    fn libcall(
        &mut self,
        b: &mut FunctionBuilder,
        call: LibCall,
        params: &[ir::Type],
    ) -> ir::FuncRef {
        if let Some(&f) = self.libcalls.get(&call) {
            return f;
        }
        let mut sig = ir::Signature::new(self.env.abi.call_conv);
        sig.params
            .extend(params.iter().map(|&t| ir::AbiParam::new(t)));
        sig.returns.push(ir::AbiParam::new(self.ptr()));
        let signature = b.import_signature(sig);
        let f = b.import_function(ExtFuncData {
            name: ExternalName::LibCall(call),
            signature,
            colocated: false,
            patchable: false,
        });
        self.libcalls.insert(call, f);
        f
    }

    // ----- globals -----

    /// Address of global `index`'s value and whether it is mutable.
    fn global_addr(&self, b: &mut FunctionBuilder, index: u32) -> (Value, i32, bool) {
        let desc = self.env.desc;
        let mutable = desc.global_types[index as usize].mutable;
        let slot = self.env.offsets.global(index) as i32;
        if index < desc.num_imported_globals {
            let ptr = b.ins().load(self.ptr(), constant(), self.vmctx, slot);
            (ptr, 0, mutable)
        } else {
            (self.vmctx, slot, mutable)
        }
    }

    pub fn global_type(&self, index: u32) -> ir::Type {
        self.env
            .abi
            .ir_type(self.env.desc.global_types[index as usize].ty)
    }

    pub fn global_get(&self, b: &mut FunctionBuilder, index: u32) -> Value {
        let ty = self.global_type(index);
        let (base, offset, mutable) = self.global_addr(b, index);
        let flags = if mutable {
            trusted().with_alias_region(self.regions.globals)
        } else {
            constant()
        };
        b.ins().load(ty, flags, base, offset)
    }

    pub fn global_set(&self, b: &mut FunctionBuilder, index: u32, value: Value) {
        let (base, offset, _) = self.global_addr(b, index);
        let flags = trusted().with_alias_region(self.regions.globals);
        b.ins().store(flags, value, base, offset);
    }

    // ----- tables -----

    /// Pointer to the `VMTable` of table `index`. The table array is fixed
    /// for the instance, the table's contents are not.
    fn table(&self, b: &mut FunctionBuilder, index: u32) -> Value {
        let tables = self.load_vmctx_ptr(b, self.env.offsets.tables());
        b.ins().load(
            self.ptr(),
            constant(),
            tables,
            (index * self.env.abi.pointer_bytes()) as i32,
        )
    }

    fn table_length(&self, b: &mut FunctionBuilder, table: Value) -> Value {
        b.ins().load(
            types::I32,
            self.table_flags(),
            table,
            self.env.offsets.table_length() as i32,
        )
    }

    /// Table lengths, element arrays and elements: changed only by table
    /// instructions and calls.
    fn table_flags(&self) -> MemFlagsData {
        trusted().with_alias_region(self.regions.tables)
    }

    pub fn table_size(&self, b: &mut FunctionBuilder, index: u32) -> Value {
        let table = self.table(b, index);
        self.table_length(b, table)
    }

    /// Address of element `elem` of table `index`, trapping with `trap` when
    /// it is out of bounds.
    fn table_elem_addr(
        &self,
        b: &mut FunctionBuilder,
        index: u32,
        elem: Value,
        trap: Trap,
    ) -> Value {
        let table = self.table(b, index);
        let length = self.table_length(b, table);
        let oob = b
            .ins()
            .icmp(IntCC::UnsignedGreaterThanOrEqual, elem, length);
        self.trapnz(b, oob, trap);
        let elements = b.ins().load(
            self.ptr(),
            self.table_flags(),
            table,
            self.env.offsets.table_elements() as i32,
        );
        let elem = self.to_ptr(b, elem);
        let scaled = b
            .ins()
            .imul_imm_u(elem, i64::from(self.env.abi.pointer_bytes()));
        b.ins().iadd(elements, scaled)
    }

    pub fn table_get(&self, b: &mut FunctionBuilder, index: u32, elem: Value) -> Value {
        let addr = self.table_elem_addr(b, index, elem, Trap::TableOutOfBounds);
        b.ins().load(self.ptr(), self.table_flags(), addr, 0)
    }

    pub fn table_set(&self, b: &mut FunctionBuilder, index: u32, elem: Value, value: Value) {
        let addr = self.table_elem_addr(b, index, elem, Trap::TableOutOfBounds);
        b.ins().store(self.table_flags(), value, addr, 0);
    }

    /// `ref.func`: the address of the function's `VMFuncRef` in the instance.
    pub fn ref_func(&self, b: &mut FunctionBuilder, func: u32) -> Value {
        let funcrefs = self.load_vmctx_ptr(b, self.env.offsets.funcrefs());
        b.ins().iadd_imm_s(
            funcrefs,
            i64::from(func) * i64::from(self.env.offsets.size_of_funcref()),
        )
    }

    // ----- calls -----

    fn wasm_sig(&mut self, b: &mut FunctionBuilder, type_index: u32) -> SigRef {
        if let Some(&sig) = self.sigs.get(&type_index) {
            return sig;
        }
        let sig = self
            .env
            .abi
            .wasm_signature(&self.env.desc.types[type_index as usize]);
        let sig = b.import_signature(sig);
        self.sigs.insert(type_index, sig);
        sig
    }

    /// Calls function `index` and returns the call's results.
    pub fn call(&mut self, b: &mut FunctionBuilder, index: u32, args: &[Value]) -> Vec<Value> {
        let desc = self.env.desc;
        let type_index = desc.funcs[index as usize];
        let sig = self.wasm_sig(b, type_index);
        let inst = if index < desc.num_imported_funcs {
            let (func_ptr, callee_vmctx) = self.imported_callee(b, index);
            let mut full = Vec::with_capacity(args.len() + 1);
            full.push(callee_vmctx);
            full.extend_from_slice(args);
            b.ins().call_indirect(sig, func_ptr, &full)
        } else {
            let fref = self.direct_ref(b, index);
            let mut full = Vec::with_capacity(args.len() + 1);
            let defined = index - desc.num_imported_funcs;
            full.push(if self.env.is_context_free(defined) {
                // Any value will do; a constant keeps the caller's vmctx
                // from living across the call just to be passed on.
                b.ins().iconst(self.ptr(), 0)
            } else {
                self.vmctx
            });
            full.extend_from_slice(args);
            b.ins().call(fref, &full)
        };
        b.inst_results(inst).to_vec()
    }

    fn imported_callee(&mut self, b: &mut FunctionBuilder, index: u32) -> (Value, Value) {
        let o = &self.env.offsets;
        let (ptr_off, vmctx_off) = (o.imported_func_ptr(index), o.imported_func_vmctx(index));
        let func_ptr = self.load_vmctx_ptr(b, ptr_off);
        let callee_vmctx = self.load_vmctx_ptr(b, vmctx_off);
        (func_ptr, callee_vmctx)
    }

    fn direct_ref(&mut self, b: &mut FunctionBuilder, index: u32) -> ir::FuncRef {
        let desc = self.env.desc;
        let sig = self.wasm_sig(b, desc.funcs[index as usize]);
        let defined = index - desc.num_imported_funcs;
        match self.direct.get(&defined) {
            Some(&f) => f,
            None => {
                let name = b
                    .func
                    .declare_imported_user_function(UserExternalName::new(0, defined));
                let f = b.import_function(ExtFuncData {
                    name: ExternalName::User(name),
                    signature: sig,
                    colocated: true,
                    patchable: false,
                });
                self.direct.insert(defined, f);
                f
            }
        }
    }

    /// `(code pointer, callee vmctx)` of function `index`, for calls that go
    /// through the runtime (exception try-calls).
    pub fn callee(&mut self, b: &mut FunctionBuilder, index: u32) -> (Value, Value) {
        if index < self.env.desc.num_imported_funcs {
            self.imported_callee(b, index)
        } else {
            let fref = self.direct_ref(b, index);
            let ptr = self.ptr();
            (b.ins().func_addr(ptr, fref), self.vmctx)
        }
    }

    /// `call_indirect`: bounds, null and signature checks, then the call
    /// through the `VMFuncRef`.
    pub fn call_indirect(
        &mut self,
        b: &mut FunctionBuilder,
        type_index: u32,
        table: u32,
        elem: Value,
        args: &[Value],
    ) -> Vec<Value> {
        let sig = self.wasm_sig(b, type_index);
        let (func_ptr, callee_vmctx) = self.indirect_callee(b, type_index, table, elem);
        let mut full = Vec::with_capacity(args.len() + 1);
        full.push(callee_vmctx);
        full.extend_from_slice(args);
        let inst = b.ins().call_indirect(sig, func_ptr, &full);
        b.inst_results(inst).to_vec()
    }

    /// The checks of `call_indirect`, then `(code pointer, callee vmctx)`
    /// of the table element.
    pub fn indirect_callee(
        &mut self,
        b: &mut FunctionBuilder,
        type_index: u32,
        table: u32,
        elem: Value,
    ) -> (Value, Value) {
        let addr = self.table_elem_addr(b, table, elem, Trap::UndefinedElement);
        let funcref = b.ins().load(self.ptr(), self.table_flags(), addr, 0);

        // A null element faults on this first access to the `VMFuncRef`
        // (the zero page is never mapped), which saves a compare and branch
        // per call; the trap code makes the fault an "uninitialized element".
        let o = self.env.offsets;
        let null_faults = MemFlagsData::new()
            .with_aligned()
            .with_trap_code(Some(trap_code(Trap::IndirectCallToNull)));
        let actual = b
            .ins()
            .load(types::I32, null_faults, funcref, o.funcref_type_id() as i32);
        let type_ids = self.load_vmctx_ptr(b, o.type_ids());
        let expected = b
            .ins()
            .load(types::I32, constant(), type_ids, (type_index * 4) as i32);
        let mismatch = b.ins().icmp(IntCC::NotEqual, actual, expected);
        self.trapnz(b, mismatch, Trap::BadSignature);

        let func_ptr = b.ins().load(
            self.ptr(),
            funcref_field(),
            funcref,
            o.funcref_func_ptr() as i32,
        );
        let callee_vmctx = b.ins().load(
            self.ptr(),
            funcref_field(),
            funcref,
            o.funcref_vmctx() as i32,
        );
        (func_ptr, callee_vmctx)
    }

    // ----- builtins -----

    /// Calls runtime builtin `builtin` with `args` (the vmctx is prepended).
    pub fn builtin(&mut self, b: &mut FunctionBuilder, builtin: Builtin, args: &[Value]) -> Value {
        let sig = match self.builtin_sigs.get(&builtin) {
            Some(&s) => s,
            None => {
                let s = b.import_signature(self.env.abi.builtin_signature(builtin));
                self.builtin_sigs.insert(builtin, s);
                s
            }
        };
        let table = self.load_vmctx_ptr(b, self.env.offsets.builtins());
        let offset = builtin.index() * self.env.abi.pointer_bytes();
        let func_ptr = b.ins().load(self.ptr(), constant(), table, offset as i32);
        let mut full = Vec::with_capacity(args.len() + 1);
        full.push(self.vmctx);
        full.extend_from_slice(args);
        let inst = b.ins().call_indirect(sig, func_ptr, &full);
        b.inst_results(inst)[0]
    }

    /// Calls a builtin that reports failure with a non-zero result, and
    /// raises `trap` when it does.
    pub fn builtin_or_trap(
        &mut self,
        b: &mut FunctionBuilder,
        builtin: Builtin,
        args: &[Value],
        trap: Trap,
    ) {
        let status = self.builtin(b, builtin, args);
        self.trapnz(b, status, trap);
    }

    pub fn i32(&self, b: &mut FunctionBuilder, v: u32) -> Value {
        b.ins().iconst(types::I32, i64::from(v))
    }

    pub fn null_ref(&self, b: &mut FunctionBuilder) -> Value {
        b.ins().iconst(self.ptr(), 0)
    }

    pub fn val_type(&self, t: ValType) -> ir::Type {
        self.env.abi.ir_type(t)
    }
}

/// Rules 3 and 4 of `boundscheck-elision` over a finished function: removes
/// the explicit checks (the `trapnz` emitted by `heap_addr`) whose address
/// has a value range that stays below the minimum memory size (`ranges`),
/// then those that a check of the same address with an equal or larger end
/// dominates. The dead compare and length load go with them. Returns how
/// many checks were removed.
pub(crate) fn elide_checks(env: &TranslateEnv<'_>, func: &mut ir::Function) -> usize {
    use boundscheck_elision::{dominated, Site};
    use cranelift_codegen::{dominator_tree::DominatorTree, flowgraph::ControlFlowGraph};

    let min_memory_bytes = env
        .desc
        .memories
        .first()
        .map_or(0, |m| m.limits.min.saturating_mul(65536));

    let mut sites = Vec::new();
    let mut traps = Vec::new();
    for block in func.layout.blocks() {
        for inst in func.layout.block_insts(block) {
            if let ir::InstructionData::CondTrap {
                opcode: ir::Opcode::Trapnz,
                arg,
                code,
            } = func.dfg.insts[inst]
            {
                if code == trap_code(Trap::MemoryOutOfBounds) {
                    if let Some((base, end)) = explicit_check(func, arg) {
                        sites.push(Site { base, end });
                        traps.push(inst);
                    }
                }
            }
        }
    }
    if sites.is_empty() {
        return 0;
    }
    let cfg = ControlFlowGraph::with_function(func);
    let mut bounded = Vec::new();
    if min_memory_bytes > 0 {
        let mut ranges = crate::value_ranges::Ranges::new(func, &cfg);
        for (i, site) in sites.iter().enumerate() {
            if ranges
                .of(site.base)
                .is_some_and(|r| r.in_bounds(site.end, min_memory_bytes))
            {
                bounded.push(i);
            }
        }
    }
    // Rule 3 over the checks that remain.
    for &i in bounded.iter().rev() {
        sites.remove(i);
        func.layout.remove_inst(traps.remove(i));
    }
    let domtree = DominatorTree::with_function(func, &cfg);
    let redundant = dominated(&sites, |i, j| {
        domtree.dominates(traps[i], traps[j], &func.layout)
    });
    // Only the trap goes: the compare and the sum are pure and now unused,
    // so Cranelift's optimizer drops them.
    for &j in &redundant {
        func.layout.remove_inst(traps[j]);
    }
    bounded.len() + redundant.len()
}

/// Recognizes `heap_addr`'s check `icmp ugt (iadd (uextend addr) K), len`:
/// `(addr, K)`.
fn explicit_check(func: &ir::Function, cond: Value) -> Option<(Value, u64)> {
    use ir::{InstructionData as I, Opcode};
    let dfg = &func.dfg;
    let cmp = dfg.value_def(cond).inst()?;
    let I::IntCompare {
        opcode: Opcode::Icmp,
        args: [sum, length],
        cond: IntCC::UnsignedGreaterThan,
    } = dfg.insts[cmp]
    else {
        return None;
    };
    if dfg.value_def(length).inst().map(|i| dfg.insts[i].opcode()) != Some(Opcode::Load) {
        return None;
    }
    let I::Binary {
        opcode: Opcode::Iadd,
        args: [index, k],
    } = dfg.insts[dfg.value_def(sum).inst()?]
    else {
        return None;
    };
    let I::UnaryImm {
        opcode: Opcode::Iconst,
        imm,
    } = dfg.insts[dfg.value_def(k).inst()?]
    else {
        return None;
    };
    let base = match dfg.value_def(index).inst().map(|i| dfg.insts[i]) {
        Some(I::Unary {
            opcode: Opcode::Uextend,
            arg,
        }) => arg,
        _ => index,
    };
    Some((base, imm.bits() as u64))
}
