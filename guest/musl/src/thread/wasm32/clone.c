/* wasm32 __clone.  Two shapes reach it from musl:
 *  - pthread_create: CLONE_VM|CLONE_THREAD|CLONE_SETTLS|...: handed to the
 *    Runner import __clone_thread, which creates the kernel task and a new
 *    instance that enters __w2n_thread_start below;
 *  - posix_spawn: CLONE_VM|CLONE_VFORK: emulated with the Runner's vfork,
 *    the child function runs on the caller's stack (not the one given) until
 *    it execs or exits.
 * Anything else (a real fork with a new stack) cannot be expressed. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <sched.h>
#include "pthread_impl.h"
#include "syscall.h"
#include "runner_imports.h"

int __clone(int (*func)(void *), void *stack, int flags, void *arg, ...)
{
	va_list ap;
	int *ptid, *ctid;
	void *tls;

	va_start(ap, arg);
	ptid = va_arg(ap, int *);
	tls = va_arg(ap, void *);
	ctid = va_arg(ap, int *);
	va_end(ap);

	if (flags & CLONE_THREAD)
		return __w2n_clone_thread(func, stack, flags, arg, ptid, tls, ctid);

	if ((flags & (CLONE_VM|CLONE_VFORK)) == (CLONE_VM|CLONE_VFORK)) {
		long pid = __w2n_vfork(W2N_VFORK);
		if (pid) return pid;
		for (int r = func(arg);;) __syscall(SYS_exit, r);
	}
	return -ENOSYS;
}

/* Where __copy_tls put the wasm TLS block of a thread whose descriptor is
 * td: right after the two-word dtv, aligned to __tls_align. */
hidden void *__wasm_tls_block(pthread_t td)
{
	size_t align = __builtin_wasm_tls_align();
	uintptr_t p = (uintptr_t)td->dtv + 2*sizeof(uintptr_t);
	return (void *)((p + align - 1) & -align);
}

void __wasm_init_tls(void *);

/* Entry of a new thread instance (called by the Runner, never returns).
 * tp is the descriptor musl passed as the clone TLS argument. */
__attribute__((__export_name__("__w2n_thread_start"), __noreturn__))
void __w2n_thread_start(int (*fn)(void *), void *arg, void *tp)
{
	__wasm_init_tls(__wasm_tls_block(tp));
	__set_thread_area(tp);
	for (int r = fn(arg);;) __syscall(SYS_exit, r);
}
