/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _ASM_WASM_STRING_H
#define _ASM_WASM_STRING_H
/* lib/string.c provides everything; clang lowers memcpy/memset to bulk ops */
#endif
