//! Modules, instances and the handles an embedder uses to link and call them.
//!
//! A [`Module`] wraps the `'static` record a compiled object provides; an
//! [`Instance`] is one instantiation of it, with its own `VMContext`, tables,
//! memory and globals (or imported ones). [`Extern`] handles (functions,
//! tables, memories, globals) are what instances export and import, so the
//! spec runner can `register` an instance and link others against it, and an
//! executable can link a module against WASI host functions.
//!
//! Ownership: an instance keeps alive everything it imports; an exported
//! handle keeps its instance alive. Funcrefs written into a table are raw
//! pointers into the writing instance, so an instance whose initialisation
//! trapped after writing into an imported table is leaked on purpose, and an
//! instance writing into another's table during instantiation is kept alive by
//! that table.
//!
//! Unsafe rules of this module: every raw pointer stored in a `VMContext`
//! points into an object the instance owns or keeps alive through `Arc`s
//! (`InstanceInner` fields); `vmctx.instance` points at the `InstanceInner`
//! inside its `Arc`, set once right after the `Arc` is made.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use w2native_environ::{
    ConstExpr, ConstOp, ExportKind, FuncType, GlobalType, Import, ImportKind, ModuleDesc,
    SegmentMode, TableType, VMModuleStatic, ValRaw, ValType, DESC_VERSION,
};

use crate::memory::LinearMemory;
use crate::table::TableInner;
use crate::traphandlers::{self, catch_traps, TrapError};
use crate::vm::{VMContext, VMContextAlloc, VMFuncImport, VMFuncRef, VMTable, HOST_PTR};

// ---------------------------------------------------------------------------
// Canonical function types
// ---------------------------------------------------------------------------

struct TypeRegistry {
    ids: HashMap<FuncType, u32>,
    types: Vec<FuncType>,
}

fn types() -> &'static Mutex<TypeRegistry> {
    static T: OnceLock<Mutex<TypeRegistry>> = OnceLock::new();
    T.get_or_init(|| {
        Mutex::new(TypeRegistry {
            ids: HashMap::new(),
            // Id 0 is never handed out, so a zeroed funcref never matches.
            types: vec![FuncType {
                params: vec![],
                results: vec![ValType::ExnRef],
            }],
        })
    })
}

/// The process-wide id of a function type: equal signatures in different
/// modules get equal ids, which is what `call_indirect` compares.
pub fn intern_type(ty: &FuncType) -> u32 {
    let mut reg = types().lock().unwrap_or_else(|e| e.into_inner());
    if let Some(id) = reg.ids.get(ty) {
        return *id;
    }
    let id = reg.types.len() as u32;
    reg.types.push(ty.clone());
    reg.ids.insert(ty.clone(), id);
    id
}

/// The type behind a canonical id.
pub fn type_of_id(id: u32) -> Option<FuncType> {
    let reg = types().lock().unwrap_or_else(|e| e.into_inner());
    reg.types.get(id as usize).cloned().filter(|_| id != 0)
}

// ---------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------

/// A wasm value at the embedding boundary. References are pointer-sized
/// integers: a funcref is a `*const VMFuncRef`, an externref is whatever the
/// host chose; 0 is null for both.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Val {
    I32(i32),
    I64(i64),
    F32(u32),
    F64(u64),
    V128(u128),
    FuncRef(usize),
    ExternRef(usize),
}

impl Val {
    pub fn ty(&self) -> ValType {
        match self {
            Val::I32(_) => ValType::I32,
            Val::I64(_) => ValType::I64,
            Val::F32(_) => ValType::F32,
            Val::F64(_) => ValType::F64,
            Val::V128(_) => ValType::V128,
            Val::FuncRef(_) => ValType::FuncRef,
            Val::ExternRef(_) => ValType::ExternRef,
        }
    }

    pub fn to_raw(&self) -> ValRaw {
        match *self {
            Val::I32(v) => v as u32 as ValRaw,
            Val::I64(v) => v as u64 as ValRaw,
            Val::F32(v) => v as ValRaw,
            Val::F64(v) => v as ValRaw,
            Val::V128(v) => v,
            Val::FuncRef(v) | Val::ExternRef(v) => v as ValRaw,
        }
    }

    pub fn from_raw(raw: ValRaw, ty: ValType) -> Val {
        match ty {
            ValType::I32 => Val::I32(raw as u32 as i32),
            ValType::I64 => Val::I64(raw as u64 as i64),
            ValType::F32 => Val::F32(raw as u32),
            ValType::F64 => Val::F64(raw as u64),
            ValType::V128 => Val::V128(raw),
            ValType::FuncRef => Val::FuncRef(raw as usize),
            ValType::ExternRef | ValType::ExnRef => Val::ExternRef(raw as usize),
        }
    }

    /// Whether this value may be passed where `ty` is expected.
    pub fn matches(&self, ty: ValType) -> bool {
        self.ty() == ty || (ty == ValType::ExnRef && matches!(self, Val::ExternRef(_)))
    }
}

