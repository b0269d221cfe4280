//! WASI preview1 for command modules, as host functions.
//!
//! Enough of `wasi_snapshot_preview1` (and the identical parts of
//! `wasi_unstable`) for C programs built against wasi-libc: args, environ,
//! clocks, random, file descriptors, a preopened current directory, and
//! `proc_exit`. Every function has the compiled-code calling convention
//! (`extern "C" fn(caller_vmctx, params..) -> errno`) and reaches the
//! caller's memory through the vmctx, so it is linked like any other import.
//!
//! Sandbox: fd 3 is the current directory, preopened as `"."`. Every path is
//! resolved relative to a directory fd with `openat2(RESOLVE_BENEATH)`, so
//! neither `..` nor absolute symlinks can leave it; where the kernel lacks
//! `openat2` a lexical check refuses absolute paths and `..` escapes.
//!
//! The state (arguments, environment, descriptor table) is process-wide:
//! a compiled executable runs one WASI program.
//!
//! Unsafe rules of this module: guest pointers are only dereferenced through
//! [`GuestMem`], which checks every range against the caller's committed
//! memory; host file descriptors are owned by the descriptor table and
//! closed only when removed from it.

use std::ffi::CString;
use std::sync::{Mutex, MutexGuard};

use w2native_environ::{FuncType, ValType};

use crate::instance::{Extern, Func, Imports};
use crate::vm::{memory_len, VMContext};

type Errno = u16;

mod errno {
    use super::Errno;
    pub const SUCCESS: Errno = 0;
    pub const BADF: Errno = 8;
    pub const FAULT: Errno = 21;
    pub const INVAL: Errno = 28;
    pub const IO: Errno = 29;
    pub const NOSYS: Errno = 52;
    pub const NOTSUP: Errno = 58;
    pub const NOTDIR: Errno = 54;
    pub const NOTCAPABLE: Errno = 76;
}

/// Maps a Linux errno to its WASI number.
fn from_linux(e: i32) -> Errno {
    use libc::*;
    (match e {
        E2BIG => 1,
        EACCES => 2,
        EADDRINUSE => 3,
        EADDRNOTAVAIL => 4,
        EAFNOSUPPORT => 5,
        EAGAIN => 6,
        EALREADY => 7,
        EBADF => 8,
        EBADMSG => 9,
        EBUSY => 10,
        ECANCELED => 11,
        ECHILD => 12,
        ECONNABORTED => 13,
        ECONNREFUSED => 14,
        ECONNRESET => 15,
        EDEADLK => 16,
        EDESTADDRREQ => 17,
        EDOM => 18,
        EDQUOT => 19,
        EEXIST => 20,
        EFAULT => 21,
        EFBIG => 22,
        EHOSTUNREACH => 23,
        EIDRM => 24,
        EILSEQ => 25,
        EINPROGRESS => 26,
        EINTR => 27,
        EINVAL => 28,
        EIO => 29,
        EISCONN => 30,
        EISDIR => 31,
        ELOOP => 32,
        EMFILE => 33,
        EMLINK => 34,
        EMSGSIZE => 35,
        EMULTIHOP => 36,
        ENAMETOOLONG => 37,
        ENETDOWN => 38,
        ENETRESET => 39,
        ENETUNREACH => 40,
        ENFILE => 41,
        ENOBUFS => 42,
        ENODEV => 43,
        ENOENT => 44,
        ENOEXEC => 45,
        ENOLCK => 46,
        ENOLINK => 47,
        ENOMEM => 48,
        ENOMSG => 49,
        ENOPROTOOPT => 50,
        ENOSPC => 51,
        ENOSYS => 52,
        ENOTCONN => 53,
        ENOTDIR => 54,
        ENOTEMPTY => 55,
        ENOTRECOVERABLE => 56,
        ENOTSOCK => 57,
        EOPNOTSUPP => 58,
        ENOTTY => 59,
        ENXIO => 60,
        EOVERFLOW => 61,
        EOWNERDEAD => 62,
        EPERM => 63,
        EPIPE => 64,
        EPROTO => 65,
        EPROTONOSUPPORT => 66,
        EPROTOTYPE => 67,
        ERANGE => 68,
        EROFS => 69,
        ESPIPE => 70,
        ESRCH => 71,
        ESTALE => 72,
        ETIMEDOUT => 73,
        ETXTBSY => 74,
        // Escaping the sandbox (openat2 RESOLVE_BENEATH) reports EXDEV.
        EXDEV => 76,
        _ => errno::IO,
    }) as Errno
}

fn last_errno() -> Errno {
    from_linux(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
}

/// Converts a libc return value into a result.
fn check(rc: libc::c_long) -> Result<libc::c_long, Errno> {
    if rc < 0 {
        Err(last_errno())
    } else {
        Ok(rc)
    }
}

// ---------------------------------------------------------------------------
// Guest memory
// ---------------------------------------------------------------------------

/// The caller's linear memory, every access bounds-checked.
struct GuestMem {
    base: *mut u8,
    len: usize,
}

impl GuestMem {
    /// # Safety
    /// `vmctx` must be the live context of the calling instance.
    unsafe fn new(vmctx: *mut VMContext) -> GuestMem {
        // SAFETY: the caller passes its own live vmctx.
        unsafe {
            GuestMem {
                base: (*vmctx).memory_base,
                len: memory_len(vmctx),
            }
        }
    }

    fn range(&self, ptr: u32, len: u32) -> Result<*mut u8, Errno> {
        let end = ptr as u64 + len as u64;
        if end > self.len as u64 {
            return Err(errno::FAULT);
        }
        // SAFETY: inside the committed memory.
        Ok(unsafe { self.base.add(ptr as usize) })
    }

    // Guest memory is not owned by this view: it is shared with the guest,
    // which is suspended while a host function runs.
    #[allow(clippy::mut_from_ref)]
    fn bytes(&self, ptr: u32, len: u32) -> Result<&mut [u8], Errno> {
        let p = self.range(ptr, len)?;
        // SAFETY: checked range of guest memory; the guest is suspended in
        // this call (other wasm threads racing on it is their own business).
        Ok(unsafe { std::slice::from_raw_parts_mut(p, len as usize) })
    }

    fn read_u32(&self, ptr: u32) -> Result<u32, Errno> {
        let b = self.bytes(ptr, 4)?;
        Ok(u32::from_le_bytes(b.try_into().unwrap()))
    }

    fn read_u64(&self, ptr: u32) -> Result<u64, Errno> {
        let b = self.bytes(ptr, 8)?;
        Ok(u64::from_le_bytes(b.try_into().unwrap()))
    }

    fn write_u32(&self, ptr: u32, v: u32) -> Result<(), Errno> {
        self.bytes(ptr, 4)?.copy_from_slice(&v.to_le_bytes());
        Ok(())
    }

    fn write_u64(&self, ptr: u32, v: u64) -> Result<(), Errno> {
        self.bytes(ptr, 8)?.copy_from_slice(&v.to_le_bytes());
        Ok(())
    }

    fn write_u16(&self, ptr: u32, v: u16) -> Result<(), Errno> {
        self.bytes(ptr, 2)?.copy_from_slice(&v.to_le_bytes());
        Ok(())
    }

    fn write_u8(&self, ptr: u32, v: u8) -> Result<(), Errno> {
        self.bytes(ptr, 1)?[0] = v;
        Ok(())
    }

    fn string(&self, ptr: u32, len: u32) -> Result<String, Errno> {
        let b = self.bytes(ptr, len)?;
        String::from_utf8(b.to_vec()).map_err(|_| 25 /* ilseq */)
    }

    /// Host iovecs for a guest iovec array.
    fn iovecs(&self, iovs: u32, count: u32) -> Result<Vec<libc::iovec>, Errno> {
        let mut out = Vec::with_capacity(count as usize);
        for i in 0..count {
            let at = iovs.checked_add(i * 8).ok_or(errno::FAULT)?;
            let buf = self.read_u32(at)?;
            let len = self.read_u32(at + 4)?;
            let p = self.range(buf, len)?;
            out.push(libc::iovec {
                iov_base: p as *mut libc::c_void,
                iov_len: len as usize,
            });
        }
        Ok(out)
    }
}

// ---------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Stdio,
    File,
    Dir,
}

