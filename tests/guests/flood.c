/* Floods its UART: `lines=N` numbered lines as fast as it can, then exits.
 * Every one must reach the host console, whole and in order, and the other
 * guests must still get to print. */
#include "guest.h"

uint32_t guest_main(uint32_t magic, const struct multiboot_info *info)
{
	uint32_t lines = guest_option(info, "lines=", 2000);
	for (uint32_t i = 0; i < lines; i++) {
		puts("flood: line ");
		putdec(i);
		puts(" the quick brown fox jumps over the lazy dog\n");
	}
	return 0;
}