// ---------------------------------------------------------------------------
// Module
// ---------------------------------------------------------------------------

/// A compiled module, ready to be instantiated any number of times.
#[derive(Clone)]
pub struct Module {
    inner: Arc<ModuleInner>,
}

struct ModuleInner {
    record: &'static VMModuleStatic,
    desc: Arc<ModuleDesc>,
    type_ids: Box<[u32]>,
    /// Payload values an exception buffer of this module holds (see
    /// `w2native_sjlj::layout`): the most any of its tags carries.
    exn_capacity: u32,
}

impl Module {
    /// Reads and checks the record a compiled object provides.
    pub fn new(record: &'static VMModuleStatic) -> Result<Module, String> {
        Module::with_desc(record, Module::decode_desc(record)?)
    }

    /// The descriptor of a record this runtime can load.
    pub fn decode_desc(record: &'static VMModuleStatic) -> Result<ModuleDesc, String> {
        if record.version != DESC_VERSION {
            return Err(format!(
                "module record version {} does not match runtime version {DESC_VERSION}",
                record.version
            ));
        }
        if record.pointer_size != HOST_PTR {
            return Err(format!(
                "module compiled for {}-byte pointers, runtime has {HOST_PTR}",
                record.pointer_size
            ));
        }
        let blob: &[u8] = if record.desc_len == 0 {
            &[]
        } else {
            // SAFETY: the record points at `desc_len` bytes of static data.
            unsafe { std::slice::from_raw_parts(record.desc, record.desc_len) }
        };
        ModuleDesc::decode(blob)
    }

    /// A module whose descriptor the caller decoded (and may have adjusted)
    /// from `record`'s.
    pub fn with_desc(record: &'static VMModuleStatic, desc: ModuleDesc) -> Result<Module, String> {
        let name = if desc.name.is_empty() {
            "module"
        } else {
            &desc.name
        };
        if record.num_funcs != desc.num_defined_funcs() as usize
            || desc.func_sizes.len() != record.num_funcs
        {
            return Err(format!(
                "{name}: record has {} functions, descriptor {}",
                record.num_funcs,
                desc.num_defined_funcs()
            ));
        }
        if record.num_types != desc.types.len() {
            return Err(format!("{name}: record and descriptor disagree on types"));
        }
        let funcs: &[*const u8] = if record.num_funcs == 0 {
            &[]
        } else {
            // SAFETY: `funcs` has `num_funcs` entries (checked just above).
            unsafe { std::slice::from_raw_parts(record.funcs, record.num_funcs) }
        };
        if let Some(i) = funcs.iter().position(|f| f.is_null()) {
            return Err(format!(
                "{name}: module record has a null pointer for function {} (its relocations were not applied)",
                i as u32 + desc.num_imported_funcs
            ));
        }
        if desc.memories.len() > 1 {
            return Err(format!("{name}: multiple memories are not supported"));
        }
        let type_ids = desc.types.iter().map(intern_type).collect();
        let exn_capacity = desc
            .tags
            .iter()
            .map(|&t| desc.types[t as usize].params.len() as u32)
            .max()
            .unwrap_or(0);
        let desc = Arc::new(desc);
        traphandlers::register_module(record, &desc);
        Ok(Module {
            inner: Arc::new(ModuleInner {
                record,
                desc,
                type_ids,
                exn_capacity,
            }),
        })
    }

    pub fn desc(&self) -> &ModuleDesc {
        &self.inner.desc
    }

    pub fn name(&self) -> &str {
        &self.inner.desc.name
    }

    pub fn imports(&self) -> &[Import] {
        &self.inner.desc.imports
    }

    pub(crate) fn exn_capacity(&self) -> u32 {
        self.inner.exn_capacity
    }

    pub(crate) fn trampoline(&self, type_index: u32) -> *const u8 {
        // SAFETY: `trampolines` has `num_types` entries, checked in `new`.
        unsafe { *self.inner.record.trampolines.add(type_index as usize) }
    }

    fn defined_func_ptr(&self, defined: u32) -> *const u8 {
        // SAFETY: `funcs` has `num_funcs` entries, checked in `new`.
        unsafe { *self.inner.record.funcs.add(defined as usize) }
    }
}

// ---------------------------------------------------------------------------
// Extern handles
// ---------------------------------------------------------------------------

/// A function that can be imported or called.
#[derive(Clone)]
pub struct Func {
    func_ptr: *const u8,
    /// Null for a host function: it then receives its caller's vmctx.
    vmctx: *mut VMContext,
    ty: FuncType,
    type_id: u32,
    trampoline: *const u8,
    owner: Option<Arc<InstanceInner>>,
}

// SAFETY: the pointers are code and contexts kept alive by `owner`.
unsafe impl Send for Func {}
// SAFETY: see Send.
unsafe impl Sync for Func {}

