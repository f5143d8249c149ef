/* The rest of the PC as a kernel probes it: a PCI bus scan through
 * configuration mechanism #1 (0xCF8/0xCFC), the i8042's self-tests and
 * keyboard identify, the delay ports. */
#include "guest.h"

static uint32_t pci_read(unsigned bus, unsigned dev, unsigned fn, unsigned reg)
{
	outl(0xCF8, 0x80000000u | bus << 16 | dev << 11 | fn << 8 | (reg & 0xFC));
	return inl(0xCFC);
}

static uint16_t inw(uint16_t p) { uint16_t v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(p)); return v; }

static void check(const char *what, int ok) { guest_check("pc", what, ok); }

/* Waits for the i8042's output buffer and reads it (0xFFFF: none came). */
static uint32_t kbc_read(void)
{
	for (int i = 0; i < 100000; i++)
		if (inb(0x64) & 1)
			return inb(0x60);
	return 0xFFFF;
}

uint32_t guest_main(uint32_t magic, struct multiboot_info *info)
{
	unsigned found = 0;
	for (unsigned dev = 0; dev < 32; dev++) {
		for (unsigned fn = 0; fn < 8; fn++) {
			uint32_t id = pci_read(0, dev, fn, 0);
			if ((id & 0xFFFF) == 0xFFFF)
				continue;
			found++;
			uint32_t class = pci_read(0, dev, fn, 8) >> 8;
			puts("pc: pci 00:");
			putc((char)('0' + dev / 10)); putc((char)('0' + dev % 10));
			putc('.'); putc((char)('0' + fn));
			puts(" id "); puthex(id); puts(" class "); puthex(class); puts("\n");
			check("00:00.0 is an Intel 440FX host bridge",
			      dev == 0 && fn == 0 && id == 0x12378086 && class == 0x060000);
		}
	}
	check("bus 0 has exactly one function", found == 1);
	check("a function on bus 1 reads all ones", pci_read(1, 0, 0, 0) == 0xFFFFFFFF);
	outl(0xCF8, 0x80001234);
	check("CONFIG_ADDRESS reads back without its reserved bits", inl(0xCF8) == 0x80001234);
	outl(0xCF8, 0x80000000);
	check("a word read of the vendor ID", inw(0xCFC) == 0x8086);
	check("a byte read of the device ID's high byte", inb(0xCFF) == 0x12);

	outb(0x64, 0xAA);
	check("i8042 self-test answers 0x55", kbc_read() == 0x55);
	outb(0x64, 0xAB);
	check("keyboard interface test answers 0x00", kbc_read() == 0x00);
	outb(0x64, 0x20);
	uint32_t command = kbc_read();
	check("the command byte reads", command != 0xFFFF);
	outb(0x60, 0xF2);                  /* identify keyboard */
	uint32_t ack = kbc_read(), id1 = kbc_read(), id2 = kbc_read();
	check("the keyboard acknowledges identify and names itself", ack == 0xFA && id1 == 0xAB && id2 != 0xFFFF);

	for (int i = 0; i < 10; i++) {
		outb(0x80, (uint8_t)i);
		outb(0xED, 0);
	}
	check("the delay ports take writes and read 0xFF", inb(0x80) == 0xFF);

	/* String port I/O: REP OUTSB of a line to COM1, REP INSW from a port
	 * nothing answers (all ones), backwards with DF set. */
	static const char text[] = "pc: a line sent by rep outsb\n";
	const char *from = text;
	uint32_t count = sizeof text - 1;
	__asm__ volatile("cld; rep outsb" : "+S"(from), "+c"(count) : "d"(COM1) : "memory");
	check("REP OUTSB moved RSI and emptied RCX", from == text + sizeof text - 1 && count == 0);
	static uint16_t words[8];
	uint16_t *to = &words[7];
	count = 8;
	__asm__ volatile("std; rep insw; cld" : "+D"(to), "+c"(count) : "d"(0x2F0) : "memory");
	int all_ones = 1;
	for (int i = 0; i < 8; i++)
		all_ones &= words[i] == 0xFFFF;
	check("REP INSW with DF set filled downwards with all ones", all_ones && (uintptr_t)to == (uintptr_t)words - 2);
	return guest_failures;
}
