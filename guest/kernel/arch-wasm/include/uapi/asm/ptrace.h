/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
#ifndef _UAPI_ASM_WASM_PTRACE_H
#define _UAPI_ASM_WASM_PTRACE_H
#ifndef __ASSEMBLY__
/*
 * There are no machine registers visible to a wasm program. The "register
 * file" of a task is the syscall being executed: number, six argument slots
 * and the return value.
 */
struct pt_regs {
	unsigned long syscall_nr;
	unsigned long args[6];
	long ret;
};
#endif
#endif
