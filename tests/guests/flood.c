/* Floods its UART: `lines=N` numbered lines as fast as it can, then says
 * how many bytes it wrote in how long by its own clock, and exits. Every
 * line must reach the host console, whole and in order, at no more than
 * the guest's share of the console (devices/console_line.ts), and the
 * other guests must still get to print. `rep=1` writes each line with one
 * REP OUTSB once THR is empty, as a driver filling the FIFO would, so the
 * rate is bound by the console share and not by two exits per byte. */
#include "guest.h"

/* One line, a byte per OUT (each after THR is empty), or with `rep` one
 * REP OUTSB once THR is empty. */
static void put_line(const char *s, uint32_t n, int rep)
{
	if (!rep) {
		while (n--) putc(*s++);
		return;
	}
	while (!(inb(COM1 + 5) & 0x20)) {}
	__asm__ volatile("rep outsb" : "+S"(s), "+c"(n) : "d"(COM1) : "memory");
}

/* "flood: line <i> the quick brown fox jumps over the lazy dog\n" into b;
 * answers its length. */
static uint32_t format_line(char *b, uint32_t i)
{
	static const char head[] = "flood: line ", tail[] = " the quick brown fox jumps over the lazy dog\n";
	uint32_t n = 0;
	for (const char *p = head; *p; p++) b[n++] = *p;
	char d[11]; int k = 0;
	do { d[k++] = (char)('0' + i % 10); i /= 10; } while (i);
	while (k) b[n++] = d[--k];
	for (const char *p = tail; *p; p++) b[n++] = *p;
	return n;
}

uint32_t guest_main(uint32_t magic, const struct multiboot_info *info)
{
	uint32_t lines = guest_option(info, "lines=", 2000);
	int rep = guest_option(info, "rep=", 0) != 0;
	uint64_t start = rdtsc();
	uint32_t bytes = 0;
	for (uint32_t i = 0; i < lines; i++) {
		char b[80];
		uint32_t n = format_line(b, i);
		put_line(b, n, rep);
		bytes += n;
	}
	uint32_t us = guest_tsc_us(rdtsc() - start);
	puts("flood: ");
	putdec(bytes);
	puts(" bytes in ");
	putdec(us / 1000);
	puts(" ms\n");
	return 0;
}
