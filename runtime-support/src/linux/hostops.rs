//! The kernel's imports (module `"host"`, table in `docs/host-abi.md`).
//!
//! Every function has the compiled-code calling convention
//! `extern "C" fn(caller_vmctx, params..) -> result`; the caller is always
//! the kernel instance. Handles: semaphores and mutexes are indices of the
//! futex table in [`super::sync`]; thread ids are small integers given out
//! here (the id is fixed before the thread starts, so `thread_create` can
//! return what `thread_self` will say on that thread); TLS keys index a
//! per-thread vector.
//!
//! Ending a thread (`thread_exit`) unwinds to the outermost
//! [`crate::catch_traps`] of the thread (its root, see [`thread_root`]),
//! skipping the wasm frames still on its stack; inner `catch_traps`
//! (a user program running on the thread) pass it on with
//! [`pass_thread_exit`].

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use w2native_environ::{FuncType, ValType};

use super::kernel::kernel;
use super::sync;
use crate::instance::Func;
use crate::traphandlers::{catch_traps, raise_exit, TrapError};
use crate::vm::VMContext;

/// Native stack of every host thread that runs kernel or user code.
pub const THREAD_STACK: usize = 8 << 20;

// ---------------------------------------------------------------------------
// The import table
// ---------------------------------------------------------------------------

/// (name, function, params as 'i'/'I' for i32/i64, result).
type Entry = (&'static str, *const u8, &'static str, Option<ValType>);

fn entries() -> Vec<Entry> {
    use ValType::{I32, I64};
    vec![
        ("print", print as *const u8, "ii", None),
        ("panic", panic as *const u8, "ii", None),
        ("halt", halt as *const u8, "ii", None),
        ("sem_alloc", sem_alloc as *const u8, "i", Some(I32)),
        ("sem_free", sem_free as *const u8, "i", None),
        ("sem_up", sem_up as *const u8, "i", None),
        ("sem_down", sem_down as *const u8, "i", None),
        ("mutex_alloc", mutex_alloc as *const u8, "", Some(I32)),
        ("mutex_free", mutex_free as *const u8, "i", None),
        ("mutex_lock", mutex_lock as *const u8, "i", None),
        ("mutex_unlock", mutex_unlock as *const u8, "i", None),
        ("thread_create", thread_create as *const u8, "i", Some(I32)),
        ("thread_exit", thread_exit as *const u8, "", None),
        ("thread_join", thread_join as *const u8, "i", Some(I32)),
        ("thread_self", thread_self as *const u8, "", Some(I32)),
        ("tls_alloc", tls_alloc as *const u8, "", Some(I32)),
        ("tls_free", tls_free as *const u8, "i", None),
        ("tls_set", tls_set as *const u8, "ii", Some(I32)),
        ("tls_get", tls_get as *const u8, "i", Some(I32)),
        ("time_ns", time_ns as *const u8, "", Some(I64)),
        ("wall_time_ns", wall_time_ns as *const u8, "", Some(I64)),
        ("timer_set", timer_set as *const u8, "I", Some(I32)),
        ("timer_cancel", timer_cancel as *const u8, "", None),
        ("cmdline", cmdline as *const u8, "ii", Some(I32)),
        ("initrd_size", initrd_size as *const u8, "", Some(I32)),
        ("initrd_copy", initrd_copy as *const u8, "i", None),
        ("discard", discard as *const u8, "ii", None),
        ("console_read", console_read as *const u8, "ii", Some(I32)),
        ("console_write", console_write as *const u8, "ii", None),
        (
            "console_winsize",
            console_winsize as *const u8,
            "",
            Some(I32),
        ),
        ("stdin_read", stdin_read as *const u8, "ii", Some(I32)),
        ("stdio_write", stdio_write as *const u8, "iii", None),
        ("random", random as *const u8, "ii", Some(I32)),
        ("user_start", user_start as *const u8, "iii", Some(I32)),
        ("user_clone", user_clone as *const u8, "iiii", Some(I32)),
        (
            "user_kick",
            super::interrupt::user_kick as *const u8,
            "i",
            None,
        ),
    ]
}

