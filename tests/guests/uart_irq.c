/* The 16550 driven by its interrupts, as an OS's serial driver does: IRQ 4
 * through the PIC, OUT2 set, FIFOs on. Output goes out from a ring, one
 * byte per THR-empty interrupt; input comes in on received-data
 * interrupts, and each line read is answered "uart-irq: got <line>" (sent
 * the same way), until "quit". Between interrupts the guest sleeps in
 * sti; hlt: nothing is polled. */
#include "guest.h"

#define RING 1024u
static char out[RING];
static volatile uint32_t out_head, out_tail;
static char line[128];
static volatile uint32_t line_length, line_ready;
static volatile uint32_t rx_interrupts, tx_interrupts;

static void kick(void)
{
	/* IER: received data + THR empty; setting THRE's enable with THR
	 * empty raises the interrupt. */
	outb(COM1 + 1, 0x03);
}

static void send(const char *s)
{
	while (*s) {
		while (out_head - out_tail >= RING)
			sti_hlt();
		out[out_head++ % RING] = *s++;
	}
	kick();
}

static void on_uart(uint32_t vector)
{
	for (;;) {
		uint8_t iir = inb(COM1 + 2);
		if (iir & 1)
			break;                     /* nothing (more) pending */
		uint8_t source = iir & 0x0E;
		if (source == 0x04 || source == 0x0C) {          /* data, timeout */
			rx_interrupts++;
			while (inb(COM1 + 5) & 1) {
				char c = (char)inb(COM1);
				if (c == '\r' || c == '\n') {
					if (line_length)
						line_ready = 1;
				} else if (!line_ready && line_length < sizeof line - 1) {
					line[line_length++] = c;
				}
			}
		} else if (source == 0x02) {                      /* THR empty */
			tx_interrupts++;
			if (out_tail != out_head)
				outb(COM1, (uint8_t)out[out_tail++ % RING]);
			else
				outb(COM1 + 1, 0x01);                     /* no more to send */
		} else if (source == 0x06) {
			inb(COM1 + 5);
		} else {
			inb(COM1 + 6);
		}
	}
	outb(0x20, 0x20);
}

static int same(const char *a, const char *b)
{
	while (*a && *a == *b) { a++; b++; }
	return *a == *b;
}

uint32_t guest_main(uint32_t magic, const struct multiboot_info *info)
{
	guest_setup_traps();
	outb(0x20, 0x11); outb(0x21, 0x20); outb(0x21, 0x04); outb(0x21, 0x01);
	outb(0xA0, 0x11); outb(0xA1, 0x28); outb(0xA1, 0x02); outb(0xA1, 0x01);
	outb(0x21, 0xEF);                  /* IRQ 4 */
	outb(0xA1, 0xFF);
	guest_set_irq_handler(0x24, on_uart);
	outb(COM1 + 2, 0x07);              /* FIFOs on, cleared */
	outb(COM1 + 4, 0x0B);              /* DTR, RTS, OUT2: the IRQ reaches the PIC */
	outb(COM1 + 1, 0x01);              /* received data */
	uint32_t lines = guest_option(info, "lines=", 0);
	for (uint32_t i = 0; i < lines; i++) {
		send("uart-irq: line ");
		char n[11]; int k = 0; uint32_t v = i;
		do { n[k++] = (char)('0' + v % 10); v /= 10; } while (v);
		char r[12]; int m = 0; while (k) r[m++] = n[--k]; r[m] = 0;
		send(r);
		send(" of interrupt-driven output, nothing polled\n");
	}
	send("uart-irq: ready\n");
	int interactive = !guest_option(info, "quit=", 0);
	for (int reading = interactive; reading;) {
		while (!line_ready)
			sti_hlt();
		line[line_length] = 0;
		if (same(line, "quit"))
			reading = 0;
		else {
			send("uart-irq: got ");
			send(line);
			send("\n");
		}
		line_length = 0;
		line_ready = 0;
	}
	send("uart-irq: bye\n");
	while (out_tail != out_head)
		sti_hlt();
	return tx_interrupts && (rx_interrupts || !interactive) ? 0 : 1;
}
