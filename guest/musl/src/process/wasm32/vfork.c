/* wasm32 vfork: the Runner's __vfork import returns twice (see
 * docs/guest-abi.md): 0 in the child, which keeps running on this thread and
 * stack until execve or _exit, then the child's pid in the parent. */
#define _GNU_SOURCE
#include <unistd.h>
#include "syscall.h"
#include "runner_imports.h"

pid_t vfork(void)
{
	return __syscall_ret(__w2n_vfork(W2N_VFORK));
}
