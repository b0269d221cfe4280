# riscv64. Callee-saved: ra, sp, s0-s11, fs0-fs11.
# Rust's global_asm! is assembled without the crate's target features, so
# the D extension (fsd/fld) is enabled here for this file only.
.option push
.option arch, +d
.text
.globl w2n_call_protected
.hidden w2n_call_protected
.type w2n_call_protected, @function
.p2align 2
w2n_call_protected:
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
    addi sp, sp, -16
    sd ra, 8(sp)
    mv a0, a2
    jalr a1
    ld ra, 8(sp)
    addi sp, sp, 16
    li a0, 0
    ret
.size w2n_call_protected, . - w2n_call_protected

.globl w2n_unwind
.hidden w2n_unwind
.type w2n_unwind, @function
.p2align 2
w2n_unwind:
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
.size w2n_unwind, . - w2n_unwind
.option pop
