//! `__vfork` (guest ABI section 6): the child continues from the
//! `__vfork` call in the parent's instance and on the parent's stacks until
//! it execs or exits; then the parent returns from `__vfork` with the
//! child's pid.
//!
//! The kernel blocks a `CLONE_VFORK` parent inside `clone` until the child
//! execs or exits, and gives the child its own host thread (host op
//! `user_clone`). So the parent's host thread P simply sleeps in the
//! kernel, and the child's thread Q runs the child **on P's native stack**:
//!
//! 1. P saves its callee-saved registers and stack pointer at the call
//!    (`w2n_vfork_setjmp`), moves to its side stack (a mapping of its own,
//!    `w2n_vfork_on_stack`), publishes the registers with its process
//!    (instance, globals) under its pid, saves the guest stack above
//!    `__stack_pointer` (and, for fork, the process's data), and calls
//!    `clone(CLONE_VM | CLONE_VFORK | SIGCHLD)`.
//! 2. Q (in `user_clone`, see [`child_thread`]) finds the record through
//!    `getppid`, claims P's stack (nothing of P's runs below the `__vfork`
//!    frame: P is on its side stack), copies it (the part the child can
//!    overwrite), and jumps onto it (`w2n_vfork_longjmp`): `__vfork`
//!    returns 0 on Q, as the child task, since Q is the child's thread.
//! 3. When the child calls `execve` or `exit`, the Runner unwinds Q back to
//!    its own stack, puts P's stack back, releases it, and makes that call
//!    there: the new program runs on Q; the kernel then wakes P, whose
//!    `clone` returns the pid; P puts the guest stack (and data) back and
//!    returns to its own stack.
//!
//! The side stack is what makes an early wake-up safe: the kernel's vfork
//! wait is killable, so a fatal signal wakes P while the child still runs
//! on P's stack (BusyBox `timeout`: its grandchild kills it while its vfork
//! child waits in a nested fork). P's kernel frames are on the side stack,
//! intact; P waits there until Q releases its stack before it returns to
//! it or its thread unwinds out of it (the task died in `clone`).
//!
//! The register switch is in `arch/vfork_{x86_64,aarch64,riscv64}.S`.
//! With `W2NATIVE_VFORK=0` `__vfork` fails with `-ENOSYS`.
//!
//! For fork, every mapping of the process is saved and put back, whatever
//! its permissions in /proc/self/maps: wasm memory has no protection and
//! this NOMMU kernel has no `mprotect` (`-ENOSYS`), so mallocng's meta
//! area, mapped `PROT_NONE` and then "made" writable by an `mprotect`
//! whose ENOSYS it accepts, is listed as `---p` although it holds the
//! heap's metadata. (Saving only `rw` mappings left the child's changes to
//! it in place: the parent's next `free` trapped in `get_meta`.)
//!
//! Unsafe rules of this module: P's stack below its `__vfork` frame is
//! read and written by Q only between its claim and its release, while P
//! runs on its side stack (P takes it back only after the release, or when
//! no child claimed it). The code after the second return of
//! `w2n_vfork_setjmp` (on Q) reads only thread-locals.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, OnceLock};

use super::hostops::write_all;
use super::kernel::kernel;
use super::process::{set_current, sys, Exec, CURRENT};
use crate::instance::{Global, Instance, Val};
use crate::traphandlers::{catch_traps, TrapError};

const NR_EXECVE: i32 = 221;
const NR_EXIT_GROUP: i32 = 94;
const NR_GETPID: i32 = 172;
const NR_GETPPID: i32 = 173;
const NR_CLONE: i32 = 220;
const CLONE_VM: i32 = 0x100;
const CLONE_VFORK: i32 = 0x4000;
const SIGCHLD: i32 = 17;
const ENOSYS: i32 = 38;
const ENOMEM: i32 = 12;
/// How much of P's stack below the `__vfork` frame the child may use (and
/// is saved and put back): P's own frames down to its sleep are in it.
const BELOW: usize = 512 << 10;

