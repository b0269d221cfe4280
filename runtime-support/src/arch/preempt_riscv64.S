# riscv64 w2n_async_preempt: where the preemption signal's handler
# (linux/preempt.rs) sends a thread that was executing compiled user code
# (it keeps the interrupted pc and sp in thread-local storage and aligns
# sp down to 16 bytes; the psABI has no red zone, nothing lives below sp).
# Returning to an arbitrary pc needs a register, and at an arbitrary
# instruction every one may be live, so the stub saves x1-x31, f0-f31 and
# fcsr in a frame, calls `preempted` (which also records the pc and sp),
# puts f0-f31 and fcsr back, and sends the signal to its own thread again
# (tgkill, which changes no FP register): the handler sees the pc at
# `w2n_async_preempt_resume` and restores x1-x31 and pc from the frame,
# so the thread resumes exactly where the first signal hit.
# Frame (bytes): x1-x31 at 8-248 (slot 0 unused), f0-f31 at 256, fcsr
# 512, pc 520, sp 528, tgkill's pid/tid/sig 536-552; 560 in all.
# D is enabled here for this file only (global_asm! is assembled without
# the crate's target features).
.option push
.option arch, +d
.text
.globl w2n_async_preempt
.hidden w2n_async_preempt
.type w2n_async_preempt, @function
.p2align 2
w2n_async_preempt:
    addi sp, sp, -560
    sd x1, 8(sp)
    sd x3, 24(sp)
    sd x4, 32(sp)
    sd x5, 40(sp)
    sd x6, 48(sp)
    sd x7, 56(sp)
    sd x8, 64(sp)
    sd x9, 72(sp)
    sd x10, 80(sp)
    sd x11, 88(sp)
    sd x12, 96(sp)
    sd x13, 104(sp)
    sd x14, 112(sp)
    sd x15, 120(sp)
    sd x16, 128(sp)
    sd x17, 136(sp)
    sd x18, 144(sp)
    sd x19, 152(sp)
    sd x20, 160(sp)
    sd x21, 168(sp)
    sd x22, 176(sp)
    sd x23, 184(sp)
    sd x24, 192(sp)
    sd x25, 200(sp)
    sd x26, 208(sp)
    sd x27, 216(sp)
    sd x28, 224(sp)
    sd x29, 232(sp)
    sd x30, 240(sp)
    sd x31, 248(sp)
    fsd f0, 256(sp)
    fsd f1, 264(sp)
    fsd f2, 272(sp)
    fsd f3, 280(sp)
    fsd f4, 288(sp)
    fsd f5, 296(sp)
    fsd f6, 304(sp)
    fsd f7, 312(sp)
    fsd f8, 320(sp)
    fsd f9, 328(sp)
    fsd f10, 336(sp)
    fsd f11, 344(sp)
    fsd f12, 352(sp)
    fsd f13, 360(sp)
    fsd f14, 368(sp)
    fsd f15, 376(sp)
    fsd f16, 384(sp)
    fsd f17, 392(sp)
    fsd f18, 400(sp)
    fsd f19, 408(sp)
    fsd f20, 416(sp)
    fsd f21, 424(sp)
    fsd f22, 432(sp)
    fsd f23, 440(sp)
    fsd f24, 448(sp)
    fsd f25, 456(sp)
    fsd f26, 464(sp)
    fsd f27, 472(sp)
    fsd f28, 480(sp)
    fsd f29, 488(sp)
    fsd f30, 496(sp)
    fsd f31, 504(sp)
    frcsr t0
    sd t0, 512(sp)
    mv a0, sp
    call {preempted}
    fld f0, 256(sp)
    fld f1, 264(sp)
    fld f2, 272(sp)
    fld f3, 280(sp)
    fld f4, 288(sp)
    fld f5, 296(sp)
    fld f6, 304(sp)
    fld f7, 312(sp)
    fld f8, 320(sp)
    fld f9, 328(sp)
    fld f10, 336(sp)
    fld f11, 344(sp)
    fld f12, 352(sp)
    fld f13, 360(sp)
    fld f14, 368(sp)
    fld f15, 376(sp)
    fld f16, 384(sp)
    fld f17, 392(sp)
    fld f18, 400(sp)
    fld f19, 408(sp)
    fld f20, 416(sp)
    fld f21, 424(sp)
    fld f22, 432(sp)
    fld f23, 440(sp)
    fld f24, 448(sp)
    fld f25, 456(sp)
    fld f26, 464(sp)
    fld f27, 472(sp)
    fld f28, 480(sp)
    fld f29, 488(sp)
    fld f30, 496(sp)
    fld f31, 504(sp)
    ld t0, 512(sp)
    fscsr t0
    ld a0, 536(sp)
    ld a1, 544(sp)
    ld a2, 552(sp)
    li a7, 131
    ecall
# The signal is taken on the way out of tgkill, with the pc here; the
# loop only covers a delivery the emulator might postpone.
.globl w2n_async_preempt_resume
.hidden w2n_async_preempt_resume
w2n_async_preempt_resume:
    j w2n_async_preempt_resume
.size w2n_async_preempt, . - w2n_async_preempt
.option pop