struct FdEntry {
    host: i32,
    kind: Kind,
    /// Name of a preopened directory.
    preopen: Option<String>,
}

impl Drop for FdEntry {
    fn drop(&mut self) {
        if self.kind != Kind::Stdio {
            // SAFETY: the table owns this descriptor.
            unsafe { libc::close(self.host) };
        }
    }
}

/// Arguments, environment and descriptors of the WASI program.
pub struct WasiCtx {
    args: Vec<Vec<u8>>,
    env: Vec<Vec<u8>>,
    fds: Vec<Option<FdEntry>>,
}

static CTX: Mutex<Option<WasiCtx>> = Mutex::new(None);

impl WasiCtx {
    /// A context with the host's stdio as fds 0-2 and `preopen_dir`
    /// preopened as fd 3 under the name `"."`.
    pub fn new(args: Vec<Vec<u8>>, env: Vec<Vec<u8>>, preopen_dir: &str) -> WasiCtx {
        let mut fds: Vec<Option<FdEntry>> = (0..3)
            .map(|i| {
                Some(FdEntry {
                    host: i,
                    kind: Kind::Stdio,
                    preopen: None,
                })
            })
            .collect();
        let dir = CString::new(preopen_dir).unwrap_or_else(|_| c".".into());
        // SAFETY: plain open of a directory; the table owns the result.
        let host = unsafe {
            libc::open(
                dir.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if host >= 0 {
            fds.push(Some(FdEntry {
                host,
                kind: Kind::Dir,
                preopen: Some(".".into()),
            }));
        }
        WasiCtx { args, env, fds }
    }

    fn entry(&self, fd: i32) -> Result<&FdEntry, Errno> {
        self.fds
            .get(fd as u32 as usize)
            .and_then(|e| e.as_ref())
            .ok_or(errno::BADF)
    }

    fn host(&self, fd: i32) -> Result<i32, Errno> {
        self.entry(fd).map(|e| e.host)
    }

    fn dir(&self, fd: i32) -> Result<i32, Errno> {
        let e = self.entry(fd)?;
        if e.kind != Kind::Dir {
            return Err(errno::NOTDIR);
        }
        Ok(e.host)
    }

    fn insert(&mut self, entry: FdEntry) -> u32 {
        if let Some(i) = self.fds.iter().skip(3).position(|e| e.is_none()) {
            self.fds[i + 3] = Some(entry);
            (i + 3) as u32
        } else {
            self.fds.push(Some(entry));
            (self.fds.len() - 1) as u32
        }
    }
}

/// Installs the process-wide WASI state.
pub fn init(ctx: WasiCtx) {
    *CTX.lock().unwrap_or_else(|e| e.into_inner()) = Some(ctx);
}

fn ctx() -> MutexGuard<'static, Option<WasiCtx>> {
    let mut g = CTX.lock().unwrap_or_else(|e| e.into_inner());
    if g.is_none() {
        *g = Some(WasiCtx::new(Vec::new(), Vec::new(), "."));
    }
    g
}

/// Runs `f` with the state and the caller's memory; maps the result to an errno.
fn with(
    vmctx: *mut VMContext,
    f: impl FnOnce(&mut WasiCtx, &GuestMem) -> Result<(), Errno>,
) -> i32 {
    // SAFETY: host functions are called by compiled code with its vmctx.
    let mem = unsafe { GuestMem::new(vmctx) };
    let mut g = ctx();
    let c = g.as_mut().expect("initialised by ctx()");
    match f(c, &mem) {
        Ok(()) => errno::SUCCESS as i32,
        Err(e) => e as i32,
    }
}

// ---------------------------------------------------------------------------
// Paths
// ---------------------------------------------------------------------------

/// Lexically checks that `path` stays beneath its directory.
fn check_beneath(path: &str) -> Result<(), Errno> {
    if path.starts_with('/') {
        return Err(errno::NOTCAPABLE);
    }
    let mut depth = 0i32;
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                depth -= 1;
                if depth < 0 {
                    return Err(errno::NOTCAPABLE);
                }
            }
            _ => depth += 1,
        }
    }
    Ok(())
}

/// `openat` confined beneath `dirfd`.
fn open_beneath(dirfd: i32, path: &str, flags: i32, mode: u32) -> Result<i32, Errno> {
    check_beneath(path)?;
    let path = if path.is_empty() { "." } else { path };
    let c = CString::new(path).map_err(|_| errno::INVAL)?;
    // SAFETY: open_how is plain data; zero is valid for every field.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (flags | libc::O_CLOEXEC) as u64;
    // O_TMPFILE includes the O_DIRECTORY bit: test it as a whole.
    if flags & libc::O_CREAT != 0 || flags & libc::O_TMPFILE == libc::O_TMPFILE {
        how.mode = mode as u64;
    }
    how.resolve = libc::RESOLVE_BENEATH;
    // SAFETY: openat2 with a valid path and open_how.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dirfd,
            c.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    if rc >= 0 {
        return Ok(rc as i32);
    }
    let err = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
    if err != libc::ENOSYS && err != libc::EPERM {
        return Err(from_linux(err));
    }
    // SAFETY: plain openat; the lexical check above confines the path.
    check(unsafe { libc::openat(dirfd, c.as_ptr(), flags | libc::O_CLOEXEC, mode) } as _)
        .map(|fd| fd as i32)
}

/// A path split into its confined parent directory and last component, for
/// the `*at` calls that act on a name (unlink, mkdir, rename, stat).
struct Parent {
    fd: i32,
    name: CString,
}

impl Drop for Parent {
    fn drop(&mut self) {
        // SAFETY: opened by `parent_of`, owned here.
        unsafe { libc::close(self.fd) };
    }
}

fn parent_of(dirfd: i32, path: &str) -> Result<Parent, Errno> {
    check_beneath(path)?;
    let trimmed = path.trim_end_matches('/');
    let (dir, name) = match trimmed.rfind('/') {
        Some(i) => (&trimmed[..i], &trimmed[i + 1..]),
        None => (".", trimmed),
    };
    let name = if name.is_empty() { "." } else { name };
    if name == ".." {
        return Err(errno::NOTCAPABLE);
    }
    let fd = open_beneath(dirfd, dir, libc::O_PATH | libc::O_DIRECTORY, 0)?;
    Ok(Parent {
        fd,
        name: CString::new(name).map_err(|_| errno::INVAL)?,
    })
}

