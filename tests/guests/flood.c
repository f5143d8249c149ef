/* Floods its UART: `lines=N` numbered lines as fast as it can, then exits.
 * Every one must reach the host console, whole and in order, and the other
 * guests must still get to print. */
#include "guest.h"

struct multiboot_info { uint32_t flags, mem_lower, mem_upper, boot_device, cmdline; };

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
	uint32_t lines = option(info, "lines=", 2000);
	for (uint32_t i = 0; i < lines; i++) {
		puts("flood: line ");
		putdec(i);
		puts(" the quick brown fox jumps over the lazy dog\n");
	}
	return 0;
}
