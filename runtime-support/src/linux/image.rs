//! The image blob `w2native build` links into a Linux image (symbol
//! `w2n_linux_image`, written by `w2native/src/image.rs`): the user
//! program's `dylink.0` numbers and the initramfs.
//!
//! ```text
//! 0   magic "w2nimg01"
//! 8   u32 mem_size     user module's memory size (data+bss+TLS)
//! 12  u32 mem_p2align  its alignment, log2
//! 16  u32 table_size   its table slots
//! 20  u32 reserved
//! 24  u64 initramfs length
//! 32  initramfs (cpio newc, uncompressed)
//! ```

/// What the Runner reads from the blob.
#[derive(Clone, Copy, Debug)]
pub struct Image {
    pub mem_size: u32,
    pub mem_p2align: u32,
    pub table_size: u32,
    pub initramfs: &'static [u8],
}

const MAGIC: &[u8; 8] = b"w2nimg01";

impl Image {
    /// No user program, no initramfs.
    pub const EMPTY: Image = Image {
        mem_size: 0,
        mem_p2align: 0,
        table_size: 0,
        initramfs: &[],
    };

    /// # Safety
    /// `blob` must point at a blob in the format above that lives for the
    /// whole process (static data of the executable).
    pub unsafe fn from_ptr(blob: *const u8) -> Result<Image, String> {
        // SAFETY: the header is 32 bytes of static data (caller).
        let head = unsafe { std::slice::from_raw_parts(blob, 32) };
        if &head[..8] != MAGIC {
            return Err("the image blob has a wrong magic (w2native and runtime mismatch)".into());
        }
        let u32_at = |o: usize| u32::from_le_bytes(head[o..o + 4].try_into().unwrap_or_default());
        let len = u64::from_le_bytes(head[24..32].try_into().unwrap_or_default()) as usize;
        Ok(Image {
            mem_size: u32_at(8),
            mem_p2align: u32_at(12),
            table_size: u32_at(16),
            // SAFETY: the initramfs follows the header (caller).
            initramfs: unsafe { std::slice::from_raw_parts(blob.add(32), len) },
        })
    }
}
