// aarch64 w2n_async_preempt: where the preemption signal's handler
// (linux/preempt.rs) sends a thread that was executing compiled user code
// (it keeps the interrupted pc and sp in thread-local storage). Nothing was
// prepared for a call there, and aarch64 has no way to return to an
// arbitrary pc without a scratch register, which at an arbitrary
// instruction may be live (x16/x17 too: Cranelift uses them inside
// instruction sequences). So the stub saves every register, the flags and
// the FP/SIMD state in a frame on the stack (16-byte aligned: no red zone,
// nothing lives below sp), calls `preempted` (which also records the pc
// and sp), puts FP/SIMD back, and sends the signal to its own thread again
// (tgkill, which changes no FP/SIMD register): the handler sees the pc at
// `w2n_async_preempt_resume` and restores x0-x30, sp, pc and NZCV from
// the frame, so the thread resumes exactly where the first signal hit.
// Frame (bytes): x0-x30 at 0, nzcv 248, pc 256, sp 264, fpsr 272,
// fpcr 280, tgkill's pid/tid/sig 288-304, q0-q31 at 320; 832 in all.
.text
.globl w2n_async_preempt
.hidden w2n_async_preempt
.type w2n_async_preempt, %function
.p2align 4
w2n_async_preempt:
    sub sp, sp, #832
    stp x0, x1, [sp, #0]
    stp x2, x3, [sp, #16]
    stp x4, x5, [sp, #32]
    stp x6, x7, [sp, #48]
    stp x8, x9, [sp, #64]
    stp x10, x11, [sp, #80]
    stp x12, x13, [sp, #96]
    stp x14, x15, [sp, #112]
    stp x16, x17, [sp, #128]
    stp x18, x19, [sp, #144]
    stp x20, x21, [sp, #160]
    stp x22, x23, [sp, #176]
    stp x24, x25, [sp, #192]
    stp x26, x27, [sp, #208]
    stp x28, x29, [sp, #224]
    mrs x0, nzcv
    stp x30, x0, [sp, #240]
    mrs x0, fpsr
    mrs x1, fpcr
    stp x0, x1, [sp, #272]
    stp q0, q1, [sp, #320]
    stp q2, q3, [sp, #352]
    stp q4, q5, [sp, #384]
    stp q6, q7, [sp, #416]
    stp q8, q9, [sp, #448]
    stp q10, q11, [sp, #480]
    stp q12, q13, [sp, #512]
    stp q14, q15, [sp, #544]
    stp q16, q17, [sp, #576]
    stp q18, q19, [sp, #608]
    stp q20, q21, [sp, #640]
    stp q22, q23, [sp, #672]
    stp q24, q25, [sp, #704]
    stp q26, q27, [sp, #736]
    stp q28, q29, [sp, #768]
    stp q30, q31, [sp, #800]
    mov x0, sp
    bl {preempted}
    ldp q0, q1, [sp, #320]
    ldp q2, q3, [sp, #352]
    ldp q4, q5, [sp, #384]
    ldp q6, q7, [sp, #416]
    ldp q8, q9, [sp, #448]
    ldp q10, q11, [sp, #480]
    ldp q12, q13, [sp, #512]
    ldp q14, q15, [sp, #544]
    ldp q16, q17, [sp, #576]
    ldp q18, q19, [sp, #608]
    ldp q20, q21, [sp, #640]
    ldp q22, q23, [sp, #672]
    ldp q24, q25, [sp, #704]
    ldp q26, q27, [sp, #736]
    ldp q28, q29, [sp, #768]
    ldp q30, q31, [sp, #800]
    ldp x0, x1, [sp, #272]
    msr fpsr, x0
    msr fpcr, x1
    ldp x0, x1, [sp, #288]
    ldr x2, [sp, #304]
    mov x8, #131
    svc #0
// The signal is taken on the way out of tgkill, with the pc here; the
// loop only covers a delivery the emulator might postpone.
.globl w2n_async_preempt_resume
.hidden w2n_async_preempt_resume
w2n_async_preempt_resume:
    b w2n_async_preempt_resume
.size w2n_async_preempt, . - w2n_async_preempt