/// The host function for import `host.<name>`, if the Runner has it.
pub fn lookup(name: &str) -> Option<Func> {
    let (_, ptr, params, result) = entries().into_iter().find(|e| e.0 == name)?;
    let ty = FuncType {
        params: params
            .chars()
            .map(|c| if c == 'I' { ValType::I64 } else { ValType::I32 })
            .collect(),
        results: result.into_iter().collect(),
    };
    // SAFETY: every function in the table is written with exactly the
    // native signature its entry describes.
    Some(unsafe { Func::host(ptr, ty) })
}

/// Names of all host ops (for documentation checks).
pub fn names() -> Vec<&'static str> {
    entries().into_iter().map(|e| e.0).collect()
}

// ---------------------------------------------------------------------------
// Output and failure
// ---------------------------------------------------------------------------

static OUTPUT: Mutex<()> = Mutex::new(());

/// Writes all of `bytes` to host descriptor `fd` (retrying on EINTR and
/// short writes; dropping the rest on an error).
pub fn write_all(fd: i32, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: writing from a live slice.
        let n = unsafe { libc::write(fd, bytes.as_ptr() as *const libc::c_void, bytes.len()) };
        if n < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        bytes = &bytes[n as usize..];
    }
}

/// Whether `print` output is still being dropped: with user programs and no
/// `--cmdline` the kernel runs with `loglevel=3`, but what it prints before
/// it has parsed its command line ignores that; the Runner drops output
/// up to the `Kernel command line:` line, so stdout is the guest console.
static EARLY_QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

fn quiet_boot() -> bool {
    let runner = super::runner();
    runner.user.is_some() && runner.options.cmdline.is_empty()
}

unsafe extern "C" fn print(_vmctx: *mut VMContext, str: i32, len: i32) {
    let bytes = kernel().read(str as u32, len.max(0) as usize);
    let _guard = OUTPUT.lock().unwrap_or_else(|e| e.into_inner());
    if quiet_boot() && EARLY_QUIET.load(Ordering::Relaxed) {
        const MARK: &[u8] = b"Kernel command line:";
        if let Some(at) = bytes.windows(MARK.len()).position(|w| w == MARK) {
            EARLY_QUIET.store(false, Ordering::Relaxed);
            if let Some(nl) = bytes[at..].iter().position(|b| *b == b'\n') {
                write_all(1, &bytes[at + nl + 1..]);
            }
        }
        return;
    }
    write_all(1, &bytes);
}

unsafe extern "C" fn panic(_vmctx: *mut VMContext, msg: i32, len: i32) {
    let msg = kernel().read(msg as u32, len.max(0) as usize);
    let _guard = OUTPUT.lock().unwrap_or_else(|e| e.into_inner());
    write_all(2, b"\nkernel panic: ");
    write_all(2, &msg);
    write_all(2, b"\n");
    super::exit_process(super::PANIC_EXIT_STATUS)
}

unsafe extern "C" fn halt(_vmctx: *mut VMContext, _how: i32, code: i32) {
    super::exit_process(code)
}

// ---------------------------------------------------------------------------
// Semaphores and mutexes
// ---------------------------------------------------------------------------

unsafe extern "C" fn sem_alloc(_vmctx: *mut VMContext, count: i32) -> i32 {
    if count < 0 {
        return 0;
    }
    sync::alloc(count as u32)
}

unsafe extern "C" fn sem_free(_vmctx: *mut VMContext, sem: i32) {
    sync::free(sem)
}

unsafe extern "C" fn sem_up(_vmctx: *mut VMContext, sem: i32) {
    sync::sem_up(sem)
}

unsafe extern "C" fn sem_down(_vmctx: *mut VMContext, sem: i32) {
    sync::sem_down(sem)
}

unsafe extern "C" fn mutex_alloc(_vmctx: *mut VMContext) -> i32 {
    sync::alloc(0)
}

unsafe extern "C" fn mutex_free(_vmctx: *mut VMContext, m: i32) {
    sync::free(m)
}

unsafe extern "C" fn mutex_lock(_vmctx: *mut VMContext, m: i32) {
    sync::mutex_lock(m)
}

