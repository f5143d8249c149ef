/* A benchmark guest: 200000 CPUIDs back to back, every one an exit. */
#include "guest.h"

uint32_t guest_main(void)
{
	uint32_t a = 0, b, c, d;
	for (int i = 0; i < 200000; i++)
		__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0), "c"(0));
	puts("cpuid-loop: 200000 cpuid done\n");
	return 0;
}
