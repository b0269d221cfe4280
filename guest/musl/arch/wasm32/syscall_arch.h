/* wasm32 system calls: one import from the Runner,
 *     env.__syscall(i32 nr, i32 a1, ..., i32 a6) -> i32
 * returning the kernel's result (-4095..-1 is -errno).  Unused arguments are
 * passed as 0.  64-bit arguments take two consecutive slots, low word first,
 * with no alignment padding.  See docs/guest-abi.md. */
#include "runner_imports.h"

#define __SYSCALL_LL_E(x) \
((union { long long ll; long l[2]; }){ .ll = x }).l[0], \
((union { long long ll; long l[2]; }){ .ll = x }).l[1]
#define __SYSCALL_LL_O(x) __SYSCALL_LL_E((x))

#define SYSCALL_MMAP2_UNIT 4096ULL

/* Internal to libc (this header is not installed).  The time64-only generic
 * table has no wait4, but musl 1.2.3 calls SYS_wait4 directly (waitpid, wait4,
 * pclose, faccessat); those calls are served by __wasm_wait4, built on
 * waitid (src/process/wasm32/wasm_wait4.c).  The number is not a kernel
 * syscall number and is never passed to the Runner. */
#define SYS_wait4 0x10104
hidden long __wasm_wait4(long pid, long status, long options, long rusage);

/* Named only on time32 fallback paths that the time64 aliases in
 * bits/syscall.h make unreachable; they must exist for those to compile. */
#define SYS_nanosleep 101
#define SYS_gettimeofday 169

static inline long __w2n_sc(long n, long a, long b, long c, long d, long e, long f)
{
	if (n == SYS_wait4) return __wasm_wait4(a, b, c, d);
	return __w2n_syscall(n, a, b, c, d, e, f);
}

static inline long __syscall0(long n)
{
	return __w2n_syscall(n, 0, 0, 0, 0, 0, 0);
}

static inline long __syscall1(long n, long a)
{
	return __w2n_syscall(n, a, 0, 0, 0, 0, 0);
}

static inline long __syscall2(long n, long a, long b)
{
	return __w2n_syscall(n, a, b, 0, 0, 0, 0);
}

static inline long __syscall3(long n, long a, long b, long c)
{
	return __w2n_syscall(n, a, b, c, 0, 0, 0);
}

static inline long __syscall4(long n, long a, long b, long c, long d)
{
	return __w2n_sc(n, a, b, c, d, 0, 0);
}

static inline long __syscall5(long n, long a, long b, long c, long d, long e)
{
	return __w2n_sc(n, a, b, c, d, e, 0);
}

static inline long __syscall6(long n, long a, long b, long c, long d, long e, long f)
{
	return __w2n_sc(n, a, b, c, d, e, f);
}

/* asm-generic kernels always use the ipc64 layouts and reject the flag. */
#define IPC_64 0
