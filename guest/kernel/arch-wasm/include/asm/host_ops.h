/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _ASM_WASM_HOST_OPS_H
#define _ASM_WASM_HOST_OPS_H
/*
 * The one import interface of kernel.wasm: module "host". The exact
 * contract (types, blocking behaviour, failure convention) is written down
 * in docs/host-abi.md of the w2native repository; keep both in sync.
 * Handles are positive i32 values; 0 or a negative value means failure.
 */
#include <linux/types.h>
#include <linux/compiler.h>

#define __host(name) __attribute__((import_module("host"), import_name(#name)))

/* output and failure */
__host(print) void host_print(const char *str, int len);
__host(panic) void host_panic(const char *msg, int len) __noreturn;
__host(halt) void host_halt(int how, int code) __noreturn;

/* semaphores and mutexes */
__host(sem_alloc) int host_sem_alloc(int count);
__host(sem_free) void host_sem_free(int sem);
__host(sem_up) void host_sem_up(int sem);
__host(sem_down) void host_sem_down(int sem);
__host(mutex_alloc) int host_mutex_alloc(void);
__host(mutex_free) void host_mutex_free(int mutex);
__host(mutex_lock) void host_mutex_lock(int mutex);
__host(mutex_unlock) void host_mutex_unlock(int mutex);

/* threads: a new thread calls the export kernel_thread_start(arg) */
__host(thread_create) int host_thread_create(int arg);
__host(thread_exit) void host_thread_exit(void) __noreturn;
__host(thread_join) int host_thread_join(int thread);
__host(thread_self) int host_thread_self(void);

/* thread-local storage: one i32 per key per host thread */
__host(tls_alloc) int host_tls_alloc(void);
__host(tls_free) void host_tls_free(int key);
__host(tls_set) int host_tls_set(int key, int value);
__host(tls_get) int host_tls_get(int key);

/* time */
__host(time_ns) s64 host_time_ns(void);
__host(wall_time_ns) s64 host_wall_time_ns(void);
__host(timer_set) int host_timer_set(s64 delta_ns);
__host(timer_cancel) void host_timer_cancel(void);

/* boot inputs and memory */
__host(cmdline) int host_cmdline(char *buf, int size);
__host(initrd_size) int host_initrd_size(void);
__host(initrd_copy) void host_initrd_copy(void *dst);
/*
 * the kernel no longer needs the contents of [addr, addr + len) (free
 * pages): the host may drop them; they then read as zero or as before
 */
__host(discard) void host_discard(void *addr, unsigned long len);

/* console input: non-blocking, returns bytes copied (0 = none) */
__host(console_read) int host_console_read(char *buf, int size);
/* console tty output (printk goes to print) */
__host(console_write) void host_console_write(const char *buf, int len);
/* host terminal size: rows << 16 | cols, 0 if unknown */
__host(console_winsize) int host_console_winsize(void);

/*
 * the executable's own streams, when they are pipes or files
 * (/dev/hoststdin, hoststdout, hoststderr): stdin_read is non-blocking,
 * returns bytes copied, 0 = none yet, -1 = end of input (size 0: only
 * looks); stdio_write writes to host descriptor fd (1 or 2)
 */
__host(stdin_read) int host_stdin_read(char *buf, int size);
__host(stdio_write) void host_stdio_write(int fd, const char *buf, int len);

/* random bytes from the host: returns how many were written to buf */
__host(random) int host_random(void *buf, int len);

/* user tasks (the Runner runs user code) */
__host(user_start) int host_user_start(int task, const char *path, int path_len);
__host(user_clone) int host_user_clone(int task, unsigned long flags,
				       unsigned long stack, unsigned long tls);
/*
 * a task executing user code on host thread `thread` must enter the kernel
 * soon (a signal is pending, or the scheduler wants the CPU): sets the
 * flag that the user program's compiled code checks
 */
__host(user_kick) void host_user_kick(int thread);

#endif
