/* SPDX-License-Identifier: GPL-2.0 */
/*
 * No include guard on purpose: the syscall table (kernel/syscalls.c)
 * includes this file twice with different __SYSCALL() definitions.
 */
#define __ARCH_WANT_SYS_CLONE
#include <uapi/asm/unistd.h>
#ifndef NR_syscalls
#define NR_syscalls __NR_syscalls
#endif
