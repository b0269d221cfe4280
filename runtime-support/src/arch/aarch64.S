// aarch64. Callee-saved: x19-x29, x30 (lr), sp, d8-d15.
.text
.globl w2n_call_protected
.hidden w2n_call_protected
.type w2n_call_protected, %function
.p2align 4
w2n_call_protected:
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
    stp x29, x30, [sp, #-16]!
    mov x29, sp
    mov x0, x2
    blr x1
    ldp x29, x30, [sp], #16
    mov w0, #0
    ret
.size w2n_call_protected, . - w2n_call_protected

.globl w2n_unwind
.hidden w2n_unwind
.type w2n_unwind, %function
.p2align 4
w2n_unwind:
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
.size w2n_unwind, . - w2n_unwind
