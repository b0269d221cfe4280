// SPDX-License-Identifier: GPL-2.0
/* printk console: every kernel message goes to host.print. */
#include <linux/console.h>
#include <linux/init.h>
#include <linux/string.h>
#include <asm/host_ops.h>
#include <asm/wasm.h>

static void host_console_write(struct console *con, const char *s, unsigned int n)
{
	host_print(s, n);
}

static struct console host_console = {
	.name	= "hostcon",
	.write	= host_console_write,
	.flags	= CON_PRINTBUFFER | CON_ENABLED,
	.index	= -1,
};

void __init wasm_console_init(void)
{
	register_console(&host_console);
}
