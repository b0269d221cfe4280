# riscv64 w2n_vfork_setjmp / w2n_vfork_longjmp (linux/vfork.rs).
# Buffer (u64 words): ra (return address), sp, s0-s11, fs0-fs11: every
# callee-saved register, floating point included, since the resumed frames
# run on another thread. D is enabled here for this file only (global_asm!
# is assembled without the crate's target features).
.option push
.option arch, +d
.text
.globl w2n_vfork_setjmp
.hidden w2n_vfork_setjmp
.type w2n_vfork_setjmp, @function
.p2align 2
# a0 = buf; returns 0, and 1 when resumed by w2n_vfork_longjmp.
w2n_vfork_setjmp:
    sd ra, 0(a0)
    sd sp, 8(a0)
    sd s0, 16(a0)
    sd s1, 24(a0)
    sd s2, 32(a0)
    sd s3, 40(a0)
    sd s4, 48(a0)
    sd s5, 56(a0)
    sd s6, 64(a0)
    sd s7, 72(a0)
    sd s8, 80(a0)
    sd s9, 88(a0)
    sd s10, 96(a0)
    sd s11, 104(a0)
    fsd fs0, 112(a0)
    fsd fs1, 120(a0)
    fsd fs2, 128(a0)
    fsd fs3, 136(a0)
    fsd fs4, 144(a0)
    fsd fs5, 152(a0)
    fsd fs6, 160(a0)
    fsd fs7, 168(a0)
    fsd fs8, 176(a0)
    fsd fs9, 184(a0)
    fsd fs10, 192(a0)
    fsd fs11, 200(a0)
    li a0, 0
    ret
.size w2n_vfork_setjmp, . - w2n_vfork_setjmp

.globl w2n_vfork_longjmp
.hidden w2n_vfork_longjmp
.type w2n_vfork_longjmp, @function
.p2align 2
# a0 = buf
w2n_vfork_longjmp:
    ld ra, 0(a0)
    ld sp, 8(a0)
    ld s0, 16(a0)
    ld s1, 24(a0)
    ld s2, 32(a0)
    ld s3, 40(a0)
    ld s4, 48(a0)
    ld s5, 56(a0)
    ld s6, 64(a0)
    ld s7, 72(a0)
    ld s8, 80(a0)
    ld s9, 88(a0)
    ld s10, 96(a0)
    ld s11, 104(a0)
    fld fs0, 112(a0)
    fld fs1, 120(a0)
    fld fs2, 128(a0)
    fld fs3, 136(a0)
    fld fs4, 144(a0)
    fld fs5, 152(a0)
    fld fs6, 160(a0)
    fld fs7, 168(a0)
    fld fs8, 176(a0)
    fld fs9, 184(a0)
    fld fs10, 192(a0)
    fld fs11, 200(a0)
    li a0, 1
    ret
.size w2n_vfork_longjmp, . - w2n_vfork_longjmp

.globl w2n_vfork_on_stack
.hidden w2n_vfork_on_stack
.type w2n_vfork_on_stack, @function
.p2align 2
# a0 = arg, a1 = fn, a2 = stack top (16-byte aligned): fn(arg) runs on
# that stack; s0 (callee-saved) keeps the way back.
w2n_vfork_on_stack:
    addi sp, sp, -16
    sd ra, 8(sp)
    sd s0, 0(sp)
    mv s0, sp
    mv sp, a2
    jalr a1
    mv sp, s0
    ld s0, 0(sp)
    ld ra, 8(sp)
    addi sp, sp, 16
    ret
.size w2n_vfork_on_stack, . - w2n_vfork_on_stack
.option pop
