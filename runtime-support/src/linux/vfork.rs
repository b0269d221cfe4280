//! `__vfork` (guest ABI section 6): the child runs on the parent's host
//! thread, in the parent's instance and on its stacks, until it execs or
//! exits; then the parent resumes at the `__vfork` call, which returns the
//! child's pid.
//!
//! The kernel gives every clone child its own host thread (host op
//! `user_clone`). For a vfork child that thread only parks
//! ([`child_thread`]): it publishes its identity (thread id and TLS values,
//! among them the kernel's task key) and waits. The parent's thread takes
//! on that identity, so its syscalls run as the child task, and returns 0
//! from `__vfork`. When the child execs, the new program starts on the
//! parked thread; when it exits, the parked thread makes the exit call.
//! Either way the parent's thread gets its identity back and returns the
//! pid from `__vfork` a second time.
//!
//! Returning twice: at the call, `w2n_vfork_setjmp` saves the callee-saved
//! registers and copies the native stack from its own frame to the top of
//! the thread's stack; `w2n_vfork_longjmp` switches to a scratch stack,
//! copies that image back (the child may have overwritten those frames by
//! returning from the caller of vfork) and jumps back into the call. The
//! guest's shadow stack from `__stack_pointer` up (and, for fork, the
//! process's data) is saved and restored the same way. x86_64 only for now;
//! elsewhere `__vfork` fails with `-ENOSYS`.
//!
//! Unsafe rules of this module: between the first return of
//! `w2n_vfork_setjmp` and the second, `vfork` keeps nothing it needs in
//! Rust locals: all state is in the thread-local `STATES` (heap), and the
//! second return only reads it.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;

use super::hostops::{set_identity, take_identity, tls_snapshot, write_all};
use super::kernel::kernel;
use super::process::{is_err, sys, Exec, CURRENT};
use crate::instance::Val;

const NR_EXIT_GROUP: i32 = 94;
const NR_GETPID: i32 = 172;
const NR_CLONE: i32 = 220;
const CLONE_VM: i32 = 0x100;
const SIGCHLD: i32 = 17;
const ENOSYS: i32 = 38;
const EAGAIN: i32 = 11;
const ENOMEM: i32 = 12;

/// What the parked child thread is told to do.
enum Command {
    Exec(Exec),
    Exit(i32),
}

/// A vfork child's own host thread, parked until the child execs or exits.
struct Parked {
    thread_id: i32,
    tls: Vec<i32>,
    command: Mutex<Option<Command>>,
    ready: Condvar,
}

struct Registry {
    parked: Mutex<HashMap<i32, Arc<Parked>>>,
    arrived: Condvar,
}

fn registry() -> &'static Registry {
    static R: OnceLock<Registry> = OnceLock::new();
    R.get_or_init(|| Registry {
        parked: Mutex::new(HashMap::new()),
        arrived: Condvar::new(),
    })
}

/// Body of a vfork child's own thread (from `user_clone`): park until the
/// child, run by its parent's thread, execs (run the program here) or exits
/// (make the exit call here, as the child task).
pub fn child_thread() -> i32 {
    let pid = sys(NR_GETPID, &[]);
    let parked = Arc::new(Parked {
        thread_id: super::hostops::current_thread_id(),
        tls: tls_snapshot(),
        command: Mutex::new(None),
        ready: Condvar::new(),
    });
    let reg = registry();
    reg.parked
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(pid, parked.clone());
    reg.arrived.notify_all();
    let mut command = parked.command.lock().unwrap_or_else(|e| e.into_inner());
    let command = loop {
        if let Some(c) = command.take() {
            break c;
        }
        command = parked
            .ready
            .wait(command)
            .unwrap_or_else(|e| e.into_inner());
    };
    match command {
        Command::Exec(exec) => {
            let status = super::process::run(exec);
            sys(NR_EXIT_GROUP, &[status]);
            status
        }
        Command::Exit(status) => {
            sys(NR_EXIT_GROUP, &[status]);
            status
        }
    }
}

fn wait_parked(pid: i32) -> Option<Arc<Parked>> {
    let reg = registry();
    let mut map = reg.parked.lock().unwrap_or_else(|e| e.into_inner());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(p) = map.remove(&pid) {
            return Some(p);
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return None;
        }
        map = reg
            .arrived
            .wait_timeout(map, left)
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
}

/// Off unless `W2NATIVE_VFORK=1`: with today's kernel the child never
/// reaches user mode while its parent waits in user space (the parent task
/// is preempted on its way out of `clone` and nothing schedules it again;
/// docs/runner.md), so `__vfork` would hang for 10 s and fail.
fn enabled() -> bool {
    static E: OnceLock<bool> = OnceLock::new();
    *E.get_or_init(|| std::env::var_os("W2NATIVE_VFORK").is_some_and(|v| v == "1"))
}

