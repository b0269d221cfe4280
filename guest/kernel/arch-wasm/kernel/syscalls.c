// SPDX-License-Identifier: GPL-2.0
/*
 * System call entry. The Runner calls kernel_syscall() on the host thread
 * of the calling task (bound with kernel_task_bind or created by the
 * kernel). Arguments are six 32-bit slots; a 64-bit argument takes two.
 */
#include <linux/syscalls.h>
#include <linux/sched.h>
#include <linux/sched/task_stack.h>
#include <linux/ptrace.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <asm/unaligned.h>
#include <asm/syscall.h>
#include <asm/host_ops.h>
#include <asm/wasm.h>

long __wasm_sys_ni_syscall(const long *slots)
{
	return -ENOSYS;
}

/* mmap2: the offset counts 4096-byte units (PAGE_SIZE is 4096 here) */
SYSCALL_DEFINE6(mmap2, unsigned long, addr, unsigned long, len,
		unsigned long, prot, unsigned long, flags,
		unsigned long, fd, unsigned long, pgoff)
{
	return ksys_mmap_pgoff(addr, len, prot, flags, fd, pgoff);
}

/*
 * No MMU, so no page protection: mprotect() of mapped memory succeeds and
 * changes nothing, since nothing could enforce it. A generic NOMMU kernel
 * says ENOSYS, which is harmless to musl's allocator (it accepts ENOSYS)
 * but stays in errno: `tac` read stdin, found errno set after its first
 * malloc, and failed with "Function not implemented". Bad arguments and
 * unmapped ranges still fail as on Linux.
 */
SYSCALL_DEFINE3(mprotect, unsigned long, start, size_t, len, unsigned long, prot)
{
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	unsigned long addr, end;
	long ret = 0;

	if (start & ~PAGE_MASK)
		return -EINVAL;
	if (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_SEM | PROT_GROWSDOWN | PROT_GROWSUP))
		return -EINVAL;
	if (!len)
		return 0;
	len = PAGE_ALIGN(len);
	end = start + len;
	if (!len || end <= start)
		return -ENOMEM;
	if (!mm)
		return -ENOMEM;
	mmap_read_lock(mm);
	for (addr = start; addr < end; addr = vma->vm_end) {
		vma = find_vma(mm, addr);
		if (!vma || vma->vm_start > addr) {
			ret = -ENOMEM;
			break;
		}
	}
	mmap_read_unlock(mm);
	return ret;
}

/*
 * Signal frames live in the Runner (it calls the handler as a function and
 * restores the mask through rt_sigprocmask), so there is nothing to return
 * from.
 */
SYSCALL_DEFINE0(rt_sigreturn)
{
	return -ENOSYS;
}

long arch_ptrace(struct task_struct *child, long request,
		 unsigned long addr, unsigned long data)
{
	return ptrace_request(child, request, addr, data);
}

void ptrace_disable(struct task_struct *child)
{
}

#undef __SYSCALL
#define __SYSCALL(nr, call)	long __wasm_##call(const long *slots);
#include <asm/unistd.h>

#undef __SYSCALL
#define __SYSCALL(nr, call)	[nr] = __wasm_##call,

const syscall_fn_t wasm_sys_call_table[__NR_syscalls] = {
	[0 ... __NR_syscalls - 1] = __wasm_sys_ni_syscall,
#include <asm/unistd.h>
};

static bool must_restart(long ret)
{
	return ret == -ERESTARTSYS || ret == -ERESTARTNOINTR ||
	       ret == -ERESTARTNOHAND || ret == -ERESTART_RESTARTBLOCK;
}

/*
 * Arch-private call of the Runner (never a user program's, the Runner
 * filters them): the program it just started has its argument and
 * environment strings at [a0, a1) and [a2, a3), which /proc/PID/cmdline
 * and /proc/PID/environ show (the Runner lays out the stack, not exec).
 */
static long wasm_set_mm_args(const long *slots)
{
	struct mm_struct *mm = current->mm;
	unsigned long as = slots[0], ae = slots[1], es = slots[2], ee = slots[3];

	if (!mm || as > ae || es > ee)
		return -EINVAL;
	spin_lock(&mm->arg_lock);
	mm->arg_start = as;
	mm->arg_end = ae;
	mm->env_start = es;
	mm->env_end = ee;
	spin_unlock(&mm->arg_lock);
	return 0;
}

