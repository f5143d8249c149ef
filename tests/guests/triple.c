/* A triple fault: an empty IDT, then an exception. Only this guest stops. */
#include "guest.h"

uint32_t guest_main(void)
{
	struct { uint16_t limit; uint32_t base; } __attribute__((packed)) empty = { 0, 0 };
	puts("triple: loading an empty IDT and raising #BP\n");
	__asm__ volatile("lidt %0\n int3" :: "m"(empty));
	puts("triple: FAIL still running\n");
	return 1;
}
