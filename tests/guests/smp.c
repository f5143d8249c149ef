/* A guest of several vCPUs (vcpus=N on its command line, as in its
 * config): the bootstrap processor starts vCPU 1 by INIT and STARTUP to
 * its APIC ID, then all the others (vCPU 1 again among them) by the
 * all-but-self shorthand, as an OS's SMP bring-up does (Intel SDM vol. 3A,
 * 10.4.4). Each AP starts in real mode at the STARTUP vector's page,
 * counts itself in and parks with interrupts off (cli; hlt), which must
 * not stop the guest while the BSP runs on. */
#include "guest.h"

#define LAPIC 0xFEE00000u
#define TRAMPOLINE 0x70000u             /* STARTUP vector 0x70 */
#define COUNTER (TRAMPOLINE + 0x1000)
static volatile uint32_t *reg(uint32_t offset) { return (volatile uint32_t *)(LAPIC + offset); }
static void check(const char *what, int ok) { guest_check("smp", what, ok); }

/* ICR (12.6.1): destination, then the low word that sends. */
static void send(uint32_t destination, uint32_t low)
{
	*reg(0x310) = destination << 24;
	*reg(0x300) = low;
}

/* Spins (PAUSE: the vCPU gives way to the others) until `n` APs counted in. */
static int wait_for(uint32_t n)
{
	for (uint32_t i = 0; i < 200000; i++) {
		if (*(volatile uint32_t *)COUNTER >= n)
			return 1;
		__asm__ volatile("pause");
	}
	return 0;
}

uint32_t guest_main(uint32_t magic, struct multiboot_info *info)
{
	uint32_t vcpus = guest_option(info, "vcpus=", 2);
	/* Real mode: lock inc dword cs:[0x1000]; cli; hlt; jmp back to hlt. */
	static const uint8_t code[] = { 0xF0, 0x2E, 0x66, 0xFF, 0x06, 0x00, 0x10, 0xFA, 0xF4, 0xEB, 0xFD };
	for (unsigned i = 0; i < sizeof code; i++)
		((volatile uint8_t *)TRAMPOLINE)[i] = code[i];
	*(volatile uint32_t *)COUNTER = 0;
	*reg(0xF0) = 0x1FF;                                 /* software-enable the APIC */
	check("the BSP's APIC ID is 0", *reg(0x20) >> 24 == 0);

	send(1, 0x4500);                                    /* INIT, assert */
	send(1, 0x8500);                                    /* INIT, de-assert (level) */
	send(1, 0x4600 | (TRAMPOLINE >> 12));               /* STARTUP */
	check("vCPU 1 starts by INIT and STARTUP to its APIC ID", wait_for(1));
	send(1, 0x4600 | (TRAMPOLINE >> 12));               /* a second STARTUP: ignored */
	for (volatile int i = 0; i < 1000; i++) {}
	check("a STARTUP to a running vCPU is ignored", *(volatile uint32_t *)COUNTER == 1);

	*reg(0x300) = 0xC4500;                              /* INIT to all but self */
	*reg(0x300) = 0xC4600 | (TRAMPOLINE >> 12);         /* STARTUP to all but self */
	check("all-but-self INIT and STARTUP start every other vCPU", wait_for(vcpus));
	puts("smp: ");
	putdec(*(volatile uint32_t *)COUNTER);
	puts(" starts counted\n");
	guest_exit(guest_failures);
	return 0;
}
