// SPDX-License-Identifier: GPL-2.0
#include <linux/kernel.h>
#include <linux/sched/debug.h>
#include <linux/printk.h>
#include <linux/seq_file.h>
#include <linux/sched.h>
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

void flush_thread(void)
{
}

static int cpuinfo_show(struct seq_file *m, void *v)
{
	seq_printf(m, "processor\t: 0\nmodel name\t: wasm32 (w2native)\n");
	return 0;
}

static void *cpuinfo_start(struct seq_file *m, loff_t *pos)
{
	return *pos == 0 ? (void *)1 : NULL;
}

static void *cpuinfo_next(struct seq_file *m, void *v, loff_t *pos)
{
	++*pos;
	return NULL;
}

static void cpuinfo_stop(struct seq_file *m, void *v)
{
}

const struct seq_operations cpuinfo_op = {
	.start	= cpuinfo_start,
	.next	= cpuinfo_next,
	.stop	= cpuinfo_stop,
	.show	= cpuinfo_show,
};
