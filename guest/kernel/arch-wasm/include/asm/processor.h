/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _ASM_WASM_PROCESSOR_H
#define _ASM_WASM_PROCESSOR_H

#include <asm/ptrace.h>

#ifndef __ASSEMBLY__
struct task_struct;

/*
 * Per-task machine state: the host thread that carries the task, the
 * semaphore it sleeps on while switched out, and its saved shadow-stack
 * pointer.
 */
struct thread_struct {
	int host_thread;		/* host thread handle, 0 = none */
	int sched_sem;			/* host semaphore handle */
	unsigned long sp;		/* saved __stack_pointer */
	struct task_struct *prev_sched;	/* task switched away from when we resumed */
	int (*fn)(void *);		/* kernel thread body */
	void *fn_arg;
	unsigned int in_user;		/* task is executing user code on its host thread */
	unsigned long user_sp;		/* shadow stack pointer while in user code */
	char *exec_path;		/* program given to the Runner at execve */
	unsigned long clone_flags;	/* user clone: what the Runner needs */
	unsigned long clone_stack;
	unsigned long clone_tls;
	int pending_sig;		/* signal whose handler the Runner must run */
	unsigned long pending_handler;
	unsigned long pending_flags;	/* its sa_flags (before SA_RESETHAND) */
	unsigned long pending_mask[2];	/* mask to restore after the handler */
	u32 pending_info[16];		/* its kernel_siginfo_t */
	struct pt_regs regs;
};

#define INIT_THREAD { }

#define task_pt_regs(tsk)	(&(tsk)->thread.regs)
#define KSTK_EIP(tsk)		0UL
#define KSTK_ESP(tsk)		0UL

#define cpu_relax()		barrier()

#define TASK_SIZE		0xfffff000UL
#define TASK_UNMAPPED_BASE	0
#define STACK_TOP		TASK_SIZE
#define STACK_TOP_MAX		STACK_TOP

static inline unsigned long __get_wchan(struct task_struct *p)
{
	return 0;
}

static inline void start_thread(struct pt_regs *regs, unsigned long pc,
				unsigned long sp)
{
}

#endif
#endif