/// Every callee-saved register of the architecture, the stack pointer and
/// the return address (layouts in `arch/vfork_*.S`).
#[repr(C, align(16))]
#[derive(Clone, Copy)]
struct JmpBuf([u64; 32]);

/// Index of the saved stack pointer in [`JmpBuf`].
#[cfg(target_arch = "x86_64")]
const SP_SLOT: usize = 6;
#[cfg(target_arch = "aarch64")]
const SP_SLOT: usize = 12;
#[cfg(target_arch = "riscv64")]
const SP_SLOT: usize = 1;

#[cfg(target_arch = "x86_64")]
std::arch::global_asm!(include_str!("../arch/vfork_x86_64.S"));
#[cfg(target_arch = "aarch64")]
std::arch::global_asm!(include_str!("../arch/vfork_aarch64.S"));
#[cfg(target_arch = "riscv64")]
std::arch::global_asm!(include_str!("../arch/vfork_riscv64.S"));

extern "C" {
    /// Returns 0, and 1 when resumed by `w2n_vfork_longjmp` (on another
    /// thread, with the registers saved here).
    fn w2n_vfork_setjmp(buf: *mut JmpBuf) -> i32;
    fn w2n_vfork_longjmp(buf: *const JmpBuf) -> !;
    /// Calls `f(arg)` with the stack pointer at `top`, then returns on the
    /// caller's stack.
    fn w2n_vfork_on_stack(arg: *mut u8, f: unsafe extern "C" fn(*mut u8), top: usize);
}

/// Size of the stack P sleeps on (kernel frames of `clone` and of reading
/// /proc/self/maps), plus a guard page below it.
const SIDE_STACK: usize = 2 << 20;
const GUARD: usize = 4096;

/// A thread's side stack, mapped at its first vfork and unmapped when the
/// thread ends.
struct SideStack(usize);

impl Drop for SideStack {
    fn drop(&mut self) {
        // SAFETY: our own mapping; nothing runs on it any more (its
        // thread is ending).
        unsafe { libc::munmap(self.0 as *mut libc::c_void, SIDE_STACK + GUARD) };
    }
}

/// The top of this thread's side stack.
fn side_stack_top() -> Option<usize> {
    thread_local! {
        static SIDE: RefCell<Option<SideStack>> = const { RefCell::new(None) };
    }
    SIDE.with(|s| {
        let mut s = s.borrow_mut();
        if s.is_none() {
            // SAFETY: a fresh private anonymous mapping; its lowest page
            // becomes the guard.
            let base = unsafe {
                let p = libc::mmap(
                    std::ptr::null_mut(),
                    SIDE_STACK + GUARD,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                    -1,
                    0,
                );
                if p == libc::MAP_FAILED {
                    return None;
                }
                libc::mprotect(p, GUARD, libc::PROT_NONE);
                p as usize
            };
            *s = Some(SideStack(base));
        }
        s.as_ref().map(|s| s.0 + GUARD + SIDE_STACK)
    })
}

/// Who owns P's native stack below the `__vfork` frame. P sets
/// `Abandoned` when its `clone` returns before any child took the stack.
#[derive(Clone, Copy, PartialEq, Eq)]
enum StackOwner {
    Parent,
    Child,
    Released,
    Abandoned,
}

