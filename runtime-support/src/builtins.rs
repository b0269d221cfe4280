//! The runtime functions compiled code calls through `vmctx.builtins`.
//!
//! The table type and its contents are generated from
//! [`w2native_environ::foreach_builtin!`], the same list the compiler reads,
//! so a builtin's position and signature cannot disagree between the two.
//! Semantics follow the spec's bulk-memory, reference-types and threads
//! proposals: every range is bounds-checked before anything is written.
//!
//! Unsafe rules of this module: every builtin receives the `vmctx` of a live
//! instance (compiled code passes its own), so `InstanceInner::from_vmctx` is
//! valid for the duration of the call; memory ranges are checked against the
//! committed length before being touched.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::instance::InstanceInner;
use crate::table::TableInner;
use crate::vm::VMContext;

macro_rules! builtin_ty {
    (vmctx) => { *mut VMContext };
    (pointer) => { usize };
    (reference) => { usize };
    (i32) => { i32 };
    (i64) => { i64 };
}

macro_rules! define_builtins_table {
    ($($name:ident($($pname:ident: $pty:ident),*) -> $rty:ident;)*) => {
        /// The table `vmctx.builtins` points at, one pointer per
        /// [`w2native_environ::Builtin`], in its order.
        #[repr(C)]
        pub struct VMBuiltins {
            $(pub $name: unsafe extern "C" fn($($pname: builtin_ty!($pty)),*) -> builtin_ty!($rty),)*
        }

        pub static BUILTINS: VMBuiltins = VMBuiltins {
            $($name: imp::$name,)*
        };
    };
}

w2native_environ::foreach_builtin!(define_builtins_table);

/// Status returned by a builtin that wants compiled code to trap.
const TRAP: i32 = 1;

#[cfg(target_arch = "x86_64")]
std::arch::global_asm!(
    include_str!("arch/interrupt_x86_64.S"),
    builtin = sym imp::interrupt_c
);

#[cfg(target_arch = "x86_64")]
unsafe extern "C" {
    /// `imp::interrupt_c` with every register preserved (Cranelift's
    /// `preserve_all` convention, what compiled x86_64 code uses for it).
    pub(crate) fn w2n_interrupt_preserve_all(vmctx: *mut VMContext) -> i32;
}

mod imp {
    #[cfg(not(target_arch = "x86_64"))]
    pub(crate) use self::interrupt_c as interrupt;
    #[cfg(target_arch = "x86_64")]
    pub(crate) use super::w2n_interrupt_preserve_all as interrupt;
    use super::*;
    pub(crate) use crate::exceptions::{
        exn_invoke_caught, exn_rethrow, exn_tag, exn_throw, exn_try_call,
    };

    fn instance<'a>(vmctx: *mut VMContext) -> &'a InstanceInner {
        // SAFETY: compiled code passes its own live vmctx (module rules).
        unsafe { InstanceInner::from_vmctx(vmctx) }
    }

    /// Checks `[start, start+len)` against memory 0 and returns its address.
    fn mem_range(inst: &InstanceInner, start: i32, len: i32) -> Option<*mut u8> {
        let mem = inst.memories.first()?.linear();
        let end = start as u32 as u64 + len as u32 as u64;
        if end > mem.byte_len() as u64 {
            return None;
        }
        // SAFETY: in bounds of the committed prefix.
        Some(unsafe { mem.base().add(start as u32 as usize) })
    }

    pub unsafe extern "C" fn memory_grow(vmctx: *mut VMContext, delta: i32) -> i32 {
        let inst = instance(vmctx);
        match inst.memories.first() {
            Some(m) => m
                .linear()
                .grow(delta as u32 as u64)
                .map(|old| old as i32)
                .unwrap_or(-1),
            None => -1,
        }
    }