impl Func {
    /// A host function with the compiled-code calling convention:
    /// `extern "C" fn(caller_vmctx: *mut VMContext, params..) -> result`.
    ///
    /// # Safety
    /// `func_ptr` must have exactly that native signature for `ty`.
    pub unsafe fn host(func_ptr: *const u8, ty: FuncType) -> Func {
        let type_id = intern_type(&ty);
        Func {
            func_ptr,
            vmctx: std::ptr::null_mut(),
            ty,
            type_id,
            trampoline: std::ptr::null(),
            owner: None,
        }
    }

    pub fn ty(&self) -> &FuncType {
        &self.ty
    }

    /// Calls the function; traps come back as errors.
    pub fn call(&self, args: &[Val]) -> Result<Vec<Val>, TrapError> {
        if args.len() != self.ty.params.len()
            || args
                .iter()
                .zip(&self.ty.params)
                .any(|(a, t)| !a.matches(*t))
        {
            return Err(TrapError::Host(format!(
                "argument type mismatch: expected {:?}",
                self.ty.params
            )));
        }
        if let Some(owner) = &self.owner {
            owner.set_stack_limit(traphandlers::stack_limit());
        }
        if self.trampoline.is_null()
            && !self.vmctx.is_null()
            && self.ty.params.is_empty()
            && self.ty.results.is_empty()
        {
            // `[] -> []` needs no trampoline: its native signature is `fn(vmctx)`.
            // SAFETY: the function has that signature (checked just above).
            let f: unsafe extern "C" fn(*mut VMContext) =
                unsafe { std::mem::transmute(self.func_ptr) };
            let vmctx = self.vmctx;
            // SAFETY: the callee's context is alive (owner).
            return catch_traps(|| unsafe { f(vmctx) }).map(|()| Vec::new());
        }
        if self.trampoline.is_null() || self.vmctx.is_null() {
            return Err(TrapError::Host(
                "function cannot be called from the host (no trampoline for its type)".into(),
            ));
        }
        let n = self.ty.params.len().max(self.ty.results.len()).max(1);
        let mut values = vec![0 as ValRaw; n];
        for (slot, a) in values.iter_mut().zip(args) {
            *slot = a.to_raw();
        }
        type Trampoline = unsafe extern "C" fn(*mut VMContext, *const u8, *mut ValRaw);
        // SAFETY: the compiler emits trampolines with exactly this signature.
        let tramp: Trampoline = unsafe { std::mem::transmute(self.trampoline) };
        let (vmctx, callee, buf) = (self.vmctx, self.func_ptr, values.as_mut_ptr());
        // SAFETY: the trampoline reads params and writes results within `n`
        // slots; the callee's context is alive (owner).
        catch_traps(|| unsafe { tramp(vmctx, callee, buf) })?;
        Ok(self
            .ty
            .results
            .iter()
            .zip(&values)
            .map(|(t, raw)| Val::from_raw(*raw, *t))
            .collect())
    }
}

/// A table handle.
#[derive(Clone)]
pub struct Table {
    inner: Arc<TableInner>,
    #[allow(dead_code)]
    owner: Option<Arc<InstanceInner>>,
}

impl Table {
    pub fn new(ty: TableType, init: Val) -> Result<Table, String> {
        Ok(Table {
            inner: Arc::new(TableInner::new(ty, init.to_raw() as usize)?),
            owner: None,
        })
    }
    pub fn ty(&self) -> TableType {
        self.inner.ty()
    }
    pub(crate) fn inner(&self) -> &TableInner {
        &self.inner
    }
    pub fn size(&self) -> u32 {
        self.inner.size()
    }
    pub fn get(&self, index: u32) -> Option<Val> {
        let elem = self.inner.ty().elem;
        self.inner
            .get(index)
            .map(|v| Val::from_raw(v as ValRaw, elem))
    }
    pub fn set(&self, index: u32, val: Val) -> bool {
        self.inner.set(index, val.to_raw() as usize)
    }
    pub fn grow(&self, delta: u32, init: Val) -> Option<u32> {
        self.inner.grow(delta, init.to_raw() as usize)
    }
}

/// A linear memory handle.
#[derive(Clone)]
pub struct Memory {
    inner: Arc<LinearMemory>,
}

impl Memory {
    pub fn new(ty: w2native_environ::MemoryType) -> Result<Memory, String> {
        Ok(Memory {
            inner: Arc::new(LinearMemory::new(ty)?),
        })
    }
    pub fn ty(&self) -> w2native_environ::MemoryType {
        let mut ty = self.inner.ty();
        ty.limits.min = self.inner.pages();
        ty
    }
    pub fn pages(&self) -> u64 {
        self.inner.pages()
    }
    pub fn grow(&self, delta: u64) -> Option<u64> {
        self.inner.grow(delta)
    }
    pub fn read(&self, offset: u64, len: usize) -> Option<Vec<u8>> {
        self.inner.read(offset, len)
    }
    pub fn write(&self, offset: u64, bytes: &[u8]) -> bool {
        self.inner.write(offset, bytes)
    }
    pub fn linear(&self) -> &LinearMemory {
        &self.inner
    }
}

