/* Idle costs nothing: with role=1 the guest sleeps in sti; hlt between
 * 100 Hz PIT ticks for 2 s; with role=2 (on the same host CPU) it spins,
 * reading the TSC, and measures how much of those 2 s it ran: a sleeper
 * that waited by polling would take half of them. */
#include "guest.h"

static volatile uint32_t ticks;
static void on_tick(uint32_t vector) { ticks++; outb(0x20, 0x20); }

uint32_t guest_main(uint32_t magic, struct multiboot_info *info)
{
	guest_setup_traps();
	uint32_t role = guest_option(info, "role=", 1);
	if (role == 1) {
		outb(0x20, 0x11); outb(0x21, 0x20); outb(0x21, 0x04); outb(0x21, 0x01);
		outb(0x21, 0xFE);
		guest_set_irq_handler(0x20, on_tick);
		uint32_t hz = guest_option(info, "hz=", 100), count = guest_option(info, "ticks=", 200);
		uint32_t divisor = (1193182 + hz / 2) / hz;
		outb(0x43, 0x34); outb(0x40, divisor & 0xFF); outb(0x40, divisor >> 8);
		while (ticks < count)
			sti_hlt();
		puts("idle: slept through ");
		putdec(count);
		puts(" ticks\n");
		return 0;
	}
	uint64_t khz = tsc_khz(), total = khz * 2000, gap = khz / 5;  /* 200 us */
	uint64_t start = rdtsc(), last = start, away = 0;
	while (last - start < total) {
		uint64_t now = rdtsc();
		if (now - last > gap)
			away += now - last;
		last = now;
	}
	uint32_t span = (uint32_t)((last - start) >> 10);
	uint32_t percent = span ? 100 - guest_udiv64((away >> 10) * 100, span) : 0;
	puts("idle: the worker ran ");
	putdec(percent);
	puts("% of 2 s beside a sleeping guest\n");
	/* A sleeper that polled would leave it half. Host stalls (the
	 * emulator not run for a while) count as away too: 94-97% on an idle
	 * host, and a loaded one takes a few points more. */
	guest_check("idle", "the worker ran at least 80% of the time", percent >= 80);
	return guest_failures;
}
