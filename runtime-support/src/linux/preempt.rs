//! Asynchronous preemption of user code (x86_64): a kick reaches a thread
//! that runs compiled user code that has no interrupt checks
//! (`--interrupt-checks off`), at no cost to the code. Used only for such
//! code, because a guest handler that leaves by `longjmp` can fail here:
//! clang's wasm setjmp lowering catches a `longjmp` only in calls made
//! after the `setjmp`, and an interrupt in the body of the function that
//! called `setjmp` is no such call, so the jump finds no taker ("uncaught
//! exception"; ash's SIGINT handler in a busy shell loop). So the handler
//! leaves functions with a legacy `try` alone (`funcs_with_try` in the
//! module descriptor): the next kick comes at the next tick.
//!
//! [`kick`] sends the thread a host signal. Its handler looks at the
//! interrupted PC: inside the user module's code it pushes the PC and
//! resumes the thread at `w2n_async_preempt` (`arch/preempt_x86_64.S`),
//! which saves every register and the flags, calls [`preempted`] (which
//! does what an interrupt check does: enter the kernel, deliver signals)
//! and returns to the PC. Anywhere else (Runner code, builtins, the host
//! kernel) the handler does nothing: the guest kernel kicks again at its
//! next tick for as long as the signal stays pending, and the checks, when
//! compiled in, catch the thread at its next loop header anyway.
//!
//! The interrupted code may be anywhere in a function, not only at a check:
//! the guest handler then runs as a native signal handler would, between
//! two instructions. The guest's shadow stack is treated as at a check
//! (frame below a 128-byte red zone under `__stack_pointer`).

#[cfg(target_arch = "x86_64")]
mod imp {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Once;

    std::arch::global_asm!(
        include_str!("../arch/preempt_x86_64.S"),
        preempted = sym preempted
    );

    unsafe extern "C" {
        fn w2n_async_preempt();
    }

    /// The user module's code: [start, end) of its compiled functions.
    static CODE_START: AtomicUsize = AtomicUsize::new(0);
    static CODE_END: AtomicUsize = AtomicUsize::new(0);
    /// Code of the functions with a legacy `try` (sorted, disjoint), where
    /// a preemption is skipped (the next kick retries).
    static NO_PREEMPT: std::sync::OnceLock<Vec<(usize, usize)>> = std::sync::OnceLock::new();
    static INSTALLED: AtomicBool = AtomicBool::new(false);

    fn signal() -> libc::c_int {
        libc::SIGRTMIN() + 3
    }

    /// Learns the user module's code range and installs the handler (once).
    pub fn init(module: &crate::instance::Module) {
        static ONCE: Once = Once::new();
        ONCE.call_once(|| {
            let Some(record) = super::super::runner().user else {
                return;
            };
            if module.desc().interrupt_checks {
                // The checks stop the code at safe points; a signal at any
                // instruction is only for code without them (see below).
                return;
            }
            let sizes = &module.desc().func_sizes;
            let (mut start, mut end) = (usize::MAX, 0);
            for (i, &size) in sizes.iter().enumerate().take(record.num_funcs) {
                // SAFETY: `funcs` has `num_funcs` entries (Module::new checked).
                let f = unsafe { *record.funcs.add(i) } as usize;
                if size > 0 {
                    start = start.min(f);
                    end = end.max(f + size as usize);
                }
            }
            if start >= end {
                return;
            }
            let desc = module.desc();
            let mut skip: Vec<(usize, usize)> = desc
                .funcs_with_try
                .iter()
                .filter(|&&i| (i as usize) < record.num_funcs)
                .map(|&i| {
                    // SAFETY: as above, `i < num_funcs`.
                    let f = unsafe { *record.funcs.add(i as usize) } as usize;
                    let size = desc.func_sizes.get(i as usize).copied().unwrap_or(0);
                    (f, f + size as usize)
                })
                .collect();
            skip.sort_unstable();
            let _ = NO_PREEMPT.set(skip);
            CODE_START.store(start, Ordering::Relaxed);
            CODE_END.store(end, Ordering::Relaxed);
            // SAFETY: installing a handler that only reads its context and
            // writes the interrupted thread's stack below its sp.
            unsafe {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = on_signal as *const () as usize;
                sa.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_RESTART;
                libc::sigemptyset(&mut sa.sa_mask);
                if libc::sigaction(signal(), &sa, std::ptr::null_mut()) == 0 {
                    INSTALLED.store(true, Ordering::Release);
                }
            }
        });
    }

    /// Interrupts host thread `tid` if it is executing user code.
    pub fn kick(tid: i32) {
        if tid > 0 && INSTALLED.load(Ordering::Acquire) {
            // SAFETY: plain syscalls; a thread that ended makes tgkill fail.
            unsafe {
                libc::syscall(libc::SYS_tgkill, libc::getpid(), tid, signal());
            }
        }
    }

    extern "C" fn on_signal(
        _sig: libc::c_int,
        _info: *mut libc::siginfo_t,
        ctx: *mut libc::c_void,
    ) {
        // SAFETY: the kernel passes the interrupted thread's ucontext.
        unsafe {
            let uc = ctx as *mut libc::ucontext_t;
            let gregs = &mut (*uc).uc_mcontext.gregs;
            let pc = gregs[libc::REG_RIP as usize] as usize;
            let start = CODE_START.load(Ordering::Relaxed);
            let end = CODE_END.load(Ordering::Relaxed);
            if pc < start || pc >= end {
                return;
            }
            if let Some(skip) = NO_PREEMPT.get() {
                let i = skip.partition_point(|&(s, _)| s <= pc);
                if i > 0 && pc < skip[i - 1].1 {
                    return;
                }
            }
            // Compiled code keeps nothing below its sp (no red zone), so the
            // return address can go there.
            let sp = gregs[libc::REG_RSP as usize] as usize - 8;
            *(sp as *mut usize) = pc;
            gregs[libc::REG_RSP as usize] = sp as i64;
            gregs[libc::REG_RIP as usize] = w2n_async_preempt as *const () as usize as i64;
        }
    }

    /// Called by `w2n_async_preempt` on the preempted thread, in normal
    /// (not signal) context.
    extern "C" fn preempted() {
        super::super::interrupt::preempted();
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod imp {
    pub fn init(_module: &crate::instance::Module) {}
    pub fn kick(_tid: i32) {}
}

pub(crate) use imp::{init, kick};
