//! Layout of the structures compiled code reads and writes.
//!
//! ```text
//! VMContext (one per instance; every compiled function gets it as arg 0)
//!   +0        memory_base   *mut u8           base of linear memory 0 (never moves)
//!   +1P       memory_def    *VMMemoryDefinition  current length lives there
//!   +2P       stack_limit   usize             lowest allowed native sp
//!   +3P       builtins      *[fn; N]          see `Builtin`
//!   +4P       type_ids      *[u32]            canonical id per module type index
//!   +5P       funcrefs      *[VMFuncRef]      one per function index
//!   +6P       tables        *[*VMTable]       one per table index
//!   +7P       instance      *runtime instance (opaque to compiled code)
//!   +8P       tls           per-instance slot for the runtime (opaque)
//!   +9P       interrupt     u32 flag (+ padding): non-zero asks code compiled
//!                           with interrupt checks to call `Builtin::interrupt`
//!   +10P      imported_funcs: [VMFuncImport; num_imported_funcs]
//!   then      globals:        [16 bytes; num_globals]
//!             a defined global holds its value in the slot (little endian,
//!             from byte 0); an imported global's slot holds a pointer to the
//!             exporting instance's slot.
//!
//! VMFuncImport  { func_ptr, vmctx }            call: func_ptr(vmctx, args..)
//! VMFuncRef     { func_ptr, vmctx, type_id: u32 }
//! VMTable       { elements: *mut ref, length: u32 }   refs are pointer-sized;
//!               a funcref is a *VMFuncRef, null is 0
//! VMMemoryDefinition { base: *mut u8, length: usize }
//! ```
//!
//! Offsets depend only on the pointer size and the module's import/global
//! counts, so the same calculator serves every target. The runtime asserts
//! that its `#[repr(C)]` structs match these numbers.

/// Calculator of `VMContext` offsets for one module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VMOffsets {
    pub ptr: u32,
    pub num_imported_funcs: u32,
    pub num_globals: u32,
}

/// Size of one global slot (big enough for a future v128).
pub const GLOBAL_SLOT_SIZE: u32 = 16;

impl VMOffsets {
    pub fn new(ptr: u32, num_imported_funcs: u32, num_globals: u32) -> Self {
        VMOffsets {
            ptr,
            num_imported_funcs,
            num_globals,
        }
    }

    pub fn memory_base(&self) -> u32 {
        0
    }
    pub fn memory_def(&self) -> u32 {
        self.ptr
    }
    pub fn stack_limit(&self) -> u32 {
        2 * self.ptr
    }
    pub fn builtins(&self) -> u32 {
        3 * self.ptr
    }
    pub fn type_ids(&self) -> u32 {
        4 * self.ptr
    }
    pub fn funcrefs(&self) -> u32 {
        5 * self.ptr
    }
    pub fn tables(&self) -> u32 {
        6 * self.ptr
    }
    pub fn instance(&self) -> u32 {
        7 * self.ptr
    }
    pub fn tls(&self) -> u32 {
        8 * self.ptr
    }
    /// The interrupt flag: a `u32` the runtime sets from any thread and
    /// compiled code with interrupt checks loads at function entries and
    /// loop headers (the rest of the pointer-sized slot is padding).
    pub fn interrupt(&self) -> u32 {
        9 * self.ptr
    }
    fn header_size(&self) -> u32 {
        10 * self.ptr
    }

    pub fn imported_func(&self, index: u32) -> u32 {
        assert!(index < self.num_imported_funcs);
        self.header_size() + index * self.size_of_func_import()
    }
    pub fn imported_func_ptr(&self, index: u32) -> u32 {
        self.imported_func(index)
    }
    pub fn imported_func_vmctx(&self, index: u32) -> u32 {
        self.imported_func(index) + self.ptr
    }

    fn globals_start(&self) -> u32 {
        let end = self.header_size() + self.num_imported_funcs * self.size_of_func_import();
        end.next_multiple_of(GLOBAL_SLOT_SIZE)
    }
    pub fn global(&self, index: u32) -> u32 {
        assert!(index < self.num_globals);
        self.globals_start() + index * GLOBAL_SLOT_SIZE
    }

    /// Total size of the `VMContext` in bytes.
    pub fn size(&self) -> u32 {
        self.globals_start() + self.num_globals * GLOBAL_SLOT_SIZE
    }

    pub fn size_of_func_import(&self) -> u32 {
        2 * self.ptr
    }

    pub fn size_of_funcref(&self) -> u32 {
        3 * self.ptr
    }
    pub fn funcref_func_ptr(&self) -> u32 {
        0
    }
    pub fn funcref_vmctx(&self) -> u32 {
        self.ptr
    }
    pub fn funcref_type_id(&self) -> u32 {
        2 * self.ptr
    }

    pub fn table_elements(&self) -> u32 {
        0
    }
    pub fn table_length(&self) -> u32 {
        self.ptr
    }

    pub fn memory_def_base(&self) -> u32 {
        0
    }
    pub fn memory_def_length(&self) -> u32 {
        self.ptr
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globals_are_aligned_and_after_imports() {
        let o = VMOffsets::new(8, 3, 2);
        assert_eq!(o.imported_func(0), 80);
        assert_eq!(o.imported_func_vmctx(2), 80 + 32 + 8);
        assert_eq!(o.global(0) % GLOBAL_SLOT_SIZE, 0);
        assert!(o.global(0) >= o.imported_func(2) + 16);
        assert_eq!(o.size(), o.global(1) + 16);
    }
}
