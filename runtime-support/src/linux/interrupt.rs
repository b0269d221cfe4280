//! Interrupting user code that makes no syscalls (issue: a busy loop must
//! stop on Ctrl-C, `kill -9`, `kill -STOP`, and must not starve others).
//!
//! Two ways in, one delivery. By default the user module of a Linux image
//! has no checks and [`super::preempt`] stops it asynchronously with a host
//! signal; built with `--interrupt-checks on`, its code loads
//! `vmctx.interrupt` at function entries (of functions that call
//! something) and loop headers and, when it is non-zero, calls the
//! `interrupt` builtin. The kernel asks for either through the host op
//! `user_kick(thread)` when a task executing user code on that host thread
//! has a signal pending or should give the CPU to another task (see
//! `guest/kernel/arch-wasm/kernel/kick.c`). This module maps the Runner's
//! thread ids to the instance each thread currently runs, sets the flag,
//! and, when the code calls in, enters the kernel with a null syscall
//! (`getpid`): on its way back the kernel runs the scheduler and takes
//! pending signals exactly as at any syscall return (default actions
//! terminate, stop until `SIGCONT`, or dump; `SIGKILL`), and the Runner
//! runs handlers the same way as after a syscall.
//!
//! The handler's frame goes below a red zone: an LLVM-compiled wasm leaf
//! function whose frame is at most 128 bytes uses the memory below
//! `__stack_pointer` without moving the global, and the check may sit in
//! such a function's loop.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Mutex;

use super::hostops::current_thread_id;
use super::process::{deliver_signals, sys, CURRENT};
use crate::instance::{Instance, Val};
use crate::vm::VMContext;

const NR_GETPID: i32 = 172;
/// LLVM's wasm red zone (`WebAssemblyFrameLowering`): leaf functions with
/// frames up to this size do not write back `__stack_pointer`.
const RED_ZONE: u32 = 128;

/// The instance a host thread runs user code in (its vmctx as an address,
/// so the map is `Send`) and the thread's host tid (for [`super::preempt`]).
#[derive(Clone, Copy, PartialEq, Eq)]
struct Running {
    vmctx: usize,
    tid: i32,
}

fn running() -> &'static Mutex<HashMap<i32, Running>> {
    static RUNNING: std::sync::OnceLock<Mutex<HashMap<i32, Running>>> = std::sync::OnceLock::new();
    RUNNING.get_or_init(Default::default)
}

fn lock() -> std::sync::MutexGuard<'static, HashMap<i32, Running>> {
    running().lock().unwrap_or_else(|e| e.into_inner())
}

/// The instance registered for this thread, kept alive while the map
/// points at it (the registration outlives the program by at most the time
/// until the thread's next program or its end).
struct Registration {
    thread: i32,
    instance: Instance,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut map = lock();
        if map.get(&self.thread).map(|r| r.vmctx) == Some(self.instance.vmctx() as usize) {
            map.remove(&self.thread);
        }
    }
}

thread_local! {
    static REGISTERED: RefCell<Option<Registration>> = const { RefCell::new(None) };
}

/// From now on, kicks of the calling host thread interrupt `instance`
/// (called whenever the thread starts running a program's code).
pub(crate) fn running_in(instance: &Instance) {
    let thread = current_thread_id();
    let new = Registration {
        thread,
        instance: instance.clone(),
    };
    let old = REGISTERED.with(|r| r.borrow_mut().replace(new));
    drop(old);
    if std::env::var_os("W2NATIVE_ASYNC_PREEMPT").is_none_or(|v| v != "0") {
        super::preempt::init(instance.module());
    }
    let running = Running {
        vmctx: instance.vmctx() as usize,
        // SAFETY: gettid has no preconditions.
        tid: unsafe { libc::gettid() },
    };
    lock().insert(thread, running);
}

/// Host op `user_kick(thread)`: called by the kernel (holding its CPU lock,
/// sometimes with interrupts off), so it only sets a flag. A thread that
/// runs no user program is left alone: it enters the kernel soon anyway.
pub(crate) unsafe extern "C" fn user_kick(_vmctx: *mut VMContext, thread: i32) {
    if let Some(&r) = lock().get(&thread) {
        // SAFETY: a registered vmctx is live until its registration drops,
        // which takes the same lock.
        unsafe { (*(r.vmctx as *const VMContext)).request_interrupt() };
        super::preempt::kick(r.tid);
    }
}

/// Asynchronous preemption (`preempt.rs`) stopped this thread in compiled
/// user code: the same as an interrupt check that found its flag set.
pub(crate) fn preempted() {
    let vmctx = REGISTERED.with(|r| r.borrow().as_ref().map(|r| r.instance.vmctx()));
    if let Some(vmctx) = vmctx {
        // SAFETY: the registration keeps the instance alive.
        unsafe { (*vmctx).take_interrupt() };
        interrupted(vmctx);
    }
}

/// The `interrupt` builtin, after it cleared the flag of `vmctx`: if this
/// thread runs a user program, enter the kernel and deliver what is due.
pub(crate) fn interrupted(vmctx: *mut VMContext) {
    let Some(sp_global) = CURRENT.with(|c| {
        c.borrow()
            .as_ref()
            .filter(|c| c.instance.vmctx() == vmctx)
            .map(|c| c.stack_pointer.clone())
    }) else {
        return;
    };
    let Val::I32(sp) = sp_global.get() else {
        return;
    };
    let below = (sp as u32).saturating_sub(RED_ZONE) & !15;
    let _ = sp_global.set(Val::I32(below as i32));
    sys(NR_GETPID, &[]);
    deliver_signals(vmctx);
    let _ = sp_global.set(Val::I32(sp));
}
