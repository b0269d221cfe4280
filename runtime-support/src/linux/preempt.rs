//! Asynchronous preemption of user code (x86_64, aarch64, riscv64): a
//! kick reaches a thread that runs compiled user code that has no
//! interrupt checks (`--interrupt-checks off`), at no cost to the code. Used only for such
//! code, because a guest handler that leaves by `longjmp` can fail here:
//! clang's wasm setjmp lowering catches a `longjmp` only in calls made
//! after the `setjmp`, and an interrupt in the body of the function that
//! called `setjmp` is no such call, so the jump finds no taker ("uncaught
//! exception"; ash's SIGINT handler in a busy shell loop). So the handler
//! leaves functions with a legacy `try` alone (`funcs_with_try` in the
//! module descriptor): the next kick comes at the next tick.
//!
//! [`kick`] sends the thread a host signal. Its handler looks at the
//! interrupted PC: inside the user module's code it resumes the thread at
//! `w2n_async_preempt` (`arch/preempt_<arch>.S`), which saves every
//! register and the flags, calls `preempted` (which does what an
//! interrupt check does: enter the kernel, deliver signals) and returns to
//! the PC. On x86_64 the handler pushes the PC and the stub ends with
//! `ret`. aarch64 and riscv64 cannot jump to an arbitrary PC without a
//! scratch register, and any may be live there: the handler keeps the PC
//! and SP in thread-local storage, and the stub ends by sending the signal
//! to its own thread again, whose handler puts every general register, SP,
//! PC (and NZCV) back from the stub's frame (the stub has already restored
//! the FP/SIMD registers, which the signal frame then carries unchanged).
//! Anywhere else (Runner code, builtins, the host kernel) the handler does
//! nothing: the guest kernel kicks again at its next tick for as long as
//! the signal stays pending, and the checks, when compiled in, catch the
//! thread at its next loop header anyway.
//!
//! The interrupted code may be anywhere in a function, not only at a check:
//! the guest handler then runs as a native signal handler would, between
//! two instructions. The guest's shadow stack is treated as at a check
//! (frame below a 128-byte red zone under `__stack_pointer`).

#[cfg(any(
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_arch = "riscv64"
))]
mod imp {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Once;

    #[cfg(target_arch = "aarch64")]
    use super::aarch64 as arch;
    #[cfg(target_arch = "riscv64")]
    use super::riscv64 as arch;
    #[cfg(target_arch = "x86_64")]
    use super::x86_64 as arch;

    /// The user module's code: [start, end) of its compiled functions.
    static CODE_START: AtomicUsize = AtomicUsize::new(0);
    static CODE_END: AtomicUsize = AtomicUsize::new(0);
    /// Code of the functions with a legacy `try` (sorted, disjoint), where
    /// a preemption is skipped (the next kick retries).
    static NO_PREEMPT: std::sync::OnceLock<Vec<(usize, usize)>> = std::sync::OnceLock::new();
    static INSTALLED: AtomicBool = AtomicBool::new(false);

