/* wasm32: a detached thread frees its own stack and exits.  The C stack of
 * a wasm thread is only touched by compiled code between calls, and nothing
 * runs after the munmap except the exit call itself. */
#include "pthread_impl.h"
#include "syscall.h"

void __unmapself(void *base, size_t size)
{
	__syscall(SYS_munmap, base, size);
	for (;;) __syscall(SYS_exit, 0);
}
