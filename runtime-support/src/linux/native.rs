//! Runner-native tasks: guest tasks whose user-mode code is Rust in the
//! Runner instead of a user program (the telnet pseudo-inetd and its
//! threads, [`super::telnet`]).
//!
//! Such a task is made like any clone child: a task that already runs on
//! its own host thread (init, or another native task) calls the kernel's
//! `clone`, the kernel gives the child a host thread, and that thread calls
//! the host op `user_clone(task, flags, stack, tls)`. The Runner passes a
//! token as the clone's stack (a value no stack can have: above the largest
//! kernel memory) and leaves the child's body under it; `user_clone` finds
//! the body there ([`run_clone`]) and runs it as the child task's user code.
//! Its syscalls go to `kernel_syscall` on its own thread, exactly like a
//! program's, so the kernel sees an ordinary process or thread (it can be
//! killed, waited for, listed by `ps`). When the body returns, the task
//! exits with the returned status.
//!
//! A native task has no signal handlers: it ignores the signals it must
//! survive, and a fatal one ends it inside the kernel. Without handlers an
//! interrupted call is just made again ([`sys`]).
//!
//! A native task never blocks on the host. For the kernel, time spent on
//! the host is user code: the task stays `current` with the CPU released,
//! and this port does not preempt it, so a task the scheduler should run
//! next (a new vfork child, say) waits until the native task enters the
//! kernel again; blocked in a host `accept` that can be forever (the whole
//! guest stood still). [`wait_fd`] therefore checks the host descriptor
//! without blocking and sleeps *in the kernel* in between, from 1 ms up to
//! [`MAX_NAP`] while nothing comes: an idle session costs a few dozen
//! wake-ups a second, and input waits at most that long.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::kernel::kernel;
use super::process;

const NR_MUNMAP: i32 = 215;
const NR_CLONE: i32 = 220;
const NR_MMAP2: i32 = 222;
const NR_CLOCK_NANOSLEEP_TIME64: i32 = 407;
const CLOCK_MONOTONIC: i32 = 1;

/// Longest sleep in the kernel between two looks at a host descriptor.
pub const MAX_NAP: Duration = Duration::from_millis(40);

/// Lowest token: kernel memory is at most 1 GiB (`--mem`), so no stack
/// address of a real clone is this high.
const TOKEN_BASE: u32 = 0xC000_0000;

type Body = Box<dyn FnOnce() -> i32 + Send>;

fn pending() -> &'static Mutex<HashMap<u32, Body>> {
    static P: OnceLock<Mutex<HashMap<u32, Body>>> = OnceLock::new();
    P.get_or_init(Default::default)
}

/// Makes a child task of the calling task (which must have a task: init's
/// thread or a native task) with the `clone` flags `flags` (the low byte is
/// the exit signal) whose user code is `body`. Returns the child's pid (tid
/// for a thread), or `-errno`.
pub fn clone(flags: u32, body: impl FnOnce() -> i32 + Send + 'static) -> i32 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let token = TOKEN_BASE | ((n << 4) & 0x3FFF_FFF0);
    let lock = || pending().lock().unwrap_or_else(|e| e.into_inner());
    lock().insert(token, Box::new(body));
    // asm-generic argument order: flags, newsp, parent_tid, child_tid, tls.
    let r = sys(NR_CLONE, &[flags as i32, token as i32, 0, 0, 0]);
    if process::is_err(r) {
        lock().remove(&token);
    }
    r
}

/// Called by `user_clone` with the clone's stack argument: if it is the
/// token of a native task, runs its body on this (the child's) thread and
/// returns its exit status.
pub fn run_clone(stack: u32) -> Option<i32> {
    if stack < TOKEN_BASE {
        return None;
    }
    let body = pending()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&stack)?;
    let status = body();
    let nap = NAP_AT.with(|n| n.replace(0));
    if nap != 0 {
        sys(NR_MUNMAP, &[nap as i32, 4096]);
    }
    Some(status)
}

/// A syscall of the calling native task. Calls the kernel interrupted
/// (`-ERESTART*`) are made again: a native task runs no handlers.
pub fn sys(nr: i32, args: &[i32]) -> i32 {
    const ERESTARTSYS: i32 = 512;
    const ERESTARTNOINTR: i32 = 513;
    const ERESTARTNOHAND: i32 = 514;
    const ERESTART_RESTARTBLOCK: i32 = 516;
    loop {
        let r = process::sys(nr, args);
        match -r {
            ERESTARTSYS | ERESTARTNOINTR | ERESTARTNOHAND | ERESTART_RESTARTBLOCK => continue,
            _ => return r,
        }
    }
}

thread_local! {
    /// Guest memory of this task for the sleep's timespec (mapped on first
    /// use: a command that execs never needs one in the daemon's memory).
    static NAP_AT: Cell<u32> = const { Cell::new(0) };
}

/// Sleeps `d` in the kernel (the task is then not `current`).
pub fn sleep(d: Duration) {
    let mut at = NAP_AT.with(|n| n.get());
    if at == 0 {
        let r = sys(NR_MMAP2, &[0, 4096, 3, 0x22, -1, 0]);
        if process::is_err(r) {
            std::thread::sleep(d);
            return;
        }
        at = r as u32;
        NAP_AT.with(|n| n.set(at));
    }
    let mut ts = [0u8; 16];
    ts[..8].copy_from_slice(&(d.as_secs() as i64).to_le_bytes());
    ts[8..].copy_from_slice(&(d.subsec_nanos() as i64).to_le_bytes());
    kernel().write(at, &ts);
    sys(
        NR_CLOCK_NANOSLEEP_TIME64,
        &[CLOCK_MONOTONIC, 0, at as i32, 0],
    );
}

/// Waits until host descriptor `fd` has one of `events` (poll flags), or
/// `timeout` passed (`None`: no limit). Returns the events that came (0 on
/// timeout). See the module comment for why this naps in the kernel.
pub fn wait_fd(fd: i32, events: i16, timeout: Option<Duration>) -> i16 {
    let deadline = timeout.map(|t| Instant::now() + t);
    let mut nap = Duration::from_millis(1);
    loop {
        let mut pfd = libc::pollfd {
            fd,
            events,
            revents: 0,
        };
        // SAFETY: polling one descriptor, without waiting.
        if unsafe { libc::poll(&mut pfd, 1, 0) } > 0 && pfd.revents != 0 {
            return pfd.revents;
        }
        let mut this_nap = nap;
        if let Some(d) = deadline {
            let left = d.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return 0;
            }
            this_nap = this_nap.min(left);
        }
        sleep(this_nap);
        nap = (nap * 2).min(MAX_NAP);
    }
}