/// What a vfork parent leaves for its child's thread.
struct Parent {
    jmp: JmpBuf,
    /// P's chain of wasm exception handlers (frames on P's stack), which
    /// the child's `longjmp`s (wasm throws) must find on Q.
    handlers: usize,
    /// 1: fork (the parent must see its memory unchanged).
    mode: i32,
    /// Upper end of what the child can write on P's stack: the trap landing
    /// of the `catch_traps` that entered the program (the child never
    /// returns above its `_start`). The top of the mapping would include
    /// the thread's TLS and thread descriptor (glibc puts them there), and
    /// putting back an old copy of them undid P's own thread-local writes
    /// (the `thread_exit` flag of a P killed in `clone`: the image exited).
    stack_top: usize,
    /// Whether the child runs on P's stack; P waits on `released` for it
    /// to give the stack back.
    owner: Mutex<StackOwner>,
    released: Condvar,
    memory_base: u32,
    stack_end: u32,
    stack_pointer: Global,
    instance: Instance,
    /// The stack limit of the native stack P runs on (for a nested vfork,
    /// P's own parent's), which Q takes over while it runs there: with its
    /// own thread's limit, Q's nested vfork (or a signal handler) set the
    /// instance's limit above P's stack and the next call trapped "call
    /// stack exhausted" (`$(a | while read; do b | c; done)` in a script).
    stack_limit: usize,
}

// SAFETY: the instance and global handles are shared like wasm threads
// share them; the register save is plain data.
unsafe impl Send for Parent {}
// SAFETY: see Send.
unsafe impl Sync for Parent {}

fn parents() -> &'static Mutex<HashMap<i32, Arc<Parent>>> {
    static P: OnceLock<Mutex<HashMap<i32, Arc<Parent>>>> = OnceLock::new();
    P.get_or_init(Default::default)
}

/// What the child asked for when it left the parent's stack.
enum Command {
    Exec(Exec, [i32; 3]),
    Exit(i32),
}

thread_local! {
    /// Where the child's exec/exit jumps back to, on Q's own stack.
    static BACK: Cell<*mut JmpBuf> = const { Cell::new(std::ptr::null_mut()) };
    static CHILD: Cell<bool> = const { Cell::new(false) };
    static FORK_CHILD: Cell<bool> = const { Cell::new(false) };
    static COMMAND: RefCell<Option<Command>> = const { RefCell::new(None) };
    /// The `stack_top` of the parent whose stack this thread's child runs
    /// on (a nested vfork's child writes no higher).
    static CHILD_STACK_TOP: Cell<usize> = const { Cell::new(0) };
}

/// Whether this thread runs a fork child (mode 1) on its parent's stack:
/// its `munmap` calls are dropped, since the memory is its parent's, which
/// gets its contents back and must still own it.
pub fn fork_child_active() -> bool {
    FORK_CHILD.with(|c| c.get())
}

/// Whether this thread runs a vfork child on its parent's stack.
pub fn child_active() -> bool {
    CHILD.with(|c| c.get())
}

/// `__vfork(mode)`: 0 in the child, the child's pid in the parent, or
/// `-errno`.
pub fn vfork(mode: i32) -> i32 {
    if std::env::var_os("W2NATIVE_VFORK").is_some_and(|v| v == "0") {
        return -ENOSYS;
    }
    let buf = Box::into_raw(Box::new(JmpBuf([0; 32])));
    // SAFETY: `buf` is a live heap buffer; see the module's rules for the
    // second return, which happens on the child's thread.
    if unsafe { w2n_vfork_setjmp(buf) } != 0 {
        return 0;
    }
    // SAFETY: `buf` came from Box::into_raw just above.
    let jmp = *unsafe { Box::from_raw(buf) };
    let Some(top) = side_stack_top() else {
        return -ENOMEM;
    };
    // P sleeps in `clone` on its side stack, not below this frame where the
    // child runs: a fatal signal wakes a vfork parent early (the kernel's
    // vfork wait is killable: `timeout` killing its parent), and P's
    // frames there would be the child's by then.
    let stack_top = if child_active() {
        CHILD_STACK_TOP.with(|t| t.get())
    } else {
        crate::traphandlers::current() as usize
    };
    let mut call = (mode, jmp, stack_top, 0);
    unsafe extern "C" fn on_side_stack(arg: *mut u8) {
        // SAFETY: `arg` is `call` below, alive for the whole call.
        let call = unsafe { &mut *(arg as *mut (i32, JmpBuf, usize, i32)) };
        call.3 = parent(call.0, call.1, call.2);
    }
    // SAFETY: `top` is the top of this thread's side stack, unused (a
    // thread sleeping as a vfork parent makes no other call).
    unsafe {
        w2n_vfork_on_stack(
            &mut call as *mut (i32, JmpBuf, usize, i32) as *mut u8,
            on_side_stack,
            top,
        )
    };
    call.3
}

