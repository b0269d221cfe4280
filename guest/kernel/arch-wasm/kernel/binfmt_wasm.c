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
#include <linux/mm.h>

/*
 * thread.exec_path holds "path\0" followed by the argument block the Runner
 * reads with kernel_exec_args(): u32 argc, u32 envc, u32 len, then len
 * bytes of NUL-terminated strings (argv..., envp..., as copied by execve
 * into the argument pages; the block may end with the file name).
 */
static char *exec_info(struct linux_binprm *bprm)
{
	unsigned long pos = bprm->p;
	unsigned long end = PAGE_SIZE * MAX_ARG_PAGES - sizeof(void *);
	u32 hdr[3] = { bprm->argc, bprm->envc, end - pos };
	size_t plen = strlen(bprm->filename) + 1;
	char *info, *d;

	info = kmalloc(plen + sizeof(hdr) + hdr[2], GFP_KERNEL);
	if (!info)
		return NULL;
	memcpy(info, bprm->filename, plen);
	memcpy(info + plen, hdr, sizeof(hdr));
	d = info + plen + sizeof(hdr);
	while (pos < end) {
		unsigned long off = pos % PAGE_SIZE;
		unsigned long n = min(end - pos, PAGE_SIZE - off);
		struct page *page = bprm->page[pos / PAGE_SIZE];

		if (page)
			memcpy(d, (char *)page_address(page) + off, n);
		else
			memset(d, 0, n);
		d += n;
		pos += n;
	}
	return info;
}

static int load_wasm_binary(struct linux_binprm *bprm)
{
	char *info;
	int ret;

	if (memcmp(bprm->buf, "\0asm", 4))
		return -ENOEXEC;
	info = exec_info(bprm);
	if (!info)
		return -ENOMEM;
	ret = begin_new_exec(bprm);
	if (ret) {
		kfree(info);
		return ret;
	}
	setup_new_exec(bprm);
	kfree(current->thread.exec_path);
	current->thread.exec_path = info;
	/* a handler taken before the exec belongs to the old program */
	current->thread.pending_sig = 0;
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
