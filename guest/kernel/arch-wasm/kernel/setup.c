// SPDX-License-Identifier: GPL-2.0
/*
 * Boot: the Runner calls kernel_boot() on the thread that becomes the idle
 * task. Memory is wasm linear memory: the kernel image (data, bss, the
 * wasm-ld stack) sits at the bottom, everything above __heap_base up to the
 * requested size is handed to memblock.
 */
#include <linux/init.h>
#include <linux/memblock.h>
#include <linux/mm.h>
#include <linux/start_kernel.h>
#include <linux/sched/task.h>
#include <linux/initrd.h>
#include <linux/reboot.h>
#include <linux/pm.h>
#include <linux/console.h>
#include <linux/cpu.h>
#include <asm/host_ops.h>
#include <asm/wasm.h>
#include <asm/setup.h>

/* the init task's stack (a linker script would reserve it) */
unsigned long init_stack[THREAD_SIZE / sizeof(unsigned long)] __aligned(THREAD_SIZE);

void *empty_zero_page;
/* reboot(POWER_OFF) only powers off if a power-off handler exists */
static void wasm_power_off(void)
{
	host_halt(2, 0);
}
void (*pm_power_off)(void) = wasm_power_off;
EXPORT_SYMBOL(pm_power_off);

extern char __heap_base[];
unsigned long memory_start, memory_end;
#define mem_start memory_start
#define mem_end memory_end

#define WASM_PAGE 65536UL

static void __init grow_memory(unsigned long bytes)
{
	unsigned long have = __builtin_wasm_memory_size(0) * WASM_PAGE;

	if (bytes > have &&
	    __builtin_wasm_memory_grow(0, (bytes - have + WASM_PAGE - 1) / WASM_PAGE) < 0)
		host_panic("wasm: memory.grow failed", 24);
	mem_end = __builtin_wasm_memory_size(0) * WASM_PAGE;
}

static void __init setup_initrd(void)
{
#ifdef CONFIG_BLK_DEV_INITRD
	int size = host_initrd_size();
	void *buf;

	if (size <= 0)
		return;
	buf = memblock_alloc(size, PAGE_SIZE);
	if (!buf) {
		pr_err("wasm: no memory for a %d byte initrd\n", size);
		return;
	}
	host_initrd_copy(buf);
	initrd_start = (unsigned long)buf;
	initrd_end = initrd_start + size;
	pr_info("wasm: initrd of %d bytes from the host\n", size);
#endif
}

void __init setup_arch(char **cmdline_p)
{
	unsigned long max_zone_pfn[MAX_NR_ZONES] = { 0 };

	*cmdline_p = boot_command_line;
	wasm_console_init();

	mem_start = PAGE_ALIGN((unsigned long)__heap_base);
	memblock_add(0, mem_end);
	memblock_reserve(0, mem_start);
	min_low_pfn = PFN_UP(mem_start);
	max_low_pfn = max_pfn = max_mapnr = PFN_DOWN(mem_end);
	high_memory = (void *)mem_end;
	pr_info("wasm: memory %lu KiB, kernel image %lu KiB\n",
		mem_end >> 10, mem_start >> 10);

	empty_zero_page = memblock_alloc(PAGE_SIZE, PAGE_SIZE);
	setup_initrd();

	max_zone_pfn[ZONE_NORMAL] = max_low_pfn;
	free_area_init(max_zone_pfn);
}

void __init mem_init(void)
{
	memblock_free_all();
}

/*
 * The image has no page-aligned init section to give back (wasm-ld keeps
 * data segments in its own order), so nothing is freed.
 */
void free_initmem(void)
{
	pr_info("wasm: init memory kept (%s)\n", "no page-aligned init section");
}

static noinline void __noreturn boot_on_init_stack(void)
{
	start_kernel();
}

/*
 * kernel_boot(mem_bytes): grow memory, read the command line, and start
 * the kernel on the calling host thread, which becomes the idle task.
 * Does not return.
 */
__attribute__((export_name("kernel_boot")))
void kernel_boot(unsigned long mem_bytes)
{
	int len;

	if (!mem_bytes)
		mem_bytes = CONFIG_WASM_MEM_MB * 1024UL * 1024UL;
	grow_memory(mem_bytes);
	len = host_cmdline(boot_command_line, COMMAND_LINE_SIZE - 1);
	if (len < 0)
		len = 0;
	boot_command_line[len] = 0;
	wasm_threads_init();
	wasm_cpu_get();
	wasm_set_sp((unsigned long)init_stack + THREAD_SIZE);
	boot_on_init_stack();
}

void machine_restart(char *cmd)
{
	host_halt(1, 0);
}

void machine_halt(void)
{
	host_halt(0, 0);
}

void machine_power_off(void)
{
	host_halt(2, 0);
}

/* the one CPU as a device (sysfs /sys/devices/system/cpu/cpu0, topology) */
static struct cpu wasm_cpu;

static int __init wasm_topology_init(void)
{
	return register_cpu(&wasm_cpu, 0);
}
subsys_initcall(wasm_topology_init);
