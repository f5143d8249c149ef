/* Port I/O: unmapped ports read all ones and drop writes; the UART's
 * scratch register keeps a value; the exit port carries our status. */
#include "guest.h"

static inline uint16_t inw(uint16_t p) { uint16_t v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(p)); return v; }

#define check(what, ok) guest_check("io", what, ok)

uint32_t guest_main(void)
{
	outb(0x2f0, 0x55);
	check("an unmapped port reads 0xff", inb(0x2f0) == 0xff);
	check("an unmapped port reads 0xffff with inw", inw(0x2f0) == 0xffff);
	check("an unmapped port reads 0xffffffff with inl", inl(0x2f0) == 0xffffffff);
	outb(COM1 + 7, 0xa5);
	check("the UART scratch register keeps a value", inb(COM1 + 7) == 0xa5);
	check("the UART line status says the transmitter is empty", (inb(COM1 + 5) & 0x60) == 0x60);
	/* A partial line must not be lost when the guest stops. */
	puts("io: a line without a newline at the end");
	return guest_failures ? 1 : 7;
}