/// A global handle: a pointer to its 16-byte slot plus what keeps it alive.
#[derive(Clone)]
pub struct Global {
    slot: *mut ValRaw,
    ty: GlobalType,
    #[allow(dead_code)]
    owner: GlobalOwner,
}

#[derive(Clone)]
#[allow(dead_code)]
enum GlobalOwner {
    Host(Arc<HostGlobal>),
    Instance(Arc<InstanceInner>),
}

#[repr(C, align(16))]
struct HostGlobal(std::cell::UnsafeCell<ValRaw>);
// SAFETY: a global's value is shared like wasm shares it.
unsafe impl Send for HostGlobal {}
// SAFETY: see Send.
unsafe impl Sync for HostGlobal {}

// SAFETY: the slot is kept alive by `owner`.
unsafe impl Send for Global {}
// SAFETY: see Send.
unsafe impl Sync for Global {}

impl Global {
    pub fn new(ty: GlobalType, val: Val) -> Global {
        let cell = Arc::new(HostGlobal(std::cell::UnsafeCell::new(val.to_raw())));
        Global {
            slot: cell.0.get(),
            ty,
            owner: GlobalOwner::Host(cell),
        }
    }
    pub fn ty(&self) -> GlobalType {
        self.ty
    }
    pub fn get(&self) -> Val {
        // SAFETY: the slot is alive (owner) and 16-byte aligned.
        Val::from_raw(unsafe { std::ptr::read_volatile(self.slot) }, self.ty.ty)
    }
    pub fn set(&self, val: Val) -> Result<(), String> {
        if !self.ty.mutable {
            return Err("global is immutable".into());
        }
        if !val.matches(self.ty.ty) {
            return Err("global type mismatch".into());
        }
        // SAFETY: as in `get`.
        unsafe { std::ptr::write_volatile(self.slot, val.to_raw()) };
        Ok(())
    }
}

/// An exception tag: an identity compared by `catch`, and the types of
/// its payload. Identities are never reused.
#[derive(Clone, Debug, PartialEq)]
pub struct Tag {
    id: usize,
    ty: FuncType,
}

impl Tag {
    /// A fresh tag, distinct from every other.
    pub fn new(ty: FuncType) -> Tag {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);
        Tag {
            id: NEXT.fetch_add(1, Ordering::Relaxed),
            ty,
        }
    }
    pub fn id(&self) -> usize {
        self.id
    }
    pub fn ty(&self) -> &FuncType {
        &self.ty
    }
}

/// Anything an instance can import or export.
#[derive(Clone)]
pub enum Extern {
    Func(Func),
    Table(Table),
    Memory(Memory),
    Global(Global),
    Tag(Tag),
}

impl Extern {
    fn kind_name(&self) -> &'static str {
        match self {
            Extern::Func(_) => "function",
            Extern::Table(_) => "table",
            Extern::Memory(_) => "memory",
            Extern::Global(_) => "global",
            Extern::Tag(_) => "tag",
        }
    }
}

/// Imports by (module, field), filled by the embedder.
#[derive(Clone, Default)]
pub struct Imports {
    map: HashMap<(String, String), Extern>,
}

