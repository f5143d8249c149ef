/* Touches guest-physical memory beyond its RAM: the hypervisor must stop
 * this guest alone, naming the address. */
#include "guest.h"

uint32_t guest_main(void)
{
	puts("outside: writing to guest-physical 0x40000000\n");
	*(volatile uint32_t *)0x40000000 = 0x12345678;
	puts("outside: FAIL the write went through\n");
	return 1;
}