    pub unsafe extern "C" fn memory_init(
        vmctx: *mut VMContext,
        seg: i32,
        dst: i32,
        src: i32,
        len: i32,
    ) -> i32 {
        let inst = instance(vmctx);
        let desc = inst.module.desc();
        let Some(segment) = desc.data.get(seg as u32 as usize) else {
            return TRAP;
        };
        let bytes: &[u8] = if inst.data_dropped[seg as usize].load(Ordering::Relaxed) {
            &[]
        } else {
            &segment.bytes
        };
        let (src, len) = (src as u32 as usize, len as u32 as usize);
        if src.checked_add(len).is_none_or(|end| end > bytes.len()) {
            return TRAP;
        }
        match mem_range(inst, dst, len as i32) {
            Some(d) => {
                // SAFETY: destination checked; source is inside the segment.
                unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr().add(src), d, len) };
                0
            }
            None => TRAP,
        }
    }

    pub unsafe extern "C" fn data_drop(vmctx: *mut VMContext, seg: i32) -> i32 {
        let inst = instance(vmctx);
        if let Some(d) = inst.data_dropped.get(seg as u32 as usize) {
            d.store(true, Ordering::Relaxed);
        }
        0
    }

    fn table(inst: &InstanceInner, index: i32) -> Option<&TableInner> {
        inst.tables.get(index as u32 as usize).map(|t| t.inner())
    }

    pub unsafe extern "C" fn table_grow(
        vmctx: *mut VMContext,
        table_index: i32,
        init: usize,
        delta: i32,
    ) -> i32 {
        match table(instance(vmctx), table_index) {
            Some(t) => t
                .grow(delta as u32, init)
                .map(|old| old as i32)
                .unwrap_or(-1),
            None => -1,
        }
    }

    pub unsafe extern "C" fn table_fill(
        vmctx: *mut VMContext,
        table_index: i32,
        dst: i32,
        val: usize,
        len: i32,
    ) -> i32 {
        match table(instance(vmctx), table_index) {
            Some(t) if t.fill(dst as u32, val, len as u32) => 0,
            _ => TRAP,
        }
    }

    pub unsafe extern "C" fn table_copy(
        vmctx: *mut VMContext,
        dst_table: i32,
        src_table: i32,
        dst: i32,
        src: i32,
        len: i32,
    ) -> i32 {
        let inst = instance(vmctx);
        match (table(inst, dst_table), table(inst, src_table)) {
            (Some(d), Some(s)) if TableInner::copy(d, s, dst as u32, src as u32, len as u32) => 0,
            _ => TRAP,
        }
    }

    pub unsafe extern "C" fn table_init(
        vmctx: *mut VMContext,
        table_index: i32,
        seg: i32,
        dst: i32,
        src: i32,
        len: i32,
    ) -> i32 {
        let inst = instance(vmctx);
        let items: Arc<[usize]> = {
            let elems = inst.elems.lock().unwrap_or_else(|e| e.into_inner());
            match elems.get(seg as u32 as usize) {
                Some(Some(items)) => items.clone(),
                Some(None) => Arc::from(Vec::new()),
                None => return TRAP,
            }
        };
        let (src, len) = (src as u32 as usize, len as u32 as usize);
        let Some(slice) = src.checked_add(len).and_then(|end| items.get(src..end)) else {
            return TRAP;
        };
        match table(inst, table_index) {
            Some(t) if t.init(dst as u32, slice) => 0,
            _ => TRAP,
        }
    }

    pub unsafe extern "C" fn elem_drop(vmctx: *mut VMContext, seg: i32) -> i32 {
        let inst = instance(vmctx);
        let mut elems = inst.elems.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = elems.get_mut(seg as u32 as usize) {
            *e = None;
        }
        0
    }

    /// The address of an aligned, in-bounds atomic cell, or the status to
    /// return: -2 out of bounds, -3 misaligned (see `foreach_builtin!`).
    fn atomic_cell(inst: &InstanceInner, addr: i32, size: i32) -> Result<*mut u8, i32> {
        let p = mem_range(inst, addr, size).ok_or(-2)?;
        if !(addr as u32).is_multiple_of(size as u32) {
            return Err(-3);
        }
        Ok(p)
    }

    pub unsafe extern "C" fn memory_atomic_wait32(
        vmctx: *mut VMContext,
        addr: i32,
        expected: i32,
        timeout_ns: i64,
    ) -> i32 {
        let inst = instance(vmctx);
        let p = match atomic_cell(inst, addr, 4) {
            Ok(p) => p,
            Err(e) => return e,
        };
        if !inst.memories[0].linear().ty().shared {
            return -1;
        }
        // SAFETY: in bounds; alignment is checked by compiled code.
        unsafe { crate::atomics::wait32(p as *const u32, expected as u32, timeout_ns) }
    }

    pub unsafe extern "C" fn memory_atomic_wait64(
        vmctx: *mut VMContext,
        addr: i32,
        expected: i64,
        timeout_ns: i64,
    ) -> i32 {
        let inst = instance(vmctx);
        let p = match atomic_cell(inst, addr, 8) {
            Ok(p) => p,
            Err(e) => return e,
        };
        if !inst.memories[0].linear().ty().shared {
            return -1;
        }
        // SAFETY: as above.
        unsafe { crate::atomics::wait64(p as *const u64, expected as u64, timeout_ns) }
    }

    /// The `interrupt` builtin itself; compiled code reaches it through
    /// the table entry `interrupt` (on x86_64 a trampoline that keeps every
    /// register, see `arch/interrupt_x86_64.S`).
    pub unsafe extern "C" fn interrupt_c(vmctx: *mut VMContext) -> i32 {
        // SAFETY: compiled code passes its own live vmctx (module rules).
        if unsafe { (*vmctx).take_interrupt() } {
            crate::linux::interrupt::interrupted(vmctx);
        }
        0
    }

    pub unsafe extern "C" fn memory_atomic_notify(
        vmctx: *mut VMContext,
        addr: i32,
        count: i32,
    ) -> i32 {
        let inst = instance(vmctx);
        let p = match atomic_cell(inst, addr, 4) {
            Ok(p) => p,
            Err(e) => return e,
        };
        if !inst.memories[0].linear().ty().shared {
            return 0;
        }
        // SAFETY: as above.
        unsafe { crate::atomics::notify(p as *const u32, count as u32) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use w2native_environ::Builtin;

    #[test]
    fn table_matches_the_builtin_list() {
        assert_eq!(
            std::mem::size_of::<VMBuiltins>(),
            Builtin::ALL.len() * std::mem::size_of::<usize>()
        );
        let base = &BUILTINS as *const VMBuiltins as usize;
        assert_eq!(
            &BUILTINS.memory_grow as *const _ as usize - base,
            Builtin::memory_grow.index() as usize * 8
        );
        assert_eq!(
            &BUILTINS.memory_atomic_notify as *const _ as usize - base,
            Builtin::memory_atomic_notify.index() as usize * 8
        );
    }
}
