/* The guest's own power button, as an ACPI OS presses it: reboots first
 * (reset=cf9: the reset control register, reset=kbd: the i8042's pulse
 * command, reset=92: port 0x92's fast reset), counting its boots in CMOS
 * RAM byte 0x40, which a reset keeps as a PC's battery does; after
 * `boots=` boots it writes S5 to PM1a_CNT and the machine powers off. */
#include "guest.h"

#define PM1A_CNT  0x604
#define SLP_TYP_S5 5
#define SLP_EN    (1u << 13)

static uint8_t cmos(uint8_t reg) { outb(0x70, reg); return inb(0x71); }
static void cmos_write(uint8_t reg, uint8_t v) { outb(0x70, reg); outb(0x71, v); }

uint32_t guest_main(uint32_t magic, struct multiboot_info *info)
{
	uint32_t boots = guest_option(info, "boots=", 1);
	uint32_t how = guest_option(info, "reset=", 0);
	uint8_t seen = cmos(0x40) + 1;
	cmos_write(0x40, seen);
	puts("power: boot ");
	putdec(seen);
	puts("\n");
	if (seen < boots) {
		puts("power: resetting\n");
		if (how == 92) {
			outb(0x92, inb(0x92) & ~1);
			outb(0x92, inb(0x92) | 1);
		} else if (how == 64) {
			outb(0x64, 0xFE);
		} else {
			outb(0xCF9, 0x02);
			outb(0xCF9, 0x06);
		}
		puts("power: FAIL still running after the reset\n");
		return 1;
	}
	puts("power: powering off (S5)\n");
	outw_(PM1A_CNT, (SLP_TYP_S5 << 10) | SLP_EN);
	puts("power: FAIL still running after S5\n");
	return 1;
}
