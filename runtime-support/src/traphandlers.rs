//! Turning faults in compiled code into wasm traps.
//!
//! Compiled code raises a trap with an illegal instruction (SIGILL) or a
//! faulting access (SIGSEGV/SIGBUS, SIGFPE for a hardware divide) at a PC
//! listed in its module's trap sites. The process-wide handlers installed
//! here look the PC up in a registry of compiled code, decide which trap it
//! is, record it thread-locally, and jump back to the innermost
//! [`catch_traps`] on this thread. A fault anywhere else is a real crash: the
//! previous disposition is restored (or the previous handler called) so the
//! process dies the way it would have without us.
//!
//! The jump is done by two tiny hand-written assembly routines per
//! architecture, `w2n_call_protected(buf, f, ctx)` (saves the callee-saved
//! registers, sp and the return address in `buf`, calls `f(ctx)`, returns 0)
//! and `w2n_unwind(buf)` (restores them and makes `w2n_call_protected`
//! return 1). libc `setjmp` is never used: Rust cannot call a returns-twice
//! function soundly, while `w2n_call_protected` returns exactly once.
//!
//! Unsafe rules of this module: `w2n_unwind` is called only with the buffer
//! of a `w2n_call_protected` that is still on this thread's stack (the
//! `CURRENT` thread-local). The frames it skips are compiled wasm code and
//! host functions called from it, which must hold nothing that needs
//! dropping when they raise a trap or exit. The signal handler touches only
//! thread-locals with const initialisers and the registries, read with
//! `try_read` so it never blocks on a lock its own thread holds.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Once, OnceLock, RwLock};

use w2native_environ::{ModuleDesc, Trap, VMModuleStatic};

/// Register save area of `w2n_call_protected`, big enough for every arch.
#[repr(C, align(16))]
pub struct JmpBuf([u64; 32]);

#[cfg(target_arch = "x86_64")]
std::arch::global_asm!(include_str!("arch/x86_64.S"));

#[cfg(target_arch = "aarch64")]
std::arch::global_asm!(include_str!("arch/aarch64.S"));

#[cfg(target_arch = "riscv64")]
std::arch::global_asm!(include_str!("arch/riscv64.S"));

extern "C" {
    pub(crate) fn w2n_call_protected(
        buf: *mut JmpBuf,
        f: unsafe extern "C" fn(*mut u8),
        ctx: *mut u8,
    ) -> i32;
    pub(crate) fn w2n_unwind(buf: *mut JmpBuf) -> !;
}

// ---------------------------------------------------------------------------
// Registries
// ---------------------------------------------------------------------------

/// What the trap handler knows about one registered module.
pub struct CodeModule {
    /// Shared with the `Module`: a kernel's names and trap sites are
    /// megabytes, not worth a copy.
    desc: Arc<ModuleDesc>,
}

impl CodeModule {
    fn func_name(&self, defined: u32) -> &str {
        self.desc
            .func_names
            .get((defined + self.desc.num_imported_funcs) as usize)
            .unwrap_or("?")
    }

    fn trap_at(&self, func: u32, offset: u32) -> Option<Trap> {
        Trap::from_code(self.desc.trap_sites.code_at(func, offset)?)
    }
}

/// The code of one registered module: its functions' address ranges,
/// sorted, for the trap handler's binary search. One entry per module
/// keeps registration to a sort (a kernel has tens of thousands of
/// functions: an ordered-map insert each was a measurable part of start).
struct ModuleCode {
    /// End of the module's highest function.
    end: usize,
    module: &'static CodeModule,
    /// (start, size, defined function index), by start.
    funcs: Box<[(usize, u32, u32)]>,
}

impl ModuleCode {
    /// The function containing `pc` and the offset of `pc` in it.
    fn find(&self, pc: usize) -> Option<(u32, u32)> {
        let i = self.funcs.partition_point(|&(start, _, _)| start <= pc);
        let &(start, size, index) = self.funcs.get(i.checked_sub(1)?)?;
        let offset = pc - start;
        (offset < size as usize).then_some((index, offset as u32))
    }
}

