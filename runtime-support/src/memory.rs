//! Linear memories: one fixed virtual reservation per memory, committed on
//! grow.
//!
//! Every memory reserves [`RESERVATION`] bytes of address space up front
//! (inaccessible), and `memory.grow` only flips pages to read/write. The base
//! therefore never moves, which is what lets compiled code in the default
//! `guard` bounds mode skip all checks: any wasm32 address plus any 32-bit
//! offset lands inside the reservation, and an out-of-bounds access faults in
//! the inaccessible part, where the signal handler turns it into a trap. It
//! also lets several instances (threads) share one memory safely.
//!
//! Unsafe rules of this module: the reservation is owned by [`LinearMemory`]
//! and unmapped only on drop; the committed prefix `[0, length)` is always
//! readable and writable; `length` only grows, under `grow_lock`.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use w2native_environ::MemoryType;

use crate::traphandlers;
use crate::vm::VMMemoryDefinition;

/// Size of a wasm page.
pub const WASM_PAGE: usize = 65536;
/// Largest number of pages of a 32-bit memory.
pub const MAX_PAGES: u64 = 65536;
/// Address space reserved per memory: 4 GiB of addresses plus 4 GiB of
/// static offsets, plus a guard for the width of the widest access.
pub const RESERVATION: usize = (8 << 30) + WASM_PAGE;

/// One linear memory.
pub struct LinearMemory {
    def: Box<UnsafeCell<VMMemoryDefinition>>,
    ty: MemoryType,
    max_pages: u64,
    grow_lock: Mutex<()>,
}

// SAFETY: the definition is only mutated under `grow_lock` (length, with an
// atomic store so concurrent readers see a whole value); the memory contents
// are shared the way wasm threads share them.
unsafe impl Send for LinearMemory {}
// SAFETY: see Send.
unsafe impl Sync for LinearMemory {}

impl LinearMemory {
    pub fn new(ty: MemoryType) -> Result<Self, String> {
        if ty.limits.min > MAX_PAGES {
            return Err("memory size must be at most 65536 pages (4GiB)".into());
        }
        let max_pages = ty.limits.max.unwrap_or(MAX_PAGES).min(MAX_PAGES);
        // SAFETY: an anonymous PROT_NONE mapping at a kernel-chosen address
        // touches no existing memory.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                RESERVATION,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(format!(
                "cannot reserve {} GiB of address space for a linear memory: {}",
                RESERVATION >> 30,
                std::io::Error::last_os_error()
            ));
        }
        let mem = LinearMemory {
            def: Box::new(UnsafeCell::new(VMMemoryDefinition {
                base: base as *mut u8,
                length: 0,
            })),
            ty,
            max_pages,
            grow_lock: Mutex::new(()),
        };
        traphandlers::register_memory(base as usize, RESERVATION);
        if mem.grow(ty.limits.min).is_none() {
            return Err("cannot commit the initial pages of a linear memory".into());
        }
        Ok(mem)
    }

    pub fn ty(&self) -> MemoryType {
        self.ty
    }

    /// The definition compiled code points at (`vmctx.memory_def`).
    pub fn def_ptr(&self) -> *mut VMMemoryDefinition {
        self.def.get()
    }

    pub fn base(&self) -> *mut u8 {
        // SAFETY: base is written once in `new` and never changes.
        unsafe { (*self.def.get()).base }
    }

    /// Current size in bytes.
    pub fn byte_len(&self) -> usize {
        self.length_atomic().load(Ordering::Acquire)
    }

    pub fn pages(&self) -> u64 {
        (self.byte_len() / WASM_PAGE) as u64
    }

    fn length_atomic(&self) -> &AtomicUsize {
        // SAFETY: `length` is a properly aligned usize that lives as long as
        // self; all writers go through this atomic view.
        unsafe { AtomicUsize::from_ptr(std::ptr::addr_of_mut!((*self.def.get()).length)) }
    }

    /// Grows by `delta` pages; returns the old size in pages, or `None` when
    /// the maximum would be exceeded or the OS refuses.
    pub fn grow(&self, delta: u64) -> Option<u64> {
        let _guard = self.grow_lock.lock().unwrap_or_else(|e| e.into_inner());
        let old_len = self.byte_len();
        let old_pages = (old_len / WASM_PAGE) as u64;
        let new_pages = old_pages.checked_add(delta)?;
        if new_pages > self.max_pages {
            return None;
        }
        if delta == 0 {
            return Some(old_pages);
        }
        let new_len = new_pages as usize * WASM_PAGE;
        // SAFETY: [old_len, new_len) lies inside our reservation (new_pages
        // <= 65536 pages = 4 GiB < RESERVATION).
        let rc = unsafe {
            libc::mprotect(
                self.base().add(old_len) as *mut libc::c_void,
                new_len - old_len,
                libc::PROT_READ | libc::PROT_WRITE,
            )
        };
        if rc != 0 {
            return None;
        }
        self.length_atomic().store(new_len, Ordering::Release);
        Some(old_pages)
    }

    /// The committed bytes as a raw slice pointer (for host functions).
    pub fn data_ptr(&self) -> *mut u8 {
        self.base()
    }

    /// Copies `bytes` to `offset`, or returns false if out of bounds.
    pub fn write(&self, offset: u64, bytes: &[u8]) -> bool {
        let len = self.byte_len() as u64;
        match offset.checked_add(bytes.len() as u64) {
            Some(end) if end <= len => {
                // SAFETY: the range is inside the committed prefix.
                unsafe {
                    std::ptr::copy(
                        bytes.as_ptr(),
                        self.base().add(offset as usize),
                        bytes.len(),
                    )
                };
                true
            }
            _ => false,
        }
    }

    /// Reads `len` bytes at `offset`, or `None` if out of bounds.
    pub fn read(&self, offset: u64, len: usize) -> Option<Vec<u8>> {
        let end = offset.checked_add(len as u64)?;
        if end > self.byte_len() as u64 {
            return None;
        }
        let mut out = vec![0u8; len];
        // SAFETY: the range is inside the committed prefix.
        unsafe { std::ptr::copy(self.base().add(offset as usize), out.as_mut_ptr(), len) };
        Some(out)
    }
}

