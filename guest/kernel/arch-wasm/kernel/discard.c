// SPDX-License-Identifier: GPL-2.0
/*
 * Giving free memory back to the host.
 *
 * All of the kernel's memory is one wasm linear memory, which the host
 * backs with private anonymous pages: a page the kernel wrote once stays
 * resident in the host process after the kernel freed it, so the
 * executable's resident size only ever grows (after 50 telnet sessions it
 * stayed at 7.5 times its idle size while the guest had freed everything).
 *
 * Free page reporting (mm/page_reporting.c, made for balloon drivers) does
 * the bookkeeping: a couple of seconds after pages were freed, a worker
 * takes the free blocks of the buddy allocator off their lists, hands
 * them to this "device", and puts them back marked as reported, so that
 * they are not reported again until they merge into a larger block or
 * are allocated. The host op discard() lets the
 * host drop their contents (the Runner: madvise(MADV_DONTNEED), the next
 * touch gets a zero page). Free pages have no contents anybody relies on,
 * so discarding them is invisible to the kernel.
 *
 * The delay keeps blocks that are reused at once (a process exiting and
 * the next one starting) away from the host. Every free block is
 * reported, single pages too: after 50 telnet sessions the free memory is
 * scattered over small blocks between long-lived slab pages (1.5 MiB in
 * blocks below 32 KiB), and a pass runs at most every two seconds, so the
 * host calls cost nothing measurable.
 */
#include <linux/init.h>
#include <linux/mm.h>
#include <linux/page_reporting.h>
#include <linux/scatterlist.h>
#include <asm/host_ops.h>

/*
 * mm/page_reporting.c's parameter (also writable in
 * /sys/module/page_reporting/parameters): the smallest order reported.
 * The device's own .order cannot ask for 0, which means "pageblock order".
 */
extern unsigned int page_reporting_order;

static int wasm_discard_report(struct page_reporting_dev_info *prdev,
			       struct scatterlist *sgl, unsigned int nents)
{
	struct scatterlist *sg;
	unsigned long start = 0, end = 0;
	unsigned int i;

	/* one host call per run of adjacent blocks */
	for_each_sg(sgl, sg, nents, i) {
		unsigned long addr = (unsigned long)page_address(sg_page(sg));

		if (addr != end) {
			if (end > start)
				host_discard((void *)start, end - start);
			start = addr;
		}
		end = addr + sg->length;
	}
	if (end > start)
		host_discard((void *)start, end - start);
	return 0;
}

static struct page_reporting_dev_info wasm_discard_dev = {
	.report = wasm_discard_report,
};

static int __init wasm_discard_init(void)
{
	int err = page_reporting_register(&wasm_discard_dev);

	/* the first pass is two seconds away: nothing was reported yet */
	if (!err)
		page_reporting_order = 0;
	return err;
}
device_initcall(wasm_discard_init);