// ---------------------------------------------------------------------------
// Returning twice
// ---------------------------------------------------------------------------

/// Saved registers: rbx, rbp, r12-r15, sp after return, return address,
/// start of the saved stack region, its length.
#[repr(C, align(16))]
struct JmpBuf([u64; 10]);

#[cfg(target_arch = "x86_64")]
std::arch::global_asm!(
    ".text",
    ".globl w2n_vfork_setjmp",
    ".type w2n_vfork_setjmp,@function",
    // rdi = buf, rsi = copy, rdx = stack top, rcx = capacity of copy
    "w2n_vfork_setjmp:",
    "mov [rdi], rbx",
    "mov [rdi + 8], rbp",
    "mov [rdi + 16], r12",
    "mov [rdi + 24], r13",
    "mov [rdi + 32], r14",
    "mov [rdi + 40], r15",
    "lea rax, [rsp + 8]",
    "mov [rdi + 48], rax",
    "mov rax, [rsp]",
    "mov [rdi + 56], rax",
    "mov [rdi + 64], rsp",
    "mov r8, rdx",
    "sub r8, rsp",
    "cmp r8, rcx",
    "ja 2f",
    "mov [rdi + 72], r8",
    "mov rdi, rsi",
    "mov rsi, rsp",
    "mov rcx, r8",
    "cld",
    "rep movsb",
    "xor eax, eax",
    "ret",
    "2:",
    "mov eax, 2",
    "ret",
    ".size w2n_vfork_setjmp, .-w2n_vfork_setjmp",
    ".globl w2n_vfork_longjmp",
    ".type w2n_vfork_longjmp,@function",
    // rdi = buf, rsi = copy, rdx = top of a scratch stack
    "w2n_vfork_longjmp:",
    "mov rsp, rdx",
    "mov r9, rdi",
    "mov rdi, [r9 + 64]",
    "mov rcx, [r9 + 72]",
    "cld",
    "rep movsb",
    "mov rbx, [r9]",
    "mov rbp, [r9 + 8]",
    "mov r12, [r9 + 16]",
    "mov r13, [r9 + 24]",
    "mov r14, [r9 + 32]",
    "mov r15, [r9 + 40]",
    "mov rsp, [r9 + 48]",
    "mov eax, 1",
    "jmp qword ptr [r9 + 56]",
    ".size w2n_vfork_longjmp, .-w2n_vfork_longjmp",
);

#[cfg(target_arch = "x86_64")]
extern "C" {
    /// Returns 0 after saving; 1 when resumed by `w2n_vfork_longjmp`; 2 if
    /// the stack image does not fit in `cap` bytes.
    fn w2n_vfork_setjmp(buf: *mut JmpBuf, copy: *mut u8, top: usize, cap: usize) -> i32;
    fn w2n_vfork_longjmp(buf: *const JmpBuf, copy: *const u8, scratch_top: usize) -> !;
}

/// One vfork in progress on this thread (nested vforks stack up).
struct State {
    jmp: JmpBuf,
    native: Vec<u8>,
    scratch: Vec<u8>,
    parent_pid: i32,
    child_pid: i32,
    /// (guest address, bytes) to put back when the parent resumes.
    guest: Vec<(u32, Vec<u8>)>,
    own: Option<(i32, Vec<i32>)>,
    parked: Option<Arc<Parked>>,
}

thread_local! {
    // Boxed: the asm holds pointers into a state while the vector may grow.
    #[allow(clippy::vec_box)]
    static STATES: RefCell<Vec<Box<State>>> = const { RefCell::new(Vec::new()) };
    static STACK_TOP: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Highest address of this thread's native stack.
fn stack_top() -> usize {
    let cached = STACK_TOP.with(|c| c.get());
    if cached != 0 {
        return cached;
    }
    // SAFETY: pthread_getattr_np fills `attr` for the calling thread; it is
    // destroyed after use.
    let top = unsafe {
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
        addr as usize + size
    };
    STACK_TOP.with(|c| c.set(top));
    top
}

/// Whether this thread is running a vfork child.
pub fn active() -> bool {
    STATES.with(|s| s.borrow().last().is_some_and(|st| st.parked.is_some()))
}

/// `__vfork(mode)`: 0 in the child (first return), the child's pid in the
/// parent (second return), or `-errno`.
pub fn vfork(mode: i32) -> i32 {
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = mode;
        -ENOSYS
    }
    #[cfg(target_arch = "x86_64")]
    {
        if !enabled() {
            return -ENOSYS;
        }
        let top = stack_top();
        let here = &top as *const usize as usize;
        if top == 0 || here >= top {
            return -ENOSYS;
        }
        let cap = top - here + (64 << 10);
        let mut st = Box::new(State {
            jmp: JmpBuf([0; 10]),
            native: vec![0; cap],
            scratch: vec![0; 64 << 10],
            parent_pid: 0,
            child_pid: 0,
            guest: Vec::new(),
            own: None,
            parked: None,
        });
        let (jmp, copy) = (&mut st.jmp as *mut JmpBuf, st.native.as_mut_ptr());
        STATES.with(|s| s.borrow_mut().push(st));
        // SAFETY: `jmp` and `copy` live in the heap state above until the
        // second return pops it; see the module's unsafe rules.
        match unsafe { w2n_vfork_setjmp(jmp, copy, top, cap) } {
            0 => start_child(mode),
            1 => resumed(),
            _ => {
                STATES.with(|s| s.borrow_mut().pop());
                -ENOMEM
            }
        }
    }
}

