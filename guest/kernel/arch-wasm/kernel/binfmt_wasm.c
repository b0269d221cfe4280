// SPDX-License-Identifier: GPL-2.0
/*
 * execve() of a wasm module ("\0asm" magic): the kernel side only commits
 * the new program (credentials, mm, signal state); the Runner runs the code
 * on the task's host thread when the task returns to user mode
 * (host.user_start).
 */
#include <linux/binfmts.h>
#include <linux/init.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/string.h>

static int load_wasm_binary(struct linux_binprm *bprm)
{
	int ret;

	if (memcmp(bprm->buf, "\0asm", 4))
		return -ENOEXEC;
	ret = begin_new_exec(bprm);
	if (ret)
		return ret;
	setup_new_exec(bprm);
	kfree(current->thread.exec_path);
	current->thread.exec_path = kstrdup(bprm->filename, GFP_KERNEL);
	finalize_exec(bprm);
	return 0;
}

static struct linux_binfmt wasm_format = {
	.module		= THIS_MODULE,
	.load_binary	= load_wasm_binary,
};

static int __init init_wasm_binfmt(void)
{
	register_binfmt(&wasm_format);
	return 0;
}
core_initcall(init_wasm_binfmt);
