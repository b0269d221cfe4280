//! The host terminal's window size for the guest console (host op
//! `console_winsize`).
//!
//! The size is read from the terminal on stdin when the console starts and
//! again after every SIGWINCH. The kernel asks for it when its console tty
//! is first opened and at every console interrupt; when it changed, the
//! kernel resizes the tty, which sends SIGWINCH to the guest's foreground
//! group (so `stty size`, vi and top follow the host window).
//!
//! SIGWINCH can land on any host thread, some of them inside kernel code,
//! so the handler only counts it on a futex word; a thread of ours sleeps
//! on that word, rereads the size and raises the console interrupt.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, Ordering};

use super::kernel::kernel;

/// `rows << 16 | cols`, 0 if unknown (not a terminal).
static SIZE: AtomicI32 = AtomicI32::new(0);
/// Count of SIGWINCH received: the futex word the watcher sleeps on.
static CHANGES: AtomicU32 = AtomicU32::new(0);

/// Interrupt that makes the kernel look at the console (input and size).
const CONSOLE_IRQ: i32 = 2;

/// Whether [`start`] ran (then [`SIZE`] follows the terminal).
static STARTED: AtomicBool = AtomicBool::new(false);

/// The size for the kernel (`console_winsize`). The kernel opens its
/// console before the first program starts the watcher: then the size is
/// read on the spot.
pub fn get() -> i32 {
    if STARTED.load(Ordering::Acquire) {
        SIZE.load(Ordering::Relaxed)
    } else {
        read_size()
    }
}

fn read_size() -> i32 {
    for fd in [0, 1] {
        // SAFETY: TIOCGWINSZ fills a winsize we own.
        unsafe {
            let mut ws: libc::winsize = std::mem::zeroed();
            if libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0 {
                return (ws.ws_row as i32) << 16 | ws.ws_col as i32;
            }
        }
    }
    0
}

extern "C" fn on_sigwinch(_sig: libc::c_int) {
    CHANGES.fetch_add(1, Ordering::SeqCst);
    // SAFETY: futex wake on a static word (async-signal-safe).
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            CHANGES.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            1,
        );
    }
}

/// Reads the size and, if stdin or stdout is a terminal, follows its
/// changes. Called once, when the console starts (the kernel is up).
pub fn start() {
    let size = read_size();
    SIZE.store(size, Ordering::Relaxed);
    STARTED.store(true, Ordering::Release);
    if size == 0 {
        return;
    }
    // SAFETY: installing a handler that only touches atomics and futexes.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_sigwinch as *const () as usize;
        sa.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(libc::SIGWINCH, &sa, std::ptr::null_mut());
    }
    let id = super::hostops::new_thread_id();
    let ok = super::hostops::spawn("winsize".into(), id, || {
        let mut seen = CHANGES.load(Ordering::SeqCst);
        loop {
            // SAFETY: futex wait on a static word; returns at once if it
            // changed since `seen` was read.
            unsafe {
                libc::syscall(
                    libc::SYS_futex,
                    CHANGES.as_ptr(),
                    libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
                    seen,
                    std::ptr::null::<libc::timespec>(),
                );
            }
            let now = CHANGES.load(Ordering::SeqCst);
            if now == seen {
                continue;
            }
            seen = now;
            let size = read_size();
            if size != 0 && SIZE.swap(size, Ordering::Relaxed) != size {
                kernel().irq(CONSOLE_IRQ);
            }
        }
    });
    if !ok {
        super::fatal("cannot start the window size thread");
    }
}
