/* Spins with interrupts off and never exits on its own accord for
 * `loops=N` iterations (from the cmdline), then exits 0: only the host's
 * time slice can take the CPU away from it. */
#include "guest.h"

struct multiboot_info { uint32_t flags, mem_lower, mem_upper, boot_device, cmdline; };

/* The number after `key` in the command line, or `fallback`. */
static uint32_t option(const struct multiboot_info *info, const char *key, uint32_t fallback)
{
	if (!(info->flags & 4))
		return fallback;
	for (const char *p = (const char *)info->cmdline; *p; p++) {
		const char *k = key, *q = p;
		while (*k && *q == *k) { k++; q++; }
		if (*k)
			continue;
		uint32_t v = 0;
		while (*q >= '0' && *q <= '9')
			v = v * 10 + (uint32_t)(*q++ - '0');
		return v;
	}
	return fallback;
}

uint32_t guest_main(uint32_t magic, const struct multiboot_info *info)
{
	uint32_t loops = option(info, "loops=", 100000000);
	puts("spinner: spinning with interrupts off\n");
	__asm__ volatile("cli");
	for (uint32_t i = 0; i < loops; i++)
		__asm__ volatile("");
	puts("spinner: done\n");
	return 0;
}
