/* Spins with interrupts off and never exits on its own accord for
 * `loops=N` iterations (from the cmdline), then exits 0: only the host's
 * time slice can take the CPU away from it. */
#include "guest.h"

uint32_t guest_main(uint32_t magic, const struct multiboot_info *info)
{
	uint32_t loops = guest_option(info, "loops=", 100000000);
	puts("spinner: spinning with interrupts off\n");
	__asm__ volatile("cli");
	for (uint32_t i = 0; i < loops; i++)
		__asm__ volatile("");
	puts("spinner: done\n");
	return 0;
}
