// x86_64 w2n_async_preempt: where the preemption signal's handler
// (linux/preempt.rs) sends a thread that was executing compiled user
// code. The handler pushed the interrupted PC, so this looks like a call
// made at that instruction, but nothing was prepared for it: every
// register and the flags are saved, the stack is aligned by hand, and the
// `ret` resumes exactly where the signal hit.
.text
.globl w2n_async_preempt
.hidden w2n_async_preempt
.type w2n_async_preempt, @function
w2n_async_preempt:
    pushfq
    push rax
    push rcx
    push rdx
    push rsi
    push rdi
    push r8
    push r9
    push r10
    push r11
    push rbx
    mov rbx, rsp
    and rsp, -16
    sub rsp, 256
    movdqu [rsp], xmm0
    movdqu [rsp + 16], xmm1
    movdqu [rsp + 32], xmm2
    movdqu [rsp + 48], xmm3
    movdqu [rsp + 64], xmm4
    movdqu [rsp + 80], xmm5
    movdqu [rsp + 96], xmm6
    movdqu [rsp + 112], xmm7
    movdqu [rsp + 128], xmm8
    movdqu [rsp + 144], xmm9
    movdqu [rsp + 160], xmm10
    movdqu [rsp + 176], xmm11
    movdqu [rsp + 192], xmm12
    movdqu [rsp + 208], xmm13
    movdqu [rsp + 224], xmm14
    movdqu [rsp + 240], xmm15
    call {preempted}
    movdqu xmm0, [rsp]
    movdqu xmm1, [rsp + 16]
    movdqu xmm2, [rsp + 32]
    movdqu xmm3, [rsp + 48]
    movdqu xmm4, [rsp + 64]
    movdqu xmm5, [rsp + 80]
    movdqu xmm6, [rsp + 96]
    movdqu xmm7, [rsp + 112]
    movdqu xmm8, [rsp + 128]
    movdqu xmm9, [rsp + 144]
    movdqu xmm10, [rsp + 160]
    movdqu xmm11, [rsp + 176]
    movdqu xmm12, [rsp + 192]
    movdqu xmm13, [rsp + 208]
    movdqu xmm14, [rsp + 224]
    movdqu xmm15, [rsp + 240]
    mov rsp, rbx
    pop rbx
    pop r11
    pop r10
    pop r9
    pop r8
    pop rdi
    pop rsi
    pop rdx
    pop rcx
    pop rax
    popfq
    ret
.size w2n_async_preempt, . - w2n_async_preempt