static noinline long syscall_in_kernel(struct task_struct *me, long nr,
				       long a0, long a1, long a2, long a3,
				       long a4, long a5)
{
	long slots[6] = { a0, a1, a2, a3, a4, a5 };
	struct pt_regs *regs = task_pt_regs(me);

	wasm_enter_as(me);
	WRITE_ONCE(wasm_preempt_pending, 0);
	for (;;) {
		regs->syscall_nr = nr;
		memcpy(regs->args, slots, sizeof(slots));
		if (nr >= 0 && nr < __NR_syscalls)
			regs->ret = wasm_sys_call_table[nr](slots);
		else if (nr == __WASM_NR_set_mm_args)
			regs->ret = wasm_set_mm_args(slots);
		else
			regs->ret = -ENOSYS;
		wasm_prepare_user(me);
		/*
		 * Interrupted by a signal that needed no user handler (or was
		 * handled in the kernel): restart transparently.
		 */
		if (!must_restart(regs->ret) || me->thread.pending_sig)
			break;
		if (regs->ret == -ERESTART_RESTARTBLOCK)
			nr = __NR_restart_syscall;
		me->thread.in_user = 0;
	}
	return regs->ret;
}

__attribute__((export_name("kernel_syscall")))
long kernel_syscall(long nr, long a0, long a1, long a2, long a3, long a4, long a5)
{
	struct task_struct *me = (struct task_struct *)host_tls_get(wasm_task_key);

	if (!me)
		return -ESRCH;
	wasm_cpu_get();
	if (!me->thread.user_sp)
		me->thread.user_sp = (unsigned long)task_stack_page(me) + THREAD_SIZE;
	wasm_set_sp(me->thread.user_sp);
	nr = syscall_in_kernel(me, nr, a0, a1, a2, a3, a4, a5);
	wasm_cpu_put();		/* frameless: nothing touches the stack after this */
	return nr;
}

/*
 * After a syscall returned, the Runner asks whether a signal handler must
 * run: returns the signal number (0 if none) and copies at most size bytes
 * of struct wasm_signal (asm/wasm.h: handler, sa_flags, the mask to restore
 * after the handler, siginfo) to out.
 */
__attribute__((export_name("kernel_get_signal")))
int kernel_get_signal(char *out, int size)
{
	struct task_struct *me = (struct task_struct *)host_tls_get(wasm_task_key);
	struct thread_struct *t;
	int sig;

	if (!me || !me->thread.pending_sig)
		return 0;
	t = &me->thread;
	sig = t->pending_sig;
	if (out && size > 0) {
		memset(out, 0, size);
		memcpy(out, &t->pending_handler, min(size, 4));
		if (size > 4)
			memcpy(out + 4, &t->pending_flags, min(size - 4, 4));
		if (size > 8)
			memcpy(out + 8, t->pending_mask, min(size - 8, 8));
		if (size > 16)
			memcpy(out + 16, t->pending_info,
			       min(size - 16, (int)sizeof(t->pending_info)));
	}
	t->pending_sig = 0;
	return sig;
}

/*
 * Path of the program the calling thread's task runs since its last
 * execve() (after "#!" resolution: the interpreter). Copies at most size
 * bytes to buf and returns the full length, or -ESRCH / 0.
 */
__attribute__((export_name("kernel_exec_path")))
int kernel_exec_path(char *buf, int size)
{
	struct task_struct *me = (struct task_struct *)host_tls_get(wasm_task_key);
	const char *p;
	int len;

	if (!me)
		return -ESRCH;
	p = me->thread.exec_path;
	if (!p)
		return 0;
	len = strlen(p);
	memcpy(buf, p, min(len, size));
	return len;
}

/*
 * Arguments of the last execve() of the calling thread's task: u32 argc,
 * u32 envc, u32 len, then len bytes of NUL-terminated strings (argv then
 * envp). Copies at most size bytes; returns the full size, 0 if none,
 * -ESRCH if the thread carries no task.
 */
__attribute__((export_name("kernel_exec_args")))
int kernel_exec_args(char *buf, int size)
{
	struct task_struct *me = (struct task_struct *)host_tls_get(wasm_task_key);
	const char *p;
	u32 len;
	int total;

	if (!me)
		return -ESRCH;
	p = me->thread.exec_path;
	if (!p)
		return 0;
	p += strlen(p) + 1;
	len = get_unaligned((const u32 *)(p + 8));
	total = 12 + len;
	memcpy(buf, p, min(total, size));
	return total;
}
