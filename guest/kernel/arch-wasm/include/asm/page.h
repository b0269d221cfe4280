/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _ASM_WASM_PAGE_H
#define _ASM_WASM_PAGE_H
/*
 * NOMMU, identity mapped: kernel virtual address == wasm linear memory
 * offset, and page frame 0 is linear-memory offset 0.
 */
#include <asm-generic/page.h>
#endif
