/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Force-included into every C file (see arch/wasm/Makefile).
 * wasm has no addressable code: clang rejects __builtin_return_address()
 * for non-Emscripten wasm targets, so return addresses read as 0.
 */
#define __builtin_return_address(level) ((void *)0)
