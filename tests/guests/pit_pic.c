/* The 8259 pair and the 8254 as a small OS drives them: the PICs remapped
 * to vectors 0x20/0x28 (ICW1-4), IRQ 0 alone unmasked, the PIT's channel 0
 * at 100 Hz in mode 2; 100 ticks counted with sti; hlt and timed by the
 * TSC. Then Linux's TSC calibration: channel 2 in mode 0, gated and read
 * through port 0x61. */
#include "guest.h"

#define PIT_HZ 1193182u
static volatile uint32_t ticks;
static struct guest_ticks stamps;

static void on_tick(uint32_t vector)
{
	ticks++;
	guest_tick(&stamps);
	outb(0x20, 0x20);                  /* non-specific EOI (OCW2) */
}

static void check(const char *what, int ok) { guest_check("pit", what, ok); }

uint32_t guest_main(uint32_t magic, struct multiboot_info *info)
{
	guest_setup_traps();
	check("the timing leaf gives the TSC rate", tsc_khz() != 0);
	/* ICW1 edge, cascade, ICW4; ICW2 vector base; ICW3 wiring; ICW4 8086. */
	outb(0x20, 0x11); outb(0x21, 0x20); outb(0x21, 0x04); outb(0x21, 0x01);
	outb(0xA0, 0x11); outb(0xA1, 0x28); outb(0xA1, 0x02); outb(0xA1, 0x01);
	outb(0x21, 0xFE);                  /* IRQ 0 only */
	outb(0xA1, 0xFF);
	check("the master's IMR reads back", inb(0x21) == 0xFE);
	guest_set_irq_handler(0x20, on_tick);

	uint32_t divisor = (PIT_HZ + 50) / 100;
	outb(0x43, 0x34);                  /* channel 0, LSB then MSB, mode 2 */
	outb(0x40, divisor & 0xFF);
	outb(0x40, divisor >> 8);
	while (ticks == 0)
		sti_hlt();
	uint32_t first = ticks;
	while (ticks - first < 100)
		sti_hlt();
	guest_check_periodic("pit", "channel 0 at 100 Hz", stamps.at[first - 1], &stamps.at[first], 100, 10000, 5);
	check("no interrupt came at an unexpected vector", guest_unexpected_vector == 0);

	/* Read-back of channel 0's status: mode 2, LSB/MSB access. */
	outb(0x43, 0xE2);                  /* read-back: status only, channel 0 */
	check("read-back status says mode 2, LSB then MSB", (inb(0x40) & 0x3F) == 0x34);
	outb(0x21, 0xFF);                  /* quiet now */

	/* Channel 2, mode 0, 50 ms; the output (port 0x61 bit 5) rises at the
	 * terminal count (Linux's pit_calibrate_tsc). */
	uint32_t latch = PIT_HZ / 20;
	outb(0x61, (inb(0x61) & ~0x02) | 0x01);
	outb(0x43, 0xB0);
	outb(0x42, latch & 0xFF);
	outb(0x42, latch >> 8);
	uint64_t c0 = rdtsc();
	uint32_t polls = 0;
	while (!(inb(0x61) & 0x20) && polls < 100000000)
		polls++;
	uint64_t c1 = rdtsc();
	guest_check_deadline("pit", "channel 2's 50 ms countdown through port 0x61 took", guest_tsc_us(c1 - c0), 50000, 5, 25);
	return guest_failures;
}
