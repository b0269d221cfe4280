/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _ASM_WASM_IRQFLAGS_H
#define _ASM_WASM_IRQFLAGS_H
/*
 * Interrupts are simulated: a host thread that wants to deliver one waits
 * for the CPU lock, so nothing can interrupt kernel code that holds it.
 * The flag is kept only for the kernel's own bookkeeping (irqs_disabled()).
 */
#define ARCH_IRQ_ENABLED	1
#define ARCH_IRQ_DISABLED	0
extern unsigned long wasm_irq_flags;
static inline unsigned long arch_local_save_flags(void)
{
	return wasm_irq_flags;
}
static inline void arch_local_irq_restore(unsigned long flags)
{
	wasm_irq_flags = flags;
}
#include <asm-generic/irqflags.h>
#endif
