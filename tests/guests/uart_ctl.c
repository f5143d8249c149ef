/* Hostile guest: a UART flood of control characters and escape sequences
 * (issue 11). `rounds=N` times: every byte 0x00..0xFF, ANSI sequences that
 * would clear the host's screen, set its terminal title, ask it to answer
 * (DSR, ESC[6n) or reset it (RIS), backspaces, CR without LF, a line of
 * 1500 bytes; written straight to THR (no waiting on LSR: this UART's
 * transmitter is always empty), and once with REP OUTSB, many bytes per
 * exit. What must happen: the host console shows only printable text
 * (the core turns every other byte but tab into '.', drops CR, and cuts
 * lines at 200 bytes: assembly/devices/console_line.ts), no raw ESC or
 * other control byte reaches the host's serial port, no printable byte is
 * lost, and the neighbour's lines stay whole. tests/boot/hostile.mjs
 * computes the lines expected from the same bytes. */
#include "guest.h"

static void out(const char *s, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		outb(COM1, (uint8_t)s[i]);
}
#define OUT(literal) out(literal, sizeof literal - 1)

static char line[1500 + 32];

static uint32_t long_line(void)
{
	static const char head[] = "uart-ctl: long ";
	uint32_t n = 0;
	for (; head[n]; n++)
		line[n] = head[n];
	while (n < 1500)
		line[n] = (char)('0' + n % 10), n++;
	line[n++] = '\n';
	return n;
}

uint32_t guest_main(uint32_t magic, const struct multiboot_info *info)
{
	uint32_t rounds = guest_option(info, "rounds=", 10);
	uint32_t length = long_line();
	for (uint32_t r = 0; r < rounds; r++) {
		OUT("uart-ctl: all bytes: ");
		for (uint32_t b = 0; b < 256; b++)
			outb(COM1, (uint8_t)b);
		OUT("\n");
		OUT("uart-ctl: ESC[2J \x1b[2J ESC]0;title BEL \x1b]0;pwned\x07 DSR \x1b[6n RIS \x1b" "c ESC[?1049h \x1b[?1049h end\n");
		OUT("uart-ctl: backspaces abc\b\b\bxyz, CR without LF 12345\r67890\n");
		OUT("uart-ctl: C1 controls \x9b" "2J \x9d" "0;x\x9c and UTF-8 \xc2\x9b" "2J\n");
		out(line, length);
	}
	/* The long line again, by REP OUTSB: up to 1024 bytes in one exit. */
	{
		uint32_t s = (uint32_t)line, c = length;
		__asm__ volatile("cld\n rep outsb" : "+S"(s), "+c"(c) : "d"(COM1) : "memory");
	}
	OUT("uart-ctl: done\n");
	return 0;
}
