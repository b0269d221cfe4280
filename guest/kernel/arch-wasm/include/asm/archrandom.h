/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _ASM_WASM_ARCHRANDOM_H
#define _ASM_WASM_ARCHRANDOM_H
/*
 * The host's random number generator plays the part of a CPU instruction
 * like RDSEED. Without it the kernel has no entropy source that works
 * here: try_to_generate_entropy() waits in a loop for timer interrupts,
 * which never get the CPU while the loop holds it, so the first read of
 * /dev/urandom never returned. With CONFIG_RANDOM_TRUST_CPU the boot seed
 * from here makes the crng ready before user space starts.
 */
#include <asm/host_ops.h>

static inline size_t __must_check arch_get_random_longs(unsigned long *v, size_t max_longs)
{
	int n = host_random(v, max_longs * sizeof(*v));

	return n > 0 ? n / sizeof(*v) : 0;
}

static inline size_t __must_check arch_get_random_seed_longs(unsigned long *v, size_t max_longs)
{
	return arch_get_random_longs(v, max_longs);
}

#endif
