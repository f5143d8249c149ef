/*
 * The console: COM1, a 16550 UART, polled. 115200 8N1.
 * Register map: PC16550D datasheet (National Semiconductor), table II.
 */
#include <stdarg.h>
#include "hv.h"
#include "boot.h"
#include "percpu.h"

#define COM1 0x3f8
#define UART_DATA 0     /* THR/RBR; DLL when LCR.DLAB=1 */
#define UART_IER  1     /* DLM when LCR.DLAB=1 */
#define UART_FCR  2
#define UART_LCR  3
#define UART_MCR  4
#define UART_LSR  5

#define LCR_8N1   0x03
#define LCR_DLAB  0x80
#define FCR_ENABLE_CLEAR 0x07   /* FIFO on, clear both FIFOs */
#define MCR_DTR_RTS 0x03
#define UART_IIR  2     /* read; FCR when written */
#define IIR_FIFOS_ENABLED 0xc0  /* both bits: a 16550A's working FIFOs */
#define TX_FIFO_BYTES 16
#define LSR_DR    0x01  /* data ready: RBR holds a received byte */
#define LSR_THRE  0x20  /* transmit holding register empty */
#define LSR_TEMT  0x40  /* holding and shift register empty: all sent */

/* 115200 = 1.8432 MHz / 16 / divisor 1. */
#define DIVISOR_115200 1

/* Bounded polling: a machine without COM1 must not hang the stub. On real
 * hardware a byte takes ~87 us at 115200; this is far longer. */
#define POLL_LIMIT 1000000

static void wait_lsr(uint8_t bit)
{
	for (unsigned i = 0; i < POLL_LIMIT; i++)
		if (inb(COM1 + UART_LSR) & bit)
			return;
}

/* With the FIFO on, THRE means the whole transmit FIFO is empty (PC16550D,
 * LSR bit 5): that many bytes go without asking again. One byte per THRE
 * on an 8250 or 16450, or when the FIFO did not turn on. */
static unsigned fifo_bytes = 1, fifo_room;

void console_init(void)
{
	outb(COM1 + UART_IER, 0);                  /* polled: no interrupts */
	outb(COM1 + UART_LCR, LCR_DLAB);
	outb(COM1 + UART_DATA, DIVISOR_115200 & 0xff);
	outb(COM1 + UART_IER, DIVISOR_115200 >> 8);
	outb(COM1 + UART_LCR, LCR_8N1);
	outb(COM1 + UART_FCR, FCR_ENABLE_CLEAR);
	outb(COM1 + UART_MCR, MCR_DTR_RTS);
	fifo_bytes = (inb(COM1 + UART_IIR) & IIR_FIFOS_ENABLED) == IIR_FIFOS_ENABLED ? TX_FIFO_BYTES : 1;
	fifo_room = 0;
}

static void uart_put(char c)
{
	if (!fifo_room) {
		wait_lsr(LSR_THRE);
		fifo_room = fifo_bytes;
	}
	fifo_room--;
	outb(COM1 + UART_DATA, (uint8_t)c);
}

static void uart_putc(char c)
{
	if (c == '\n')
		uart_put('\r');
	uart_put(c);
	screen_putc(c);
}

/* One writer at a time, so what one CPU writes in one call (a whole line)
 * is never cut by another CPU's output. */
static spinlock_t console_lock;

/* What the console carried so far: bytes and the TSC ticks spent writing
 * them (under the lock). A guest's share of the console follows from it
 * (console_bytes_per_second): a 115200-baud port carries ~11,520 bytes/s,
 * an emulator's port as much as its CPU can write. */
static uint64_t carried_bytes, carried_ticks;

void console_putc(char c)
{
	spin_lock(&console_lock);
	uint64_t start = tsc_read();
	uart_putc(c);
	carried_ticks += tsc_read() - start;
	carried_bytes++;
	spin_unlock(&console_lock);
}

void console_write(const char *s, size_t len)
{
	spin_lock(&console_lock);
	uint64_t start = tsc_read();
	for (size_t i = 0; i < len; i++)
		uart_putc(s[i]);
	carried_ticks += tsc_read() - start;
	carried_bytes += len;
	spin_unlock(&console_lock);
}

/* 0 until a few lines went out: too little to tell. */
uint64_t console_bytes_per_second(void)
{
	spin_lock(&console_lock);
	uint64_t bytes = carried_bytes, ticks = carried_ticks;
	spin_unlock(&console_lock);
	if (bytes < 256 || !ticks || !tsc_hz())
		return 0;
	while (bytes >> 32) {   /* bytes * tsc_hz() must not overflow */
		bytes >>= 1;
		ticks >>= 1;
	}
	return ticks ? bytes * tsc_hz() / ticks : 0;
}

