// SPDX-License-Identifier: GPL-2.0
/*
 * With -mbulk-memory, clang lowers each builtin below to memory.copy or
 * memory.fill (overlap-safe, trapping out of bounds) rather than calling
 * back into the function being defined.
 */
#include <linux/export.h>
#include <linux/string.h>

void *memcpy(void *dest, const void *src, size_t count)
{
	return __builtin_memcpy(dest, src, count);
}
EXPORT_SYMBOL(memcpy);

void *memmove(void *dest, const void *src, size_t count)
{
	return __builtin_memmove(dest, src, count);
}
EXPORT_SYMBOL(memmove);

void *memset(void *s, int c, size_t count)
{
	return __builtin_memset(s, c, count);
}
EXPORT_SYMBOL(memset);
