/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The C shadow stack of wasm32 is addressed through the __stack_pointer
 * global. All host threads share one instance, so every thread that starts
 * running kernel code (or resumes after blocking) installs its own stack.
 */
	.globaltype __stack_pointer, i32

	.section .text.wasm_get_sp,"",@
	.globl wasm_get_sp
	.type wasm_get_sp,@function
wasm_get_sp:
	.functype wasm_get_sp () -> (i32)
	global.get __stack_pointer
	end_function

	.section .text.wasm_set_sp,"",@
	.globl wasm_set_sp
	.type wasm_set_sp,@function
wasm_set_sp:
	.functype wasm_set_sp (i32) -> ()
	local.get 0
	global.set __stack_pointer
	end_function
