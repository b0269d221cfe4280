/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _ASM_WASM_KICK_H
#define _ASM_WASM_KICK_H

struct task_struct;

/* kernel/kick.c: make tasks executing user code enter the kernel */
void wasm_kick_user(struct task_struct *t);
void wasm_kick_signalled(struct task_struct *except);

#endif