fn filetype(mode: u32) -> u8 {
    match mode & libc::S_IFMT {
        libc::S_IFBLK => 1,
        libc::S_IFCHR => 2,
        libc::S_IFDIR => 3,
        libc::S_IFREG => 4,
        libc::S_IFSOCK => 6,
        libc::S_IFLNK => 7,
        _ => 0,
    }
}

fn write_filestat(mem: &GuestMem, ptr: u32, st: &libc::stat) -> Result<(), Errno> {
    let ns = |s: i64, n: i64| {
        (s as u64)
            .wrapping_mul(1_000_000_000)
            .wrapping_add(n as u64)
    };
    mem.bytes(ptr, 64)?.fill(0);
    mem.write_u64(ptr, st.st_dev)?;
    mem.write_u64(ptr + 8, st.st_ino)?;
    mem.write_u8(ptr + 16, filetype(st.st_mode))?;
    // nlink_t is 32-bit on some targets.
    #[allow(clippy::unnecessary_cast)]
    mem.write_u64(ptr + 24, st.st_nlink as u64)?;
    mem.write_u64(ptr + 32, st.st_size as u64)?;
    mem.write_u64(ptr + 40, ns(st.st_atime, st.st_atime_nsec))?;
    mem.write_u64(ptr + 48, ns(st.st_mtime, st.st_mtime_nsec))?;
    mem.write_u64(ptr + 56, ns(st.st_ctime, st.st_ctime_nsec))?;
    Ok(())
}

fn fstat(fd: i32) -> Result<libc::stat, Errno> {
    // SAFETY: fstat fills a zeroed struct.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        check(libc::fstat(fd, &mut st) as _)?;
        Ok(st)
    }
}

// ---------------------------------------------------------------------------
// The functions
// ---------------------------------------------------------------------------

fn write_strings(mem: &GuestMem, strings: &[Vec<u8>], ptrs: u32, buf: u32) -> Result<(), Errno> {
    let mut at = buf;
    for (i, s) in strings.iter().enumerate() {
        mem.write_u32(ptrs + 4 * i as u32, at)?;
        let dst = mem.bytes(at, s.len() as u32 + 1)?;
        dst[..s.len()].copy_from_slice(s);
        dst[s.len()] = 0;
        at += s.len() as u32 + 1;
    }
    Ok(())
}

fn write_sizes(mem: &GuestMem, strings: &[Vec<u8>], count: u32, size: u32) -> Result<(), Errno> {
    mem.write_u32(count, strings.len() as u32)?;
    mem.write_u32(size, strings.iter().map(|s| s.len() as u32 + 1).sum())
}

unsafe extern "C" fn args_get(vmctx: *mut VMContext, argv: i32, buf: i32) -> i32 {
    with(vmctx, |c, m| {
        write_strings(m, &c.args, argv as u32, buf as u32)
    })
}

unsafe extern "C" fn args_sizes_get(vmctx: *mut VMContext, count: i32, size: i32) -> i32 {
    with(vmctx, |c, m| {
        write_sizes(m, &c.args, count as u32, size as u32)
    })
}

unsafe extern "C" fn environ_get(vmctx: *mut VMContext, envp: i32, buf: i32) -> i32 {
    with(vmctx, |c, m| {
        write_strings(m, &c.env, envp as u32, buf as u32)
    })
}

unsafe extern "C" fn environ_sizes_get(vmctx: *mut VMContext, count: i32, size: i32) -> i32 {
    with(vmctx, |c, m| {
        write_sizes(m, &c.env, count as u32, size as u32)
    })
}

fn clock_id(id: i32) -> Result<libc::clockid_t, Errno> {
    Ok(match id {
        0 => libc::CLOCK_REALTIME,
        1 => libc::CLOCK_MONOTONIC,
        2 => libc::CLOCK_PROCESS_CPUTIME_ID,
        3 => libc::CLOCK_THREAD_CPUTIME_ID,
        _ => return Err(errno::INVAL),
    })
}

fn clock_now(id: libc::clockid_t) -> Result<u64, Errno> {
    // SAFETY: clock_gettime fills a zeroed timespec.
    unsafe {
        let mut ts: libc::timespec = std::mem::zeroed();
        check(libc::clock_gettime(id, &mut ts) as _)?;
        Ok(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
    }
}

unsafe extern "C" fn clock_res_get(vmctx: *mut VMContext, id: i32, res: i32) -> i32 {
    with(vmctx, |_, m| {
        let id = clock_id(id)?;
        // SAFETY: clock_getres fills a zeroed timespec.
        let ns = unsafe {
            let mut ts: libc::timespec = std::mem::zeroed();
            check(libc::clock_getres(id, &mut ts) as _)?;
            ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
        };
        m.write_u64(res as u32, ns)
    })
}

unsafe extern "C" fn clock_time_get(
    vmctx: *mut VMContext,
    id: i32,
    _precision: i64,
    out: i32,
) -> i32 {
    with(vmctx, |_, m| {
        m.write_u64(out as u32, clock_now(clock_id(id)?)?)
    })
}

unsafe extern "C" fn random_get(vmctx: *mut VMContext, buf: i32, len: i32) -> i32 {
    with(vmctx, |_, m| {
        let b = m.bytes(buf as u32, len as u32)?;
        let mut done = 0;
        while done < b.len() {
            // SAFETY: writes into the checked guest range.
            let n = unsafe {
                libc::getrandom(
                    b[done..].as_mut_ptr() as *mut libc::c_void,
                    b.len() - done,
                    0,
                )
            };
            if n < 0 {
                if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                    continue;
                }
                return Err(last_errno());
            }
            done += n as usize;
        }
        Ok(())
    })
}

unsafe extern "C" fn fd_write(vmctx: *mut VMContext, fd: i32, iovs: i32, n: i32, out: i32) -> i32 {
    with(vmctx, |c, m| {
        let host = c.host(fd)?;
        let v = m.iovecs(iovs as u32, n as u32)?;
        // SAFETY: iovecs point into checked guest memory.
        let rc = check(unsafe { libc::writev(host, v.as_ptr(), v.len() as i32) } as _)?;
        m.write_u32(out as u32, rc as u32)
    })
}

unsafe extern "C" fn fd_read(vmctx: *mut VMContext, fd: i32, iovs: i32, n: i32, out: i32) -> i32 {
    with(vmctx, |c, m| {
        let host = c.host(fd)?;
        let v = m.iovecs(iovs as u32, n as u32)?;
        // SAFETY: iovecs point into checked guest memory.
        let rc = check(unsafe { libc::readv(host, v.as_ptr(), v.len() as i32) } as _)?;
        m.write_u32(out as u32, rc as u32)
    })
}