impl Imports {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn define(&mut self, module: &str, name: &str, item: Extern) {
        self.map
            .insert((module.to_string(), name.to_string()), item);
    }
    pub fn get(&self, module: &str, name: &str) -> Option<&Extern> {
        self.map.get(&(module.to_string(), name.to_string()))
    }
    /// Makes every export of `instance` importable as `module` (spec `register`).
    pub fn define_instance(&mut self, module: &str, instance: &Instance) {
        for e in &instance.module().desc().exports {
            if let Some(item) = instance.get_export(&e.name) {
                self.define(module, &e.name, item);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Instance
// ---------------------------------------------------------------------------

/// Why instantiation failed.
#[derive(Debug, Clone)]
pub enum InstantiationError {
    /// An import is missing or has the wrong type (`assert_unlinkable`).
    Link(String),
    /// Initialisation or the start function trapped.
    Trap(TrapError),
    /// The OS refused memory or similar.
    Resource(String),
}

impl fmt::Display for InstantiationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InstantiationError::Link(m) | InstantiationError::Resource(m) => f.write_str(m),
            InstantiationError::Trap(t) => write!(f, "{t}"),
        }
    }
}

impl std::error::Error for InstantiationError {}

/// An instantiated module.
#[derive(Clone)]
pub struct Instance {
    inner: Arc<InstanceInner>,
}

pub(crate) struct InstanceInner {
    pub(crate) module: Module,
    pub(crate) vmctx: VMContextAlloc,
    funcrefs: Box<[VMFuncRef]>,
    #[allow(dead_code)]
    table_ptrs: Box<[*mut VMTable]>,
    pub(crate) tables: Vec<Table>,
    pub(crate) memories: Vec<Memory>,
    /// Imported functions (keep-alive).
    #[allow(dead_code)]
    imported_funcs: Vec<Func>,
    /// Imported globals (keep-alive).
    #[allow(dead_code)]
    imported_globals: Vec<Global>,
    /// Evaluated element segments; `None` once dropped.
    pub(crate) elems: Mutex<Vec<Option<Arc<[usize]>>>>,
    pub(crate) data_dropped: Box<[AtomicBool]>,
    /// Contexts this instance may call into directly (itself and,
    /// transitively, the instances of its imported functions).
    linked: Vec<usize>,
    /// Every tag, imported ones first.
    pub(crate) tags: Box<[Tag]>,
    /// The module's array-call trampolines (one per type) and exception
    /// buffer capacity, copied here for the try-call path.
    pub(crate) trampolines: *const *const u8,
    pub(crate) exn_capacity: u32,
}

// SAFETY: raw pointers point into memory this instance owns or keeps alive;
// concurrent use follows wasm's shared-everything thread model.
unsafe impl Send for InstanceInner {}
// SAFETY: see Send.
unsafe impl Sync for InstanceInner {}

fn limits_match(actual: w2native_environ::Limits, want: w2native_environ::Limits) -> bool {
    actual.min >= want.min
        && match want.max {
            None => true,
            Some(wmax) => matches!(actual.max, Some(amax) if amax <= wmax),
        }
}

impl Instance {
    pub fn new(module: &Module, imports: &Imports) -> Result<Instance, InstantiationError> {
        Self::new_with_resolver(module, &mut |imp: &Import| {
            imports.get(&imp.module, &imp.field).cloned()
        })
    }

