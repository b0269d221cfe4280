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
#endif