unsafe extern "C" fn fd_pread(
    vmctx: *mut VMContext,
    fd: i32,
    iovs: i32,
    n: i32,
    offset: i64,
    out: i32,
) -> i32 {
    with(vmctx, |c, m| {
        let host = c.host(fd)?;
        let v = m.iovecs(iovs as u32, n as u32)?;
        // SAFETY: iovecs point into checked guest memory.
        let rc = check(unsafe { libc::preadv(host, v.as_ptr(), v.len() as i32, offset) } as _)?;
        m.write_u32(out as u32, rc as u32)
    })
}

unsafe extern "C" fn fd_pwrite(
    vmctx: *mut VMContext,
    fd: i32,
    iovs: i32,
    n: i32,
    offset: i64,
    out: i32,
) -> i32 {
    with(vmctx, |c, m| {
        let host = c.host(fd)?;
        let v = m.iovecs(iovs as u32, n as u32)?;
        // SAFETY: iovecs point into checked guest memory.
        let rc = check(unsafe { libc::pwritev(host, v.as_ptr(), v.len() as i32, offset) } as _)?;
        m.write_u32(out as u32, rc as u32)
    })
}

unsafe extern "C" fn fd_seek(
    vmctx: *mut VMContext,
    fd: i32,
    offset: i64,
    whence: i32,
    out: i32,
) -> i32 {
    with(vmctx, |c, m| {
        let e = c.entry(fd)?;
        if e.kind == Kind::Dir {
            return Err(errno::BADF);
        }
        let whence = match whence {
            0 => libc::SEEK_SET,
            1 => libc::SEEK_CUR,
            2 => libc::SEEK_END,
            _ => return Err(errno::INVAL),
        };
        // SAFETY: lseek on a descriptor we own.
        let pos = check(unsafe { libc::lseek(e.host, offset, whence) } as _)?;
        m.write_u64(out as u32, pos as u64)
    })
}

unsafe extern "C" fn fd_tell(vmctx: *mut VMContext, fd: i32, out: i32) -> i32 {
    with(vmctx, |c, m| {
        let host = c.host(fd)?;
        // SAFETY: lseek on a descriptor we own.
        let pos = check(unsafe { libc::lseek(host, 0, libc::SEEK_CUR) } as _)?;
        m.write_u64(out as u32, pos as u64)
    })
}

unsafe extern "C" fn fd_close(vmctx: *mut VMContext, fd: i32) -> i32 {
    with(vmctx, |c, _| {
        c.entry(fd)?;
        if c.entry(fd)?.preopen.is_some() {
            return Err(errno::NOTSUP);
        }
        c.fds[fd as usize] = None;
        Ok(())
    })
}

unsafe extern "C" fn fd_sync(vmctx: *mut VMContext, fd: i32) -> i32 {
    with(vmctx, |c, _| {
        let host = c.host(fd)?;
        // SAFETY: fsync on a descriptor we own.
        check(unsafe { libc::fsync(host) } as _).map(drop)
    })
}

unsafe extern "C" fn fd_datasync(vmctx: *mut VMContext, fd: i32) -> i32 {
    with(vmctx, |c, _| {
        let host = c.host(fd)?;
        // SAFETY: fdatasync on a descriptor we own.
        check(unsafe { libc::fdatasync(host) } as _).map(drop)
    })
}

/// All rights: this runtime sandboxes by directory, not by rights.
const ALL_RIGHTS: u64 = (1 << 30) - 1;

unsafe extern "C" fn fd_fdstat_get(vmctx: *mut VMContext, fd: i32, out: i32) -> i32 {
    with(vmctx, |c, m| {
        let host = c.host(fd)?;
        let st = fstat(host)?;
        // SAFETY: F_GETFL on a descriptor we own.
        let fl = check(unsafe { libc::fcntl(host, libc::F_GETFL) } as _)? as i32;
        let mut flags = 0u16;
        if fl & libc::O_APPEND != 0 {
            flags |= 1;
        }
        if fl & libc::O_DSYNC != 0 {
            flags |= 2;
        }
        if fl & libc::O_NONBLOCK != 0 {
            flags |= 4;
        }
        if fl & libc::O_SYNC == libc::O_SYNC {
            flags |= 16;
        }
        let out = out as u32;
        let ty = filetype(st.st_mode);
        // wasi-libc's isatty() wants a character device without the seek
        // and tell rights; keeping them would make every terminal look like
        // a file (and stdout fully buffered).
        let rights = if ty == 2 {
            ALL_RIGHTS & !((1 << 2) | (1 << 5))
        } else {
            ALL_RIGHTS
        };
        m.bytes(out, 24)?.fill(0);
        m.write_u8(out, ty)?;
        m.write_u16(out + 2, flags)?;
        m.write_u64(out + 8, rights)?;
        m.write_u64(out + 16, rights)
    })
}

unsafe extern "C" fn fd_fdstat_set_flags(vmctx: *mut VMContext, fd: i32, flags: i32) -> i32 {
    with(vmctx, |c, _| {
        let host = c.host(fd)?;
        let mut fl = 0;
        if flags & 1 != 0 {
            fl |= libc::O_APPEND;
        }
        if flags & 4 != 0 {
            fl |= libc::O_NONBLOCK;
        }
        // SAFETY: F_SETFL on a descriptor we own.
        check(unsafe { libc::fcntl(host, libc::F_SETFL, fl) } as _).map(drop)
    })
}

unsafe extern "C" fn fd_fdstat_set_rights(vmctx: *mut VMContext, fd: i32, _b: i64, _i: i64) -> i32 {
    with(vmctx, |c, _| c.host(fd).map(drop))
}

unsafe extern "C" fn fd_filestat_get(vmctx: *mut VMContext, fd: i32, out: i32) -> i32 {
    with(vmctx, |c, m| {
        let st = fstat(c.host(fd)?)?;
        write_filestat(m, out as u32, &st)
    })
}

unsafe extern "C" fn fd_filestat_set_size(vmctx: *mut VMContext, fd: i32, size: i64) -> i32 {
    with(vmctx, |c, _| {
        let host = c.host(fd)?;
        // SAFETY: ftruncate on a descriptor we own.
        check(unsafe { libc::ftruncate(host, size) } as _).map(drop)
    })
}

fn timespecs(atim: i64, mtim: i64, flags: i32) -> [libc::timespec; 2] {
    let t = |set: i32, now: i32, v: i64| {
        if flags & now != 0 {
            libc::timespec {
                tv_sec: 0,
                tv_nsec: libc::UTIME_NOW,
            }
        } else if flags & set != 0 {
            libc::timespec {
                tv_sec: (v as u64 / 1_000_000_000) as libc::time_t,
                tv_nsec: (v as u64 % 1_000_000_000) as libc::c_long,
            }
        } else {
            libc::timespec {
                tv_sec: 0,
                tv_nsec: libc::UTIME_OMIT,
            }
        }
    };
    [t(1, 2, atim), t(4, 8, mtim)]
}

unsafe extern "C" fn fd_filestat_set_times(
    vmctx: *mut VMContext,
    fd: i32,
    atim: i64,
    mtim: i64,
    flags: i32,
) -> i32 {
    with(vmctx, |c, _| {
        let host = c.host(fd)?;
        let ts = timespecs(atim, mtim, flags);
        // SAFETY: futimens on a descriptor we own.
        check(unsafe { libc::futimens(host, ts.as_ptr()) } as _).map(drop)
    })
}