unsafe extern "C" fn mutex_unlock(_vmctx: *mut VMContext, m: i32) {
    sync::mutex_unlock(m)
}

// ---------------------------------------------------------------------------
// Threads and TLS
// ---------------------------------------------------------------------------

static NEXT_THREAD_ID: AtomicI32 = AtomicI32::new(1);
static NEXT_TLS_KEY: AtomicI32 = AtomicI32::new(1);

thread_local! {
    static THREAD_ID: Cell<i32> = const { Cell::new(0) };
    static EXITING: Cell<bool> = const { Cell::new(false) };
    static TLS: RefCell<Vec<i32>> = const { RefCell::new(Vec::new()) };
}

/// A fresh thread id for a host thread about to be spawned.
pub fn new_thread_id() -> i32 {
    NEXT_THREAD_ID.fetch_add(1, Ordering::Relaxed)
}

/// Takes on another host thread's identity (its id for `thread_self` and
/// its TLS values, e.g. the kernel's task key): a vfork parent's thread
/// runs the child task this way. Returns this thread's own identity for
/// [`set_identity`] to restore.
pub fn take_identity(id: i32, tls: Vec<i32>) -> (i32, Vec<i32>) {
    let own_id = current_thread_id();
    THREAD_ID.with(|t| t.set(id));
    let own_tls = TLS.with(|t| std::mem::replace(&mut *t.borrow_mut(), tls));
    (own_id, own_tls)
}

/// Restores an identity saved by [`take_identity`].
pub fn set_identity(id: i32, tls: Vec<i32>) {
    THREAD_ID.with(|t| t.set(id));
    TLS.with(|t| *t.borrow_mut() = tls);
}

/// This thread's TLS values (what another thread needs to act as it).
pub fn tls_snapshot() -> Vec<i32> {
    TLS.with(|t| t.borrow().clone())
}

/// This host thread's id (given out on first use).
pub fn current_thread_id() -> i32 {
    THREAD_ID.with(|t| {
        if t.get() == 0 {
            t.set(NEXT_THREAD_ID.fetch_add(1, Ordering::Relaxed));
        }
        t.get()
    })
}

/// Runs `f` as the whole life of a host thread that executes kernel code:
/// `thread_exit` inside it ends up here and the thread returns.
pub fn thread_root(f: impl FnOnce()) {
    match catch_traps(f) {
        Ok(()) => {}
        Err(e) => {
            if !EXITING.with(|x| x.get()) {
                super::fatal_trap(e)
            }
        }
    }
}

/// For a `catch_traps` nested inside a thread's root: if the thread is
/// ending (`thread_exit`), keep unwinding to the root; otherwise give the
/// error back.
pub fn pass_thread_exit(e: TrapError) -> TrapError {
    if EXITING.with(|x| x.get()) {
        // SAFETY: the frames between here and the thread's root are wasm
        // and host frames that own nothing needing a destructor.
        unsafe { raise_exit(0) }
    }
    e
}

/// Starts a detached host thread with id `id` running `f` at its root.
pub fn spawn(name: String, id: i32, f: impl FnOnce() + Send + 'static) -> bool {
    std::thread::Builder::new()
        .name(name)
        .stack_size(THREAD_STACK)
        .spawn(move || {
            THREAD_ID.with(|t| t.set(id));
            thread_root(f)
        })
        .is_ok()
}

unsafe extern "C" fn thread_create(_vmctx: *mut VMContext, arg: i32) -> i32 {
    let id = NEXT_THREAD_ID.fetch_add(1, Ordering::Relaxed);
    if spawn(format!("task-{id}"), id, move || kernel().thread_start(arg)) {
        id
    } else {
        0
    }
}

unsafe extern "C" fn thread_exit(_vmctx: *mut VMContext) {
    EXITING.with(|x| x.set(true));
    // SAFETY: unwinds to this thread's root `catch_traps` (see the module
    // comment); the skipped frames are wasm code and host ops.
    unsafe { raise_exit(0) }
}

unsafe extern "C" fn thread_join(_vmctx: *mut VMContext, _thread: i32) -> i32 {
    -1 // threads are detached (docs/host-abi.md)
}

