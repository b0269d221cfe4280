// SPDX-License-Identifier: GPL-2.0
#include <linux/kernel.h>
#include <linux/sched/debug.h>
#include <linux/printk.h>
#include <asm/ptrace.h>
#include <asm/host_ops.h>

void show_stack(struct task_struct *task, unsigned long *sp, const char *loglvl)
{
	printk("%s(no stack trace on wasm32)\n", loglvl);
}

void show_regs(struct pt_regs *regs)
{
	printk("syscall %lu\n", regs->syscall_nr);
}
