/* Measures its own progress: `loops=N` iterations, each reading the TSC,
 * and reports the longest gap between two iterations, i.e. the longest
 * time another guest kept it from running. */
#include "guest.h"

uint32_t guest_main(uint32_t magic, const struct multiboot_info *info)
{
	uint32_t loops = guest_option(info, "loops=", 10000000);
	uint64_t previous = rdtsc(), longest = 0, first = previous;
	for (uint32_t i = 0; i < loops; i++) {
		uint64_t now = rdtsc();
		if (now - previous > longest)
			longest = now - previous;
		previous = now;
	}
	puts("ticker: longest gap ");
	putdec((uint32_t)(longest >> 10));
	puts(" Ki TSC cycles in ");
	putdec((uint32_t)((previous - first) >> 20));
	puts(" Mi TSC cycles\n");
	return 0;
}