impl Drop for LinearMemory {
    fn drop(&mut self) {
        let base = self.base();
        traphandlers::unregister_memory(base as usize);
        // SAFETY: the reservation was mapped in `new` with this size and no
        // one can use it any more (instances keep their memories alive).
        unsafe { libc::munmap(base as *mut libc::c_void, RESERVATION) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use w2native_environ::Limits;

    fn ty(min: u64, max: Option<u64>) -> MemoryType {
        MemoryType {
            limits: Limits { min, max },
            shared: false,
        }
    }

    #[test]
    fn grow_commits_and_honours_max() {
        let m = LinearMemory::new(ty(1, Some(3))).unwrap();
        assert_eq!(m.pages(), 1);
        let base = m.base();
        assert!(m.write(WASM_PAGE as u64 - 4, &[1, 2, 3, 4]));
        assert!(!m.write(WASM_PAGE as u64 - 3, &[1, 2, 3, 4]));
        assert_eq!(m.grow(1), Some(1));
        assert_eq!(m.base(), base, "base never moves");
        assert!(m.write(2 * WASM_PAGE as u64 - 1, &[9]));
        assert_eq!(m.read(2 * WASM_PAGE as u64 - 1, 1), Some(vec![9]));
        assert_eq!(m.grow(2), None);
        assert_eq!(m.grow(1), Some(2));
        assert_eq!(m.grow(0), Some(3));
        assert_eq!(m.grow(1), None);
    }

    #[test]
    fn zero_sized_and_unbounded() {
        let m = LinearMemory::new(ty(0, None)).unwrap();
        assert_eq!(m.byte_len(), 0);
        assert_eq!(m.read(0, 1), None);
        assert_eq!(m.read(0, 0), Some(vec![]));
        assert_eq!(m.grow(65537), None);
        assert_eq!(m.grow(2), Some(0));
        assert_eq!(m.byte_len(), 2 * WASM_PAGE);
    }

    #[test]
    fn too_large_minimum_is_an_error() {
        assert!(LinearMemory::new(ty(65537, None)).is_err());
    }
}
