/* The xAPIC page and the I/O APIC through MMIO, as an SMP-era OS uses
 * them with the 8259s masked: the PIT's IRQ 0 routed from I/O APIC pin 2
 * (the MADT's override) as an edge to vector 0x30, the RTC's IRQ 8 as a
 * level to vector 0x38 (remote IRR set until the EOI), EOIs written to the
 * local APIC's page; and an address no device claims reads all ones. */
#include "guest.h"

#define LAPIC 0xFEE00000u
#define IOAPIC 0xFEC00000u
static volatile uint32_t *reg(uint32_t base, uint32_t offset) { return (volatile uint32_t *)(base + offset); }
static uint32_t ioapic_read(uint32_t index) { *reg(IOAPIC, 0) = index; return *reg(IOAPIC, 0x10); }
static void ioapic_write(uint32_t index, uint32_t v) { *reg(IOAPIC, 0) = index; *reg(IOAPIC, 0x10) = v; }
static uint8_t cmos(uint8_t r) { outb(0x70, r); return inb(0x71); }
static void cmos_write(uint8_t r, uint8_t v) { outb(0x70, r); outb(0x71, v); }
static void check(const char *what, int ok) { guest_check("ioapic", what, ok); }

static volatile uint32_t ticks, rtc_irqs, remote_irr_seen;
static struct guest_ticks stamps;

static void on_pit(uint32_t vector)
{
	ticks++;
	guest_tick(&stamps);
	*reg(LAPIC, 0xB0) = 0;             /* EOI */
}

static void on_rtc(uint32_t vector)
{
	rtc_irqs++;
	if (ioapic_read(0x10 + 2 * 8) & (1u << 14))
		remote_irr_seen++;             /* level, in service: remote IRR */
	cmos(0x0C);                        /* the line drops */
	*reg(LAPIC, 0xB0) = 0;
}

uint32_t guest_main(uint32_t magic, struct multiboot_info *info)
{
	guest_setup_traps();
	outb(0x21, 0xFF);
	outb(0xA1, 0xFF);
	check("the local APIC's ID register reads 0", *reg(LAPIC, 0x20) >> 24 == 0);
	check("its version register: 6 LVT entries, an integrated APIC", ((*reg(LAPIC, 0x30) >> 16) & 0xFF) == 5 &&
	      (*reg(LAPIC, 0x30) & 0xF0) == 0x10);
	*reg(LAPIC, 0xF0) = 0x1FF;         /* software enable, spurious 0xFF */
	*reg(LAPIC, 0x80) = 0x20;
	check("TPR reads back through the page", *reg(LAPIC, 0x80) == 0x20);
	*reg(LAPIC, 0x80) = 0;
	check("the I/O APIC has 24 pins", ((ioapic_read(1) >> 16) & 0xFF) == 23);
	check("its entries are masked at reset", ioapic_read(0x10 + 2 * 2) & (1u << 16));

	guest_set_irq_handler(0x30, on_pit);
	guest_set_irq_handler(0x38, on_rtc);
	ioapic_write(0x11 + 2 * 2, 0);     /* destination: APIC 0 */
	ioapic_write(0x10 + 2 * 2, 0x30);  /* pin 2: fixed, edge, high, vector 0x30 */
	outb(0x43, 0x34);
	outb(0x40, 11932 & 0xFF);
	outb(0x40, 11932 >> 8);
	while (ticks == 0)
		sti_hlt();
	uint32_t first = ticks;
	while (ticks - first < 50)
		sti_hlt();
	guest_check_periodic("ioapic", "the PIT at 100 Hz through pin 2", stamps.at[first - 1], &stamps.at[first], 50, 10000, 5);
	ioapic_write(0x10 + 2 * 2, 0x30 | (1u << 16));

	ioapic_write(0x11 + 2 * 8, 0);
	ioapic_write(0x10 + 2 * 8, 0x38 | (1u << 15));   /* pin 8: level, active high */
	cmos_write(0x0A, (cmos(0x0A) & 0xF0) | 10);      /* 64 Hz */
	cmos(0x0C);
	cmos_write(0x0B, cmos(0x0B) | 0x40);
	while (rtc_irqs < 16)
		sti_hlt();
	cmos_write(0x0B, cmos(0x0B) & ~0x40);
	check("16 level-triggered RTC interrupts, each with remote IRR set", remote_irr_seen == 16);
	check("remote IRR clears after the EOI", !(ioapic_read(0x10 + 2 * 8) & (1u << 14)));
	check("no interrupt came at an unexpected vector", guest_unexpected_vector == 0);

	volatile uint32_t *nothing = (volatile uint32_t *)0xF0000000u;
	*nothing = 0x12345678;
	check("an address no device claims reads all ones", *nothing == 0xFFFFFFFF);
	return guest_failures;
}
