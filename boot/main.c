/*
 * boot_main: entry.S calls it in 64-bit mode on the boot stack, with
 * interrupts off. Sets up the machine, says what it found, hands over to
 * the VMM core.
 */
#include "boot.h"
#include "core.h"
#include "percpu.h"

#ifndef HV_VERSION
#define HV_VERSION "0.0.0"
#endif

#define MIB (1024 * 1024)

/* kernel.ld brackets the compiled Wasm core's code with these. */
extern const char __core_text_start[], __core_text_end[];

void boot_main(uint32_t magic, uint64_t mb_info_phys);

/* The value after `key` in a space-separated command line, or NULL. */
static const char *find_option(const char *cmdline, const char *key)
{
	size_t n = strlen(key);
	for (const char *p = cmdline; *p; p++)
		if ((p == cmdline || p[-1] == ' ') && !strncmp(p, key, n))
			return p + n;
	return NULL;
}

/* Virtualization support by CPUID alone: probing by setting CR4.VMXE hangs
 * QEMU 7.2 instead of raising #GP. SVM: CPUID 0x80000001 ECX bit 2 (AMD APM
 * vol. 3, E.4.2); VMX: CPUID 1 ECX bit 5 (Intel SDM vol. 3C 25.6). */
static const char *virtualization_extension(void)
{
	uint32_t a, b, c, d;
	cpuid(1, 0, &a, &b, &c, &d);
	if (c & (1u << 5))
		return "VMX";
	cpuid(0x80000000, 0, &a, &b, &c, &d);
	if (a >= 0x80000001) {
		cpuid(0x80000001, 0, &a, &b, &c, &d);
		if (c & (1u << 2))
			return "SVM";
	}
	return "no virtualization extension";
}

static void print_cpu(void)
{
	uint32_t a, vendor[4] = { 0 };
	cpuid(0, 0, &a, &vendor[0], &vendor[2], &vendor[1]);   /* EBX, EDX, ECX */
	kprintf("[hv] cpu: %s, %lu MHz TSC, %s\n", (const char *)vendor,
		tsc_hz() / 1000000, virtualization_extension());
}

static void print_memory(void)
{
	uint64_t usable = 0, above_4g = 0;
	unsigned ranges = 0;
	for (unsigned i = 0; i < multiboot2_memory_count(); i++) {
		const struct memory_range *r = multiboot2_memory(i);
		if (r->type != MB2_MEMORY_AVAILABLE)
			continue;
		usable += r->length;
		ranges++;
		uint64_t end = r->base + r->length;
		if (end > 0x100000000ull)
			above_4g += end - (r->base > 0x100000000ull ? r->base : 0x100000000ull);
	}
	kprintf("[hv] memory: %lu MiB usable in %u ranges, %lu MiB free for guests\n",
		usable / MIB, ranges, pmm_free_bytes() / MIB);
	if (above_4g)
		kprintf("[hv] memory: %lu MiB above 4 GiB not used yet (only 0..4 GiB is mapped)\n",
			above_4g / MIB);
}

static void print_modules(void)
{
	kprintf("[hv] modules: %u\n", boot_module_count());
	for (unsigned i = 0; i < boot_module_count(); i++) {
		const struct boot_module *m = boot_module_get(i);
		kprintf("[hv]   module %s %u bytes\n", m->name, m->size);
	}
}

void boot_main(uint32_t magic, uint64_t mb_info_phys)
{
	console_init();
	gdt_init(0);
	percpu_init(0);
	idt_init();
	/* The TSC's and the LAPIC timer's calibrations run while the boot
	 * does its work up to the config's end (core_init), so they start
	 * first: nothing before tsc_calibrate_quick() may need tsc_hz(). The
	 * TSC's settles while the first guests run (boot/tsc.c). */
	tsc_calibrate_start();
	lapic_timer_measure_start();
	multiboot2_parse(magic, mb_info_phys);
	screen_init(multiboot2_framebuffer());
	pmm_init();
	run_prepare_boot_cpu();
	/* GRUB may leave its cursor mid-line: start ours on a fresh one. */
	kprintf("\n[hv] tshv %s (type-1 hypervisor, VMM core in AssemblyScript/Wasm)\n", HV_VERSION);
	rtc_init();

	const struct framebuffer *fb = multiboot2_framebuffer();
	if (fb)
		kprintf("[hv] screen: %ux%u %s at %#llx\n", fb->width, fb->height,
			fb->text ? "EGA text" : fb->bpp == 24 ? "24-bit framebuffer" : "32-bit framebuffer",
			(unsigned long long)fb->address);
	print_memory();
	print_modules();
	kprintf("[hv] core: %lu KiB of compiled Wasm code\n",
		(unsigned long)(__core_text_end - __core_text_start + 1023) / 1024);
	unsigned guests = core_init();
	tsc_calibrate_quick();

	print_cpu();
	if (!lapic_init())
		kprintf("[hv] cpu: no usable local APIC: one CPU, no preemption\n");
	else
		kprintf("[hv] cpus: %u online\n", smp_start());
	/* What the console carried so far sets each guest's share of it
	 * (core_guest_start, supervisor/console_share.ts). */
	uint64_t carried = console_bytes_per_second();
	if (carried)
		kprintf("[hv] console: carries %lu bytes/s\n", (unsigned long)carried);
	else
		kprintf("[hv] console: rate not measured\n");

	/* selftest=instances:N on the hypervisor's command line: prove guest
	 * VMM instances can be made, trapped and dropped at will. */
	const char *selftest = find_option(boot_cmdline(), "selftest=instances:");
	if (selftest) {
		unsigned count = 0;
		while (*selftest >= '0' && *selftest <= '9')
			count = count * 10 + (unsigned)(*selftest++ - '0');
		bool ok = core_selftest_instances(count);
		kprintf("[hv] selftest %s\n", ok ? "passed" : "FAILED");
		if (!ok)
			power_off(false);
	}

	if (core_config_failed()) {
		kprintf("[hv] the config has errors: nothing to run, powering off\n");
		power_off(false);
	}
	if (!guests) {
		kprintf("[hv] no guest to run: powering off\n");
		power_off(true);
	}
	run_guests(guests);
	power_off(true);
}
