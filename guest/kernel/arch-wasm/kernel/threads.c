// SPDX-License-Identifier: GPL-2.0
/*
 * Tasks on host threads.
 *
 * Every task that runs kernel code has its own host thread. A "CPU lock"
 * (owner = host thread id) guarantees that kernel code runs on exactly one
 * host thread at a time. A context switch hands the CPU to the next task's
 * thread and puts the current one to sleep on its own semaphore; a thread
 * only ever sleeps on the semaphore of its own task.
 *
 * Threads that do not carry a task (timer/console/network interrupt
 * threads of the host) enter through kernel_irq(): they wait for the CPU,
 * which is free only while the idle task sleeps on the host or while the
 * current task executes user code, and run the handler in that context.
 *
 * A user task executing user code stays "current" (like on a real CPU)
 * with the CPU lock released. When another task's thread enters the
 * kernel it parks that task (TASK_IDLE) and schedules on its own thread.
 */
#include <linux/sched.h>
#include <linux/sched/task.h>
#include <linux/sched/task_stack.h>
#include <linux/sched/idle.h>
#include <linux/sched/signal.h>
#include <linux/cpu.h>
#include <linux/resume_user_mode.h>
#include <asm/host_ops.h>
#include <asm/wasm.h>
#include <asm/kick.h>

struct task_struct *wasm_current_task = &init_task;
unsigned long wasm_irq_flags;
int wasm_task_key;

static int cpu_mutex, cpu_sem, cpu_owner, cpu_sleepers;

static void __noreturn host_bug(const char *msg)
{
	host_panic(msg, strlen(msg));
}

/*
 * The CPU lock functions run before the calling thread owns the CPU, so
 * they must not touch the shadow stack: no local may have its address
 * taken here (the build checks the code of the entry points).
 */
void wasm_cpu_get(void)
{
	int self = host_thread_self();

	host_mutex_lock(cpu_mutex);
	while (cpu_owner) {
		cpu_sleepers++;
		host_mutex_unlock(cpu_mutex);
		host_sem_down(cpu_sem);
		host_mutex_lock(cpu_mutex);
	}
	cpu_owner = self;
	host_mutex_unlock(cpu_mutex);
}

void wasm_cpu_put(void)
{
	host_mutex_lock(cpu_mutex);
	cpu_owner = 0;
	if (cpu_sleepers) {
		cpu_sleepers--;
		host_sem_up(cpu_sem);
	}
	host_mutex_unlock(cpu_mutex);
}

/* Pass ownership of the CPU without releasing it (caller owns it). */
void wasm_cpu_transfer(int host_thread)
{
	host_mutex_lock(cpu_mutex);
	cpu_owner = host_thread;
	host_mutex_unlock(cpu_mutex);
}

static inline struct task_struct *host_thread_task(void)
{
	return (struct task_struct *)host_tls_get(wasm_task_key);
}

void __init wasm_threads_init(void)
{
	cpu_mutex = host_mutex_alloc();
	cpu_sem = host_sem_alloc(0);
	wasm_task_key = host_tls_alloc();
	if (cpu_mutex <= 0 || cpu_sem <= 0 || wasm_task_key <= 0)
		host_bug("wasm: cannot allocate the CPU lock");
	init_task.thread.host_thread = host_thread_self();
	init_task.thread.sched_sem = host_sem_alloc(0);
	if (init_task.thread.sched_sem <= 0)
		host_bug("wasm: cannot allocate the idle semaphore");
	host_tls_set(wasm_task_key, (int)&init_task);
}

struct task_struct *__switch_to(struct task_struct *prev, struct task_struct *next)
{
	struct task_struct *me = host_thread_task();
	unsigned long sp = wasm_get_sp();

	next->thread.prev_sched = prev;
	wasm_current_task = next;
	if (next == me)
		return prev;

	wasm_cpu_transfer(next->thread.host_thread);
	if (prev == me && READ_ONCE(prev->__state) == TASK_DEAD) {
		host_sem_up(next->thread.sched_sem);
		host_thread_exit();
	}
	host_sem_up(next->thread.sched_sem);
	host_sem_down(me->thread.sched_sem);
	wasm_set_sp(sp);
	return me->thread.prev_sched;
}

