/* Touches guest-physical memory beyond its RAM, as a PC's bus answers it:
 * a write that no device claims is dropped and a read gives all ones; then
 * it jumps there, and the hypervisor stops this guest alone, naming the
 * address (there is no code to run outside RAM). */
#include "guest.h"

uint32_t guest_main(void)
{
	volatile uint32_t *far = (volatile uint32_t *)0x40000000;
	puts("outside: writing to guest-physical 0x40000000\n");
	*far = 0x12345678;
	puts(*far == 0xFFFFFFFF ? "outside: ok   it reads all ones, the write was dropped\n"
				: "outside: FAIL the write went through\n");
	puts("outside: jumping to guest-physical 0x40000000\n");
	((void (*)(void))0x40000000)();
	puts("outside: FAIL code ran outside RAM\n");
	return 1;
}