/// Keyed by the start of each module's lowest function.
static CODE: RwLock<BTreeMap<usize, ModuleCode>> = RwLock::new(BTreeMap::new());
static REGISTERED: RwLock<BTreeMap<usize, &'static CodeModule>> = RwLock::new(BTreeMap::new());
static MEMORIES: RwLock<BTreeMap<usize, usize>> = RwLock::new(BTreeMap::new());

/// Registers the code of a module record once; records are `'static`, so
/// the entries are never removed.
pub fn register_module(record: &'static VMModuleStatic, desc: &Arc<ModuleDesc>) {
    let key = record as *const VMModuleStatic as usize;
    let mut reg = REGISTERED.write().unwrap_or_else(|e| e.into_inner());
    if reg.contains_key(&key) {
        return;
    }
    let module: &'static CodeModule = Box::leak(Box::new(CodeModule { desc: desc.clone() }));
    reg.insert(key, module);
    let mut funcs: Vec<(usize, u32, u32)> = desc
        .func_sizes
        .iter()
        .take(record.num_funcs)
        .enumerate()
        .filter(|&(_, &size)| size != 0)
        // SAFETY: `funcs` has `num_funcs` entries (checked by Module::new).
        .map(|(i, &size)| (unsafe { *record.funcs.add(i) } as usize, size, i as u32))
        .collect();
    funcs.sort_unstable();
    let (Some(&(low, _, _)), Some(end)) = (
        funcs.first(),
        funcs
            .iter()
            .map(|&(start, size, _)| start + size as usize)
            .max(),
    ) else {
        return;
    };
    let entry = ModuleCode {
        end,
        module,
        funcs: funcs.into_boxed_slice(),
    };
    CODE.write()
        .unwrap_or_else(|e| e.into_inner())
        .insert(low, entry);
}

pub(crate) fn register_memory(base: usize, len: usize) {
    MEMORIES
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .insert(base, len);
}

pub(crate) fn unregister_memory(base: usize) {
    MEMORIES
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&base);
}

/// Reads a registry from a signal handler: spins on `try_read` (a writer on
/// another thread finishes soon), gives up rather than deadlock.
fn try_read_spin<T>(lock: &RwLock<T>) -> Option<std::sync::RwLockReadGuard<'_, T>> {
    for _ in 0..1_000_000 {
        match lock.try_read() {
            Ok(g) => return Some(g),
            Err(std::sync::TryLockError::Poisoned(p)) => return Some(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => std::hint::spin_loop(),
        }
    }
    None
}

fn lookup_code(pc: usize) -> Option<(&'static CodeModule, u32, u32)> {
    let code = try_read_spin(&CODE)?;
    // Modules' ranges may interleave if the linker mixed their sections.
    code.range(..=pc)
        .rev()
        .filter(|(_, m)| pc < m.end)
        .find_map(|(_, m)| m.find(pc).map(|(index, offset)| (m.module, index, offset)))
}

fn in_memory_reservation(addr: usize) -> bool {
    let Some(mems) = try_read_spin(&MEMORIES) else {
        return false;
    };
    match mems.range(..=addr).next_back() {
        Some((base, len)) => addr < base + len,
        None => false,
    }
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// Where in compiled code a trap happened.
#[derive(Clone, Copy)]
pub struct TrapLocation {
    module: &'static CodeModule,
    func: u32,
    offset: u32,
}

impl fmt::Debug for TrapLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for TrapLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}!{}+{:#x}",
            self.module.desc.name,
            self.module.func_name(self.func),
            self.offset
        )
    }
}

/// Why a call into wasm did not return normally.
#[derive(Clone, Debug)]
pub enum TrapError {
    /// A wasm trap, with where it happened when it was raised by compiled code.
    Trap {
        trap: Trap,
        location: Option<TrapLocation>,
    },
    /// The guest asked to exit (WASI `proc_exit`).
    Exit(i32),
    /// A host function failed in a way that is not a wasm trap.
    Host(String),
}