    /// Instantiates with imports supplied one by one by `resolve`.
    pub fn new_with_resolver(
        module: &Module,
        resolve: &mut dyn FnMut(&Import) -> Option<Extern>,
    ) -> Result<Instance, InstantiationError> {
        let desc = module.desc();
        let link = |imp: &Import, what: &str| {
            InstantiationError::Link(format!(
                "{what}: `{}`::`{}` required by module {}",
                imp.module, imp.field, desc.name
            ))
        };

        // Resolve and type-check imports.
        let mut imported_funcs = Vec::new();
        let mut tables = Vec::new();
        let mut memories = Vec::new();
        let mut imported_globals = Vec::new();
        let mut tags = Vec::new();
        for imp in &desc.imports {
            let item = resolve(imp).ok_or_else(|| link(imp, "unknown import"))?;
            match (&imp.kind, item) {
                (ImportKind::Func(t), Extern::Func(f)) => {
                    if f.type_id != module.inner.type_ids[*t as usize] {
                        return Err(link(imp, "incompatible import type"));
                    }
                    imported_funcs.push(f);
                }
                (ImportKind::Table(tt), Extern::Table(t)) => {
                    let actual = t.ty();
                    if actual.elem != tt.elem || !limits_match(actual.limits, tt.limits) {
                        return Err(link(imp, "incompatible import type"));
                    }
                    tables.push(t);
                }
                (ImportKind::Memory(mt), Extern::Memory(m)) => {
                    let actual = m.ty();
                    if actual.shared != mt.shared || !limits_match(actual.limits, mt.limits) {
                        return Err(link(imp, "incompatible import type"));
                    }
                    memories.push(m);
                }
                (ImportKind::Global(gt), Extern::Global(g)) => {
                    if g.ty != *gt {
                        return Err(link(imp, "incompatible import type"));
                    }
                    imported_globals.push(g);
                }
                (ImportKind::Tag(t), Extern::Tag(tag)) => {
                    if tag.ty != desc.types[*t as usize] {
                        return Err(link(imp, "incompatible import type"));
                    }
                    tags.push(tag);
                }
                (_, other) => {
                    let _ = other.kind_name();
                    return Err(link(imp, "incompatible import type"));
                }
            }
        }

        // Defined tags, tables and memories.
        for &t in &desc.tags[desc.num_imported_tags as usize..] {
            tags.push(Tag::new(desc.types[t as usize].clone()));
        }
        for tt in &desc.tables[desc.num_imported_tables as usize..] {
            tables.push(Table::new(*tt, Val::FuncRef(0)).map_err(InstantiationError::Resource)?);
        }
        for mt in &desc.memories[desc.num_imported_memories as usize..] {
            memories.push(Memory::new(*mt).map_err(InstantiationError::Resource)?);
        }

        let offsets = desc.offsets(HOST_PTR);
        let vmctx = VMContextAlloc::new(offsets);
        let type_ids = &module.inner.type_ids;

        // Function imports and funcrefs.
        let mut funcrefs = Vec::with_capacity(desc.funcs.len());
        for (i, f) in imported_funcs.iter().enumerate() {
            let callee_vmctx = if f.vmctx.is_null() {
                vmctx.as_ptr()
            } else {
                f.vmctx
            };
            // SAFETY: i < num_imported_funcs.
            unsafe {
                *vmctx.imported_func(i as u32) = VMFuncImport {
                    func_ptr: f.func_ptr,
                    vmctx: callee_vmctx,
                }
            };
            funcrefs.push(VMFuncRef {
                func_ptr: f.func_ptr,
                vmctx: callee_vmctx,
                type_id: f.type_id,
            });
        }
        for d in 0..desc.num_defined_funcs() {
            let ty = desc.funcs[(desc.num_imported_funcs + d) as usize];
            funcrefs.push(VMFuncRef {
                func_ptr: module.defined_func_ptr(d),
                vmctx: vmctx.as_ptr(),
                type_id: type_ids[ty as usize],
            });
        }
        let mut funcrefs = funcrefs.into_boxed_slice();
        let table_ptrs: Box<[*mut VMTable]> = tables.iter().map(|t| t.inner.vm_ptr()).collect();

        let mut linked = vec![vmctx.as_ptr() as usize];
        for f in &imported_funcs {
            if let Some(owner) = &f.owner {
                for l in &owner.linked {
                    if !linked.contains(l) {
                        linked.push(*l);
                    }
                }
            }
        }

        // SAFETY: filling the header of our fresh context; every pointer
        // stored refers to data owned by the InstanceInner built below.
        unsafe {
            let v = &mut *vmctx.as_ptr();
            if let Some(m) = memories.first() {
                v.memory_base = m.inner.base();
                v.memory_def = m.inner.def_ptr();
            }
            v.stack_limit = traphandlers::stack_limit();
            v.builtins = &crate::builtins::BUILTINS as *const _ as *const u8;
            v.type_ids = type_ids.as_ptr();
            v.funcrefs = funcrefs.as_mut_ptr();
            v.tables = table_ptrs.as_ptr();
        }

        // Globals: imported ones hold a pointer to the exporter's slot.
        for (i, g) in imported_globals.iter().enumerate() {
            // SAFETY: i < num_imported_globals <= num_globals.
            unsafe { *(vmctx.global_slot(i as u32) as *mut *mut ValRaw) = g.slot };
        }

        let elems = Mutex::new(vec![None; desc.elements.len()]);
        let data_dropped = desc.data.iter().map(|_| AtomicBool::new(false)).collect();
        let inner = Arc::new(InstanceInner {
            module: module.clone(),
            vmctx,
            funcrefs,
            table_ptrs,
            tables,
            memories,
            imported_funcs,
            imported_globals,
            elems,
            data_dropped,
            linked,
            tags: tags.into_boxed_slice(),
            trampolines: module.inner.record.trampolines,
            exn_capacity: module.inner.exn_capacity,
        });
        // SAFETY: the InstanceInner now has its final address inside the Arc.
        unsafe { (*inner.vmctx.as_ptr()).instance = Arc::as_ptr(&inner) as *const u8 };

        for (i, init) in desc.global_inits.iter().enumerate() {
            let index = desc.num_imported_globals + i as u32;
            let value = inner.eval_const(init).map_err(InstantiationError::Link)?;
            // SAFETY: index < num_globals.
            unsafe { *inner.vmctx.global_slot(index) = value };
        }

        // Defined tables with an initializer expression (after globals,
        // which it may read).
        for (i, init) in desc.table_inits.iter().enumerate() {
            if let Some(init) = init {
                let value = inner.eval_const(init).map_err(InstantiationError::Link)?;
                let table = &inner.tables[desc.num_imported_tables as usize + i];
                table.inner.fill(0, value as usize, table.inner.size());
            }
        }

        // Evaluate every element segment's items now (spec: at instantiation).
        {
            let mut evaluated = Vec::with_capacity(desc.elements.len());
            for seg in &desc.elements {
                let items: Result<Vec<usize>, String> = seg
                    .items
                    .iter()
                    .map(|e| inner.eval_const(e).map(|v| v as usize))
                    .collect();
                evaluated.push(Some(Arc::from(
                    items.map_err(InstantiationError::Link)?.into_boxed_slice(),
                )));
            }
            *inner.elems.lock().unwrap_or_else(|e| e.into_inner()) = evaluated;
        }

        let instance = Instance { inner };
        if let Err(e) = instance.initialize() {
            // Funcrefs of this instance may already sit in imported tables,
            // and the spec lets later calls reach them: never free it.
            std::mem::forget(instance.clone());
            return Err(e);
        }
        Ok(instance)
    }

