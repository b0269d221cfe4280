/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _ASM_WASM_STRING_H
#define _ASM_WASM_STRING_H

#include <linux/types.h>

/*
 * memcpy, memmove and memset are single bulk-memory instructions
 * (arch/wasm/kernel/string.c, built with -mbulk-memory): lib/string.c's
 * versions copy a byte per loop iteration, which made zeroing and copying
 * pages most of the boot's instructions. The rest of lib/string.c stays.
 */
#define __HAVE_ARCH_MEMCPY
#define __HAVE_ARCH_MEMMOVE
#define __HAVE_ARCH_MEMSET
extern void *memcpy(void *dest, const void *src, __kernel_size_t count);
extern void *memmove(void *dest, const void *src, __kernel_size_t count);
extern void *memset(void *s, int c, __kernel_size_t count);

#endif
