/* A guest for the long run (scripts/soak.mjs): prints numbered, timestamped,
 * checksummed lines for `seconds=S`, one every `period=` ms by its TSC
 * (the first wake-up after each deadline), then one end line with how many
 * it printed, and exits 0. A periodic timer wakes it:
 *
 *   timer=1  the PIT (IRQ 0 through the 8259) at hz=H
 *   timer=2  the local APIC timer, periodic, through the x2APIC MSRs
 *   spin=1   busy between lines (reading the TSC, noting the longest time
 *            it did not run) instead of halting until the next tick
 *
 * Pacing is by the TSC, not by counting ticks: a periodic timer's ticks
 * merge while the guest waits for the CPU (one IRR bit), so k (the ticks
 * it took) runs slower than hz when it shares a CPU.
 *
 * A line: "soak seq=<n> t=<us> k=<ticks> away=<us> <pad> sum=<adler32>",
 * t the guest's own clock (TSC, from its start), away the longest gap
 * between two consecutive TSC reads since the last line (spin=1 only),
 * sum the Adler-32 of everything before " sum=". The end line:
 * "soak end lines=<n> sum=<adler32>". */
#include "guest.h"

#define X2APIC(reg)     (0x800 + ((reg) >> 4))
#define APIC_EOI        0x0B0
#define APIC_SVR        0x0F0
#define APIC_LVT_TIMER  0x320
#define APIC_INITIAL    0x380
#define APIC_DIVIDE     0x3E0
#define APIC_VECTOR     0x40
#define PERIODIC        (1u << 17)

static volatile uint32_t ticks;
static void on_pit(uint32_t vector) { ticks++; outb(0x20, 0x20); }
static void on_apic(uint32_t vector) { ticks++; wrmsr(X2APIC(APIC_EOI), 0); }

static char line[160];
static uint32_t length;

static void add(const char *s) { while (*s && length < sizeof line - 20) line[length++] = *s++; }
static void add_dec(uint32_t v)
{
	char b[11]; int n = 0;
	do { b[n++] = (char)('0' + v % 10); v /= 10; } while (v);
	while (n && length < sizeof line - 20) line[length++] = b[--n];
}

/* Adler-32 (RFC 1950): the same sum scripts/soak.mjs checks and the Linux
 * guest's awk computes. */
static uint32_t adler32(const char *s, uint32_t n)
{
	uint32_t a = 1, b = 0;
	for (uint32_t i = 0; i < n; i++) {
		a = (a + (uint8_t)s[i]) % 65521;
		b = (b + a) % 65521;
	}
	return b << 16 | a;
}

/* Ends the line with its sum and prints it. */
static void send(void)
{
	uint32_t sum = adler32(line, length);
	add(" sum=");
	for (int i = 28; i >= 0; i -= 4) line[length++] = "0123456789abcdef"[(sum >> i) & 15];
	line[length++] = '\n';
	for (uint32_t i = 0; i < length; i++) putc(line[i]);
	length = 0;
}

static const char pad[] = "abcdefghijklmnopqrstuvwxyz0123456789";

uint32_t guest_main(uint32_t magic, struct multiboot_info *info)
{
	guest_setup_traps();
	uint32_t timer = guest_option(info, "timer=", 1), hz = guest_option(info, "hz=", 100);
	uint32_t period = guest_option(info, "period=", 40), spin = guest_option(info, "spin=", 0);
	uint32_t seconds = guest_option(info, "seconds=", 10);
	if (!hz) hz = 1;
	if (!period) period = 1;
	if (timer == 2) {
		outb(0x21, 0xFF);
		outb(0xA1, 0xFF);
		uint64_t base = rdmsr(0x1B);
		wrmsr(0x1B, base | (1u << 10));            /* x2APIC on */
		wrmsr(X2APIC(APIC_SVR), 0x1FF);
		wrmsr(X2APIC(APIC_DIVIDE), 0xB);           /* divide by 1 */
		guest_set_irq_handler(APIC_VECTOR, on_apic);
		uint32_t a, b, c, d;
		cpuid(0x40000010, 0, &a, &b, &c, &d);      /* b: the APIC timer's kHz */
		wrmsr(X2APIC(APIC_LVT_TIMER), APIC_VECTOR | PERIODIC);
		wrmsr(X2APIC(APIC_INITIAL), (b ? b : 1000000) * 1000u / hz);
	} else {
		outb(0x20, 0x11); outb(0x21, 0x20); outb(0x21, 0x04); outb(0x21, 0x01);
		outb(0x21, 0xFE);
		outb(0xA1, 0xFF);
		guest_set_irq_handler(0x20, on_pit);
		uint32_t divisor = (1193182 + hz / 2) / hz;
		outb(0x43, 0x34); outb(0x40, divisor & 0xFF); outb(0x40, divisor >> 8);
	}
	uint64_t khz = tsc_khz(), step = khz * period;
	uint64_t t0 = rdtsc(), end = t0 + khz * 1000u * seconds, due = t0;
	uint32_t seq = 0;
	for (;;) {
		uint64_t last = rdtsc(), away = 0, now;
		__asm__ volatile("sti");
		while ((now = rdtsc()) < due) {
			if (!spin) {
				__asm__ volatile("hlt");
				continue;
			}
			if (now - last > away) away = now - last;
			last = now;
		}
		__asm__ volatile("cli");
		uint32_t k = ticks;
		/* Late by more than a period: the next line a period from now,
		 * not a burst of lines to catch up. */
		due = due + step > now ? due + step : now + step;
		if (now >= end) break;
		add("soak seq="); add_dec(seq);
		add(" t="); add_dec(guest_tsc_us(now - t0));
		add(" k="); add_dec(k);
		add(" away="); add_dec(guest_tsc_us(away));
		add(" ");
		for (uint32_t i = 0; i < seq % 24; i++) line[length++] = pad[(seq + i) % (sizeof pad - 1)];
		send();
		seq++;
	}
	add("soak end lines="); add_dec(seq);
	send();
	return 0;
}
