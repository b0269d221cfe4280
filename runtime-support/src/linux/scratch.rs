//! Guest memory of the calling task for passing strings and arrays to the
//! syscalls the Runner makes on its behalf (mounts and links before init's
//! shell, the telnet daemon's exec arguments): an anonymous mapping filled
//! from the start.

use super::kernel::kernel;
use super::process::{is_err, sys};

const NR_MUNMAP: i32 = 215;
const NR_MMAP2: i32 = 222;

pub(crate) struct Scratch {
    pub(crate) base: u32,
    len: u32,
    /// Where the next `put` writes (an offset from `base`).
    pub(crate) at: u32,
}

impl Scratch {
    /// Maps `len` bytes in the calling task; `None` if the kernel refuses.
    pub(crate) fn map(len: u32) -> Option<Scratch> {
        let base = sys(NR_MMAP2, &[0, len as i32, 3, 0x22, -1, 0]);
        (!is_err(base)).then_some(Scratch {
            base: base as u32,
            len,
            at: 0,
        })
    }

    /// Copies `bytes` plus a NUL in; returns its guest address (0 if it
    /// does not fit).
    pub(crate) fn put(&mut self, bytes: &[u8]) -> i32 {
        let addr = self.base + self.at;
        if self.at + bytes.len() as u32 + 1 > self.len
            || !kernel().write(addr, bytes)
            || !kernel().write(addr + bytes.len() as u32, &[0])
        {
            return 0;
        }
        self.at += (bytes.len() as u32 + 4) & !3;
        addr as i32
    }

    /// A NULL-terminated array of pointers to copies of `list`.
    pub(crate) fn put_array(&mut self, list: &[Vec<u8>]) -> i32 {
        let ptrs: Vec<i32> = list.iter().map(|s| self.put(s)).collect();
        let words: Vec<u8> = ptrs
            .iter()
            .chain(&[0])
            .flat_map(|p| p.to_le_bytes())
            .collect();
        let addr = self.base + self.at;
        if self.at + words.len() as u32 > self.len || !kernel().write(addr, &words) {
            return 0;
        }
        self.at += words.len() as u32;
        addr as i32
    }

    /// Starts filling from the beginning again.
    pub(crate) fn reset(&mut self) {
        self.at = 0;
    }

    /// Gives the memory back to the task.
    pub(crate) fn unmap(self) {
        sys(NR_MUNMAP, &[self.base as i32, self.len as i32]);
    }
}
