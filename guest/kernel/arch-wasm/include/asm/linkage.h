/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _ASM_WASM_LINKAGE_H
#define _ASM_WASM_LINKAGE_H
/*
 * wasm has no addressable code: taking the address of a label (&&label)
 * is not supported, so "this instruction pointer" is 0.
 * include/linux/instruction_pointer.h honours a prior definition.
 */
#define _THIS_IP_ 0UL
#define __ALIGN
#define __ALIGN_STR ""
#endif
