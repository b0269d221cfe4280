//! The module descriptor: everything the runtime needs to instantiate a
//! compiled module, other than machine code.
//!
//! The compiler serializes a [`ModuleDesc`] with postcard into the object;
//! the object also holds a [`VMModuleStatic`] record (symbol
//! `<prefix>module`) pointing at that blob and at the tables of function
//! pointers. The runtime reads the record, decodes the blob, and instantiates.

use serde::{Deserialize, Serialize};

/// Bump when the descriptor or the static record changes shape.
pub const DESC_VERSION: u32 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ValType {
    I32,
    I64,
    F32,
    F64,
    V128,
    FuncRef,
    ExternRef,
    ExnRef,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FuncType {
    pub params: Vec<ValType>,
    pub results: Vec<ValType>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    pub min: u64,
    pub max: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryType {
    /// In 64 KiB pages.
    pub limits: Limits,
    pub shared: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableType {
    pub elem: ValType,
    pub limits: Limits,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlobalType {
    pub ty: ValType,
    pub mutable: bool,
}

/// A constant expression as a tiny stack program (covers MVP constants,
/// `global.get`, `ref.func`, `ref.null` and extended-const arithmetic).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConstExpr(pub Vec<ConstOp>);

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum ConstOp {
    I32Const(i32),
    I64Const(i64),
    F32Const(u32),
    F64Const(u64),
    V128Const(u128),
    GlobalGet(u32),
    RefNull,
    RefFunc(u32),
    I32Add,
    I32Sub,
    I32Mul,
    I64Add,
    I64Sub,
    I64Mul,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ImportKind {
    Func(u32),
    Table(TableType),
    Memory(MemoryType),
    Global(GlobalType),
    Tag(u32),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Import {
    pub module: String,
    pub field: String,
    pub kind: ImportKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExportKind {
    Func,
    Table,
    Memory,
    Global,
    Tag,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Export {
    pub name: String,
    pub kind: ExportKind,
    pub index: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Global {
    pub ty: GlobalType,
    pub init: ConstExpr,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum SegmentMode {
    Passive,
    Declared,
    Active { index: u32, offset: ConstExpr },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ElemSegment {
    pub mode: SegmentMode,
    pub elem: ValType,
    pub items: Vec<ConstExpr>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DataSegment {
    pub mode: SegmentMode,
    pub bytes: Vec<u8>,
}

/// A place in compiled code where a trap is raised: `offset` bytes into
/// defined function `func` (index among defined functions).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TrapSite {
    pub func: u32,
    pub offset: u32,
    pub code: u8,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ModuleDesc {
    /// Module name used in messages (`<name>!<func>+0x..`).
    pub name: String,
    pub types: Vec<FuncType>,
    pub imports: Vec<Import>,
    /// Type index of every function, imported ones first.
    pub funcs: Vec<u32>,
    pub num_imported_funcs: u32,
    /// All tables, imported ones first.
    pub tables: Vec<TableType>,
    pub num_imported_tables: u32,
    /// Initializer of every defined table (`None`: null references).
    pub table_inits: Vec<Option<ConstExpr>>,
    /// All memories, imported ones first (at most one for now).
    pub memories: Vec<MemoryType>,
    pub num_imported_memories: u32,
    /// Types of all globals, imported first; `global_inits` covers the defined ones.
    pub global_types: Vec<GlobalType>,
    pub num_imported_globals: u32,
    pub global_inits: Vec<ConstExpr>,
    /// Tag signatures (type indices), imported ones first.
    pub tags: Vec<u32>,
    pub num_imported_tags: u32,
    pub exports: Vec<Export>,
    pub start: Option<u32>,
    pub elements: Vec<ElemSegment>,
    pub data: Vec<DataSegment>,
    /// Name of every function index (name section, else export, else `f<i>`).
    pub func_names: Vec<String>,
    /// Code size of every defined function, for PC -> function lookup.
    pub func_sizes: Vec<u32>,
    /// Sorted by (func, offset).
    pub trap_sites: Vec<TrapSite>,
    /// Compiled with interrupt checks (`CompileOptions::interruptible`): the
    /// Linux Runner preempts code without them asynchronously instead.
    pub interrupt_checks: bool,
    /// Defined functions (ascending indices) with a legacy `try`, where
    /// clang's setjmp lowering puts the code after a `setjmp`: the Runner
    /// does not preempt them asynchronously (a handler's `longjmp` to
    /// their `setjmp` could not be caught there).
    pub funcs_with_try: Vec<u32>,
}

impl ModuleDesc {
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_allocvec(self).expect("descriptor serialization cannot fail")
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        postcard::from_bytes(bytes).map_err(|e| format!("corrupt module descriptor: {e}"))
    }

    pub fn num_defined_funcs(&self) -> u32 {
        self.funcs.len() as u32 - self.num_imported_funcs
    }

    pub fn func_type(&self, func: u32) -> &FuncType {
        &self.types[self.funcs[func as usize] as usize]
    }

    pub fn offsets(&self, ptr: u32) -> crate::VMOffsets {
        crate::VMOffsets::new(ptr, self.num_imported_funcs, self.global_types.len() as u32)
    }
}

/// The record the compiler emits as symbol `<prefix>module`. All pointers are
/// relocated by the linker (or the dynamic loader).
///
/// `trampolines[t]` is the array-call trampoline for module type `t`, or null
/// when no export has that type. A trampoline has the C signature
/// `fn(vmctx, callee, values: *mut ValRaw)`: it reads the parameters from
/// `values[0..n]`, calls `callee(vmctx, params..)`, and writes the results to
/// `values[0..m]`.
#[repr(C)]
#[derive(Debug)]
pub struct VMModuleStatic {
    pub version: u32,
    pub pointer_size: u32,
    pub desc: *const u8,
    pub desc_len: usize,
    /// One entry per defined function.
    pub funcs: *const *const u8,
    pub num_funcs: usize,
    /// One entry per type.
    pub trampolines: *const *const u8,
    pub num_types: usize,
}

// SAFETY: the record and everything it points to is immutable data in the
// executable image.
unsafe impl Sync for VMModuleStatic {}

/// A value crossing the array-call boundary; 16 bytes so v128 fits.
/// Integers and float bits are stored little-endian from byte 0, references
/// as pointer-sized integers.
pub type ValRaw = u128;
