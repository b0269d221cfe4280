//! The structures compiled code reads and writes, as `#[repr(C)]` Rust types.
//!
//! Their layout is fixed by [`w2native_environ::VMOffsets`]; the tests at the
//! bottom assert that every offset computed there matches `offset_of!` here,
//! so the compiler (which only knows `VMOffsets`) and the runtime cannot
//! drift apart.
//!
//! Unsafe rules of this module: a `VMContext` is allocated by
//! [`VMContextAlloc`] with the size from `VMOffsets` and freed only when the
//! owning instance is dropped. The variable-size tail (imported functions,
//! global slots) is reached only through the typed accessors below, which take
//! indices checked against the offsets calculator.

use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::ptr::NonNull;

use w2native_environ::{VMOffsets, ValRaw};

/// Pointer size of the host; the only one the runtime supports.
pub const HOST_PTR: u32 = std::mem::size_of::<usize>() as u32;

/// A function import slot: `func_ptr(vmctx, args..)`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct VMFuncImport {
    pub func_ptr: *const u8,
    pub vmctx: *mut VMContext,
}

/// What a funcref points to. Tables hold `*const VMFuncRef` (null = 0).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct VMFuncRef {
    pub func_ptr: *const u8,
    pub vmctx: *mut VMContext,
    pub type_id: u32,
}

/// A table as compiled code sees it. `elements` may move on grow; compiled
/// code reloads it on every access.
#[repr(C)]
#[derive(Debug)]
pub struct VMTable {
    pub elements: *mut usize,
    pub length: u32,
}

/// A linear memory as compiled code sees it. `base` never moves.
#[repr(C)]
#[derive(Debug)]
pub struct VMMemoryDefinition {
    pub base: *mut u8,
    pub length: usize,
}

/// The fixed header of every instance's context; the per-module tail
/// (imported functions, globals) follows at the offsets of [`VMOffsets`].
#[repr(C)]
#[derive(Debug)]
pub struct VMContext {
    pub memory_base: *mut u8,
    pub memory_def: *mut VMMemoryDefinition,
    pub stack_limit: usize,
    pub builtins: *const u8,
    pub type_ids: *const u32,
    pub funcrefs: *mut VMFuncRef,
    pub tables: *const *mut VMTable,
    pub instance: *const u8,
    pub tls: usize,
    /// Non-zero: code compiled with interrupt checks calls the `interrupt`
    /// builtin at its next function entry or loop header. Set from any
    /// thread (see [`VMContext::request_interrupt`]).
    pub interrupt: std::sync::atomic::AtomicU32,
    pub interrupt_pad: u32,
}

impl VMContext {
    /// Asks the code running in this instance to call the `interrupt`
    /// builtin soon. Code compiled without interrupt checks never looks.
    pub fn request_interrupt(&self) {
        self.interrupt
            .store(1, std::sync::atomic::Ordering::Release);
    }

    /// Clears the request; returns whether there was one.
    pub fn take_interrupt(&self) -> bool {
        self.interrupt.swap(0, std::sync::atomic::Ordering::Acquire) != 0
    }
}

/// An owned, zeroed `VMContext` allocation of the size a module needs.
pub struct VMContextAlloc {
    ptr: NonNull<VMContext>,
    layout: Layout,
    offsets: VMOffsets,
}

// SAFETY: the allocation is plain memory; synchronisation of its contents is
// the instance's business (compiled code on several threads shares it the way
// wasm threads share globals).
unsafe impl Send for VMContextAlloc {}
// SAFETY: see Send.
unsafe impl Sync for VMContextAlloc {}

impl VMContextAlloc {
    pub fn new(offsets: VMOffsets) -> Self {
        assert_eq!(offsets.ptr, HOST_PTR);
        let size = (offsets.size() as usize).max(std::mem::size_of::<VMContext>());
        let layout = Layout::from_size_align(size, 16).expect("vmctx layout");
        // SAFETY: the layout has a non-zero size.
        let raw = unsafe { alloc_zeroed(layout) };
        let ptr = NonNull::new(raw as *mut VMContext).unwrap_or_else(|| {
            std::alloc::handle_alloc_error(layout);
        });
        VMContextAlloc {
            ptr,
            layout,
            offsets,
        }
    }