impl TrapError {
    pub fn trap(&self) -> Option<Trap> {
        match self {
            TrapError::Trap { trap, .. } => Some(*trap),
            _ => None,
        }
    }
}

impl fmt::Display for TrapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrapError::Trap {
                trap,
                location: Some(loc),
            } => write!(f, "{trap} in {loc}"),
            TrapError::Trap {
                trap,
                location: None,
            } => write!(f, "{trap}"),
            TrapError::Exit(code) => write!(f, "exit with status {code}"),
            TrapError::Host(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for TrapError {}

#[derive(Clone, Copy)]
enum Unwind {
    Trap(Trap, Option<TrapLocation>),
    Exit(i32),
}

thread_local! {
    static CURRENT: Cell<*mut JmpBuf> = const { Cell::new(std::ptr::null_mut()) };
    static REASON: Cell<Option<Unwind>> = const { Cell::new(None) };
    static STACK_LIMIT: Cell<usize> = const { Cell::new(0) };
    static ALTSTACK: AltStack = const { AltStack(Cell::new(std::ptr::null_mut())) };
}

// ---------------------------------------------------------------------------
// Entering and leaving wasm
// ---------------------------------------------------------------------------

struct Closure<F, R> {
    f: Option<F>,
    result: Option<std::thread::Result<R>>,
}

unsafe extern "C" fn call_closure<F: FnOnce() -> R, R>(ctx: *mut u8) {
    // SAFETY: `ctx` is the `Closure` passed by `catch_traps` below.
    let c = unsafe { &mut *(ctx as *mut Closure<F, R>) };
    let f = c.f.take().expect("closure called once");
    c.result = Some(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
}

/// Runs `f` (which calls compiled code) so that a trap or exit raised inside
/// it returns here as an error instead of crashing the process.
pub fn catch_traps<F: FnOnce() -> R, R>(f: F) -> Result<R, TrapError> {
    init_thread();
    let mut buf = JmpBuf([0; 32]);
    let mut closure = Closure {
        f: Some(f),
        result: None,
    };
    let prev = CURRENT.with(|c| c.replace(&mut buf));
    // Exception handlers pushed inside and skipped by a trap are dead.
    let handlers = crate::exceptions::top();
    // SAFETY: `buf` and `closure` outlive the call; `call_closure` matches
    // the closure's type.
    let rc = unsafe {
        w2n_call_protected(
            &mut buf,
            call_closure::<F, R>,
            &mut closure as *mut Closure<F, R> as *mut u8,
        )
    };
    CURRENT.with(|c| c.set(prev));
    crate::exceptions::set_top(handlers);
    if rc == 0 {
        match closure.result.take().expect("closure ran") {
            Ok(r) => Ok(r),
            Err(payload) => std::panic::resume_unwind(payload),
        }
    } else {
        // The closure was abandoned mid-flight; its captures are leaked, not
        // dropped, since the frames that owned them no longer exist.
        std::mem::forget(closure);
        Err(match REASON.with(|r| r.take()) {
            Some(Unwind::Trap(trap, location)) => TrapError::Trap { trap, location },
            Some(Unwind::Exit(code)) => TrapError::Exit(code),
            None => TrapError::Host("unwound without a reason".into()),
        })
    }
}

/// The innermost trap landing of this thread (null outside wasm calls).
pub(crate) fn current() -> *mut JmpBuf {
    CURRENT.with(|c| c.get())
}

/// Makes `buf` the innermost trap landing again: an exception unwinding to
/// a handler skips the `catch_traps` pushed after it.
pub(crate) fn set_current(buf: *mut JmpBuf) {
    CURRENT.with(|c| c.set(buf));
}

fn unwind(reason: Unwind) -> ! {
    let buf = CURRENT.with(|c| c.get());
    if buf.is_null() {
        match reason {
            Unwind::Exit(code) => std::process::exit(code),
            Unwind::Trap(trap, _) => {
                eprintln!("trap: {trap} outside of any wasm call");
                std::process::abort()
            }
        }
    }
    REASON.with(|r| r.set(Some(reason)));
    // SAFETY: `buf` belongs to the innermost live `catch_traps` of this thread.
    unsafe { w2n_unwind(buf) }
}

/// Raises a wasm trap from a host function called by compiled code.
///
/// # Safety
/// Every frame between here and the innermost [`catch_traps`] is skipped
/// without running destructors.
pub unsafe fn raise_trap(trap: Trap) -> ! {
    unwind(Unwind::Trap(trap, None))
}

/// Ends the guest with an exit status (WASI `proc_exit`).
///
/// # Safety
/// As [`raise_trap`].
pub unsafe fn raise_exit(code: i32) -> ! {
    unwind(Unwind::Exit(code))
}

/// Lowest stack pointer compiled code may use on this thread: the bottom of
/// the thread's stack plus a margin so host functions still have room.
pub fn stack_limit() -> usize {
    let cached = STACK_LIMIT.with(|c| c.get());
    if cached != 0 {
        return cached;
    }
    let limit = compute_stack_limit();
    STACK_LIMIT.with(|c| c.set(limit));
    limit
}

/// Makes `limit` this thread's stack limit and returns the previous one:
/// for a thread that runs on another thread's stack (the Runner's vfork
/// child runs on its parent's), whose own bounds would be the wrong ones.
pub fn replace_stack_limit(limit: usize) -> usize {
    let old = stack_limit();
    STACK_LIMIT.with(|c| c.set(limit));
    old
}

fn compute_stack_limit() -> usize {
    const MARGIN: usize = 256 << 10;
    // SAFETY: pthread_getattr_np fills `attr` for the calling thread; it is
    // destroyed after use.
    unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
            return 0;
        }
        let mut addr: *mut libc::c_void = std::ptr::null_mut();
        let mut size: libc::size_t = 0;
        let rc = libc::pthread_attr_getstack(&attr, &mut addr, &mut size);
        libc::pthread_attr_destroy(&mut attr);
        if rc != 0 {
            return 0;
        }
        let margin = if size > 4 * MARGIN { MARGIN } else { size / 4 };
        addr as usize + margin
    }
}

