//! The module descriptor: everything the runtime needs to instantiate a
//! compiled module, other than machine code.
//!
//! The compiler serializes a [`ModuleDesc`] with postcard into the object;
//! the object also holds a [`VMModuleStatic`] record (symbol
//! `<prefix>module`) pointing at that blob and at the tables of function
//! pointers. The runtime reads the record, decodes the blob, and instantiates.

use serde::{Deserialize, Serialize};

/// Bump when the descriptor or the static record changes shape.
pub const DESC_VERSION: u32 = 3;

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
    /// One byte string, not a sequence of numbers: decoding is one copy
    /// (a kernel's data is megabytes, read at every start).
    #[serde(with = "serde_bytes")]
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

/// Strings by index, stored as one text and the end of each: a module has
/// a name per function (tens of thousands in a kernel), and one string
/// allocation and UTF-8 check each was a visible part of every start.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Names {
    text: String,
    /// Little-endian `u32` end offsets into `text`, one per name.
    #[serde(with = "serde_bytes")]
    ends: Vec<u8>,
}

impl Names {
    pub fn len(&self) -> usize {
        self.ends.len() / 4
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    fn end(&self, i: usize) -> Option<usize> {
        let (ends, _) = self.ends.as_chunks::<4>();
        Some(u32::from_le_bytes(*ends.get(i)?) as usize)
    }

    pub fn get(&self, i: usize) -> Option<&str> {
        let start = if i == 0 { 0 } else { self.end(i - 1)? };
        // A corrupt table gives `None` rather than a panic.
        self.text.get(start..self.end(i)?)
    }
}

impl<S: AsRef<str>> FromIterator<S> for Names {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Names {
        let mut names = Names::default();
        for s in iter {
            names.text.push_str(s.as_ref());
            let end = u32::try_from(names.text.len()).expect("names under 4 GiB");
            names.ends.extend_from_slice(&end.to_le_bytes());
        }
        names
    }
}

impl std::ops::Index<usize> for Names {
    type Output = str;
    fn index(&self, i: usize) -> &str {
        self.get(i).expect("name index in range")
    }
}

/// Every trap site of a module, sorted by (func, offset), packed as
/// `TRAP_RECORD`-byte little-endian records (func, offset, code). A module
/// has one site per instruction that may trap (hundreds of thousands in a
/// kernel): kept packed, loading the descriptor copies them in one go and
/// the trap handler binary-searches them in place, instead of decoding a
/// record per site at every start.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrapTable(#[serde(with = "serde_bytes")] Vec<u8>);

const TRAP_RECORD: usize = 9;

impl TrapTable {
    /// The table of `sites`, which it sorts.
    pub fn new(mut sites: Vec<TrapSite>) -> TrapTable {
        sites.sort_unstable();
        let mut bytes = Vec::with_capacity(sites.len() * TRAP_RECORD);
        for s in sites {
            bytes.extend_from_slice(&s.func.to_le_bytes());
            bytes.extend_from_slice(&s.offset.to_le_bytes());
            bytes.push(s.code);
        }
        TrapTable(bytes)
    }

    pub fn len(&self) -> usize {
        self.records().len()
    }

    pub fn is_empty(&self) -> bool {
        self.records().is_empty()
    }

    fn records(&self) -> &[[u8; TRAP_RECORD]] {
        self.0.as_chunks().0
    }

    pub fn get(&self, i: usize) -> Option<TrapSite> {
        self.records().get(i).map(decode_trap_record)
    }

    /// The trap code at `offset` bytes into defined function `func`.
    pub fn code_at(&self, func: u32, offset: u32) -> Option<u8> {
        let records = self.records();
        let i = records
            .binary_search_by_key(&(func, offset), |r| {
                let s = decode_trap_record(r);
                (s.func, s.offset)
            })
            .ok()?;
        Some(decode_trap_record(&records[i]).code)
    }
}

fn decode_trap_record(r: &[u8; TRAP_RECORD]) -> TrapSite {
    let word = |at: usize| u32::from_le_bytes([r[at], r[at + 1], r[at + 2], r[at + 3]]);
    TrapSite {
        func: word(0),
        offset: word(4),
        code: r[8],
    }
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
    pub func_names: Names,
    /// Code size of every defined function, for PC -> function lookup.
    pub func_sizes: Vec<u32>,
    pub trap_sites: TrapTable,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn site(func: u32, offset: u32, code: u8) -> TrapSite {
        TrapSite { func, offset, code }
    }

    #[test]
    fn trap_table_sorts_and_finds() {
        let t = TrapTable::new(vec![site(2, 8, 3), site(0, 4, 1), site(2, 0, 2)]);
        assert_eq!(t.len(), 3);
        assert_eq!(t.get(0), Some(site(0, 4, 1)));
        assert_eq!(t.get(2), Some(site(2, 8, 3)));
        assert_eq!(t.get(3), None);
        assert_eq!(t.code_at(2, 0), Some(2));
        assert_eq!(t.code_at(2, 8), Some(3));
        assert_eq!(t.code_at(0, 4), Some(1));
        assert_eq!(t.code_at(1, 4), None);
        assert_eq!(t.code_at(2, 4), None);
        assert!(TrapTable::default().is_empty());
        assert_eq!(TrapTable::default().code_at(0, 0), None);
    }

    #[test]
    fn names_by_index() {
        let names: Names = ["main", "", "f2"].into_iter().collect();
        assert_eq!(names.len(), 3);
        assert_eq!(names.get(0), Some("main"));
        assert_eq!(names.get(1), Some(""));
        assert_eq!(&names[2], "f2");
        assert_eq!(names.get(3), None);
        assert!(Names::default().is_empty());
    }

    #[test]
    fn descriptor_round_trip() {
        let desc = ModuleDesc {
            name: "m".into(),
            data: vec![DataSegment {
                mode: SegmentMode::Passive,
                bytes: (0..=255).collect(),
            }],
            trap_sites: TrapTable::new(vec![site(1, 2, 3), site(0, 9, 4)]),
            func_names: ["a", "b"].into_iter().collect(),
            ..ModuleDesc::default()
        };
        let bytes = desc.encode();
        assert_eq!(ModuleDesc::decode(&bytes), Ok(desc));
        assert!(ModuleDesc::decode(&bytes[..bytes.len() - 1]).is_err());
    }
}
