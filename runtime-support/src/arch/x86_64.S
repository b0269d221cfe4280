# x86_64, Intel syntax (Rust's default; the C harness test prepends
# the Intel-syntax directive for GNU as). Callee-saved: rbx rbp r12-r15;
# buf: those 6 registers, sp, return address.
.text
.globl w2n_call_protected
.hidden w2n_call_protected
.type w2n_call_protected, @function
.p2align 4
w2n_call_protected:
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
    sub rsp, 8
    mov rdi, rdx
    call rsi
    add rsp, 8
    xor eax, eax
    ret
.size w2n_call_protected, . - w2n_call_protected

.globl w2n_unwind
.hidden w2n_unwind
.type w2n_unwind, @function
.p2align 4
w2n_unwind:
    mov rbx, [rdi]
    mov rbp, [rdi + 8]
    mov r12, [rdi + 16]
    mov r13, [rdi + 24]
    mov r14, [rdi + 32]
    mov r15, [rdi + 40]
    mov rsp, [rdi + 48]
    mov eax, 1
    jmp qword ptr [rdi + 56]
.size w2n_unwind, . - w2n_unwind
