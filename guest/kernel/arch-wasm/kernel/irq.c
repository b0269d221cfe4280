// SPDX-License-Identifier: GPL-2.0
/*
 * Simulated interrupts: a host thread without a task (timer, console input,
 * network) calls the export kernel_irq(n). It waits for the CPU lock, runs
 * the handler on a dedicated interrupt stack in the context of whatever
 * task is current (idle, or a task executing user code), and wakes the
 * idle thread if a reschedule is due.
 */
#include <linux/interrupt.h>
#include <linux/irq.h>
#include <linux/hardirq.h>
#include <linux/sched.h>
#include <linux/sched/task_stack.h>
#include <asm/irq_regs.h>
#include <asm/host_ops.h>
#include <asm/wasm.h>
#include <asm/kick.h>

static unsigned long irq_stack[THREAD_SIZE / sizeof(unsigned long)] __aligned(16);

/*
 * Non-zero while a task woken by an interrupt waits for the CPU that a
 * task executing user code holds (user code cannot be preempted). The
 * Runner polls it (kernel_preempt_flag) and then makes any syscall.
 */
int wasm_preempt_pending;

__attribute__((export_name("kernel_preempt_flag")))
int *kernel_preempt_flag(void)
{
	return &wasm_preempt_pending;
}

/* returns true if the idle thread must be woken (it sleeps on the host) */
static noinline bool irq_in_kernel(int irq)
{
	unsigned long flags = wasm_irq_flags;
	struct task_struct *cur = current;
	struct pt_regs *old_regs;

	wasm_irq_flags = ARCH_IRQ_DISABLED;
	/*
	 * The tick handler does its per-tick work (scheduler_tick, process
	 * times, the timer wheel) only when it finds interrupt registers:
	 * without them no task was ever preempted by time.
	 */
	old_regs = set_irq_regs(task_pt_regs(cur));
	irq_enter();
	generic_handle_irq(irq);
	irq_exit();
	set_irq_regs(old_regs);
	wasm_irq_flags = flags;

	cur = current;
	if (!is_idle_task(cur) && cur->thread.in_user && need_resched()) {
		WRITE_ONCE(wasm_preempt_pending, 1);
		wasm_kick_user(cur);
	}
	wasm_kick_signalled(NULL);
	/*
	 * An interrupt ends the idle task's wait, as on a real CPU, whether
	 * or not it made work: the idle loop then decides about the tick
	 * (it stops it only after it saw a tick arrive in idle; without this
	 * the tick never stopped and an idle system took ~100 interrupts/s).
	 */
	return is_idle_task(cur);
}

__attribute__((export_name("kernel_irq")))
void kernel_irq(int irq)
{
	if (irq <= 0 || irq >= NR_IRQS)
		return;
	wasm_cpu_get();
	wasm_set_sp((unsigned long)irq_stack + sizeof(irq_stack));
	/*
	 * Give the CPU away only here: this function has no stack frame, so
	 * nothing writes __stack_pointer once another thread runs.
	 */
	if (irq_in_kernel(irq)) {
		wasm_cpu_transfer(current->thread.host_thread);
		host_sem_up(current->thread.sched_sem);
	} else {
		wasm_cpu_put();
	}
}

static void noop_irq(struct irq_data *data)
{
}

static struct irq_chip wasm_irq_chip = {
	.name		= "wasm",
	.irq_mask	= noop_irq,
	.irq_unmask	= noop_irq,
};

void __init init_IRQ(void)
{
	int i;

	for (i = 1; i < NR_IRQS; i++)
		irq_set_chip_and_handler(i, &wasm_irq_chip, handle_simple_irq);
}