// ---------------------------------------------------------------------------
// Signal handling
// ---------------------------------------------------------------------------

const SIGNALS: [libc::c_int; 4] = [libc::SIGSEGV, libc::SIGBUS, libc::SIGILL, libc::SIGFPE];
static PREVIOUS: OnceLock<[libc::sigaction; 4]> = OnceLock::new();
const ALTSTACK_SIZE: usize = 64 << 10;
/// Marks a thread whose existing alternate stack is big enough.
const EXISTING_ALTSTACK: *mut libc::c_void = usize::MAX as *mut libc::c_void;

/// A sigaltstack this thread allocated, freed when the thread exits.
struct AltStack(Cell<*mut libc::c_void>);

impl Drop for AltStack {
    fn drop(&mut self) {
        let p = self.0.get();
        if p.is_null() || p == EXISTING_ALTSTACK {
            return;
        }
        // SAFETY: we installed this stack on this thread; disable it before
        // unmapping, and only if it is still the active one.
        unsafe {
            let mut cur: libc::stack_t = std::mem::zeroed();
            libc::sigaltstack(std::ptr::null(), &mut cur);
            if cur.ss_sp == p {
                let disable = libc::stack_t {
                    ss_sp: std::ptr::null_mut(),
                    ss_flags: libc::SS_DISABLE,
                    ss_size: 0,
                };
                libc::sigaltstack(&disable, std::ptr::null_mut());
            }
            libc::munmap(p, ALTSTACK_SIZE);
        }
    }
}

