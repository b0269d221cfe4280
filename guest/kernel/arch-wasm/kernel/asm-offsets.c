// SPDX-License-Identifier: GPL-2.0
/* Nothing in the port is written against structure offsets yet. */
#include <linux/kbuild.h>
#include <linux/sched.h>

int main(void)
{
	DEFINE(WASM_THREAD_SIZE, THREAD_SIZE);
	return 0;
}
