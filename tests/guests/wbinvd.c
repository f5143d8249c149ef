/* WBINVD and WBNOINVD in a loop (issue 11, hole 6): natively each would
 * write back and drop the caches the host CPU shares with other cores.
 * The hypervisor makes them no-ops; the test counts the exits. */
#include "guest.h"

uint32_t guest_main(uint32_t magic, const struct multiboot_info *info)
{
	for (int i = 0; i < 1000; i++) {
		__asm__ volatile("wbinvd" ::: "memory");
		__asm__ volatile(".byte 0xf3, 0x0f, 0x09" ::: "memory");   /* WBNOINVD */
	}
	puts("wbinvd: 1000 WBINVD and 1000 WBNOINVD done\n");
	return 0;
}
