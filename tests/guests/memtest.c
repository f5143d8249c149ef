/* Writes a pattern over all its RAM above 2 MiB, a slice at a time,
 * yielding (the yield hypercall) between slices so that two such guests interleave,
 * then checks every word. A guest that could see another's RAM would find
 * the other's pattern. With `rounds=N` (issue 11's isolation test) it
 * first checks that its fresh RAM reads all zeros (nothing of an earlier
 * guest or of the host), then checks its pattern N times, yielding
 * between rounds while the other guests run. */
#include "guest.h"


uint32_t guest_main(uint32_t magic, const struct multiboot_info *info)
{
	uint32_t top = 0x100000 + info->mem_upper * 1024;
	/* A seed of our own: give each guest a different cmdline. */
	uint32_t seed = 2166136261u;
	if (info->flags & 4)
		for (const char *p = (const char *)info->cmdline; *p; p++)
			seed = (seed ^ (uint8_t)*p) * 16777619u;
	uint32_t rounds = guest_option(info, "rounds=", 0);
	if (rounds) {
		uint32_t stale = 0;
		for (uint32_t a = 0x200000; a < top; a += 4)
			stale += *(volatile uint32_t *)a != 0;
		puts("memtest: ");
		putdec((top - 0x200000) >> 20);
		puts(stale ? " MiB fresh, FAIL: " : " MiB fresh, ok: ");
		putdec(stale);
		puts(" words not zero\n");
	}
	uint32_t slice = 1 << 20;
	for (uint32_t base = 0x200000; base < top; base += slice) {
		for (uint32_t a = base; a < base + slice && a < top; a += 4)
			*(volatile uint32_t *)a = a ^ seed;
		guest_yield();
	}
	uint32_t bad = 0;
	for (uint32_t round = 0; round < (rounds ? rounds : 1); round++) {
		if (round)
			guest_yield();
		for (uint32_t a = 0x200000; a < top; a += 4)
			bad += *(volatile uint32_t *)a != (a ^ seed);
	}
	puts("memtest: ");
	putdec((top - 0x200000) >> 20);
	puts(bad ? " MiB checked, FAIL: " : " MiB checked, ok: ");
	putdec(bad);
	puts(" bad words");
	if (rounds) {
		puts(" in ");
		putdec(rounds);
		puts(" rounds");
	}
	puts("\n");
	return bad ? 1 : 0;
}