unsafe extern "C" fn thread_self(_vmctx: *mut VMContext) -> i32 {
    current_thread_id()
}

unsafe extern "C" fn tls_alloc(_vmctx: *mut VMContext) -> i32 {
    NEXT_TLS_KEY.fetch_add(1, Ordering::Relaxed)
}

unsafe extern "C" fn tls_free(_vmctx: *mut VMContext, _key: i32) {}

unsafe extern "C" fn tls_set(_vmctx: *mut VMContext, key: i32, value: i32) -> i32 {
    if key <= 0 || key >= NEXT_TLS_KEY.load(Ordering::Relaxed) {
        return -1;
    }
    TLS.with(|t| {
        let mut t = t.borrow_mut();
        if t.len() <= key as usize {
            t.resize(key as usize + 1, 0);
        }
        t[key as usize] = value;
    });
    0
}

unsafe extern "C" fn tls_get(_vmctx: *mut VMContext, key: i32) -> i32 {
    TLS.with(|t| t.borrow().get(key.max(0) as usize).copied().unwrap_or(0))
}

// ---------------------------------------------------------------------------
// Time and the one-shot timer
// ---------------------------------------------------------------------------

fn clock_ns(clock: libc::clockid_t) -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime fills the timespec.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec * 1_000_000_000 + ts.tv_nsec
}

unsafe extern "C" fn time_ns(_vmctx: *mut VMContext) -> i64 {
    clock_ns(libc::CLOCK_MONOTONIC)
}

unsafe extern "C" fn wall_time_ns(_vmctx: *mut VMContext) -> i64 {
    clock_ns(libc::CLOCK_REALTIME)
}

/// The single one-shot timer: its deadline, and the timer thread waiting
/// for it on the condition variable (a futex wait with a timeout).
static TIMER: Mutex<Option<Instant>> = Mutex::new(None);
static TIMER_CHANGED: Condvar = Condvar::new();

unsafe extern "C" fn timer_set(_vmctx: *mut VMContext, delta_ns: i64) -> i32 {
    let delta = Duration::from_nanos(delta_ns.max(1) as u64);
    *TIMER.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now() + delta);
    TIMER_CHANGED.notify_one();
    0
}

unsafe extern "C" fn timer_cancel(_vmctx: *mut VMContext) {
    *TIMER.lock().unwrap_or_else(|e| e.into_inner()) = None;
    TIMER_CHANGED.notify_one();
}

/// Starts the thread that raises IRQ 1 when the timer expires.
pub fn start_timer_thread() {
    let id = NEXT_THREAD_ID.fetch_add(1, Ordering::Relaxed);
    let ok = spawn("timer".into(), id, || {
        let mut deadline = TIMER.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            match *deadline {
                None => {
                    deadline = TIMER_CHANGED
                        .wait(deadline)
                        .unwrap_or_else(|e| e.into_inner());
                }
                Some(at) => {
                    let now = Instant::now();
                    if now < at {
                        deadline = TIMER_CHANGED
                            .wait_timeout(deadline, at - now)
                            .unwrap_or_else(|e| e.into_inner())
                            .0;
                        continue;
                    }
                    *deadline = None;
                    drop(deadline);
                    kernel().irq(1);
                    deadline = TIMER.lock().unwrap_or_else(|e| e.into_inner());
                }
            }
        }
    });
    if !ok {
        super::fatal("cannot start the timer thread");
    }
}

// ---------------------------------------------------------------------------
// Boot inputs
// ---------------------------------------------------------------------------

unsafe extern "C" fn cmdline(_vmctx: *mut VMContext, buf: i32, size: i32) -> i32 {
    let runner = super::runner();
    // With user programs the console is theirs: only kernel errors show,
    // unless the user chose a command line.
    let mut line = match &runner.options.cmdline[..] {
        "" if runner.user.is_some() => "loglevel=3".to_string(),
        line => line.to_string(),
    };
    if let Some(path) = runner.options.init.as_ref().and_then(|argv| argv.first()) {
        // With an initramfs the kernel runs `rdinit=` (not `init=`); a
        // missing file makes it fall back to /sbin/init (see first_exec).
        line = format!("{line} rdinit={path}");
    }
    let line = line.as_bytes();
    let n = line.len().min(size.max(0) as usize);
    if kernel().write(buf as u32, &line[..n]) {
        n as i32
    } else {
        0
    }
}