    pub(super) fn signal() -> libc::c_int {
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
            // SAFETY: installing a handler that only reads and writes its
            // context, thread-local storage and the stub's frame.
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

    /// Whether `pc` is in user code that may be preempted.
    pub(super) fn preemptible(pc: usize) -> bool {
        let start = CODE_START.load(Ordering::Relaxed);
        let end = CODE_END.load(Ordering::Relaxed);
        if pc < start || pc >= end {
            return false;
        }
        if let Some(skip) = NO_PREEMPT.get() {
            let i = skip.partition_point(|&(s, _)| s <= pc);
            if i > 0 && pc < skip[i - 1].1 {
                return false;
            }
        }
        true
    }

    extern "C" fn on_signal(
        _sig: libc::c_int,
        _info: *mut libc::siginfo_t,
        ctx: *mut libc::c_void,
    ) {
        // SAFETY: the kernel passes the interrupted thread's ucontext.
        unsafe { arch::on_signal(&mut *(ctx as *mut libc::ucontext_t)) }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86_64 {
    std::arch::global_asm!(
        include_str!("../arch/preempt_x86_64.S"),
        preempted = sym preempted
    );

    unsafe extern "C" {
        fn w2n_async_preempt();
    }

    /// Sends the thread to `w2n_async_preempt`, which returns to `pc`.
    pub(super) unsafe fn on_signal(uc: &mut libc::ucontext_t) {
        let gregs = &mut uc.uc_mcontext.gregs;
        let pc = gregs[libc::REG_RIP as usize] as usize;
        if !super::imp::preemptible(pc) {
            return;
        }
        // Compiled code keeps nothing below its sp (no red zone), so the
        // return address can go there.
        let sp = gregs[libc::REG_RSP as usize] as usize - 8;
        // SAFETY: the interrupted thread's stack, below its sp.
        unsafe { *(sp as *mut usize) = pc };
        gregs[libc::REG_RSP as usize] = sp as i64;
        gregs[libc::REG_RIP as usize] = w2n_async_preempt as *const () as usize as i64;
    }

    /// Called by `w2n_async_preempt` on the preempted thread, in normal
    /// (not signal) context.
    extern "C" fn preempted() {
        super::super::interrupt::preempted();
    }
}

/// What aarch64 and riscv64 share: the interrupted PC and SP kept between
/// the handler and the stub, and the stub's call.
#[cfg(any(target_arch = "aarch64", target_arch = "riscv64"))]
mod resume {
    use std::cell::Cell;

    thread_local! {
        /// (pc, sp) where the last preemption signal of this thread hit
        /// user code, until the stub copies them into its frame (a signal
        /// in the stub itself is not in user code, so nothing overwrites
        /// them before that).
        pub(super) static INTERRUPTED: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
    }

    /// The stub's frame fields this side fills in.
    pub(super) struct Fill<'a> {
        pub pc: &'a mut u64,
        pub sp: &'a mut u64,
        pub kill: &'a mut [u64; 3],
    }

    /// In normal context on the preempted thread: records where to resume,
    /// does what an interrupt check does, and leaves the arguments of the
    /// stub's tgkill.
    pub(super) fn preempted(fill: Fill<'_>) {
        let (pc, sp) = INTERRUPTED.with(|c| c.get());
        *fill.pc = pc;
        *fill.sp = sp;
        super::super::interrupt::preempted();
        // SAFETY: plain syscalls.
        let (pid, tid) = unsafe { (libc::getpid(), libc::gettid()) };
        *fill.kill = [pid as u64, tid as u64, super::imp::signal() as u64];
    }
}

#[cfg(target_arch = "aarch64")]
mod aarch64 {
    use super::resume::{Fill, INTERRUPTED};

    std::arch::global_asm!(
        include_str!("../arch/preempt_aarch64.S"),
        preempted = sym preempted
    );

    unsafe extern "C" {
        fn w2n_async_preempt();
        fn w2n_async_preempt_resume();
    }

    /// `w2n_async_preempt`'s frame (offsets in `arch/preempt_aarch64.S`).
    #[repr(C)]
    struct Frame {
        x: [u64; 31],
        nzcv: u64,
        pc: u64,
        sp: u64,
        fpsr: u64,
        fpcr: u64,
        kill: [u64; 3],
        _pad: u64,
        q: [[u64; 2]; 32],
    }
    const _: () = assert!(std::mem::size_of::<Frame>() == 832);
    const _: () = assert!(std::mem::offset_of!(Frame, kill) == 288);
    const _: () = assert!(std::mem::offset_of!(Frame, q) == 320);

    /// The N, Z, C and V bits of PSTATE.
    const NZCV: u64 = 0xf000_0000;

    pub(super) unsafe fn on_signal(uc: &mut libc::ucontext_t) {
        let mc = &mut uc.uc_mcontext;
        if mc.pc as usize == w2n_async_preempt_resume as *const () as usize {
            // SAFETY: at the resume point sp is the stub's frame.
            let f = unsafe { &*(mc.sp as *const Frame) };
            mc.regs = f.x;
            mc.sp = f.sp;
            mc.pc = f.pc;
            mc.pstate = (mc.pstate & !NZCV) | (f.nzcv & NZCV);
            return;
        }
        if !super::imp::preemptible(mc.pc as usize) {
            return;
        }
        INTERRUPTED.with(|c| c.set((mc.pc, mc.sp)));
        // Already aligned (the architecture faults on an unaligned sp);
        // the stub's frame goes right below it (no red zone).
        mc.sp &= !15;
        mc.pc = w2n_async_preempt as *const () as usize as u64;
    }

    extern "C" fn preempted(frame: *mut Frame) {
        // SAFETY: the stub passes its frame.
        let f = unsafe { &mut *frame };
        super::resume::preempted(Fill {
            pc: &mut f.pc,
            sp: &mut f.sp,
            kill: &mut f.kill,
        });
    }
}

#[cfg(target_arch = "riscv64")]
mod riscv64 {
    use super::resume::{Fill, INTERRUPTED};

    std::arch::global_asm!(
        include_str!("../arch/preempt_riscv64.S"),
        preempted = sym preempted
    );

    unsafe extern "C" {
        fn w2n_async_preempt();
        fn w2n_async_preempt_resume();
    }

    /// `w2n_async_preempt`'s frame (offsets in `arch/preempt_riscv64.S`).
    #[repr(C)]
    struct Frame {
        /// x1-x31 at their index (x0 and the slot of sp unused).
        x: [u64; 32],
        f: [u64; 32],
        fcsr: u64,
        pc: u64,
        sp: u64,
        kill: [u64; 3],
    }
    const _: () = assert!(std::mem::size_of::<Frame>() == 560);
    const _: () = assert!(std::mem::offset_of!(Frame, kill) == 536);

    /// `__gregs` indices: 0 is the pc, 2 the sp, the others x1-x31.
    const PC: usize = 0;
    const SP: usize = 2;

    pub(super) unsafe fn on_signal(uc: &mut libc::ucontext_t) {
        let gregs = &mut uc.uc_mcontext.__gregs;
        if gregs[PC] as usize == w2n_async_preempt_resume as *const () as usize {
            // SAFETY: at the resume point sp is the stub's frame.
            let f = unsafe { &*(gregs[SP] as *const Frame) };
            for (i, r) in gregs.iter_mut().enumerate().skip(1) {
                *r = f.x[i];
            }
            gregs[SP] = f.sp;
            gregs[PC] = f.pc;
            return;
        }
        if !super::imp::preemptible(gregs[PC] as usize) {
            return;
        }
        INTERRUPTED.with(|c| c.set((gregs[PC], gregs[SP])));
        // The psABI keeps sp 16-byte aligned and has no red zone: the
        // stub's frame goes right below it.
        gregs[SP] &= !15;
        gregs[PC] = w2n_async_preempt as *const () as usize as u64;
    }

    extern "C" fn preempted(frame: *mut Frame) {
        // SAFETY: the stub passes its frame.
        let f = unsafe { &mut *frame };
        super::resume::preempted(Fill {
            pc: &mut f.pc,
            sp: &mut f.sp,
            kill: &mut f.kill,
        });
    }
}

#[cfg(not(any(
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_arch = "riscv64"
)))]
mod imp {
    pub fn init(_module: &crate::instance::Module) {}
    pub fn kick(_tid: i32) {}
}

pub(crate) use imp::{init, kick};
