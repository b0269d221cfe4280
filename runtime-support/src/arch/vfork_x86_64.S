// x86_64 w2n_vfork_setjmp / w2n_vfork_longjmp (linux/vfork.rs).
// Buffer (u64 words): rbx, rbp, r12-r15, sp after return, return address.
.text
.globl w2n_vfork_setjmp
.hidden w2n_vfork_setjmp
.type w2n_vfork_setjmp, @function
// rdi = buf; returns 0, and 1 when resumed by w2n_vfork_longjmp.
w2n_vfork_setjmp:
    mov [rdi], rbx
    mov [rdi + 8], rbp
    mov [rdi + 16], r12
    mov [rdi + 24], r13
    mov [rdi + 32], r14
    mov [rdi + 40], r15
    lea rax, [rsp + 8]
    mov [rdi + 48], rax
    mov rax, [rsp]
    mov [rdi + 56], rax
    xor eax, eax
    ret
.size w2n_vfork_setjmp, . - w2n_vfork_setjmp

.globl w2n_vfork_longjmp
.hidden w2n_vfork_longjmp
.type w2n_vfork_longjmp, @function
// rdi = buf
w2n_vfork_longjmp:
    mov rbx, [rdi]
    mov rbp, [rdi + 8]
    mov r12, [rdi + 16]
    mov r13, [rdi + 24]
    mov r14, [rdi + 32]
    mov r15, [rdi + 40]
    mov rsp, [rdi + 48]
    mov eax, 1
    jmp qword ptr [rdi + 56]
.size w2n_vfork_longjmp, . - w2n_vfork_longjmp

.globl w2n_vfork_on_stack
.hidden w2n_vfork_on_stack
.type w2n_vfork_on_stack, @function
// rdi = arg, rsi = fn, rdx = stack top (16-byte aligned): fn(arg) runs on
// that stack; rbp (callee-saved) keeps the way back.
w2n_vfork_on_stack:
    push rbp
    mov rbp, rsp
    mov rsp, rdx
    call rsi
    mov rsp, rbp
    pop rbp
    ret
.size w2n_vfork_on_stack, . - w2n_vfork_on_stack
