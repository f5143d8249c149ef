/* The CMOS RTC as an OS reads it: wait for UIP to clear, read the date in
 * BCD (the default) and again in binary, print it for the test to compare
 * with the host's clock; then its periodic interrupt on IRQ 8 at 64 Hz. */
#include "guest.h"

static uint8_t cmos(uint8_t reg) { outb(0x70, reg); return inb(0x71); }
static void cmos_write(uint8_t reg, uint8_t v) { outb(0x70, reg); outb(0x71, v); }
static void check(const char *what, int ok) { guest_check("rtc", what, ok); }
static unsigned bcd(uint8_t v) { return (v >> 4) * 10 + (v & 15); }

static void put2(unsigned v) { putc((char)('0' + v / 10 % 10)); putc((char)('0' + v % 10)); }

static volatile uint32_t periodic;
static struct guest_ticks stamps;
static void on_rtc(uint32_t vector)
{
	if (cmos(0x0C) & 0x40) {           /* PF; reading C lowers IRQ 8 */
		periodic++;
		guest_tick(&stamps);
	}
	outb(0xA0, 0x20);
	outb(0x20, 0x20);
}

uint32_t guest_main(uint32_t magic, struct multiboot_info *info)
{
	guest_setup_traps();
	while (cmos(0x0A) & 0x80) {}
	uint8_t r[10];
	for (int i = 0; i < 10; i++)
		r[i] = cmos((uint8_t)i);
	uint8_t b = cmos(0x0B);
	check("register B says BCD, 24-hour", (b & 0x06) == 0x02);
	check("register D says the battery is good", cmos(0x0D) & 0x80);
	puts("rtc: date ");
	put2(bcd(cmos(0x32))); put2(bcd(r[9])); putc('-'); put2(bcd(r[8])); putc('-'); put2(bcd(r[7]));
	putc(' '); put2(bcd(r[4])); putc(':'); put2(bcd(r[2])); putc(':'); put2(bcd(r[0]));
	puts(" UTC\n");

	cmos_write(0x0B, b | 0x04);        /* binary */
	while (cmos(0x0A) & 0x80) {}
	unsigned year = cmos(9), month = cmos(8), day = cmos(7);
	check("binary mode gives the same date", year == bcd(r[9]) && month == bcd(r[8]) && day == bcd(r[7]));
	cmos_write(0x0B, b);

	cmos_write(0x40, 0x5A);
	check("NVRAM keeps a byte", cmos(0x40) == 0x5A);
	check("an index past 127 wraps (bit 7 is the NMI mask)", cmos(0x80 | 0x40) == 0x5A);

	/* Periodic interrupt: rate 10 = 64 Hz, through the slave PIC (IRQ 8). */
	outb(0x20, 0x11); outb(0x21, 0x20); outb(0x21, 0x04); outb(0x21, 0x01);
	outb(0xA0, 0x11); outb(0xA1, 0x28); outb(0xA1, 0x02); outb(0xA1, 0x01);
	outb(0x21, 0xFB);                  /* the cascade */
	outb(0xA1, 0xFE);                  /* IRQ 8 */
	guest_set_irq_handler(0x28, on_rtc);
	cmos_write(0x0A, (cmos(0x0A) & 0xF0) | 10);
	cmos(0x0C);
	cmos_write(0x0B, b | 0x40);        /* PIE */
	while (periodic == 0)
		sti_hlt();
	uint32_t first = periodic;
	while (periodic - first < 32)
		sti_hlt();
	guest_check_periodic("rtc", "the periodic interrupt at 64 Hz", stamps.at[first - 1], &stamps.at[first], 32, 15625, 5);
	cmos_write(0x0B, b);
	return guest_failures;
}