unsafe extern "C" fn fd_advise(vmctx: *mut VMContext, fd: i32, _o: i64, _l: i64, _a: i32) -> i32 {
    with(vmctx, |c, _| c.host(fd).map(drop))
}

unsafe extern "C" fn fd_allocate(vmctx: *mut VMContext, fd: i32, offset: i64, len: i64) -> i32 {
    with(vmctx, |c, _| {
        let host = c.host(fd)?;
        // SAFETY: posix_fallocate on a descriptor we own.
        match unsafe { libc::posix_fallocate(host, offset, len) } {
            0 => Ok(()),
            e => Err(from_linux(e)),
        }
    })
}

unsafe extern "C" fn fd_renumber(vmctx: *mut VMContext, from: i32, to: i32) -> i32 {
    with(vmctx, |c, _| {
        c.entry(from)?;
        c.entry(to)?;
        if c.entry(to)?.preopen.is_some() {
            return Err(errno::NOTSUP);
        }
        let e = c.fds[from as usize].take();
        c.fds[to as usize] = e;
        Ok(())
    })
}

unsafe extern "C" fn fd_prestat_get(vmctx: *mut VMContext, fd: i32, out: i32) -> i32 {
    with(vmctx, |c, m| {
        let name = c.entry(fd)?.preopen.as_ref().ok_or(errno::BADF)?;
        m.write_u32(out as u32, 0)?;
        m.write_u32(out as u32 + 4, name.len() as u32)
    })
}

unsafe extern "C" fn fd_prestat_dir_name(
    vmctx: *mut VMContext,
    fd: i32,
    path: i32,
    len: i32,
) -> i32 {
    with(vmctx, |c, m| {
        let name = c.entry(fd)?.preopen.as_ref().ok_or(errno::BADF)?;
        if (len as u32 as usize) < name.len() {
            return Err(errno::INVAL);
        }
        m.bytes(path as u32, name.len() as u32)?
            .copy_from_slice(name.as_bytes());
        Ok(())
    })
}

/// Reads every entry of directory `host` (including `.` and `..`).
fn read_dir_entries(host: i32) -> Result<Vec<(Vec<u8>, u64, u8)>, Errno> {
    // SAFETY: a fresh descriptor for the same directory, handed to
    // fdopendir which owns it until closedir.
    unsafe {
        let fd = check(libc::openat(
            host,
            c".".as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        ) as _)? as i32;
        let dir = libc::fdopendir(fd);
        if dir.is_null() {
            let e = last_errno();
            libc::close(fd);
            return Err(e);
        }
        let mut out = Vec::new();
        loop {
            let ent = libc::readdir64(dir);
            if ent.is_null() {
                break;
            }
            let name = std::ffi::CStr::from_ptr((*ent).d_name.as_ptr())
                .to_bytes()
                .to_vec();
            let ty = match (*ent).d_type {
                libc::DT_BLK => 1,
                libc::DT_CHR => 2,
                libc::DT_DIR => 3,
                libc::DT_REG => 4,
                libc::DT_SOCK => 6,
                libc::DT_LNK => 7,
                _ => 0,
            };
            out.push((name, (*ent).d_ino, ty));
        }
        libc::closedir(dir);
        out.sort();
        Ok(out)
    }
}

