/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * wasm32 uses the asm-generic syscall numbering of 32-bit architectures with
 * 64-bit time only (like riscv32), plus the 64-bit stat calls. A 64-bit
 * argument occupies two consecutive 32-bit slots, low word first, without
 * alignment padding.
 */
#define __ARCH_WANT_STAT64
#define __ARCH_WANT_SET_GET_RLIMIT
#define __ARCH_WANT_SYS_CLONE3
#define __ARCH_WANT_RENAMEAT
#include <asm-generic/unistd.h>
