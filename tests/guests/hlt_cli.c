/* Halts with interrupts off: nothing can wake it, so it stops. */
#include "guest.h"

uint32_t guest_main(void)
{
	puts("hlt-cli: halting with interrupts disabled\n");
	__asm__ volatile("cli; hlt");
	return 1;
}