/// P: publish, save the guest stack (and data), clone and sleep until the
/// child execs or exits, then put the guest memory back.
fn parent(mode: i32, jmp: JmpBuf, stack_top: usize) -> i32 {
    let k = kernel();
    let info = CURRENT.with(|c| {
        c.borrow().as_ref().map(|c| {
            (
                c.pid,
                c.memory_base,
                c.stack_end,
                c.stack_pointer.clone(),
                c.instance.clone(),
            )
        })
    });
    let Some((pid, memory_base, stack_end, stack_pointer, instance)) = info else {
        return -ENOSYS;
    };
    let Val::I32(sp) = stack_pointer.get() else {
        return -ENOSYS;
    };
    let sp = sp as u32;
    let end = if stack_end > sp {
        stack_end
    } else {
        sp + (64 << 10)
    };
    let mut guest = vec![(sp, k.read(sp, (end - sp) as usize))];
    if mode == 1 {
        // fork: the child may change anything the process can write.
        let size = super::runner().image.mem_size;
        guest.push((memory_base, k.read(memory_base, size as usize)));
        for (start, len) in writable_regions(sp) {
            guest.push((start, k.read(start, len)));
        }
    }
    let record = Arc::new(Parent {
        jmp,
        handlers: crate::exceptions::top() as usize,
        mode,
        stack_top,
        owner: Mutex::new(StackOwner::Parent),
        released: Condvar::new(),
        memory_base,
        stack_end,
        stack_pointer: stack_pointer.clone(),
        instance: instance.clone(),
        stack_limit: crate::traphandlers::stack_limit(),
    });
    let lock = || parents().lock().unwrap_or_else(|e| e.into_inner());
    if lock().insert(pid, record.clone()).is_some() {
        return -ENOMEM;
    }
    let child = catch_traps(|| sys(NR_CLONE, &[CLONE_VM | CLONE_VFORK | SIGCHLD, 0, 0, 0, 0]));
    lock().remove(&pid);
    record.take_back();
    let child = match child {
        Ok(child) => child,
        // The task died in `clone` (a fatal signal woke it): its thread
        // ends, now that the child is off its stack.
        Err(e) => super::fatal_trap(super::hostops::pass_thread_exit(e)),
    };
    for (addr, bytes) in &guest {
        k.write(*addr, bytes);
    }
    let _ = stack_pointer.set(Val::I32(sp as i32));
    // The child's thread may have set the instance's stack limit to its own.
    instance.set_stack_limit(crate::traphandlers::stack_limit());
    child
}

