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
//!    (`w2n_vfork_setjmp`), publishes them with its process (instance,
//!    globals) under its pid, saves the guest stack above `__stack_pointer`
//!    (and, for fork, the process's data), and calls `clone(CLONE_VM |
//!    CLONE_VFORK | SIGCHLD)`.
//! 2. Q (in `user_clone`, see [`child_thread`]) finds the record through
//!    `getppid`, waits until P sleeps, copies P's stack (the part the child
//!    can overwrite), and jumps onto it (`w2n_vfork_longjmp`): `__vfork`
//!    returns 0 on Q, as the child task, since Q is the child's thread.
//! 3. When the child calls `execve` or `exit`, the Runner unwinds Q back to
//!    its own stack, puts P's stack back, and makes that call there: the
//!    new program runs on Q; the kernel then wakes P, whose `clone` returns
//!    the pid; P puts the guest stack (and data) back.
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
//! Unsafe rules of this module: P's stack is read and written by Q only
//! while P sleeps in the kernel (checked through /proc before, and P cannot
//! wake before Q's exec/exit call, which Q makes after restoring it). The
//! code after the second return of `w2n_vfork_setjmp` (on Q) reads only
//! thread-locals.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

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
}

/// What a vfork parent leaves for its child's thread.
struct Parent {
    jmp: JmpBuf,
    /// P's chain of wasm exception handlers (frames on P's stack), which
    /// the child's `longjmp`s (wasm throws) must find on Q.
    handlers: usize,
    /// 1: fork (the parent must see its memory unchanged).
    mode: i32,
    /// Host kernel thread id of P (to see that it sleeps).
    tid: i32,
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
    parent(mode, jmp)
}

/// P: publish, save the guest stack (and data), clone and sleep until the
/// child execs or exits, then put the guest memory back.
fn parent(mode: i32, jmp: JmpBuf) -> i32 {
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
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::gettid() };
    let record = Arc::new(Parent {
        jmp,
        handlers: crate::exceptions::top() as usize,
        mode,
        tid,
        memory_base,
        stack_end,
        stack_pointer: stack_pointer.clone(),
        instance: instance.clone(),
        stack_limit: crate::traphandlers::stack_limit(),
    });
    let lock = || parents().lock().unwrap_or_else(|e| e.into_inner());
    if lock().insert(pid, record).is_some() {
        return -ENOMEM;
    }
    let child = sys(NR_CLONE, &[CLONE_VM | CLONE_VFORK | SIGCHLD, 0, 0, 0, 0]);
    lock().remove(&pid);
    for (addr, bytes) in &guest {
        k.write(*addr, bytes);
    }
    let _ = stack_pointer.set(Val::I32(sp as i32));
    // The child's thread may have set the instance's stack limit to its own.
    instance.set_stack_limit(crate::traphandlers::stack_limit());
    child
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

/// Whether host thread `tid` of this process sleeps (state S or D).
fn sleeping(tid: i32) -> bool {
    let path = format!("/proc/self/task/{tid}/stat");
    let Ok(stat) = std::fs::read_to_string(path) else {
        return false;
    };
    // "tid (comm) S ...": the state follows the last ')'.
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next())
        .is_some_and(|c| c == 'S' || c == 'D')
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
    for _ in 0..2000 {
        if sleeping(parent.tid) {
            break;
        }
        std::thread::sleep(Duration::from_micros(500));
    }
    // The part of P's stack the child may overwrite.
    let sp = parent.jmp.0[SP_SLOT] as usize;
    let Some(top) = stack_top_of(sp) else {
        sys(NR_EXIT_GROUP, &[127]);
        return 127;
    };
    let low = sp.saturating_sub(BELOW);
    // SAFETY: [low, top) is P's mapped stack and P sleeps (module rules).
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
    // SAFETY: as above; P still sleeps (it wakes at our exec/exit call).
    unsafe { std::ptr::copy_nonoverlapping(saved.as_ptr(), low as *mut u8, saved.len()) };
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

/// Top of the host thread stack that contains `addr` (from /proc maps).
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