/*
 * Body of every host thread the kernel creates. Kernel threads run their
 * function; it only returns after a successful execve() (kernel_init
 * running /init), and then, like a user clone child, the task continues
 * in user mode: the Runner runs its code on this thread (host.user_start
 * for a new program, host.user_clone for a clone child).
 */
static noinline void thread_body(struct task_struct *t)
{
	const char *path = "";
	int ret = 0, len = 0;
	bool cloned = !t->thread.fn;

	schedule_tail(t->thread.prev_sched);
	if (!cloned) {
		ret = t->thread.fn(t->thread.fn_arg);
		if (ret != 0 || !current->mm)
			do_exit(ret << 8);
		if (t->thread.exec_path)
			path = t->thread.exec_path;
		len = strlen(path);
	}
	wasm_prepare_user(t);
	t->thread.user_sp = wasm_get_sp();
	/* from here on only host calls until the CPU is ours again */
	wasm_cpu_put();
	if (cloned)
		ret = host_user_clone((int)t, t->thread.clone_flags,
				      t->thread.clone_stack, t->thread.clone_tls);
	else
		ret = host_user_start((int)t, path, len);
	wasm_cpu_get();
	wasm_set_sp(t->thread.user_sp);
	wasm_enter_as(t);
	do_exit((ret & 0xff) << 8);
}

__attribute__((export_name("kernel_thread_start")))
void kernel_thread_start(int arg)
{
	struct task_struct *t = (struct task_struct *)arg;

	host_tls_set(wasm_task_key, arg);
	host_sem_down(t->thread.sched_sem);
	wasm_set_sp((unsigned long)task_stack_page(t) + THREAD_SIZE);
	thread_body(t);
}

/* the host resources of a task are its own: never inherit the parent's */
int arch_dup_task_struct(struct task_struct *dst, struct task_struct *src)
{
	*dst = *src;
	memset(&dst->thread, 0, sizeof(dst->thread));
	return 0;
}

int copy_thread(struct task_struct *p, const struct kernel_clone_args *args)
{
	p->thread.sched_sem = host_sem_alloc(0);
	if (p->thread.sched_sem <= 0) {
		p->thread.sched_sem = 0;
		pr_err("wasm: copy_thread: no host semaphore\n");
		return -ENOMEM;
	}
	/*
	 * Kernel threads and user clones alike get a host thread; a user
	 * clone child enters user mode as soon as it first runs.
	 */
	p->thread.fn = args->fn;
	p->thread.fn_arg = args->fn_arg;
	p->thread.clone_flags = args->flags;
	p->thread.clone_stack = args->stack;
	p->thread.clone_tls = args->tls;
	{
		p->thread.host_thread = host_thread_create((int)p);
		if (p->thread.host_thread <= 0) {
			host_sem_free(p->thread.sched_sem);
			p->thread.sched_sem = 0;
			pr_err("wasm: copy_thread: no host thread\n");
			return -EAGAIN;
		}
	}
	return 0;
}

void arch_release_task_struct(struct task_struct *tsk)
{
	if (tsk->thread.sched_sem > 0)
		host_sem_free(tsk->thread.sched_sem);
	tsk->thread.sched_sem = 0;
	kfree(tsk->thread.exec_path);
}

/*
 * Called by a task's own thread when it enters the kernel (syscall) while
 * some other task is current. The caller owns the CPU.
 */
void wasm_enter_as(struct task_struct *me)
{
	struct task_struct *cur = current;
	unsigned long sp;

	me->thread.in_user = 0;
	if (cur == me)
		return;
	if (is_idle_task(cur)) {
		/* the idle thread sleeps on the host: let it schedule us in */
		sp = wasm_get_sp();
		wake_up_process(me);
		wasm_cpu_transfer(cur->thread.host_thread);
		host_sem_up(cur->thread.sched_sem);
		host_sem_down(me->thread.sched_sem);
		wasm_set_sp(sp);
		schedule_tail(me->thread.prev_sched);
		return;
	}
	/* cur executes user code on its own thread: park it, run here */
	WRITE_ONCE(cur->__state, TASK_IDLE);
	wake_up_process(me);
	schedule();
}

