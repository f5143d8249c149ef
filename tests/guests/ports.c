/* Hostile guest: port I/O to the whole port space (issue 11, "I/O to every
 * port"). IN and OUT of 1, 2 and 4 bytes to every port 0..0xFFFF with
 * garbage values (every port below 0x1000, where the PC's devices sit, and
 * every `step=N`th port above it: Bochs is slow), then INS/OUTS with and
 * without REP to a sample of ports, with memory sides in RAM, beyond RAM,
 * in the local APIC page, across a page boundary, downwards (DF=1), with
 * 16-bit addressing and with runs longer than one exit's.
 *
 * What must happen: the guest gets through all of it with interrupts off
 * (whatever the garbage did to the PIT, the RTC or the 8259s, it cannot
 * interrupt us) and prints its summary; its neighbour on the same CPU is
 * unaffected; the host stays up.
 *
 * Left out of the writes, because their defined platform action would end
 * or reset this guest (assembly/devices/pc_layout.ts, README "The PC a
 * guest gets"), any access whose bytes touch:
 *   0xF4           the debug-exit port: any write stops the guest
 *   0x64           the i8042 command port: 0xFE and 0xF0-0xFD pulse reset,
 *                  0xD1 + a data byte writes the output port's reset line
 *   0x92           port A: bit 0 going 0 -> 1 resets
 *   0xCF9          the reset control register (bit 2 resets)
 *   0x604, 0x605   PM1a_CNT: SLP_EN with SLP_TYP 5 powers the guest off
 *   0x3F8-0x3FF    our own COM1: THR writes would print the garbage, and
 *                  LCR/MCR garbage (DLAB, loopback) would silence the
 *                  summary; uart_ctl.c floods the UART on purpose
 * Reads have no such action: every port is read at every size. */
#include "guest.h"

static uint32_t seed = 0x9e3779b9;
static uint32_t garbage(void)
{
	seed ^= seed << 13;
	seed ^= seed >> 17;
	seed ^= seed << 5;
	return seed;
}

static int reserved(uint32_t port)
{
	return port == 0xf4 || port == 0x64 || port == 0x92 || port == 0xcf9 ||
	       port == 0x604 || port == 0x605 || (port >= COM1 && port < COM1 + 8);
}

/* The bytes of an access at `port` wrap at 0xFFFF as the core's bus does. */
static int touches_reserved(uint32_t port, uint32_t size)
{
	for (uint32_t i = 0; i < size; i++)
		if (reserved((port + i) & 0xffff))
			return 1;
	return 0;
}

static void out_sized(uint16_t port, uint32_t value, uint32_t size)
{
	if (size == 1) __asm__ volatile("outb %b0, %w1" :: "a"(value), "Nd"(port));
	else if (size == 2) __asm__ volatile("outw %w0, %w1" :: "a"(value), "Nd"(port));
	else __asm__ volatile("outl %0, %w1" :: "a"(value), "Nd"(port));
}

static uint32_t in_sized(uint16_t port, uint32_t size)
{
	uint32_t v = garbage();   /* IN of 1 or 2 bytes leaves the rest of EAX */
	if (size == 1) __asm__ volatile("inb %w1, %b0" : "+a"(v) : "Nd"(port));
	else if (size == 2) __asm__ volatile("inw %w1, %w0" : "+a"(v) : "Nd"(port));
	else __asm__ volatile("inl %w1, %0" : "+a"(v) : "Nd"(port));
	return v;
}

static uint8_t buffer[3 * 4096] __attribute__((aligned(4096)));

/* One INS/OUTS, REP or not: `op` is the instruction's bytes. */
#define STRING_IO(op, port, address, count) \
	__asm__ volatile(op : "+D"(address), "+c"(count) : "d"(port) : "memory")
#define STRING_OUT(op, port, address, count) \
	__asm__ volatile(op : "+S"(address), "+c"(count) : "d"(port) : "memory")

static uint32_t runs;

/* A REP INS and a REP OUTS of each size at `port` with memory at `where`. */
static void string_both(uint16_t port, uint32_t where, uint32_t count)
{
	for (uint32_t size = 1; size <= 4; size *= 2) {
		uint32_t a = where, c = count;
		if (size == 1) STRING_IO("rep insb", port, a, c);
		else if (size == 2) STRING_IO("rep insw", port, a, c);
		else STRING_IO("rep insl", port, a, c);
		runs++;
		if (touches_reserved(port, size))
			continue;
		a = where, c = count;
		if (size == 1) STRING_OUT("rep outsb", port, a, c);
		else if (size == 2) STRING_OUT("rep outsw", port, a, c);
		else STRING_OUT("rep outsl", port, a, c);
		runs++;
	}
}