/* No lock: reading RBR and LSR does not disturb a writer on another CPU
 * (DLAB stays clear after console_init). */
int console_read_byte(void)
{
	if (!(inb(COM1 + UART_LSR) & LSR_DR))
		return -1;
	return inb(COM1 + UART_DATA);
}

void console_flush(void)
{
	wait_lsr(LSR_TEMT);
}

/* --- kprintf, ksnprintf --------------------------------------------------------*/

/* Where formatted output goes: the console (buffer NULL) or a buffer. */
struct sink {
	char *buffer;
	size_t size, length;   /* length: characters written (console) or stored */
};

static void out(struct sink *k, char c)
{
	if (!k->buffer) {
		uart_putc(c);      /* the panic path: the caller holds nothing */
		k->length++;
	} else if (k->length + 1 < k->size) {
		k->buffer[k->length++] = c;
	}
}

static void put_number(struct sink *k, uint64_t value, unsigned base, bool negative, int width, char pad, bool upper)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char buf[24];
	int n = 0;
	do {
		buf[n++] = digits[value % base];
		value /= base;
	} while (value);
	if (negative)
		width--;
	if (negative && pad == '0')
		out(k, '-');
	for (; width > n; width--)
		out(k, pad);
	if (negative && pad != '0')
		out(k, '-');
	while (n)
		out(k, buf[--n]);
}

static void vformat(struct sink *k, const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			out(k, *fmt);
			continue;
		}
		fmt++;
		char pad = ' ';
		int width = 0;
		int longs = 0;
		bool alternate = false;   /* '#': 0x before hex */
		if (*fmt == '#') {
			alternate = true;
			fmt++;
		}
		if (*fmt == '0') {
			pad = '0';
			fmt++;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l') {
			longs++;
			fmt++;
		}
		if (*fmt == 'z') {
			longs = 1;
			fmt++;
		}

		uint64_t u;
		int64_t d;
		switch (*fmt) {
		case 'd':
		case 'i':
			d = longs ? va_arg(ap, long) : va_arg(ap, int);
			put_number(k, d < 0 ? -(uint64_t)d : (uint64_t)d, 10, d < 0, width, pad, false);
			break;
		case 'u':
		case 'x':
		case 'X':
			u = longs ? va_arg(ap, unsigned long) : va_arg(ap, unsigned);
			if (alternate && *fmt != 'u') {
				out(k, '0');
				out(k, 'x');
			}
			put_number(k, u, *fmt == 'u' ? 10 : 16, false, width, pad, *fmt == 'X');
			break;
		case 'p':
			out(k, '0');
			out(k, 'x');
			put_number(k, (uintptr_t)va_arg(ap, void *), 16, false, 16, '0', false);
			break;
		case 's': {
			const char *s = va_arg(ap, const char *);
			if (!s)
				s = "(null)";
			size_t n = strlen(s);
			for (; width > (int)n; width--)
				out(k, ' ');
			while (*s)
				out(k, *s++);
			break;
		}
		case 'c':
			out(k, (char)va_arg(ap, int));
			break;
		case '%':
			out(k, '%');
			break;
		case '\0':
			return;
		default:   /* unknown: print it as written */
			out(k, '%');
			out(k, *fmt);
			break;
		}
	}
}

/* Formatted into a buffer first and written in one go (see console_lock);
 * longer output is cut at 512 bytes. */
int kprintf(const char *fmt, ...)
{
	char buffer[512];
	struct sink k = { buffer, sizeof buffer, 0 };
	va_list ap;
	va_start(ap, fmt);
	vformat(&k, fmt, ap);
	va_end(ap);
	console_write(buffer, k.length);
	return (int)k.length;
}

int ksnprintf(char *buffer, size_t size, const char *fmt, ...)
{
	if (!size)
		return 0;
	struct sink k = { buffer, size, 0 };
	va_list ap;
	va_start(ap, fmt);
	vformat(&k, fmt, ap);
	va_end(ap);
	buffer[k.length] = 0;
	return (int)k.length;
}

void panic(const char *fmt, ...)
{
	static bool panicking;
	if (!panicking) {
		panicking = true;
		struct sink k = { 0 };
		va_list ap;
		va_start(ap, fmt);
		kprintf("[hv] panic: ");
		vformat(&k, fmt, ap);
		va_end(ap);
		kprintf("\n");
	}
	power_off(false);
}
