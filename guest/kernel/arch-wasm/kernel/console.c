// SPDX-License-Identifier: GPL-2.0
/*
 * The host console: printk output and a tty ("ttyW0", also /dev/console).
 * printk goes to host.print, tty output to host.console_write, so the host
 * can keep the kernel log apart from what programs write. Input: when the
 * host has bytes for the console it raises interrupt 2 (kernel_irq(2));
 * the handler drains them with host.console_read() into the tty layer
 * (line discipline, job control and signals are the kernel's). The same
 * interrupt tells of a new host window size (host.console_winsize), which
 * a work item gives the tty (TIOCSWINSZ semantics: SIGWINCH to the
 * foreground group).
 */
#include <linux/console.h>
#include <linux/init.h>
#include <linux/string.h>
#include <linux/tty.h>
#include <linux/tty_driver.h>
#include <linux/tty_flip.h>
#include <linux/interrupt.h>
#include <linux/workqueue.h>
#include <asm/host_ops.h>
#include <asm/wasm.h>

static struct tty_driver *host_tty_driver;
static struct tty_port host_tty_port;

static void host_log_write(struct console *con, const char *s, unsigned int n)
{
	host_print(s, n);
}

static struct tty_driver *host_console_device(struct console *c, int *index)
{
	*index = 0;
	return host_tty_driver;
}

static struct console host_console = {
	.name	= "hostcon",
	.write	= host_log_write,
	.device	= host_console_device,
	.flags	= CON_PRINTBUFFER | CON_ENABLED,
	.index	= -1,
};

void __init wasm_console_init(void)
{
	register_console(&host_console);
}

/* rows << 16 | cols as the host last reported it, 0 = unknown */
static int host_winsize;

static void host_tty_resize(struct tty_struct *tty)
{
	struct winsize ws = {
		.ws_row = (unsigned int)READ_ONCE(host_winsize) >> 16,
		.ws_col = READ_ONCE(host_winsize) & 0xffff,
	};

	if (ws.ws_row && ws.ws_col)
		tty_do_resize(tty, &ws);
}

static void host_resize_work_fn(struct work_struct *work)
{
	struct tty_struct *tty = tty_port_tty_get(&host_tty_port);

	if (tty) {
		host_tty_resize(tty);
		tty_kref_put(tty);
	}
}

static DECLARE_WORK(host_resize_work, host_resize_work_fn);

static int host_tty_open(struct tty_struct *tty, struct file *filp)
{
	/* a new tty starts with the host's size, later opens keep its own */
	WRITE_ONCE(host_winsize, host_console_winsize());
	if (!tty->winsize.ws_row && !tty->winsize.ws_col)
		host_tty_resize(tty);
	return tty_port_open(&host_tty_port, tty, filp);
}

static void host_tty_close(struct tty_struct *tty, struct file *filp)
{
	tty_port_close(&host_tty_port, tty, filp);
}

static void host_tty_hangup(struct tty_struct *tty)
{
	tty_port_hangup(&host_tty_port);
}

static int host_tty_write(struct tty_struct *tty, const unsigned char *buf, int count)
{
	host_console_write((const char *)buf, count);
	return count;
}

static unsigned int host_tty_write_room(struct tty_struct *tty)
{
	return 65536;
}

static const struct tty_operations host_tty_ops = {
	.open		= host_tty_open,
	.close		= host_tty_close,
	.hangup		= host_tty_hangup,
	.write		= host_tty_write,
	.write_room	= host_tty_write_room,
};

static const struct tty_port_operations host_port_ops = {
};

static irqreturn_t host_console_irq(int irq, void *dev)
{
	unsigned char buf[256];
	int n, total = 0, ws = host_console_winsize();

	if (ws != READ_ONCE(host_winsize)) {
		WRITE_ONCE(host_winsize, ws);
		schedule_work(&host_resize_work);
	}

	while ((n = host_console_read((char *)buf, sizeof(buf))) > 0) {
		tty_insert_flip_string(&host_tty_port, buf, n);
		total += n;
	}
	if (total)
		tty_flip_buffer_push(&host_tty_port);
	/* the same interrupt announces input for /dev/hoststdin */
	wasm_hoststdin_wake();
	return IRQ_HANDLED;
}

static int __init host_tty_init(void)
{
	struct tty_driver *drv;
	int err;

	drv = tty_alloc_driver(1, TTY_DRIVER_REAL_RAW);
	if (IS_ERR(drv))
		return PTR_ERR(drv);
	drv->driver_name = "hostcon";
	drv->name = "ttyW";
	drv->major = 0;
	drv->minor_start = 0;
	drv->type = TTY_DRIVER_TYPE_SERIAL;
	drv->subtype = SERIAL_TYPE_NORMAL;
	drv->init_termios = tty_std_termios;
	tty_set_operations(drv, &host_tty_ops);
	tty_port_init(&host_tty_port);
	host_tty_port.ops = &host_port_ops;
	tty_port_link_device(&host_tty_port, drv, 0);
	err = tty_register_driver(drv);
	if (err) {
		tty_driver_kref_put(drv);
		tty_port_destroy(&host_tty_port);
		return err;
	}
	host_tty_driver = drv;
	err = request_irq(WASM_CONSOLE_IRQ, host_console_irq, 0, "console", NULL);
	if (err)
		pr_err("wasm: console irq: %d\n", err);
	return 0;
}
device_initcall(host_tty_init);
