/* The Runner interface of a wasm32 user program: every function imported
 * from the Runner is declared here and nowhere else.  The contract is
 * docs/guest-abi.md; keep both in step (guest/tests-userland/check.sh
 * compares the import list of busybox.wasm with that document). */
#ifndef W2N_RUNNER_IMPORTS_H
#define W2N_RUNNER_IMPORTS_H

#define __W2N_IMPORT(name) \
	__attribute__((__import_module__("env"), __import_name__(name)))

/* The system call entry. */
__W2N_IMPORT("__syscall")
long __w2n_syscall(long nr, long a, long b, long c, long d, long e, long f);

/* vfork/fork: returns 0 in the child (running on the caller's thread and
 * stack), later the child's pid in the parent once the child has called
 * execve successfully or exited; -errno on failure.  mode: W2N_VFORK or
 * W2N_FORK (the parent must then see memory as it was at the call). */
#define W2N_VFORK 0
#define W2N_FORK  1
__W2N_IMPORT("__vfork")
long __w2n_vfork(long mode);

/* Thread creation (clone with CLONE_THREAD).  The Runner makes the kernel
 * task and a new instance that runs the export __w2n_thread_start(fn, arg,
 * tls) on stack `stack`.  Returns the new tid or -errno. */
__W2N_IMPORT("__clone_thread")
long __w2n_clone_thread(int (*fn)(void *), void *stack, long flags, void *arg,
	int *ptid, void *tls, int *ctid);

#endif
