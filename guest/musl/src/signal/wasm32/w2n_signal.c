/* wasm32 signal delivery.  The kernel only records handlers; the Runner runs
 * them by calling this export on the thread that takes the signal, after it
 * has written siginfo_t and ucontext_t below the interrupted
 * __stack_pointer.  The handler is called with the exact prototype its
 * SA_SIGINFO flag implies (a one-argument handler called with three
 * arguments would fail wasm's signature check).  When this returns the
 * Runner performs the rt_sigreturn work (mask from uc_sigmask).  A handler
 * may also leave by siglongjmp (vi does): the __c_longjmp exception then
 * propagates out of this call.  See docs/guest-abi.md. */
#include <signal.h>
#include <stdint.h>

__attribute__((__export_name__("__w2n_signal")))
void __w2n_signal(int sig, siginfo_t *info, void *uctx,
	uintptr_t handler, unsigned long flags)
{
	if (flags & SA_SIGINFO)
		((void (*)(int, siginfo_t *, void *))handler)(sig, info, uctx);
	else
		((void (*)(int))handler)(sig);
}
