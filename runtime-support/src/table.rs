//! Tables of references, shared between compiled code and the runtime.
//!
//! Compiled code reaches a table through `vmctx.tables[i]`, a pointer to a
//! [`VMTable`] that stays at one address for the table's whole life; only the
//! element array behind it moves when the table grows, and compiled code
//! reloads it on every access.
//!
//! Unsafe rules of this module: `vm.elements`/`vm.length` always describe
//! `storage` exactly; they are updated together, under `lock`, whenever
//! `storage` changes length. Elements themselves are written by compiled code
//! without the lock, as wasm allows.

use std::any::Any;
use std::cell::UnsafeCell;
use std::sync::{Arc, Mutex};

use w2native_environ::TableType;

use crate::vm::VMTable;

/// The storage of one table.
pub struct TableInner {
    vm: Box<UnsafeCell<VMTable>>,
    storage: UnsafeCell<Vec<usize>>,
    ty: TableType,
    max: u32,
    lock: Mutex<()>,
    /// Instances whose functions were written into this table by someone
    /// other than its owner; kept alive so those funcrefs stay valid.
    keep: Mutex<Vec<Arc<dyn Any + Send + Sync>>>,
}

// SAFETY: length changes happen under `lock`; element races are the guest's.
unsafe impl Send for TableInner {}
// SAFETY: see Send.
unsafe impl Sync for TableInner {}

impl TableInner {
    pub fn new(ty: TableType, init: usize) -> Result<Self, String> {
        if ty.limits.min > u32::MAX as u64 {
            return Err("table size must be at most 2^32-1".into());
        }
        let max = ty
            .limits
            .max
            .unwrap_or(u32::MAX as u64)
            .min(u32::MAX as u64) as u32;
        let mut storage = vec![init; ty.limits.min as usize];
        let vm = VMTable {
            elements: storage.as_mut_ptr(),
            length: storage.len() as u32,
        };
        Ok(TableInner {
            vm: Box::new(UnsafeCell::new(vm)),
            storage: UnsafeCell::new(storage),
            ty,
            max,
            lock: Mutex::new(()),
            keep: Mutex::new(Vec::new()),
        })
    }

    pub fn ty(&self) -> TableType {
        TableType {
            elem: self.ty.elem,
            limits: w2native_environ::Limits {
                min: self.size() as u64,
                max: self.ty.limits.max,
            },
        }
    }

    pub fn vm_ptr(&self) -> *mut VMTable {
        self.vm.get()
    }

    pub fn size(&self) -> u32 {
        // SAFETY: reading the length compiled code also reads.
        unsafe { std::ptr::read_volatile(&(*self.vm.get()).length) }
    }

    fn elements(&self) -> *mut usize {
        // SAFETY: as in `size`.
        unsafe { (*self.vm.get()).elements }
    }

    pub fn get(&self, index: u32) -> Option<usize> {
        if index >= self.size() {
            return None;
        }
        // SAFETY: index < length, so inside `storage`.
        Some(unsafe { *self.elements().add(index as usize) })
    }

    pub fn set(&self, index: u32, value: usize) -> bool {
        if index >= self.size() {
            return false;
        }
        // SAFETY: index < length, so inside `storage`.
        unsafe { *self.elements().add(index as usize) = value };
        true
    }

    /// Grows by `delta` elements set to `init`; returns the old size.
    pub fn grow(&self, delta: u32, init: usize) -> Option<u32> {
        let _g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let old = self.size();
        let new = old.checked_add(delta)?;
        if new > self.max {
            return None;
        }
        // SAFETY: we hold `lock`, so nobody else resizes `storage`; the
        // VMTable is updated to describe the new vector before unlocking.
        unsafe {
            let storage = &mut *self.storage.get();
            if storage.try_reserve(delta as usize).is_err() {
                return None;
            }
            storage.resize(new as usize, init);
            let vm = &mut *self.vm.get();
            vm.elements = storage.as_mut_ptr();
            vm.length = new;
        }
        Some(old)
    }

    /// `table.fill`: bounds checked before any write.
    pub fn fill(&self, dst: u32, value: usize, len: u32) -> bool {
        let size = self.size() as u64;
        if dst as u64 + len as u64 > size {
            return false;
        }
        for i in dst..dst + len {
            self.set(i, value);
        }
        true
    }

    /// `table.init`/instantiation: writes `items` at `dst`, all or nothing.
    pub fn init(&self, dst: u32, items: &[usize]) -> bool {
        if dst as u64 + items.len() as u64 > self.size() as u64 {
            return false;
        }
        for (i, v) in items.iter().enumerate() {
            self.set(dst + i as u32, *v);
        }
        true
    }

    /// `table.copy` between (possibly the same) tables, memmove semantics.
    pub fn copy(dst_t: &TableInner, src_t: &TableInner, dst: u32, src: u32, len: u32) -> bool {
        if src as u64 + len as u64 > src_t.size() as u64
            || dst as u64 + len as u64 > dst_t.size() as u64
        {
            return false;
        }
        // SAFETY: both ranges were checked against their tables' lengths;
        // `ptr::copy` handles overlap within one table.
        unsafe {
            std::ptr::copy(
                src_t.elements().add(src as usize),
                dst_t.elements().add(dst as usize),
                len as usize,
            )
        };
        true
    }

    pub fn keep_alive(&self, owner: Arc<dyn Any + Send + Sync>) {
        let mut keep = self.keep.lock().unwrap_or_else(|e| e.into_inner());
        if !keep.iter().any(|k| Arc::ptr_eq(k, &owner)) {
            keep.push(owner);
        }
    }

    /// Undoes [`keep_alive`](Self::keep_alive) for `owner`.
    pub fn forget_owner(&self, owner: &Arc<dyn Any + Send + Sync>) {
        let mut keep = self.keep.lock().unwrap_or_else(|e| e.into_inner());
        keep.retain(|k| !Arc::ptr_eq(k, owner));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use w2native_environ::{Limits, ValType};

    fn t(min: u64, max: Option<u64>) -> TableInner {
        TableInner::new(
            TableType {
                elem: ValType::FuncRef,
                limits: Limits { min, max },
            },
            0,
        )
        .unwrap()
    }

    #[test]
    fn grow_updates_the_vm_view() {
        let table = t(2, Some(4));
        assert_eq!(table.grow(1, 7), Some(2));
        // SAFETY: reading our own VMTable.
        let vm = unsafe { &*table.vm_ptr() };
        assert_eq!(vm.length, 3);
        // SAFETY: index 2 < length 3.
        assert_eq!(unsafe { *vm.elements.add(2) }, 7);
        assert_eq!(table.grow(2, 0), None);
        assert_eq!(table.grow(1, 0), Some(3));
    }

    #[test]
    fn bulk_ops_are_bounds_checked_before_writing() {
        let table = t(4, None);
        assert!(!table.init(3, &[1, 2]));
        assert_eq!(table.get(3), Some(0));
        assert!(table.init(2, &[1, 2]));
        assert!(TableInner::copy(&table, &table, 0, 2, 2));
        assert_eq!(table.get(0), Some(1));
        assert!(!TableInner::copy(&table, &table, 3, 0, 2));
        assert!(!table.fill(4, 9, 1));
        assert!(table.fill(4, 9, 0));
    }
}
