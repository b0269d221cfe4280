/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _ASM_WASM_CURRENT_H
#define _ASM_WASM_CURRENT_H
#ifndef __ASSEMBLY__
struct task_struct;
/* Uniprocessor and one kernel thread at a time (the CPU lock): a global. */
extern struct task_struct *wasm_current_task;
static __always_inline struct task_struct *get_current(void)
{
	return wasm_current_task;
}
#define current get_current()
#endif
#endif
