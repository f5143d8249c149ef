/* Asks the hypervisor, by hypercall, to make its own guest VMM instance
 * trap: the instance dies, and only this guest stops (or is restarted by
 * policy). VMMCALL on AMD, VMCALL on Intel. */
#include "guest.h"

uint32_t guest_main(void)
{
	uint32_t a, b, c, d;
	__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0), "c"(0));
	puts("vmmtrap: asking for a trap in my guest VMM\n");
	if (b == 0x68747541)   /* "Auth" of AuthenticAMD */
		__asm__ volatile("vmmcall" :: "a"(0x50415254));
	else
		__asm__ volatile("vmcall" :: "a"(0x50415254));
	puts("vmmtrap: FAIL still running\n");
	return 1;
}