    /// Applies active segments in order, then runs the start function.
    fn initialize(&self) -> Result<(), InstantiationError> {
        let inner = &self.inner;
        let desc = inner.module.desc();
        let oob = |trap| {
            InstantiationError::Trap(TrapError::Trap {
                trap,
                location: None,
            })
        };
        for (i, seg) in desc.elements.iter().enumerate() {
            match &seg.mode {
                SegmentMode::Active { index, offset } => {
                    let dst = inner.eval_const(offset).map_err(InstantiationError::Link)? as u32;
                    let items = inner.take_elem(i as u32);
                    let table = &inner.tables[*index as usize];
                    if !table.inner.init(dst, &items) {
                        return Err(oob(w2native_environ::Trap::TableOutOfBounds));
                    }
                    if *index < desc.num_imported_tables && !items.is_empty() {
                        table.inner.keep_alive(inner.clone());
                    }
                }
                SegmentMode::Declared => {
                    inner.take_elem(i as u32);
                }
                SegmentMode::Passive => {}
            }
        }
        for (i, seg) in desc.data.iter().enumerate() {
            if let SegmentMode::Active { index, offset } = &seg.mode {
                let dst = inner.eval_const(offset).map_err(InstantiationError::Link)?;
                // Offsets are zero-extended i32 (or i64) values.
                let dst = dst as u64;
                let mem = &inner.memories[*index as usize];
                if !mem.inner.write(dst, &seg.bytes) {
                    return Err(oob(w2native_environ::Trap::MemoryOutOfBounds));
                }
                inner.data_dropped[i].store(true, Ordering::Relaxed);
            }
        }
        if let Some(start) = desc.start {
            self.call_void(start).map_err(InstantiationError::Trap)?;
        }
        Ok(())
    }

    /// Calls function `index` of type `[] -> []` without a trampoline.
    fn call_void(&self, index: u32) -> Result<(), TrapError> {
        let f = self.inner.funcrefs[index as usize];
        self.inner.set_stack_limit(traphandlers::stack_limit());
        // SAFETY: validation guarantees a start function of type [] -> [],
        // whose native signature is `fn(vmctx)`.
        let func: unsafe extern "C" fn(*mut VMContext) = unsafe { std::mem::transmute(f.func_ptr) };
        // SAFETY: the callee's context is alive.
        catch_traps(|| unsafe { func(f.vmctx) })
    }

    pub fn module(&self) -> &Module {
        &self.inner.module
    }

    pub fn vmctx(&self) -> *mut VMContext {
        self.inner.vmctx.as_ptr()
    }

    /// Lets the tables this instance imported forget it: an instance whose
    /// element segments wrote into an imported table is kept alive by that
    /// table (see the module comment), and if the table is its own import
    /// only (the Linux Runner makes one per process), the two keep each
    /// other alive for good. The embedder calls this once no funcref of the
    /// instance can be called through those tables any more.
    pub fn release_imported_tables(&self) {
        let imported = self.inner.module.desc().num_imported_tables as usize;
        let me: Arc<dyn std::any::Any + Send + Sync> = self.inner.clone();
        for t in self.inner.tables.iter().take(imported) {
            t.inner.forget_owner(&me);
        }
    }

    /// Sets the stack limit of every context this instance calls into; the
    /// embedder calls it when it starts calling from another thread.
    pub fn set_stack_limit(&self, limit: usize) {
        self.inner.set_stack_limit(limit)
    }

    pub fn get_export(&self, name: &str) -> Option<Extern> {
        let desc = self.inner.module.desc();
        let e = desc.exports.iter().find(|e| e.name == name)?;
        Some(match e.kind {
            ExportKind::Func => Extern::Func(self.func(e.index)),
            ExportKind::Table => Extern::Table(Table {
                inner: self.inner.tables[e.index as usize].inner.clone(),
                owner: Some(self.inner.clone()),
            }),
            ExportKind::Memory => Extern::Memory(self.inner.memories[e.index as usize].clone()),
            ExportKind::Global => Extern::Global(self.global(e.index)),
            ExportKind::Tag => Extern::Tag(self.inner.tags[e.index as usize].clone()),
        })
    }

    pub fn get_func(&self, name: &str) -> Option<Func> {
        match self.get_export(name)? {
            Extern::Func(f) => Some(f),
            _ => None,
        }
    }

    pub fn get_global(&self, name: &str) -> Option<Global> {
        match self.get_export(name)? {
            Extern::Global(g) => Some(g),
            _ => None,
        }
    }

    pub fn get_memory(&self, name: &str) -> Option<Memory> {
        match self.get_export(name)? {
            Extern::Memory(m) => Some(m),
            _ => None,
        }
    }

    pub fn get_table(&self, name: &str) -> Option<Table> {
        match self.get_export(name)? {
            Extern::Table(t) => Some(t),
            _ => None,
        }
    }

    /// Memory 0, if the module has one.
    pub fn memory(&self) -> Option<Memory> {
        self.inner.memories.first().cloned()
    }