unsafe extern "C" fn fd_readdir(
    vmctx: *mut VMContext,
    fd: i32,
    buf: i32,
    len: i32,
    cookie: i64,
    out: i32,
) -> i32 {
    with(vmctx, |c, m| {
        let host = c.dir(fd)?;
        let entries = read_dir_entries(host)?;
        let dst = m.bytes(buf as u32, len as u32)?;
        let mut used = 0usize;
        for (i, (name, ino, ty)) in entries.iter().enumerate().skip(cookie as u64 as usize) {
            let mut ent = [0u8; 24];
            ent[0..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
            ent[8..16].copy_from_slice(&ino.to_le_bytes());
            ent[16..20].copy_from_slice(&(name.len() as u32).to_le_bytes());
            ent[20] = *ty;
            for chunk in [&ent[..], &name[..]] {
                let n = chunk.len().min(dst.len() - used);
                dst[used..used + n].copy_from_slice(&chunk[..n]);
                used += n;
            }
            if used == dst.len() {
                break;
            }
        }
        m.write_u32(out as u32, used as u32)
    })
}

unsafe extern "C" fn path_open(
    vmctx: *mut VMContext,
    dirfd: i32,
    dirflags: i32,
    path: i32,
    path_len: i32,
    oflags: i32,
    rights: i64,
    _inheriting: i64,
    fdflags: i32,
    out: i32,
) -> i32 {
    with(vmctx, |c, m| {
        let dir = c.dir(dirfd)?;
        let path = m.string(path as u32, path_len as u32)?;
        let rights = rights as u64;
        const READ: u64 = (1 << 1) | (1 << 14);
        const WRITE: u64 = (1 << 6) | (1 << 8) | (1 << 22);
        let mut flags = if oflags & 2 != 0 {
            libc::O_RDONLY | libc::O_DIRECTORY
        } else {
            match (rights & READ != 0, rights & WRITE != 0) {
                (_, false) => libc::O_RDONLY,
                (false, true) => libc::O_WRONLY,
                (true, true) => libc::O_RDWR,
            }
        };
        if oflags & 1 != 0 {
            flags |= libc::O_CREAT;
        }
        if oflags & 4 != 0 {
            flags |= libc::O_EXCL;
        }
        if oflags & 8 != 0 {
            flags |= libc::O_TRUNC;
        }
        if fdflags & 1 != 0 {
            flags |= libc::O_APPEND;
        }
        if fdflags & 2 != 0 {
            flags |= libc::O_DSYNC;
        }
        if fdflags & 4 != 0 {
            flags |= libc::O_NONBLOCK;
        }
        if fdflags & 16 != 0 {
            flags |= libc::O_SYNC;
        }
        if dirflags & 1 == 0 {
            flags |= libc::O_NOFOLLOW;
        }
        let host = open_beneath(dir, &path, flags, 0o666)?;
        let kind = if filetype(fstat(host)?.st_mode) == 3 {
            Kind::Dir
        } else {
            Kind::File
        };
        let fd = c.insert(FdEntry {
            host,
            kind,
            preopen: None,
        });
        m.write_u32(out as u32, fd)
    })
}

unsafe extern "C" fn path_filestat_get(
    vmctx: *mut VMContext,
    dirfd: i32,
    flags: i32,
    path: i32,
    path_len: i32,
    out: i32,
) -> i32 {
    with(vmctx, |c, m| {
        let dir = c.dir(dirfd)?;
        let path = m.string(path as u32, path_len as u32)?;
        let p = parent_of(dir, &path)?;
        let at = if flags & 1 != 0 {
            0
        } else {
            libc::AT_SYMLINK_NOFOLLOW
        };
        // SAFETY: fstatat fills a zeroed struct.
        let st = unsafe {
            let mut st: libc::stat = std::mem::zeroed();
            check(libc::fstatat(p.fd, p.name.as_ptr(), &mut st, at) as _)?;
            st
        };
        write_filestat(m, out as u32, &st)
    })
}

unsafe extern "C" fn path_filestat_set_times(
    vmctx: *mut VMContext,
    dirfd: i32,
    flags: i32,
    path: i32,
    path_len: i32,
    atim: i64,
    mtim: i64,
    fst: i32,
) -> i32 {
    with(vmctx, |c, m| {
        let dir = c.dir(dirfd)?;
        let path = m.string(path as u32, path_len as u32)?;
        let p = parent_of(dir, &path)?;
        let ts = timespecs(atim, mtim, fst);
        let at = if flags & 1 != 0 {
            0
        } else {
            libc::AT_SYMLINK_NOFOLLOW
        };
        // SAFETY: utimensat on a confined parent and name.
        check(unsafe { libc::utimensat(p.fd, p.name.as_ptr(), ts.as_ptr(), at) } as _).map(drop)
    })
}

unsafe extern "C" fn path_unlink_file(
    vmctx: *mut VMContext,
    dirfd: i32,
    path: i32,
    len: i32,
) -> i32 {
    with(vmctx, |c, m| {
        let dir = c.dir(dirfd)?;
        let p = parent_of(dir, &m.string(path as u32, len as u32)?)?;
        // SAFETY: unlinkat on a confined parent and name.
        check(unsafe { libc::unlinkat(p.fd, p.name.as_ptr(), 0) } as _).map(drop)
    })
}

unsafe extern "C" fn path_remove_directory(
    vmctx: *mut VMContext,
    dirfd: i32,
    path: i32,
    len: i32,
) -> i32 {
    with(vmctx, |c, m| {
        let dir = c.dir(dirfd)?;
        let p = parent_of(dir, &m.string(path as u32, len as u32)?)?;
        // SAFETY: unlinkat on a confined parent and name.
        check(unsafe { libc::unlinkat(p.fd, p.name.as_ptr(), libc::AT_REMOVEDIR) } as _).map(drop)
    })
}

unsafe extern "C" fn path_create_directory(
    vmctx: *mut VMContext,
    dirfd: i32,
    path: i32,
    len: i32,
) -> i32 {
    with(vmctx, |c, m| {
        let dir = c.dir(dirfd)?;
        let p = parent_of(dir, &m.string(path as u32, len as u32)?)?;
        // SAFETY: mkdirat on a confined parent and name.
        check(unsafe { libc::mkdirat(p.fd, p.name.as_ptr(), 0o777) } as _).map(drop)
    })
}

unsafe extern "C" fn path_rename(
    vmctx: *mut VMContext,
    old_fd: i32,
    old_path: i32,
    old_len: i32,
    new_fd: i32,
    new_path: i32,
    new_len: i32,
) -> i32 {
    with(vmctx, |c, m| {
        let old = parent_of(c.dir(old_fd)?, &m.string(old_path as u32, old_len as u32)?)?;
        let new = parent_of(c.dir(new_fd)?, &m.string(new_path as u32, new_len as u32)?)?;
        // SAFETY: renameat between confined parents.
        check(unsafe { libc::renameat(old.fd, old.name.as_ptr(), new.fd, new.name.as_ptr()) } as _)
            .map(drop)
    })
}

unsafe extern "C" fn path_symlink(
    vmctx: *mut VMContext,
    old_path: i32,
    old_len: i32,
    dirfd: i32,
    new_path: i32,
    new_len: i32,
) -> i32 {
    with(vmctx, |c, m| {
        let target = m.string(old_path as u32, old_len as u32)?;
        // A link pointing outside would be refused on use anyway; refuse early.
        check_beneath(&target)?;
        let target = CString::new(target).map_err(|_| errno::INVAL)?;
        let p = parent_of(c.dir(dirfd)?, &m.string(new_path as u32, new_len as u32)?)?;
        // SAFETY: symlinkat into a confined parent.
        check(unsafe { libc::symlinkat(target.as_ptr(), p.fd, p.name.as_ptr()) } as _).map(drop)
    })
}

unsafe extern "C" fn path_readlink(
    vmctx: *mut VMContext,
    dirfd: i32,
    path: i32,
    len: i32,
    buf: i32,
    buf_len: i32,
    out: i32,
) -> i32 {
    with(vmctx, |c, m| {
        let p = parent_of(c.dir(dirfd)?, &m.string(path as u32, len as u32)?)?;
        let dst = m.bytes(buf as u32, buf_len as u32)?;
        // SAFETY: readlinkat into a checked guest buffer.
        let n = check(unsafe {
            libc::readlinkat(
                p.fd,
                p.name.as_ptr(),
                dst.as_mut_ptr() as *mut libc::c_char,
                dst.len(),
            )
        } as _)?;
        m.write_u32(out as u32, n as u32)
    })
}

unsafe extern "C" fn path_link(
    vmctx: *mut VMContext,
    old_fd: i32,
    _flags: i32,
    old_path: i32,
    old_len: i32,
    new_fd: i32,
    new_path: i32,
    new_len: i32,
) -> i32 {
    with(vmctx, |c, m| {
        let old = parent_of(c.dir(old_fd)?, &m.string(old_path as u32, old_len as u32)?)?;
        let new = parent_of(c.dir(new_fd)?, &m.string(new_path as u32, new_len as u32)?)?;
        // SAFETY: linkat between confined parents.
        check(unsafe { libc::linkat(old.fd, old.name.as_ptr(), new.fd, new.name.as_ptr(), 0) } as _)
            .map(drop)
    })
}

unsafe extern "C" fn poll_oneoff(
    vmctx: *mut VMContext,
    subs: i32,
    events: i32,
    n: i32,
    out: i32,
) -> i32 {
    with(vmctx, |c, m| {
        let (subs, events, n) = (subs as u32, events as u32, n as u32);
        if n == 0 {
            return Err(errno::INVAL);
        }
        struct Sub {
            userdata: u64,
            tag: u8,
            fd_or_deadline: u64,
        }
        let now = clock_now(libc::CLOCK_MONOTONIC)?;
        let mut list = Vec::new();
        let mut pollfds = Vec::new();
        for i in 0..n {
            let s = subs + i * 48;
            let userdata = m.read_u64(s)?;
            let tag = m.bytes(s + 8, 1)?[0];
            match tag {
                0 => {
                    let id = m.read_u32(s + 16)? as i32;
                    let timeout = m.read_u64(s + 24)?;
                    let flags = m.bytes(s + 40, 2)?[0];
                    let deadline = if flags & 1 != 0 {
                        // Absolute: convert to our monotonic timeline.
                        let clock_now_v = clock_now(clock_id(id)?)?;
                        now + timeout.saturating_sub(clock_now_v)
                    } else {
                        now.saturating_add(timeout)
                    };
                    list.push(Sub {
                        userdata,
                        tag,
                        fd_or_deadline: deadline,
                    });
                }
                1 | 2 => {
                    let fd = m.read_u32(s + 16)? as i32;
                    let host = c.host(fd)?;
                    pollfds.push(libc::pollfd {
                        fd: host,
                        events: if tag == 1 {
                            libc::POLLIN
                        } else {
                            libc::POLLOUT
                        },
                        revents: 0,
                    });
                    list.push(Sub {
                        userdata,
                        tag,
                        fd_or_deadline: (pollfds.len() - 1) as u64,
                    });
                }
                _ => return Err(errno::INVAL),
            }
        }
        let earliest = list
            .iter()
            .filter(|s| s.tag == 0)
            .map(|s| s.fd_or_deadline)
            .min();
        loop {
            let now = clock_now(libc::CLOCK_MONOTONIC)?;
            let timeout_ms: i32 = match earliest {
                Some(d) if d <= now => 0,
                Some(d) => ((d - now).div_ceil(1_000_000)).min(i32::MAX as u64) as i32,
                None => -1,
            };
            let ready = if pollfds.is_empty() {
                if timeout_ms > 0 {
                    let d = earliest.unwrap_or(now) - now;
                    std::thread::sleep(std::time::Duration::from_nanos(d));
                }
                0
            } else {
                // SAFETY: poll on our own pollfd array.
                let r = unsafe { libc::poll(pollfds.as_mut_ptr(), pollfds.len() as _, timeout_ms) };
                if r < 0 {
                    if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                        continue;
                    }
                    return Err(last_errno());
                }
                r
            };
            let now = clock_now(libc::CLOCK_MONOTONIC)?;
            let mut count = 0u32;
            for s in &list {
                let fired = match s.tag {
                    0 => s.fd_or_deadline <= now,
                    _ => ready > 0 && pollfds[s.fd_or_deadline as usize].revents != 0,
                };
                if fired {
                    let e = events + count * 32;
                    m.bytes(e, 32)?.fill(0);
                    m.write_u64(e, s.userdata)?;
                    m.write_u8(e + 10, s.tag)?;
                    if s.tag != 0 {
                        let pf = pollfds[s.fd_or_deadline as usize];
                        if pf.revents & libc::POLLNVAL != 0 {
                            m.write_u16(e + 8, errno::BADF)?;
                        }
                        m.write_u64(e + 16, 1)?;
                        if pf.revents & libc::POLLHUP != 0 {
                            m.write_u16(e + 24, 1)?;
                        }
                    }
                    count += 1;
                }
            }
            if count > 0 {
                return m.write_u32(out as u32, count);
            }
        }
    })
}

