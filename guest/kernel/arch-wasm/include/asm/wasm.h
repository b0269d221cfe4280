/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _ASM_WASM_WASM_H
#define _ASM_WASM_WASM_H
#include <linux/types.h>

/* kernel/stack.S: read/write the __stack_pointer global */
unsigned long wasm_get_sp(void);
void wasm_set_sp(unsigned long sp);

#define WASM_TIMER_IRQ		1
#define WASM_CONSOLE_IRQ	2
#define WASM_NET_IRQ		3

/*
 * Arch-private syscall numbers, for the Runner only (docs/host-abi.md,
 * kernel_syscall): outside the generic table.
 */
#define __WASM_NR_BASE		0xf0000
#define __WASM_NR_set_mm_args	(__WASM_NR_BASE + 1)

/*
 * What kernel_get_signal() gives the Runner (little-endian, packed):
 * handler (u32), sa_flags (u32), mask to restore (8 bytes), siginfo_t
 * (128 bytes, the kernel_siginfo_t part filled, the rest zero).
 */
#define WASM_SIGNAL_SIZE	144

struct task_struct;
extern int wasm_task_key;
extern int wasm_preempt_pending;
void wasm_cpu_get(void);
void wasm_cpu_put(void);
void wasm_cpu_transfer(int host_thread);
void wasm_enter_as(struct task_struct *me);
void wasm_prepare_user(struct task_struct *me);
void wasm_threads_init(void);
void wasm_console_init(void);
void wasm_hoststdin_wake(void);
#endif