static const uint16_t sample[] = {
	0x00, 0x20, 0x21, 0x40, 0x43, 0x60, 0x61, 0x70, 0x71, 0x80, 0xa1, 0xed, 0xf3,
	0x2f0, 0x3fd, 0x4d0, 0x600, 0x603, 0x606, 0x608, 0xcf8, 0xcfc, 0xcfe, 0x1234, 0xfffe, 0xffff,
};

uint32_t guest_main(uint32_t magic, const struct multiboot_info *info)
{
	uint32_t step = guest_option(info, "step=", 1);
	if (step == 0)
		step = 1;
	__asm__ volatile("cli");
	puts("ports: OUT and IN of 1, 2 and 4 bytes to every port, garbage values\n");
	uint32_t outs = 0, ins = 0, skipped = 0, ports = 0;
	for (uint32_t p = 0; p < 0x10000; p += p < 0x1000 ? 1 : step) {
		ports++;
		for (uint32_t size = 1; size <= 4; size *= 2) {
			if (touches_reserved(p, size)) {
				skipped++;
			} else {
				out_sized((uint16_t)p, garbage(), size);
				outs++;
			}
			in_sized((uint16_t)p, size);
			ins++;
		}
	}
	puts("ports: ");
	putdec(ports);
	puts(" ports: ");
	putdec(outs);
	puts(" OUT, ");
	putdec(skipped);
	puts(" OUT left out, ");
	putdec(ins);
	puts(" IN\n");

	/* INS/OUTS. The memory sides: */
	for (uint32_t i = 0; i < sizeof buffer; i++)
		buffer[i] = (uint8_t)garbage();
	for (unsigned i = 0; i < sizeof sample / sizeof sample[0]; i++) {
		uint16_t p = sample[i];
		uint32_t a = (uint32_t)buffer, c = 1;
		/* without REP, one element */
		STRING_IO("insb", p, a, c);
		if (!touches_reserved(p, 4)) {
			a = (uint32_t)buffer;
			STRING_OUT("outsl", p, a, c);
		}
		runs += 2;
		string_both(p, (uint32_t)buffer, 64);                 /* RAM */
		string_both(p, (uint32_t)buffer + 4096 - 6, 8);       /* across a page boundary */
		string_both(p, 0x40000000, 16);                       /* beyond RAM: ones in, writes dropped */
		string_both(p, 0xfffffff0, 8);                        /* the bus's last page */
		string_both(p, (uint32_t)buffer, 2000);               /* longer than one exit's run */
	}
	/* The local APIC page (reserved and read-only registers: no timer or
	 * IPI is started), downwards, and with 16-bit addressing (CX, DI). */
	string_both(0x80, 0xfee00030, 4);
	__asm__ volatile("std");
	string_both(0x2f0, (uint32_t)buffer + 4096 + 200, 100);
	__asm__ volatile("cld");
	{
		uint32_t a = 0x8000, c = 0xabcd0010;                 /* CX = 16 */
		STRING_IO(".byte 0x67\n rep insb", (uint16_t)0x2f0, a, c);
		runs++;
		guest_check("ports", "a16 REP INSB counts CX to 0 and leaves ECX's top",
			    c == 0xabcd0000 && (a & 0xffff) == 0x8010);
	}
	puts("ports: ");
	putdec(runs);
	puts(" INS/OUTS done\n");

	/* What is left of the machine still answers as it should. */
	guest_check("ports", "an unmapped port still reads 0xff", inb(0x2f0) == 0xff);
	outb(COM1 + 7, 0x5a);
	guest_check("ports", "the UART scratch register still keeps a value", inb(COM1 + 7) == 0x5a);
	{
		uint32_t a = (uint32_t)buffer, c = 4;
		buffer[0] = buffer[1] = buffer[2] = buffer[3] = 0;
		STRING_IO("rep insb", (uint16_t)0x2f0, a, c);
		guest_check("ports", "REP INSB from an unmapped port stores 0xff",
			    buffer[0] == 0xff && buffer[3] == 0xff && a == (uint32_t)buffer + 4 && c == 0);
	}
	return guest_failures;
}
