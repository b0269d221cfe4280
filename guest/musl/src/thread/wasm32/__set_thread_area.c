/* wasm32: the thread pointer is a thread-local variable of the instance
 * (see arch/wasm32/pthread_arch.h).  Always succeeds. */
#include "pthread_impl.h"

hidden __thread uintptr_t __wasm_tp;

int __set_thread_area(void *p)
{
	__wasm_tp = (uintptr_t)p;
	return 0;
}
