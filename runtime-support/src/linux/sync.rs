//! Semaphores and mutexes for the kernel's host ops, on raw futexes.
//!
//! The kernel names them by small positive handles. All objects live in one
//! fixed table of futex cells that is never reallocated, so `sem_up` and
//! `sem_down` (the context-switch path) index it without taking any lock;
//! only allocation and release take the free-list lock. Waiting is always a
//! `FUTEX_WAIT` in the host kernel: nothing spins.
//!
//! Unsafe rules of this module: none beyond the futex system calls, which
//! receive the address of a cell in the `'static` table.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

/// Most semaphores and mutexes alive at once (each task holds one
/// semaphore; the kernel allocates a handful more).
pub const MAX_HANDLES: usize = 1 << 15;

/// One futex-backed object: a semaphore uses (`count`, `waiters`), a mutex
/// uses `count` as its state (0 free, 1 locked, 2 locked with waiters).
#[derive(Default)]
struct Cell {
    count: AtomicU32,
    waiters: AtomicU32,
}

struct Table {
    cells: Box<[Cell]>,
    free: Mutex<Vec<u32>>,
}

fn table() -> &'static Table {
    static T: OnceLock<Table> = OnceLock::new();
    T.get_or_init(|| Table {
        cells: (0..MAX_HANDLES).map(|_| Cell::default()).collect(),
        // Handle 0 means failure; pop() hands out low handles first.
        free: Mutex::new((1..MAX_HANDLES as u32).rev().collect()),
    })
}

fn futex_wait(cell: &AtomicU32, expected: u32) {
    // SAFETY: the address is a live, aligned u32 of the 'static table. The
    // result does not matter: every caller re-checks the value in a loop
    // (EINTR, EAGAIN and spurious wake-ups are all fine).
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            cell.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            expected,
            std::ptr::null::<libc::timespec>(),
        );
    }
}

fn futex_wake(cell: &AtomicU32, n: i32) {
    // SAFETY: FUTEX_WAKE only uses the address as a key.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            cell.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            n,
        );
    }
}

fn cell(handle: i32) -> &'static Cell {
    match table().cells.get(handle as usize) {
        Some(c) if handle > 0 => c,
        _ => super::fatal(&format!("bad semaphore/mutex handle {handle}")),
    }
}

/// A new object with its counter set to `count`; 0 when the table is full.
pub fn alloc(count: u32) -> i32 {
    let t = table();
    let Some(h) = t.free.lock().unwrap_or_else(|e| e.into_inner()).pop() else {
        return 0;
    };
    let c = &t.cells[h as usize];
    c.count.store(count, Ordering::SeqCst);
    c.waiters.store(0, Ordering::SeqCst);
    h as i32
}

pub fn free(handle: i32) {
    cell(handle);
    table()
        .free
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(handle as u32);
}

pub fn sem_up(handle: i32) {
    let c = cell(handle);
    c.count.fetch_add(1, Ordering::SeqCst);
    if c.waiters.load(Ordering::SeqCst) != 0 {
        futex_wake(&c.count, 1);
    }
}

fn sem_try_down(c: &Cell) -> bool {
    let mut n = c.count.load(Ordering::SeqCst);
    while n > 0 {
        match c
            .count
            .compare_exchange_weak(n, n - 1, Ordering::SeqCst, Ordering::SeqCst)
        {
            Ok(_) => return true,
            Err(now) => n = now,
        }
    }
    false
}

/// How long `sem_down` polls before it sleeps on the futex (about 20 us
/// of `pause`s on x86_64). A guest context switch is a semaphore handoff
/// between host threads, and pipe ends often hand the CPU back within
/// microseconds (`dd | wc -c`: `wc` reads 1 KiB, which wakes `dd`, which
/// refills and sleeps). Sleeping makes each handoff a futex wake-up of a
/// thread on the other core, which on a VM costs an inter-processor
/// interrupt: that pipe took 2.5-2.9 s, 1.35 s of it in the host kernel,
/// and 0.38 s polling first (0.28 s at twice the polls, 2.3 s at a tenth).
/// A wait that lasts longer costs the poll once; boot and idle CPU did
/// not move measurably.
const SPINS_BEFORE_SLEEP: u32 = 1000;

/// Waits until the count is positive and takes one. A waiter registers in
/// `waiters` before its last check, so an `up` that raced with it either
/// made the count non-zero (the futex wait returns at once) or sees it and
/// wakes it.
pub fn sem_down(handle: i32) {
    let c = cell(handle);
    if sem_try_down(c) {
        return;
    }
    for _ in 0..SPINS_BEFORE_SLEEP {
        std::hint::spin_loop();
        if sem_try_down(c) {
            return;
        }
    }
    c.waiters.fetch_add(1, Ordering::SeqCst);
    while !sem_try_down(c) {
        futex_wait(&c.count, 0);
    }
    c.waiters.fetch_sub(1, Ordering::SeqCst);
}

/// The classic three-state futex mutex (0 free, 1 locked, 2 contended).
pub fn mutex_lock(handle: i32) {
    let s = &cell(handle).count;
    if s.compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed)
        .is_ok()
    {
        return;
    }
    while s.swap(2, Ordering::Acquire) != 0 {
        futex_wait(s, 2);
    }
}

pub fn mutex_unlock(handle: i32) {
    let s = &cell(handle).count;
    if s.swap(0, Ordering::Release) == 2 {
        futex_wake(s, 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

    #[test]
    fn semaphore_hands_off_between_threads() {
        let (a, b) = (alloc(0), alloc(0));
        assert!(a > 0 && b > 0 && a != b);
        let rounds = 2000;
        let t = std::thread::spawn(move || {
            for _ in 0..rounds {
                sem_down(a);
                sem_up(b);
            }
        });
        for _ in 0..rounds {
            sem_up(a);
            sem_down(b);
        }
        t.join().unwrap();
        free(a);
        free(b);
    }

    #[test]
    fn mutex_excludes() {
        let m = alloc(0);
        let counter = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let counter = counter.clone();
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        mutex_lock(m);
                        // A non-atomic read-modify-write, protected by m.
                        let v = counter.load(Ordering::Relaxed);
                        std::hint::spin_loop();
                        counter.store(v + 1, Ordering::Relaxed);
                        mutex_unlock(m);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(counter.load(Ordering::Relaxed), 4000);
        free(m);
    }

    #[test]
    fn initial_count_is_available() {
        let s = alloc(2);
        sem_down(s);
        sem_down(s);
        sem_up(s);
        sem_down(s);
        free(s);
    }
}
