/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _ASM_WASM_UNISTD_H
#define _ASM_WASM_UNISTD_H
#include <uapi/asm/unistd.h>
#define NR_syscalls __NR_syscalls
#endif
