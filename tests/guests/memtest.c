/* Writes a pattern over all its RAM above 2 MiB, a slice at a time,
 * yielding (the yield hypercall) between slices so that two such guests interleave,
 * then checks every word. A guest that could see another's RAM would find
 * the other's pattern. */
#include "guest.h"


uint32_t guest_main(uint32_t magic, const struct multiboot_info *info)
{
	uint32_t top = 0x100000 + info->mem_upper * 1024;
	/* A seed of our own: give each guest a different cmdline. */
	uint32_t seed = 2166136261u;
	if (info->flags & 4)
		for (const char *p = (const char *)info->cmdline; *p; p++)
			seed = (seed ^ (uint8_t)*p) * 16777619u;
	uint32_t slice = 1 << 20;
	for (uint32_t base = 0x200000; base < top; base += slice) {
		for (uint32_t a = base; a < base + slice && a < top; a += 4)
			*(volatile uint32_t *)a = a ^ seed;
		guest_yield();
	}
	uint32_t bad = 0;
	for (uint32_t a = 0x200000; a < top; a += 4)
		bad += *(volatile uint32_t *)a != (a ^ seed);
	puts("memtest: ");
	putdec((top - 0x200000) >> 20);
	puts(bad ? " MiB checked, FAIL: " : " MiB checked, ok: ");
	putdec(bad);
	puts(" bad words\n");
	return bad ? 1 : 0;
}
