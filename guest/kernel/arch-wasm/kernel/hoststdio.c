// SPDX-License-Identifier: GPL-2.0
/*
 * The executable's standard streams as plain character devices:
 * /dev/hoststdin, /dev/hoststdout, /dev/hoststderr (minors 0, 1, 2).
 *
 * When the executable's stdin, stdout or stderr is a pipe or a file, the
 * Runner gives the first program these instead of the console tty, so it
 * sees what a native program would: isatty() is false, nothing is echoed,
 * "\n" stays "\n" (no ONLCR), the end of the host's input is end of file,
 * and stderr stays apart from stdout. They behave like pipe ends: no seek,
 * no terminal ioctls.
 *
 * Input comes like the console's: the host raises interrupt 2 when it has
 * bytes (or reached the end), and a reader takes them with
 * host.stdin_read(). Output is written to the host descriptor at once, so
 * the order of stdout and stderr is kept when both go to one place.
 */
#include <linux/device.h>
#include <linux/fs.h>
#include <linux/init.h>
#include <linux/poll.h>
#include <linux/uaccess.h>
#include <linux/wait.h>
#include <asm/host_ops.h>
#include <asm/wasm.h>

static DECLARE_WAIT_QUEUE_HEAD(stdin_wait);
static int stdin_kicked;

/* from the console interrupt: the host may have input (or its end) for us */
void wasm_hoststdin_wake(void)
{
	WRITE_ONCE(stdin_kicked, 1);
	wake_up_interruptible(&stdin_wait);
}

static ssize_t hoststdin_read(struct file *file, char __user *buf, size_t len, loff_t *ppos)
{
	char kbuf[256];
	int n;

	if (!len)
		return 0;
	for (;;) {
		/* clear before looking, so an interrupt in between is not lost */
		WRITE_ONCE(stdin_kicked, 0);
		n = host_stdin_read(kbuf, min(len, sizeof(kbuf)));
		if (n)
			break;
		if (file->f_flags & O_NONBLOCK)
			return -EAGAIN;
		if (wait_event_interruptible(stdin_wait, READ_ONCE(stdin_kicked)))
			return -ERESTARTSYS;
	}
	if (n < 0)
		return 0;
	if (copy_to_user(buf, kbuf, n))
		return -EFAULT;
	return n;
}

static __poll_t hoststdin_poll(struct file *file, poll_table *wait)
{
	poll_wait(file, &stdin_wait, wait);
	/* size 0 only looks: > 0 bytes waiting, < 0 end of input */
	return host_stdin_read(NULL, 0) ? EPOLLIN | EPOLLRDNORM : 0;
}

static ssize_t hostout_write(struct file *file, const char __user *buf, size_t len, loff_t *ppos)
{
	int fd = iminor(file_inode(file));

	/* NOMMU: user memory is kernel memory, the host reads it in place */
	if (!access_ok(buf, len))
		return -EFAULT;
	len = min_t(size_t, len, INT_MAX);
	host_stdio_write(fd, (const char __force *)buf, len);
	return len;
}

static __poll_t hostout_poll(struct file *file, poll_table *wait)
{
	return EPOLLOUT | EPOLLWRNORM;
}

static const struct file_operations hoststdin_fops = {
	.owner	= THIS_MODULE,
	.read	= hoststdin_read,
	.poll	= hoststdin_poll,
	.llseek	= no_llseek,
};

static const struct file_operations hostout_fops = {
	.owner	= THIS_MODULE,
	.write	= hostout_write,
	.poll	= hostout_poll,
	.llseek	= no_llseek,
};

static int hoststdio_open(struct inode *inode, struct file *file)
{
	switch (iminor(inode)) {
	case 0:
		file->f_op = &hoststdin_fops;
		break;
	case 1:
	case 2:
		file->f_op = &hostout_fops;
		break;
	default:
		return -ENXIO;
	}
	return stream_open(inode, file);
}

static const struct file_operations hoststdio_fops = {
	.owner	= THIS_MODULE,
	.open	= hoststdio_open,
	.llseek	= no_llseek,
};

static char *hoststdio_devnode(struct device *dev, umode_t *mode)
{
	if (mode)
		*mode = MINOR(dev->devt) ? 0222 : 0444;
	return NULL;
}

static int __init hoststdio_init(void)
{
	static const char *const names[] = { "hoststdin", "hoststdout", "hoststderr" };
	struct class *cls;
	int major, i;

	major = register_chrdev(0, "hoststdio", &hoststdio_fops);
	if (major < 0)
		return major;
	cls = class_create(THIS_MODULE, "hoststdio");
	if (IS_ERR(cls))
		return PTR_ERR(cls);
	cls->devnode = hoststdio_devnode;
	for (i = 0; i < ARRAY_SIZE(names); i++)
		device_create(cls, NULL, MKDEV(major, i), NULL, names[i]);
	return 0;
}
device_initcall(hoststdio_init);