impl Parent {
    /// P, once its `clone` returned: waits until a child that took its
    /// stack gave it back (at once unless P was woken early).
    fn take_back(&self) {
        let mut owner = self.owner.lock().unwrap_or_else(|e| e.into_inner());
        if *owner == StackOwner::Parent {
            *owner = StackOwner::Abandoned;
        }
        while *owner == StackOwner::Child {
            owner = self.released.wait(owner).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Q: takes P's stack, unless P has given up on a child.
    fn claim(&self) -> bool {
        let mut owner = self.owner.lock().unwrap_or_else(|e| e.into_inner());
        let free = *owner == StackOwner::Parent;
        if free {
            *owner = StackOwner::Child;
        }
        free
    }

    /// Q: P's stack is as it was; P may run on it again.
    fn release(&self) {
        *self.owner.lock().unwrap_or_else(|e| e.into_inner()) = StackOwner::Released;
        self.released.notify_all();
    }
}

/// The process's mappings (all of them are writable from wasm), from the
/// guest's /proc/self/maps (read
/// with syscalls as the process, into guest stack space below `sp`).
fn writable_regions(sp: u32) -> Vec<(u32, usize)> {
    const NR_OPENAT: i32 = 56;
    const NR_CLOSE: i32 = 57;
    const NR_READ: i32 = 63;
    const LIMIT: usize = 64 << 20;
    let k = kernel();
    let buf = (sp - (96 << 10)) & !15;
    let path = buf;
    k.write(path, b"/proc/self/maps\0");
    let fd = sys(NR_OPENAT, &[-100, path as i32, 0, 0]);
    if fd < 0 {
        return Vec::new();
    }
    let data = buf + 64;
    let cap = 64 << 10;
    let mut len = 0u32;
    loop {
        let n = sys(NR_READ, &[fd, (data + len) as i32, (cap - len) as i32]);
        if n <= 0 {
            break;
        }
        len += n as u32;
        if len >= cap {
            break;
        }
    }
    sys(NR_CLOSE, &[fd]);
    let text = String::from_utf8_lossy(&k.read(data, len as usize)).into_owned();
    let mut out = Vec::new();
    let mut total = 0;
    for line in text.lines() {
        let mut f = line.split_whitespace();
        let Some(range) = f.next() else {
            continue;
        };
        let Some((a, b)) = range.split_once('-') else {
            continue;
        };
        let (Ok(a), Ok(b)) = (u32::from_str_radix(a, 16), u32::from_str_radix(b, 16)) else {
            continue;
        };
        // Every mapping, whatever its permissions: wasm memory has no
        // protection, and on this NOMMU kernel `mprotect` is -ENOSYS, so
        // mallocng's meta area (mapped PROT_NONE, then "made" writable by
        // an mprotect that fails with ENOSYS, which it accepts) is listed
        // as `---p` but written all the time.
        if b > a && total + (b - a) as usize <= LIMIT {
            total += (b - a) as usize;
            out.push((a, (b - a) as usize));
        }
    }
    out
}

/// Q (from `user_clone`, a task made by a clone without `CLONE_THREAD`):
/// run the vfork child on its parent's stack, then make its exec or exit
/// call here.
pub fn child_thread() -> i32 {
    let ppid = sys(NR_GETPPID, &[]);
    let parent = parents()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&ppid)
        .cloned();
    let Some(parent) = parent else {
        write_all(2, b"w2native runner: clone child without a vfork parent\n");
        sys(NR_EXIT_GROUP, &[127]);
        return 127;
    };
    // P's stack below the `__vfork` frame is free: P runs on its side
    // stack from before its `clone` until it takes the stack back.
    if !parent.claim() {
        sys(NR_EXIT_GROUP, &[127]);
        return 127;
    }
    // The part of P's stack the child may overwrite.
    let sp = parent.jmp.0[SP_SLOT] as usize;
    let top = match stack_top_of(sp) {
        Some(end) if parent.stack_top > sp && parent.stack_top <= end => parent.stack_top,
        _ => {
            parent.release();
            write_all(
                2,
                b"w2native runner: vfork: no stack bounds for the child\n",
            );
            sys(NR_EXIT_GROUP, &[127]);
            return 127;
        }
    };
    let low = sp.saturating_sub(BELOW);
    // SAFETY: [low, top) is P's mapped stack, claimed (module rules).
    let saved = unsafe { std::slice::from_raw_parts(low as *const u8, top - low) }.to_vec();

    let pid = sys(NR_GETPID, &[]);
    set_current(
        pid,
        parent.memory_base,
        parent.stack_end,
        &parent.instance,
        parent.stack_pointer.clone(),
    );
    CHILD.with(|c| c.set(true));
    CHILD_STACK_TOP.with(|t| t.set(parent.stack_top));
    FORK_CHILD.with(|c| c.set(parent.mode == 1));
    let jmp = parent.jmp;
    let own_limit = crate::traphandlers::replace_stack_limit(parent.stack_limit);
    let own_handlers = crate::exceptions::top();
    crate::exceptions::set_top(parent.handlers as *mut _);
    let back = Box::into_raw(Box::new(JmpBuf([0; 32])));
    BACK.with(|b| b.set(back));
    // SAFETY: jumps to P's `__vfork` call on P's stack with P's registers;
    // the child comes back by `w2n_vfork_longjmp(back)` (exec/exit) into
    // this closure on Q's stack, whose frame it never touched, or by a
    // trap to this `catch_traps`.
    let result = catch_traps(|| unsafe {
        if w2n_vfork_setjmp(back) == 0 {
            w2n_vfork_longjmp(&jmp)
        }
    });
    BACK.with(|b| b.set(std::ptr::null_mut()));
    // SAFETY: `back` came from Box::into_raw above and is no longer used.
    drop(unsafe { Box::from_raw(back) });
    crate::exceptions::set_top(own_handlers);
    CHILD.with(|c| c.set(false));
    FORK_CHILD.with(|c| c.set(false));
    crate::traphandlers::replace_stack_limit(own_limit);
    CURRENT.with(|c| c.borrow_mut().take());
    // SAFETY: as above; the stack is still claimed.
    unsafe { std::ptr::copy_nonoverlapping(saved.as_ptr(), low as *mut u8, saved.len()) };
    parent.release();
    // Freed here: this thread ends in exit_group (now or when the program
    // it execs ends), which unwinds past this frame without running drops,
    // and the copy of P's stack (512 KiB and more) leaked at every fork.
    drop(saved);
    drop(parent);

    match (COMMAND.with(|c| c.borrow_mut().take()), result) {
        (Some(Command::Exec(exec, args)), _) => {
            let r = sys(NR_EXECVE, &args);
            if r < 0 {
                sys(NR_EXIT_GROUP, &[127]);
                return 127;
            }
            let status = super::process::run(exec);
            sys(NR_EXIT_GROUP, &[status]);
            status
        }
        (Some(Command::Exit(status)), _) => {
            sys(NR_EXIT_GROUP, &[status]);
            status
        }
        (None, Err(e)) => {
            if let TrapError::Trap { .. } = super::hostops::pass_thread_exit(e.clone()) {
                write_all(2, format!("vfork child: trap: {e}\n").as_bytes());
            }
            sys(NR_EXIT_GROUP, &[128 + 11]);
            139
        }
        (None, Ok(())) => {
            sys(NR_EXIT_GROUP, &[127]);
            127
        }
    }
}

/// End of the host stack mapping that contains `addr` (from /proc maps;
/// above the stack itself it holds the thread's TLS).
fn stack_top_of(addr: usize) -> Option<usize> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines().find_map(|l| {
        let range = l.split_whitespace().next()?;
        let (a, b) = range.split_once('-')?;
        let (a, b) = (
            usize::from_str_radix(a, 16).ok()?,
            usize::from_str_radix(b, 16).ok()?,
        );
        (a <= addr && addr < b).then_some(b)
    })
}

/// Jumps from the child (on P's stack) back into `child_thread` on Q.
fn leave_child(command: Command) -> ! {
    COMMAND.with(|c| *c.borrow_mut() = Some(command));
    let back = BACK.with(|b| b.get());
    if back.is_null() {
        super::fatal("vfork: no way back from the child");
    }
    // SAFETY: `back` was saved by `child_thread`, whose frame on Q's stack
    // is live; the frames left behind are on P's stack, put back next.
    unsafe { w2n_vfork_longjmp(back) }
}

/// The vfork child execs: leave the parent's stack, then exec on Q.
pub fn child_exec(exec: Exec, args: [i32; 3]) -> ! {
    leave_child(Command::Exec(exec, args))
}

/// The vfork child calls `exit`/`exit_group`.
pub fn child_exit(status: i32) -> ! {
    leave_child(Command::Exit(status))
}
