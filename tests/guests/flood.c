/* Floods its UART: `lines=N` numbered lines as fast as it can, then says
 * how many bytes it wrote in how long by its own clock, and exits. Every
 * line must reach the host console, whole and in order, at no more than
 * the guest's share of the console (devices/console_line.ts), and the
 * other guests must still get to print. */
#include "guest.h"

uint32_t guest_main(uint32_t magic, const struct multiboot_info *info)
{
	uint32_t lines = guest_option(info, "lines=", 2000);
	uint64_t start = rdtsc();
	uint32_t bytes = 0;
	for (uint32_t i = 0; i < lines; i++) {
		puts("flood: line ");
		putdec(i);
		puts(" the quick brown fox jumps over the lazy dog\n");
		/* "flood: line " + digits + the rest */
		bytes += 12 + (i < 10 ? 1 : i < 100 ? 2 : i < 1000 ? 3 : i < 10000 ? 4 : 5) + 45;
	}
	uint32_t us = guest_tsc_us(rdtsc() - start);
	puts("flood: ");
	putdec(bytes);
	puts(" bytes in ");
	putdec(us / 1000);
	puts(" ms\n");
	return 0;
}