unsafe extern "C" fn initrd_size(_vmctx: *mut VMContext) -> i32 {
    super::runner().image.initramfs.len().min(i32::MAX as usize) as i32
}

unsafe extern "C" fn initrd_copy(_vmctx: *mut VMContext, dst: i32) {
    if !kernel().write(dst as u32, super::runner().image.initramfs) {
        super::fatal("initrd_copy: destination outside kernel memory");
    }
}

/// The kernel freed `[addr, addr + len)` (free page reporting): give the
/// host pages wholly inside it back to the system, so that the resident
/// size follows the guest's use instead of its peak. The memory is private
/// anonymous, so a dropped page reads as zero when next touched, which
/// the ABI allows (the kernel relies on no contents of free pages).
unsafe extern "C" fn discard(_vmctx: *mut VMContext, addr: i32, len: i32) {
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(1) as usize;
    let (addr, len) = (addr as u32 as usize, len as u32 as usize);
    let start = addr.next_multiple_of(page);
    let end = (addr + len) & !(page - 1);
    if end <= start {
        return;
    }
    let Some(p) = kernel().mem(start as u32, end - start) else {
        return;
    };
    // SAFETY: the range is committed kernel memory that the kernel just
    // declared unused; no one reads it before the kernel hands it out again.
    unsafe { libc::madvise(p as *mut libc::c_void, end - start, libc::MADV_DONTNEED) };
    trim_host_heap_soon();
}

/// glibc's malloc for a process whose threads come and go by the hundred
/// (one per guest task), called before the first of them starts. Fixed
/// thresholds: by default glibc raises both after a large block is freed
/// (up to 32 MiB), and then the arenas of 50 telnet sessions (vfork copies
/// of stacks, instances) never shrink again, 60 MB after one stress round.
/// Four arenas instead of 16 (8 per core) and a 16 KiB top pad instead of
/// 128 KiB: each arena keeps its pad and its fragments, 2 MB less after
/// the stress; the throughput of the stress did not change.
pub fn tune_host_heap() {
    // SAFETY: mallopt only sets parameters of glibc's malloc.
    #[cfg(target_env = "gnu")]
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 << 10);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 128 << 10);
        libc::mallopt(libc::M_TOP_PAD, 16 << 10);
        libc::mallopt(libc::M_ARENA_MAX, 4);
    }
}

static TRIM_DUE: Mutex<bool> = Mutex::new(false);
static TRIM_WAKE: Condvar = Condvar::new();

/// The guest giving memory back means its processes ended, and with them
/// the Runner's instances, buffers and threads: glibc keeps what they
/// freed in its arenas (one per busy thread, grown by 50 sessions at once
/// and never trimmed from the middle), tens of MB. `malloc_trim` returns
/// the free pages of every arena. It runs on a thread of its own, shortly
/// after the kernel's report pass (which calls `discard` once per batch),
/// so that the kernel never waits for it.
fn trim_host_heap_soon() {
    static STARTED: std::sync::Once = std::sync::Once::new();
    *TRIM_DUE.lock().unwrap_or_else(|e| e.into_inner()) = true;
    TRIM_WAKE.notify_one();
    STARTED.call_once(|| {
        let trimmer = || loop {
            let mut due = TRIM_DUE.lock().unwrap_or_else(|e| e.into_inner());
            while !*due {
                due = TRIM_WAKE.wait(due).unwrap_or_else(|e| e.into_inner());
            }
            *due = false;
            drop(due);
            std::thread::sleep(Duration::from_millis(100));
            // SAFETY: malloc_trim only walks glibc's own arenas, under their locks.
            #[cfg(target_env = "gnu")]
            unsafe {
                libc::malloc_trim(0)
            };
        };
        // Without the thread the heap is just not trimmed.
        let _ = std::thread::Builder::new()
            .name("heap-trim".into())
            .spawn(trimmer);
    });
}

