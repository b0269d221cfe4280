//! `memory.atomic.wait*` / `memory.atomic.notify` on real futexes.
//!
//! A waiter sleeps in the kernel on the address of the wasm cell itself, so
//! waking costs nothing when nobody waits and threads of different instances
//! sharing one memory find each other by address. Futexes are 32-bit: a
//! 64-bit wait compares the whole value first, then sleeps on its low half
//! (little-endian: the same address), which `notify` wakes.
//!
//! Unsafe rules of this module: callers pass aligned pointers to committed
//! memory (checked by the builtins).

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

fn timespec(timeout_ns: i64) -> Option<libc::timespec> {
    (timeout_ns >= 0).then_some(libc::timespec {
        tv_sec: (timeout_ns / 1_000_000_000) as libc::time_t,
        tv_nsec: (timeout_ns % 1_000_000_000) as libc::c_long,
    })
}

/// Returns 0 woken, 1 not equal, 2 timed out.
fn futex_wait(p: *const u32, expected: u32, timeout_ns: i64) -> i32 {
    let ts = timespec(timeout_ns);
    let tsp = ts
        .as_ref()
        .map(|t| t as *const libc::timespec)
        .unwrap_or(std::ptr::null());
    // SAFETY: `p` is an aligned, mapped u32 (module rules).
    let rc = unsafe {
        libc::syscall(
            libc::SYS_futex,
            p,
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            expected,
            tsp,
        )
    };
    if rc == 0 {
        return 0;
    }
    match std::io::Error::last_os_error().raw_os_error() {
        Some(libc::EAGAIN) => 1,
        Some(libc::ETIMEDOUT) => 2,
        _ => 0,
    }
}

/// # Safety
/// `p` must be an aligned pointer to mapped memory.
pub unsafe fn wait32(p: *const u32, expected: u32, timeout_ns: i64) -> i32 {
    // SAFETY: aligned and mapped (module rules).
    let cell = unsafe { AtomicU32::from_ptr(p as *mut u32) };
    if cell.load(Ordering::SeqCst) != expected {
        return 1;
    }
    futex_wait(p, expected, timeout_ns)
}

/// # Safety
/// As [`wait32`].
pub unsafe fn wait64(p: *const u64, expected: u64, timeout_ns: i64) -> i32 {
    // SAFETY: aligned and mapped (module rules).
    let cell = unsafe { AtomicU64::from_ptr(p as *mut u64) };
    if cell.load(Ordering::SeqCst) != expected {
        return 1;
    }
    futex_wait(p as *const u32, expected as u32, timeout_ns)
}

/// Wakes up to `count` waiters; returns how many woke.
/// # Safety
/// As [`wait32`].
pub unsafe fn notify(p: *const u32, count: u32) -> i32 {
    if count == 0 {
        return 0;
    }
    let n = count.min(i32::MAX as u32) as libc::c_int;
    // SAFETY: FUTEX_WAKE only uses the address as a key.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_futex,
            p,
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            n,
        )
    };
    rc.max(0) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_not_equal_and_timeout() {
        let cell = AtomicU32::new(5);
        // SAFETY: a live aligned cell.
        unsafe {
            assert_eq!(wait32(cell.as_ptr(), 4, 0), 1);
            assert_eq!(wait32(cell.as_ptr(), 5, 1_000_000), 2);
            assert_eq!(notify(cell.as_ptr(), 1), 0);
        }
    }

    #[test]
    fn notify_wakes_a_waiter() {
        let cell = Box::leak(Box::new(AtomicU32::new(0)));
        let addr = cell.as_ptr() as usize;
        // SAFETY: the cell is leaked, so it outlives the thread.
        let t = std::thread::spawn(move || unsafe { wait32(addr as *const u32, 0, 5_000_000_000) });
        let mut woken = 0;
        for _ in 0..500 {
            // SAFETY: a live aligned cell.
            woken = unsafe { notify(cell.as_ptr(), 1) };
            if woken == 1 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        assert_eq!(woken, 1);
        assert_eq!(t.join().unwrap(), 0);
    }
}
