// SPDX-License-Identifier: GPL-2.0
/* Clock source, one-shot clock event and wall clock from the host. */
#include <linux/clocksource.h>
#include <linux/clockchips.h>
#include <linux/interrupt.h>
#include <linux/irq.h>
#include <linux/delay.h>
#include <linux/timekeeping.h>
#include <linux/sched_clock.h>
#include <asm/host_ops.h>
#include <asm/wasm.h>

static s64 boot_ns;

static u64 host_cs_read(struct clocksource *cs)
{
	return host_time_ns();
}

static struct clocksource host_clocksource = {
	.name	= "host",
	.rating	= 400,
	.read	= host_cs_read,
	.mask	= CLOCKSOURCE_MASK(64),
	.flags	= CLOCK_SOURCE_IS_CONTINUOUS,
};

unsigned long long sched_clock(void)
{
	return host_time_ns() - boot_ns;
}

static int host_timer_next(unsigned long ns, struct clock_event_device *evt)
{
	return host_timer_set(ns) < 0 ? -EINVAL : 0;
}

static int host_timer_shutdown(struct clock_event_device *evt)
{
	host_timer_cancel();
	return 0;
}

static struct clock_event_device host_clockevent = {
	.name			= "host",
	.features		= CLOCK_EVT_FEAT_ONESHOT,
	.set_next_event		= host_timer_next,
	.set_state_shutdown	= host_timer_shutdown,
	.set_state_oneshot_stopped = host_timer_shutdown,
	.rating			= 100,
	.irq			= WASM_TIMER_IRQ,
	.cpumask		= cpu_possible_mask,
};

static irqreturn_t host_timer_irq(int irq, void *dev)
{
	struct clock_event_device *evt = dev;

	if (evt->event_handler)
		evt->event_handler(evt);
	return IRQ_HANDLED;
}

void read_persistent_clock64(struct timespec64 *ts)
{
	*ts = ns_to_timespec64(host_wall_time_ns());
}

void __init time_init(void)
{
	int err;

	boot_ns = host_time_ns();
	err = request_irq(WASM_TIMER_IRQ, host_timer_irq, IRQF_TIMER, "timer",
			  &host_clockevent);
	if (err)
		pr_err("wasm: timer irq: %d\n", err);
	clocksource_register_hz(&host_clocksource, NSEC_PER_SEC);
	clockevents_config_and_register(&host_clockevent, NSEC_PER_SEC, 1, ULONG_MAX);
	lpj_fine = 1000000;
}

void __delay(unsigned long loops)
{
	s64 end = host_time_ns() + loops;

	while (host_time_ns() < end)
		;
}

void __udelay(unsigned long usecs)
{
	__delay(usecs * NSEC_PER_USEC);
}

void __ndelay(unsigned long nsecs)
{
	__delay(nsecs);
}

void __const_udelay(unsigned long xloops)
{
	__delay(xloops >> 10);
}
