// SPDX-License-Identifier: GPL-2.0
/*
 * Kicking tasks that execute user code into the kernel.
 *
 * A task executing user code runs on its own host thread with the CPU lock
 * released, so nothing in the kernel can interrupt it. The Runner compiles
 * user programs with a check of a per-thread flag at function entries and
 * loop headers; the host op user_kick(thread) sets that flag, and the task
 * then makes a system call, on whose way back signals are delivered (or
 * the task stops or dies) and the scheduler runs.
 *
 * Linux kicks a task running on another CPU from signal_wake_up_state()
 * through kick_process(), which is SMP-only. Rather than patch generic
 * code, this port looks for tasks in user mode with a signal pending at
 * the points where the kernel gives the CPU up: a task returning to user
 * mode, the end of an interrupt, the idle task going to sleep. A signal
 * made pending while the CPU is held is therefore noticed before anybody
 * can miss it.
 */
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/rcupdate.h>
#include <asm/host_ops.h>
#include <asm/kick.h>

void wasm_kick_user(struct task_struct *t)
{
	int thread = READ_ONCE(t->thread.host_thread);

	if (READ_ONCE(t->thread.in_user) && thread > 0)
		host_user_kick(thread);
}

void wasm_kick_signalled(struct task_struct *except)
{
	struct task_struct *g, *t;

	rcu_read_lock();
	for_each_process_thread(g, t) {
		if (t != except && READ_ONCE(t->thread.in_user) &&
		    signal_pending(t))
			wasm_kick_user(t);
	}
	rcu_read_unlock();
}