unsafe extern "C" fn console_read(_vmctx: *mut VMContext, buf: i32, size: i32) -> i32 {
    super::console::read(buf as u32, size.max(0) as usize)
}

/// Output of the console tty (what programs write): never filtered, unlike
/// the kernel log in `print`.
unsafe extern "C" fn console_write(_vmctx: *mut VMContext, buf: i32, len: i32) {
    let bytes = kernel().read(buf as u32, len.max(0) as usize);
    let _guard = OUTPUT.lock().unwrap_or_else(|e| e.into_inner());
    write_all(1, &bytes);
}

unsafe extern "C" fn console_winsize(_vmctx: *mut VMContext) -> i32 {
    super::winsize::get()
}

unsafe extern "C" fn stdin_read(_vmctx: *mut VMContext, buf: i32, size: i32) -> i32 {
    super::console::stdin_read(buf as u32, size.max(0) as usize)
}

/// /dev/hoststdout and /dev/hoststderr: straight to the host descriptor,
/// under the console's lock so that streams sharing a file keep their
/// order. A terminal in raw mode (stdin is that terminal) gets "\r\n".
unsafe extern "C" fn stdio_write(_vmctx: *mut VMContext, fd: i32, buf: i32, len: i32) {
    if fd != 1 && fd != 2 {
        return;
    }
    let mut bytes = kernel().read(buf as u32, len.max(0) as usize);
    // SAFETY: isatty only inspects the descriptor.
    if super::console::terminal_is_raw() && unsafe { libc::isatty(fd) } == 1 {
        let mut crlf = Vec::with_capacity(bytes.len() + bytes.len() / 8);
        for &b in &bytes {
            if b == b'\n' {
                crlf.push(b'\r');
            }
            crlf.push(b);
        }
        bytes = crlf;
    }
    let _guard = OUTPUT.lock().unwrap_or_else(|e| e.into_inner());
    write_all(fd, &bytes);
}

/// The kernel's RNG seed and its `arch_get_random_longs` (the part of a
/// CPU's RDRAND/RDSEED): the host's getrandom.
unsafe extern "C" fn random(_vmctx: *mut VMContext, buf: i32, len: i32) -> i32 {
    let mut bytes = vec![0u8; len.clamp(0, 4096) as usize];
    // SAFETY: getrandom fills the buffer we own, at most its length.
    let n = unsafe { libc::getrandom(bytes.as_mut_ptr() as *mut libc::c_void, bytes.len(), 0) };
    if n <= 0 || !kernel().write(buf as u32, &bytes[..n as usize]) {
        return 0;
    }
    n as i32
}

// ---------------------------------------------------------------------------
// User tasks
// ---------------------------------------------------------------------------

/// First run of a task made by a user `clone`: run the child on this thread.
unsafe extern "C" fn user_clone(
    _vmctx: *mut VMContext,
    _task: i32,
    flags: i32,
    stack: i32,
    tls: i32,
) -> i32 {
    if let Some(status) = super::native::run_clone(stack as u32) {
        return status;
    }
    super::process::thread_main(flags as u32, stack as u32, tls as u32)
}

unsafe extern "C" fn user_start(_vmctx: *mut VMContext, task: i32, path: i32, len: i32) -> i32 {
    let path = kernel().read(path as u32, len.max(0) as usize);
    let path = String::from_utf8_lossy(&path).into_owned();
    let runner = super::runner();
    if runner.options.selftest {
        super::selftest::run(task, &path);
    }
    if runner.user.is_some() {
        if super::process::is_init() {
            super::telnet::start();
            if runner.options.no_console
                && runner.options.command.is_none()
                && runner.options.init.is_none()
            {
                super::console::headless_init()
            }
        }
        super::console::start();
        let status = super::process::run(super::process::first_exec(&path));
        if super::process::is_init() {
            super::exit_process(status)
        }
        return status;
    }
    let msg = format!(
        "w2native runner: the kernel started {path}, but this image has no user programs \
         (build it with busybox.wasm, or run with --selftest); powering off\n"
    );
    write_all(1, msg.as_bytes());
    super::exit_process(0)
}