/// Installs the process-wide handlers once and this thread's alternate
/// signal stack.
pub fn init_thread() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(install_handlers);
    ALTSTACK.with(|a| {
        if !a.0.get().is_null() {
            return;
        }
        // SAFETY: querying and setting this thread's sigaltstack with a
        // fresh anonymous mapping that the thread-local owns.
        unsafe {
            let mut cur: libc::stack_t = std::mem::zeroed();
            libc::sigaltstack(std::ptr::null(), &mut cur);
            if cur.ss_flags & libc::SS_DISABLE == 0 && cur.ss_size >= ALTSTACK_SIZE {
                a.0.set(EXISTING_ALTSTACK);
                return;
            }
            let p = libc::mmap(
                std::ptr::null_mut(),
                ALTSTACK_SIZE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            if p == libc::MAP_FAILED {
                return;
            }
            let st = libc::stack_t {
                ss_sp: p,
                ss_flags: 0,
                ss_size: ALTSTACK_SIZE,
            };
            if libc::sigaltstack(&st, std::ptr::null_mut()) != 0 {
                libc::munmap(p, ALTSTACK_SIZE);
                return;
            }
            a.0.set(p);
        }
    });
}

fn install_handlers() {
    // SAFETY: plain sigaction calls; the previous actions are saved before
    // the new handler can run, so chaining always finds them.
    unsafe {
        let mut prev: [libc::sigaction; 4] = std::mem::zeroed();
        for (i, sig) in SIGNALS.iter().enumerate() {
            libc::sigaction(*sig, std::ptr::null(), &mut prev[i]);
        }
        let _ = PREVIOUS.set(prev);
        for sig in SIGNALS {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = trap_handler as *const () as usize;
            sa.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_NODEFER;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

/// # Safety
/// `uctx` must be the ucontext the kernel passed to a signal handler.
unsafe fn pc_of(uctx: *mut libc::c_void) -> usize {
    let uc = uctx as *const libc::ucontext_t;
    // SAFETY: the caller passes the kernel's ucontext.
    unsafe {
        #[cfg(target_arch = "x86_64")]
        {
            (*uc).uc_mcontext.gregs[libc::REG_RIP as usize] as usize
        }
        #[cfg(target_arch = "aarch64")]
        {
            (*uc).uc_mcontext.pc as usize
        }
        #[cfg(target_arch = "riscv64")]
        {
            (*uc).uc_mcontext.__gregs[0] as usize
        }
    }
}

/// # Safety
/// As [`pc_of`].
unsafe fn sp_of(uctx: *mut libc::c_void) -> usize {
    let uc = uctx as *const libc::ucontext_t;
    // SAFETY: the caller passes the kernel's ucontext.
    unsafe {
        #[cfg(target_arch = "x86_64")]
        {
            (*uc).uc_mcontext.gregs[libc::REG_RSP as usize] as usize
        }
        #[cfg(target_arch = "aarch64")]
        {
            (*uc).uc_mcontext.sp as usize
        }
        #[cfg(target_arch = "riscv64")]
        {
            (*uc).uc_mcontext.__gregs[2] as usize
        }
    }
}

/// Compiled functions whose calls all go to compiled code and whose frame
/// is smaller than a guard page have no stack-limit check (the compiler's
/// `stack_check`): they find the end of the stack by faulting on the guard
/// page below it, with a push, a call or a store into their own new frame.
/// Such an access lies just below or a frame above the faulting `sp`;
/// compiled code touches no other address near its stack pointer that
/// could fault, and host code never runs there (every function that calls
/// the host checks the limit first, which keeps the margin for it).
fn is_stack_exhaustion(addr: usize, sp: usize) -> bool {
    const BELOW: usize = 64;
    const ABOVE: usize = 16 << 10;
    addr.wrapping_add(BELOW) >= sp && addr < sp.wrapping_add(ABOVE)
}

unsafe extern "C" fn trap_handler(
    sig: libc::c_int,
    info: *mut libc::siginfo_t,
    uctx: *mut libc::c_void,
) {
    let buf = CURRENT.with(|c| c.get());
    if !buf.is_null() {
        // SAFETY: the kernel passes valid info and context pointers.
        let (pc, sp, addr) = unsafe { (pc_of(uctx), sp_of(uctx), (*info).si_addr() as usize) };
        if let Some((module, func, offset)) = lookup_code(pc) {
            let trap = module.trap_at(func, offset).or_else(|| match sig {
                libc::SIGSEGV | libc::SIGBUS if in_memory_reservation(addr) => {
                    Some(Trap::MemoryOutOfBounds)
                }
                libc::SIGSEGV | libc::SIGBUS if is_stack_exhaustion(addr, sp) => {
                    Some(Trap::StackOverflow)
                }
                libc::SIGFPE => Some(Trap::IntegerDivisionByZero),
                _ => None,
            });
            if let Some(trap) = trap {
                let loc = TrapLocation {
                    module,
                    func,
                    offset,
                };
                REASON.with(|r| r.set(Some(Unwind::Trap(trap, Some(loc)))));
                // SAFETY: `buf` is this thread's innermost catch_traps; the
                // signal is not blocked (SA_NODEFER) and leaving the
                // alternate stack by a jump is how the kernel expects it.
                unsafe { w2n_unwind(buf) }
            }
        }
    }
    // SAFETY: chaining with the kernel's arguments.
    unsafe { chain(sig, info, uctx) }
}

/// Not a wasm trap: behave as if we had never installed a handler.
unsafe fn chain(sig: libc::c_int, info: *mut libc::siginfo_t, uctx: *mut libc::c_void) {
    let idx = SIGNALS.iter().position(|s| *s == sig).unwrap_or(0);
    let prev = PREVIOUS.get().map(|p| p[idx]);
    // SAFETY: calling the previously installed handler with the arguments
    // the kernel gave us, or restoring the default so the fault repeats.
    unsafe {
        match prev {
            Some(p) if p.sa_sigaction != libc::SIG_DFL && p.sa_sigaction != libc::SIG_IGN => {
                if p.sa_flags & libc::SA_SIGINFO != 0 {
                    let f: unsafe extern "C" fn(
                        libc::c_int,
                        *mut libc::siginfo_t,
                        *mut libc::c_void,
                    ) = std::mem::transmute(p.sa_sigaction);
                    f(sig, info, uctx);
                } else {
                    let f: unsafe extern "C" fn(libc::c_int) = std::mem::transmute(p.sa_sigaction);
                    f(sig);
                }
            }
            _ => {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = libc::SIG_DFL;
                libc::sigaction(sig, &sa, std::ptr::null_mut());
                // A signal sent by kill() does not repeat on return.
                if (*info).si_code <= 0 {
                    libc::raise(sig);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_return_and_nesting() {
        assert_eq!(catch_traps(|| 42).unwrap(), 42);
        let r = catch_traps(|| {
            let inner = catch_traps(|| unsafe { raise_trap(Trap::UnreachableCodeReached) });
            assert_eq!(
                inner.unwrap_err().trap(),
                Some(Trap::UnreachableCodeReached)
            );
            7
        });
        assert_eq!(r.unwrap(), 7);
    }

    #[test]
    fn exit_unwinds() {
        let r: Result<(), _> = catch_traps(|| unsafe { raise_exit(3) });
        assert!(matches!(r, Err(TrapError::Exit(3))));
    }

    #[test]
    fn stack_limit_is_below_sp() {
        let local = 0u8;
        let sp = &local as *const u8 as usize;
        let limit = stack_limit();
        assert!(limit != 0 && limit < sp);
    }

    #[test]
    fn panics_propagate() {
        let r = std::panic::catch_unwind(|| catch_traps(|| panic!("boom")));
        assert!(r.is_err());
    }
}