unsafe extern "C" fn proc_exit(_vmctx: *mut VMContext, code: i32) {
    // SAFETY: no frame between here and the caller's catch_traps owns
    // anything that needs dropping (the state lock is not held here).
    unsafe { crate::traphandlers::raise_exit(code) }
}

unsafe extern "C" fn proc_raise(_vmctx: *mut VMContext, _sig: i32) -> i32 {
    errno::NOSYS as i32
}

unsafe extern "C" fn sched_yield(_vmctx: *mut VMContext) -> i32 {
    std::thread::yield_now();
    0
}

unsafe extern "C" fn sock_accept(_v: *mut VMContext, _fd: i32, _flags: i32, _out: i32) -> i32 {
    errno::NOTSUP as i32
}

unsafe extern "C" fn sock_recv(
    _v: *mut VMContext,
    _fd: i32,
    _a: i32,
    _b: i32,
    _c: i32,
    _d: i32,
    _e: i32,
) -> i32 {
    errno::NOTSUP as i32
}

unsafe extern "C" fn sock_send(
    _v: *mut VMContext,
    _fd: i32,
    _a: i32,
    _b: i32,
    _c: i32,
    _d: i32,
) -> i32 {
    errno::NOTSUP as i32
}

unsafe extern "C" fn sock_shutdown(_v: *mut VMContext, _fd: i32, _how: i32) -> i32 {
    errno::NOTSUP as i32
}

/// Every function: name, native pointer, params (`i` = i32, `I` = i64),
/// whether it returns an errno.
fn functions() -> Vec<(&'static str, *const u8, &'static str, bool)> {
    macro_rules! f {
        ($name:ident, $params:literal) => {
            (stringify!($name), $name as *const u8, $params, true)
        };
    }
    vec![
        f!(args_get, "ii"),
        f!(args_sizes_get, "ii"),
        f!(environ_get, "ii"),
        f!(environ_sizes_get, "ii"),
        f!(clock_res_get, "ii"),
        f!(clock_time_get, "iIi"),
        f!(random_get, "ii"),
        f!(fd_write, "iiii"),
        f!(fd_read, "iiii"),
        f!(fd_pread, "iiiIi"),
        f!(fd_pwrite, "iiiIi"),
        f!(fd_seek, "iIii"),
        f!(fd_tell, "ii"),
        f!(fd_close, "i"),
        f!(fd_sync, "i"),
        f!(fd_datasync, "i"),
        f!(fd_fdstat_get, "ii"),
        f!(fd_fdstat_set_flags, "ii"),
        f!(fd_fdstat_set_rights, "iII"),
        f!(fd_filestat_get, "ii"),
        f!(fd_filestat_set_size, "iI"),
        f!(fd_filestat_set_times, "iIIi"),
        f!(fd_advise, "iIIi"),
        f!(fd_allocate, "iII"),
        f!(fd_renumber, "ii"),
        f!(fd_prestat_get, "ii"),
        f!(fd_prestat_dir_name, "iii"),
        f!(fd_readdir, "iiiIi"),
        f!(path_open, "iiiiiIIii"),
        f!(path_filestat_get, "iiiii"),
        f!(path_filestat_set_times, "iiiiIIi"),
        f!(path_unlink_file, "iii"),
        f!(path_remove_directory, "iii"),
        f!(path_create_directory, "iii"),
        f!(path_rename, "iiiiii"),
        f!(path_symlink, "iiiii"),
        f!(path_readlink, "iiiiii"),
        f!(path_link, "iiiiiii"),
        f!(poll_oneoff, "iiii"),
        ("proc_exit", proc_exit as *const u8, "i", false),
        f!(proc_raise, "i"),
        f!(sched_yield, ""),
        f!(sock_accept, "iii"),
        f!(sock_recv, "iiiiii"),
        f!(sock_send, "iiiii"),
        f!(sock_shutdown, "ii"),
    ]
}

/// Functions whose `wasi_unstable` version has a different signature or
/// layout and are therefore not offered under that name.
const UNSTABLE_DIFFERS: &[&str] = &[
    "fd_seek",
    "fd_filestat_get",
    "path_filestat_get",
    "fd_readdir",
    "poll_oneoff",
    "fd_filestat_set_size",
    "fd_filestat_set_times",
    "path_filestat_set_times",
];

