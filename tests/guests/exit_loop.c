/* A benchmark guest (make bench, P2): `loops=N` CPUIDs back to back, then
 * N byte writes to the UART's scratch register (port 0x3FF), every one a
 * VM exit, each loop timed by the TSC: exit round trips per second through
 * whatever answers them (the core, or the stub itself in the bench's
 * bypass build). Prints "exit-loop: <kind> <N> exits in <us> us". */
#include "guest.h"

static void report(const char *kind, uint32_t loops, uint64_t cycles)
{
	puts("exit-loop: ");
	puts(kind);
	puts(" ");
	putdec(loops);
	puts(" exits in ");
	putdec(guest_tsc_us(cycles));
	puts(" us\n");
}

uint32_t guest_main(uint32_t magic, const struct multiboot_info *info)
{
	uint32_t loops = guest_option(info, "loops=", 100000);
	uint32_t a, b, c, d;
	uint64_t t0 = rdtsc();
	for (uint32_t i = 0; i < loops; i++)
		__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0), "c"(0));
	report("cpuid", loops, rdtsc() - t0);
	t0 = rdtsc();
	for (uint32_t i = 0; i < loops; i++)
		outb(0x3ff, (uint8_t)i);
	report("io", loops, rdtsc() - t0);
	return 0;
}