    fn func(&self, index: u32) -> Func {
        let module = &self.inner.module;
        let desc = module.desc();
        let f = self.inner.funcrefs[index as usize];
        let ty_index = desc.funcs[index as usize];
        Func {
            func_ptr: f.func_ptr,
            vmctx: f.vmctx,
            ty: desc.types[ty_index as usize].clone(),
            type_id: f.type_id,
            trampoline: module.trampoline(ty_index),
            owner: Some(self.inner.clone()),
        }
    }

    fn global(&self, index: u32) -> Global {
        let desc = self.inner.module.desc();
        Global {
            slot: self.inner.global_value_ptr(index),
            ty: desc.global_types[index as usize],
            owner: GlobalOwner::Instance(self.inner.clone()),
        }
    }
}

impl InstanceInner {
    fn set_stack_limit(&self, limit: usize) {
        for v in &self.linked {
            // SAFETY: linked contexts belong to instances we keep alive.
            unsafe { (*(*v as *mut VMContext)).stack_limit = limit };
        }
    }

    /// Where global `index`'s value lives (through the pointer for imports).
    fn global_value_ptr(&self, index: u32) -> *mut ValRaw {
        let slot = self.vmctx.global_slot(index);
        if index < self.module.desc().num_imported_globals {
            // SAFETY: imported global slots hold a pointer written at instantiation.
            unsafe { *(slot as *mut *mut ValRaw) }
        } else {
            slot
        }
    }

    fn take_elem(&self, seg: u32) -> Arc<[usize]> {
        let mut elems = self.elems.lock().unwrap_or_else(|e| e.into_inner());
        elems[seg as usize]
            .take()
            .unwrap_or_else(|| Arc::from(Vec::new()))
    }

    /// Evaluates a constant expression against this instance.
    pub(crate) fn eval_const(&self, expr: &ConstExpr) -> Result<ValRaw, String> {
        let mut stack: Vec<ValRaw> = Vec::with_capacity(2);
        let desc = self.module.desc();
        for op in &expr.0 {
            let v = match *op {
                ConstOp::I32Const(v) => v as u32 as ValRaw,
                ConstOp::I64Const(v) => v as u64 as ValRaw,
                ConstOp::F32Const(v) => v as ValRaw,
                ConstOp::F64Const(v) => v as ValRaw,
                ConstOp::V128Const(v) => v,
                ConstOp::GlobalGet(g) => {
                    if g as usize >= desc.global_types.len() {
                        return Err(format!("constant expression: unknown global {g}"));
                    }
                    // SAFETY: the slot is inside our context or an imported
                    // global kept alive by us.
                    unsafe { *self.global_value_ptr(g) }
                }
                ConstOp::RefNull => 0,
                ConstOp::RefFunc(f) => {
                    let r = self
                        .funcrefs
                        .get(f as usize)
                        .ok_or_else(|| format!("constant expression: unknown function {f}"))?;
                    r as *const VMFuncRef as usize as ValRaw
                }
                ConstOp::I32Add | ConstOp::I32Sub | ConstOp::I32Mul => {
                    let (b, a) = (pop(&mut stack)? as u32, pop(&mut stack)? as u32);
                    (match *op {
                        ConstOp::I32Add => a.wrapping_add(b),
                        ConstOp::I32Sub => a.wrapping_sub(b),
                        _ => a.wrapping_mul(b),
                    }) as ValRaw
                }
                ConstOp::I64Add | ConstOp::I64Sub | ConstOp::I64Mul => {
                    let (b, a) = (pop(&mut stack)? as u64, pop(&mut stack)? as u64);
                    (match *op {
                        ConstOp::I64Add => a.wrapping_add(b),
                        ConstOp::I64Sub => a.wrapping_sub(b),
                        _ => a.wrapping_mul(b),
                    }) as ValRaw
                }
            };
            stack.push(v);
        }
        match stack.as_slice() {
            [v] => Ok(*v),
            _ => Err("constant expression must leave exactly one value".into()),
        }
    }

    /// Code pointer and context of exported function `name`, if it has
    /// type `ty`.
    pub(crate) fn export_func_of_type(
        &self,
        name: &str,
        ty: &FuncType,
    ) -> Option<(*const u8, *mut VMContext)> {
        let desc = self.module.desc();
        let e = desc
            .exports
            .iter()
            .find(|e| e.name == name && e.kind == ExportKind::Func)?;
        if desc.func_type(e.index) != ty {
            return None;
        }
        let f = self.funcrefs[e.index as usize];
        Some((f.func_ptr, f.vmctx))
    }

    /// The instance behind a context.
    ///
    /// # Safety
    /// `vmctx` must be the context of a live instance.
    pub(crate) unsafe fn from_vmctx<'a>(vmctx: *mut VMContext) -> &'a InstanceInner {
        // SAFETY: `instance` was set to the Arc's payload at instantiation.
        unsafe { &*((*vmctx).instance as *const InstanceInner) }
    }
}

fn pop(stack: &mut Vec<ValRaw>) -> Result<ValRaw, String> {
    stack
        .pop()
        .ok_or_else(|| "constant expression stack underflow".to_string())
}