/// Defines every WASI function under `wasi_snapshot_preview1` (and the
/// identical ones under `wasi_unstable`).
pub fn add_to_imports(imports: &mut Imports) {
    for (name, ptr, params, errno) in functions() {
        let ty = FuncType {
            params: params
                .chars()
                .map(|c| if c == 'I' { ValType::I64 } else { ValType::I32 })
                .collect(),
            results: if errno { vec![ValType::I32] } else { vec![] },
        };
        // SAFETY: each function above is written with exactly this signature.
        let func = unsafe { Func::host(ptr, ty) };
        imports.define("wasi_snapshot_preview1", name, Extern::Func(func.clone()));
        if !UNSTABLE_DIFFERS.contains(&name) {
            imports.define("wasi_unstable", name, Extern::Func(func));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexical_sandbox() {
        assert!(check_beneath("a/b/../c").is_ok());
        assert!(check_beneath("./x").is_ok());
        assert!(check_beneath("").is_ok());
        assert_eq!(check_beneath(".."), Err(errno::NOTCAPABLE));
        assert_eq!(check_beneath("a/../../b"), Err(errno::NOTCAPABLE));
        assert_eq!(check_beneath("/etc/passwd"), Err(errno::NOTCAPABLE));
    }

    #[test]
    fn kernel_sandbox_refuses_escapes() {
        let dir = std::env::temp_dir().join(format!("w2n-wasi-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("sub/f"), b"x").unwrap();
        let _ = std::os::unix::fs::symlink("/etc", dir.join("sub/out"));
        let c = CString::new(dir.to_str().unwrap()).unwrap();
        // SAFETY: plain open of our temp dir.
        let root = unsafe { libc::open(c.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY) };
        assert!(root >= 0);
        let fd = open_beneath(root, "sub/f", libc::O_RDONLY, 0).unwrap();
        // SAFETY: closing what we opened.
        unsafe { libc::close(fd) };
        let fd = open_beneath(root, "sub", libc::O_RDONLY | libc::O_DIRECTORY, 0o666).unwrap();
        // SAFETY: closing what we opened.
        unsafe { libc::close(fd) };
        assert!(open_beneath(root, "sub/../sub/f", libc::O_RDONLY, 0).is_ok());
        assert_eq!(
            open_beneath(root, "../x", libc::O_RDONLY, 0),
            Err(errno::NOTCAPABLE)
        );
        assert!(open_beneath(root, "sub/out/passwd", libc::O_RDONLY, 0).is_err());
        let p = parent_of(root, "sub/f").unwrap();
        assert_eq!(p.name.to_str().unwrap(), "f");
        assert!(parent_of(root, "sub/..").is_err());
        drop(p);
        let names: Vec<_> = read_dir_entries(root)
            .unwrap()
            .into_iter()
            .map(|e| String::from_utf8(e.0).unwrap())
            .collect();
        assert_eq!(names, [".", "..", "sub"]);
        // SAFETY: closing what we opened.
        unsafe { libc::close(root) };
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A context whose memory is `mem`, enough for host functions.
    fn fake_vmctx(mem: &crate::memory::LinearMemory) -> VMContext {
        VMContext {
            memory_base: mem.base(),
            memory_def: mem.def_ptr(),
            stack_limit: 0,
            builtins: std::ptr::null(),
            type_ids: std::ptr::null(),
            funcrefs: std::ptr::null_mut(),
            tables: std::ptr::null(),
            instance: std::ptr::null(),
            tls: 0,
            interrupt: Default::default(),
            interrupt_pad: 0,
        }
    }

    #[test]
    fn functions_through_guest_memory() {
        use w2native_environ::{Limits, MemoryType};
        let dir = std::env::temp_dir().join(format!("w2n-wasi-fn-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        init(WasiCtx::new(
            vec![b"prog".to_vec(), b"x".to_vec()],
            vec![b"A=1".to_vec()],
            dir.to_str().unwrap(),
        ));
        let mem = crate::memory::LinearMemory::new(MemoryType {
            limits: Limits { min: 1, max: None },
            shared: false,
        })
        .unwrap();
        let mut ctx = fake_vmctx(&mem);
        let v: *mut VMContext = &mut ctx;
        let rd32 = |at: u64| u32::from_le_bytes(mem.read(at, 4).unwrap().try_into().unwrap());
        // SAFETY: `v` is a context whose memory is `mem`, as host functions expect.
        unsafe {
            assert_eq!(args_sizes_get(v, 0, 4), 0);
            assert_eq!((rd32(0), rd32(4)), (2, 7));
            assert_eq!(args_get(v, 16, 64), 0);
            assert_eq!(rd32(20), 69);
            assert_eq!(mem.read(64, 7).unwrap(), b"prog\0x\0");
            assert_eq!(environ_sizes_get(v, 0, 4), 0);
            assert_eq!((rd32(0), rd32(4)), (1, 4));
            assert_eq!(args_get(v, 65530, 64), errno::FAULT as i32);

            // Preopen discovery, as wasi-libc does it.
            assert_eq!(fd_prestat_get(v, 3, 0), 0);
            assert_eq!(rd32(4), 1);
            assert_eq!(fd_prestat_dir_name(v, 3, 8, 1), 0);
            assert_eq!(mem.read(8, 1).unwrap(), b".");
            assert_eq!(fd_prestat_get(v, 4, 0), errno::BADF as i32);

            // Create, write, seek, read back.
            assert!(mem.write(100, b"f.txt"));
            let rights = (1i64 << 1) | (1 << 6);
            assert_eq!(path_open(v, 3, 1, 100, 5, 1 | 8, rights, rights, 0, 0), 0);
            let fd = rd32(0) as i32;
            assert!(mem.write(200, b"hello"));
            assert!(mem.write(300, &[200, 0, 0, 0, 5, 0, 0, 0]));
            assert_eq!(fd_write(v, fd, 300, 1, 0), 0);
            assert_eq!(rd32(0), 5);
            assert_eq!(fd_seek(v, fd, 1, 0, 0), 0);
            assert!(mem.write(300, &[0, 4, 0, 0, 16, 0, 0, 0]));
            assert_eq!(fd_read(v, fd, 300, 1, 0), 0);
            assert_eq!(rd32(0), 4);
            assert_eq!(mem.read(1024, 4).unwrap(), b"ello");
            assert_eq!(fd_close(v, fd), 0);
            assert_eq!(fd_close(v, fd), errno::BADF as i32);
            assert_eq!(path_filestat_get(v, 3, 0, 100, 5, 400), 0);
            assert_eq!(mem.read(400 + 16, 1).unwrap(), [4]);
            assert_eq!(rd32(400 + 32), 5);

            // The directory lists it; the sandbox refuses escapes.
            assert!(mem.write(100, b"."));
            assert_eq!(path_open(v, 3, 1, 100, 1, 2, 1 << 14, 0, 0, 0), 0);
            let dfd = rd32(0) as i32;
            assert_eq!(fd_readdir(v, dfd, 2048, 1024, 0, 0), 0);
            let used = rd32(0) as u64;
            let listing = mem.read(2048, used as usize).unwrap();
            assert!(listing.windows(5).any(|w| w == b"f.txt"));
            assert!(mem.write(100, b"../x"));
            assert_eq!(
                path_open(v, 3, 1, 100, 4, 0, 2, 0, 0, 0),
                errno::NOTCAPABLE as i32
            );
            assert_eq!(
                path_create_directory(v, 3, 100, 4),
                errno::NOTCAPABLE as i32
            );
            assert!(mem.write(100, b"f.txt"));
            assert_eq!(path_unlink_file(v, 3, 100, 5), 0);
            assert_eq!(path_unlink_file(v, 3, 100, 5), 44);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn errno_mapping() {
        assert_eq!(from_linux(libc::ENOENT), 44);
        assert_eq!(from_linux(libc::EBADF), errno::BADF);
        assert_eq!(from_linux(libc::EXDEV), errno::NOTCAPABLE);
        assert_eq!(from_linux(libc::EIO), errno::IO);
    }
}