    pub fn as_ptr(&self) -> *mut VMContext {
        self.ptr.as_ptr()
    }

    pub fn offsets(&self) -> &VMOffsets {
        &self.offsets
    }

    /// The import slot of imported function `index`.
    pub fn imported_func(&self, index: u32) -> *mut VMFuncImport {
        let off = self.offsets.imported_func(index) as usize;
        // SAFETY: `imported_func` asserts the index, so the slot is inside the allocation.
        unsafe { (self.as_ptr() as *mut u8).add(off) as *mut VMFuncImport }
    }

    /// The 16-byte slot of global `index` (value, or pointer for imports).
    pub fn global_slot(&self, index: u32) -> *mut ValRaw {
        let off = self.offsets.global(index) as usize;
        // SAFETY: `global` asserts the index, so the slot is inside the allocation.
        unsafe { (self.as_ptr() as *mut u8).add(off) as *mut ValRaw }
    }
}

impl Drop for VMContextAlloc {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { dealloc(self.ptr.as_ptr() as *mut u8, self.layout) }
    }
}

/// Current length in bytes of the memory of `vmctx` (0 without a memory).
///
/// # Safety
/// `vmctx` must be a live context.
pub unsafe fn memory_len(vmctx: *const VMContext) -> usize {
    // SAFETY: the caller guarantees a live vmctx; memory_def is null or live.
    unsafe {
        let def = (*vmctx).memory_def;
        if def.is_null() {
            0
        } else {
            std::ptr::read_volatile(&(*def).length)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    #[test]
    fn layout_matches_vmoffsets() {
        let o = VMOffsets::new(8, 3, 2);
        assert_eq!(offset_of!(VMContext, memory_base) as u32, o.memory_base());
        assert_eq!(offset_of!(VMContext, memory_def) as u32, o.memory_def());
        assert_eq!(offset_of!(VMContext, stack_limit) as u32, o.stack_limit());
        assert_eq!(offset_of!(VMContext, builtins) as u32, o.builtins());
        assert_eq!(offset_of!(VMContext, type_ids) as u32, o.type_ids());
        assert_eq!(offset_of!(VMContext, funcrefs) as u32, o.funcrefs());
        assert_eq!(offset_of!(VMContext, tables) as u32, o.tables());
        assert_eq!(offset_of!(VMContext, instance) as u32, o.instance());
        assert_eq!(offset_of!(VMContext, tls) as u32, o.tls());
        assert_eq!(offset_of!(VMContext, interrupt) as u32, o.interrupt());
        assert_eq!(size_of::<VMContext>() as u32, o.imported_func(0));

        assert_eq!(size_of::<VMFuncImport>() as u32, o.size_of_func_import());
        assert_eq!(
            offset_of!(VMFuncImport, vmctx) as u32,
            o.imported_func_vmctx(0) - o.imported_func(0)
        );

        assert_eq!(size_of::<VMFuncRef>() as u32, o.size_of_funcref());
        assert_eq!(offset_of!(VMFuncRef, func_ptr) as u32, o.funcref_func_ptr());
        assert_eq!(offset_of!(VMFuncRef, vmctx) as u32, o.funcref_vmctx());
        assert_eq!(offset_of!(VMFuncRef, type_id) as u32, o.funcref_type_id());

        assert_eq!(offset_of!(VMTable, elements) as u32, o.table_elements());
        assert_eq!(offset_of!(VMTable, length) as u32, o.table_length());

        assert_eq!(
            offset_of!(VMMemoryDefinition, base) as u32,
            o.memory_def_base()
        );
        assert_eq!(
            offset_of!(VMMemoryDefinition, length) as u32,
            o.memory_def_length()
        );
    }

    #[test]
    fn alloc_has_room_for_the_tail() {
        let o = VMOffsets::new(HOST_PTR, 2, 3);
        let a = VMContextAlloc::new(o);
        let end = a.as_ptr() as usize + o.size() as usize;
        assert!(a.global_slot(2) as usize + 16 <= end);
        assert!(
            a.imported_func(1) as usize + size_of::<VMFuncImport>() <= a.global_slot(0) as usize
        );
        assert_eq!(a.global_slot(0) as usize % 16, 0);
    }
}
