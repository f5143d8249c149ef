/* Echoes what is typed on its COM1, a line at a time, as "echo: <line>";
 * the line "quit" ends it with exit code 0. Polls LSR data ready (no
 * interrupts). "\r", "\n" and "\r\n" each end a line (a serial console
 * sends "\r" for Enter); control bytes in a line show as ^A, ^B, ... */
#include "guest.h"

#define LINE_BYTES 120

static int same(const char *a, const char *b)
{
	while (*a && *a == *b) { a++; b++; }
	return *a == *b;
}

static char read_byte(void)
{
	while (!(inb(COM1 + 5) & 0x01))    /* LSR data ready */
		__asm__ volatile("pause");
	return (char)inb(COM1);
}

uint32_t guest_main(uint32_t magic, const void *info)
{
	char line[LINE_BYTES + 1];
	unsigned length = 0;
	int after_return = 0;
	outb(COM1 + 2, 0x07);               /* FIFOs on, both cleared */
	puts("echo: ready\n");
	for (;;) {
		char c = read_byte();
		if (c == '\n' && after_return) {
			after_return = 0;
			continue;
		}
		after_return = c == '\r';
		if (c != '\r' && c != '\n') {
			if (length < LINE_BYTES)
				line[length++] = c;
			continue;
		}
		line[length] = 0;
		length = 0;
		if (same(line, "quit")) {
			puts("echo: bye\n");
			return 0;
		}
		puts("echo: ");
		for (const char *p = line; *p; p++) {
			if ((unsigned char)*p < 0x20) {
				putc('^');
				putc((char)(*p + 0x40));
			} else {
				putc(*p);
			}
		}
		putc('\n');
	}
}