/*
 * What the Runner needs to build the handler's frame (kernel_get_signal):
 * ksig->ka is the action as it was when the signal was taken (before
 * SA_RESETHAND reset it), and the mask to restore afterwards is the one
 * from before the delivery (the saved one after sigsuspend/ppoll), read
 * before signal_setup_done() blocks sa_mask and the signal.
 */
static void record_signal(struct task_struct *me, struct ksignal *ksig)
{
	BUILD_BUG_ON(sizeof(ksig->info) > sizeof(me->thread.pending_info));
	BUILD_BUG_ON(sizeof(sigset_t) != sizeof(me->thread.pending_mask));
	me->thread.pending_sig = ksig->sig;
	me->thread.pending_handler = (unsigned long)ksig->ka.sa.sa_handler;
	me->thread.pending_flags = ksig->ka.sa.sa_flags;
	memcpy(me->thread.pending_mask, sigmask_to_save(), sizeof(sigset_t));
	memset(me->thread.pending_info, 0, sizeof(me->thread.pending_info));
	memcpy(me->thread.pending_info, &ksig->info, sizeof(ksig->info));
}

/*
 * Work due before leaving the kernel towards user code (reschedule,
 * signals, notify-resume). The caller owns the CPU and keeps it: it must
 * release it itself with wasm_cpu_put() from a function without a shadow
 * stack frame, because a frame's epilogue writes __stack_pointer, which
 * belongs to another thread once the CPU is released.
 */
void wasm_prepare_user(struct task_struct *me)
{
	unsigned long flags;

	for (;;) {
		flags = READ_ONCE(current_thread_info()->flags);
		if (flags & _TIF_NEED_RESCHED) {
			schedule();
			continue;
		}
		/*
		 * One handler per return to user mode: the Runner runs it,
		 * and the next one is delivered at the end of the syscall
		 * that restores the mask afterwards.
		 */
		if ((flags & (_TIF_SIGPENDING | _TIF_NOTIFY_SIGNAL)) &&
		    !me->thread.pending_sig) {
			struct pt_regs *regs = task_pt_regs(me);
			struct ksignal ksig;

			if (get_signal(&ksig)) {
				/*
				 * A user handler must run: the Runner fetches it
				 * with kernel_get_signal(). An interrupted syscall
				 * returns -EINTR, or -ERESTARTNOINTR (-513) when it
				 * must be issued again after the handler.
				 */
				switch (regs->ret) {
				case -ERESTART_RESTARTBLOCK:
				case -ERESTARTNOHAND:
					regs->ret = -EINTR;
					break;
				case -ERESTARTSYS:
					if (!(ksig.ka.sa.sa_flags & SA_RESTART)) {
						regs->ret = -EINTR;
						break;
					}
					fallthrough;
				case -ERESTARTNOINTR:
					regs->ret = -ERESTARTNOINTR;
					break;
				}
				record_signal(me, &ksig);
				signal_setup_done(0, &ksig, 0);
			} else {
				/* sigsuspend/ppoll ended without a handler */
				restore_saved_sigmask();
			}
			continue;
		}
		if (flags & _TIF_NOTIFY_RESUME) {
			resume_user_mode_work(NULL);
			continue;
		}
		break;
	}
	me->thread.in_user = 1;
	wasm_kick_signalled(me);
}

/* Idle: give the CPU away and sleep until an interrupt needs us. */
void arch_cpu_idle(void)
{
	unsigned long sp = wasm_get_sp();

	wasm_kick_signalled(NULL);
	wasm_cpu_put();
	host_sem_down(current->thread.sched_sem);
	wasm_set_sp(sp);
	raw_local_irq_enable();
}

void arch_cpu_idle_dead(void)
{
	host_bug("wasm: cpu idle dead");
}
