/* wasm32 cancellation point.  A thread cannot be stopped between instructions
 * (there is no program counter to inspect), so cancellation is checked on
 * entry to each cancellable syscall, and a blocking syscall interrupted by
 * the cancel signal returns -EINTR, which __syscall_cp_c turns into the
 * cancellation.  __cp_begin/__cp_end are an empty range so the asynchronous
 * path of cancel_handler never matches. */
#include "pthread_impl.h"
#include "syscall.h"

hidden const char __cp_begin[1], __cp_end[1], __cp_cancel[1];
hidden long __cancel();

hidden long __syscall_cp_asm(volatile int *cancel, syscall_arg_t nr,
	syscall_arg_t u, syscall_arg_t v, syscall_arg_t w,
	syscall_arg_t x, syscall_arg_t y, syscall_arg_t z)
{
	if (*cancel) return __cancel();
	return __syscall6(nr, u, v, w, x, y, z);
}
