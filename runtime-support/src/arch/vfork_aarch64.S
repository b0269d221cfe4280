// aarch64 w2n_vfork_setjmp / w2n_vfork_longjmp (linux/vfork.rs).
// Buffer (u64 words): x19-x28, x29, x30 (return address), sp, d8-d15:
// every callee-saved register, since the resumed frames (the caller of
// setjmp on another thread) expect all of them, floating point included.
.text
.globl w2n_vfork_setjmp
.hidden w2n_vfork_setjmp
.type w2n_vfork_setjmp, %function
.p2align 4
// x0 = buf; returns 0, and 1 when resumed by w2n_vfork_longjmp.
w2n_vfork_setjmp:
    stp x19, x20, [x0, #0]
    stp x21, x22, [x0, #16]
    stp x23, x24, [x0, #32]
    stp x25, x26, [x0, #48]
    stp x27, x28, [x0, #64]
    stp x29, x30, [x0, #80]
    mov x9, sp
    str x9, [x0, #96]
    stp d8, d9, [x0, #104]
    stp d10, d11, [x0, #120]
    stp d12, d13, [x0, #136]
    stp d14, d15, [x0, #152]
    mov w0, #0
    ret
.size w2n_vfork_setjmp, . - w2n_vfork_setjmp

.globl w2n_vfork_longjmp
.hidden w2n_vfork_longjmp
.type w2n_vfork_longjmp, %function
.p2align 4
// x0 = buf
w2n_vfork_longjmp:
    ldp x19, x20, [x0, #0]
    ldp x21, x22, [x0, #16]
    ldp x23, x24, [x0, #32]
    ldp x25, x26, [x0, #48]
    ldp x27, x28, [x0, #64]
    ldp x29, x30, [x0, #80]
    ldr x9, [x0, #96]
    mov sp, x9
    ldp d8, d9, [x0, #104]
    ldp d10, d11, [x0, #120]
    ldp d12, d13, [x0, #136]
    ldp d14, d15, [x0, #152]
    mov w0, #1
    ret
.size w2n_vfork_longjmp, . - w2n_vfork_longjmp

.globl w2n_vfork_on_stack
.hidden w2n_vfork_on_stack
.type w2n_vfork_on_stack, %function
.p2align 4
// x0 = arg, x1 = fn, x2 = stack top (16-byte aligned): fn(arg) runs on
// that stack; x29 (callee-saved) keeps the way back.
w2n_vfork_on_stack:
    stp x29, x30, [sp, #-16]!
    mov x29, sp
    mov sp, x2
    blr x1
    mov sp, x29
    ldp x29, x30, [sp], #16
    ret
.size w2n_vfork_on_stack, . - w2n_vfork_on_stack