fn pop_state() -> Option<Box<State>> {
    STATES.with(|s| s.borrow_mut().pop())
}

/// First return: make the child, become it, return 0.
fn start_child(mode: i32) -> i32 {
    let k = kernel();
    let info = CURRENT.with(|c| {
        c.borrow()
            .as_ref()
            .map(|c| (c.pid, c.memory_base, c.stack_end, c.stack_pointer.clone()))
    });
    let Some((parent_pid, memory_base, stack_end, sp_global)) = info else {
        pop_state();
        return -ENOSYS;
    };
    let Val::I32(sp) = sp_global.get() else {
        pop_state();
        return -ENOSYS;
    };
    let sp = sp as u32;
    // The guest stack above `sp` (the frames the child may overwrite) and,
    // for fork, the process's data.
    let mut guest = Vec::new();
    let stack_end = if stack_end > sp {
        stack_end
    } else {
        sp + (64 << 10)
    };
    guest.push((sp, k.read(sp, (stack_end - sp) as usize)));
    if mode == 1 {
        let size = super::runner().image.mem_size;
        guest.push((memory_base, k.read(memory_base, size as usize)));
    }
    let pid = sys(NR_CLONE, &[SIGCHLD | CLONE_VM, 0, 0, 0, 0]);
    if is_err(pid) {
        pop_state();
        return pid;
    }
    let Some(parked) = wait_parked(pid) else {
        write_all(2, b"w2native runner: vfork child did not start\n");
        pop_state();
        return -EAGAIN;
    };
    let own = take_identity(parked.thread_id, parked.tls.clone());
    STATES.with(|s| {
        if let Some(st) = s.borrow_mut().last_mut() {
            st.parent_pid = parent_pid;
            st.child_pid = pid;
            st.guest = guest;
            st.own = Some(own);
            st.parked = Some(parked);
        }
    });
    set_pid(pid);
    0
}

fn set_pid(pid: i32) {
    CURRENT.with(|c| {
        if let Some(c) = c.borrow_mut().as_mut() {
            c.pid = pid;
        }
    });
}

/// Second return: the parent again.
fn resumed() -> i32 {
    let Some(st) = pop_state() else {
        super::fatal("vfork: resumed without a state");
    };
    if let Some((id, tls)) = st.own {
        set_identity(id, tls);
    }
    let k = kernel();
    for (addr, bytes) in &st.guest {
        k.write(*addr, bytes);
    }
    set_pid(st.parent_pid);
    st.child_pid
}

/// Hands `command` to the child's own thread and resumes the parent.
fn finish_child(command: Command) -> ! {
    let target = STATES.with(|s| {
        s.borrow().last().map(|st| {
            (
                &st.jmp as *const JmpBuf,
                st.native.as_ptr(),
                st.scratch.as_ptr() as usize + st.scratch.len(),
                st.parked.clone(),
            )
        })
    });
    let Some((jmp, copy, scratch_top, Some(parked))) = target else {
        super::fatal("vfork: no child to finish");
    };
    *parked.command.lock().unwrap_or_else(|e| e.into_inner()) = Some(command);
    parked.ready.notify_one();
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the buffers belong to the innermost state, which stays on
    // STATES until `resumed` pops it; the scratch stack is 16-byte aligned
    // heap memory outside the region being restored.
    unsafe {
        w2n_vfork_longjmp(jmp, copy, scratch_top & !15)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (jmp, copy, scratch_top);
        super::fatal("vfork: not supported on this architecture")
    }
}

/// The vfork child execs `exec` (the kernel accepted it): the program
/// starts on the child's own thread; the parent resumes.
pub fn child_exec(exec: Exec) -> ! {
    finish_child(Command::Exec(exec))
}

/// The vfork child calls `exit`/`exit_group`.
pub fn child_exit(status: i32) -> ! {
    finish_child(Command::Exit(status))
}
