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

/*
 * Output is asynchronous: a write puts its bytes in a ring and the UART
 * takes from it what its FIFO holds, at once and then whenever a CPU
 * passes by (console_poll_output: after each exit, in the idle loop, and
 * by a host timer while bytes wait, console_poll_deadline), so no CPU waits for
 * the wire. At 115200 baud the ~1.2 KB the boot prints before the first
 * guest took ~100 ms to send; under QEMU the port takes each byte at once
 * and nothing waits in the ring. The screen is drawn from the same ring
 * when a CPU polls. Only a full ring makes a writer wait, for the oldest
 * bytes to go: nothing is dropped. Panics and power-off drain it first
 * (console_flush).
 */
#define TX_RING_BYTES 32768u                 /* a power of two */
static char tx_ring[TX_RING_BYTES] __attribute__((section(".noinit.tx_ring")));   /* read only where written */
static uint64_t tx_head, tx_tail;            /* bytes queued, sent; under console_lock */
/* Bytes of the ring on the screen so far: the screen is drawn from the
 * ring too, when a CPU polls, not by the writer (video memory is
 * uncached on hardware and emulated MMIO under QEMU: the boot's lines
 * cost it ~1.5 ms of the time to the first guest). */
static uint64_t screen_tail;
/* The UART or the screen has bytes of the ring to take: a hint, read
 * without the lock. */
static volatile bool tx_pending EXIT_PATH_DATA;

/* One writer at a time, so what one CPU writes in one call (a whole line)
 * is never cut by another CPU's output. */
static spinlock_t console_lock EXIT_PATH_DATA;

/* What the console carries, for a guest's share of it (console_bytes_per_
 * second): a port that makes us wait for its FIFO to drain paces bytes on
 * the wire (a real 16550 at the 115200 baud console_init set: 11,520
 * bytes/s, 8N1); one that never does (an emulator's) carries as much as
 * the CPU writes, measured as the bytes and TSC ticks spent writing them.
 * Which of the two it is is told by the boot's first lines (PACING_BYTES):
 * an emulator's port that stalls later, its host's pipe full, is not a
 * wire. */
#define WIRE_BYTES_PER_SECOND (115200 / 10)
#define PACING_BYTES 4096
static bool paced;
static uint64_t written_bytes, written_ticks;

/* Sends what the FIFO takes; with `wait`, waits for it to drain as often as
 * needed to send everything. Under console_lock (or in a panic). */
static void tx_send(bool wait)
{
	uint64_t start = tsc_read(), sent = 0;
	while (tx_tail != tx_head) {
		if (!fifo_room) {
			if (!(inb(COM1 + UART_LSR) & LSR_THRE)) {
				if (written_bytes + sent < PACING_BYTES)
					paced = true;
				if (!wait)
					break;
				wait_lsr(LSR_THRE);
			}
			fifo_room = fifo_bytes;
		}
		/* What the FIFO takes, up to the ring's wrap, in one REP OUTSB
		 * (an emulator that counts instructions, Bochs, counts one per
		 * byte instead of a loop's ten). */
		uint64_t at = tx_tail % TX_RING_BYTES, n = tx_head - tx_tail;
		if (n > fifo_room)
			n = fifo_room;
		if (n > TX_RING_BYTES - at)
			n = TX_RING_BYTES - at;
		const char *from = &tx_ring[at];
		uint64_t count = n;
		__asm__ volatile("rep outsb" : "+S"(from), "+c"(count) : "d"((uint16_t)(COM1 + UART_DATA)) : "memory");
		fifo_room -= (unsigned)n;
		tx_tail += n;
		sent += n;
	}
	written_ticks += tsc_read() - start;
	written_bytes += sent;
}

/* tx_send, and the pending hint brought up to date. */
static void tx_pump(bool wait)
{
	if (tx_tail != tx_head)
		tx_send(wait);
	tx_pending = tx_tail != tx_head || screen_tail != tx_head;
}

/* Draws what the screen has not shown of the ring. Under console_lock. */
static void screen_pump(void)
{
	while (screen_tail != tx_head) {
		uint64_t at = screen_tail % TX_RING_BYTES, n = tx_head - screen_tail;
		if (n > TX_RING_BYTES - at)
			n = TX_RING_BYTES - at;
		screen_write(&tx_ring[at], n);
		screen_tail += n;
	}
}

/* Bytes the ring can take: what both the UART and the screen are done with. */
static uint64_t ring_room(void)
{
	uint64_t oldest = tx_tail < screen_tail ? tx_tail : screen_tail;   /* 64-bit counts: no wrap */
	return TX_RING_BYTES - (tx_head - oldest);
}

static void tx_put(char c)
{
	if (ring_room() == 0) {
		tx_pump(true);   /* full: wait for room (tx_pump(true) sends it all) */
		screen_pump();
	}
	tx_ring[tx_head++ % TX_RING_BYTES] = c;
}

static void uart_putc(char c)
{
	if (c == '\n')
		tx_put('\r');
	tx_put(c);
}

void console_putc(char c)
{
	spin_lock(&console_lock);
	uart_putc(c);
	tx_pump(false);
	spin_unlock(&console_lock);
}

void console_write(const char *s, size_t len)
{
	spin_lock(&console_lock);
	if (ring_room() >= 2 * len) {
		/* Room for it all, each '\n' as "\r\n": one loop, the head in a
		 * register (the boot's lines cost Bochs, which counts
		 * instructions, ~70 a byte through tx_put). */
		uint64_t head = tx_head;
		for (size_t i = 0; i < len; i++) {
			if (s[i] == '\n')
				tx_ring[head++ % TX_RING_BYTES] = '\r';
			tx_ring[head++ % TX_RING_BYTES] = s[i];
		}
		tx_head = head;
	} else {
		for (size_t i = 0; i < len; i++)
			uart_putc(s[i]);
	}
	tx_pump(false);
	spin_unlock(&console_lock);
}

/* While bytes wait, a CPU comes back to the UART this often: a FIFO of 16
 * bytes drains in 1.4 ms at 115200 baud. */
#define CONSOLE_POLL_US 1000

EXIT_PATH uint64_t console_poll_deadline(uint64_t deadline)
{
	if (!tx_pending)
		return deadline;
	uint64_t soon = tsc_read() + tsc_hz() / 1000000 * CONSOLE_POLL_US;
	return soon < deadline ? soon : deadline;
}

/* Cheap when nothing waits; a CPU that finds another writing goes on. */
EXIT_PATH void console_poll_output(void)
{
	if (!tx_pending || !spin_trylock(&console_lock))
		return;
	screen_pump();
	tx_pump(false);
	spin_unlock(&console_lock);
}

/* 0 until a few lines went out: too little to tell. */
uint64_t console_bytes_per_second(void)
{
	spin_lock(&console_lock);
	tx_pump(false);
	uint64_t bytes = written_bytes, ticks = written_ticks;
	bool wire = paced;
	spin_unlock(&console_lock);
	if (wire)
		return WIRE_BYTES_PER_SECOND;
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
	spin_lock(&console_lock);
	screen_pump();
	tx_pump(true);
	spin_unlock(&console_lock);
	wait_lsr(LSR_TEMT);
}

/* --- kprintf, ksnprintf --------------------------------------------------------*/

/* Where formatted output goes: the console (buffer NULL) or a buffer. */
struct sink {
	char *buffer;
	size_t size, length;   /* length: characters written (console) or stored */
};

static void out_console(struct sink *k, char c);

static inline void out(struct sink *k, char c)
{
	if (__builtin_expect(k->buffer != NULL, 1)) {
		if (k->length + 1 < k->size)
			k->buffer[k->length++] = c;
		return;
	}
	out_console(k, c);
}

/* The panic path: the caller holds nothing, and the lock may be held by a
 * CPU that will never let it go; what waits in the ring goes first. */
static __attribute__((noinline)) void out_console(struct sink *k, char c)
{
	uart_putc(c);
	screen_pump();
	tx_pump(true);
	k->length++;
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

/* n bytes at once (a format's literal text, a %s). */
static void out_run(struct sink *k, const char *s, size_t n)
{
	if (__builtin_expect(k->buffer == NULL, 0)) {
		for (size_t i = 0; i < n; i++)
			out_console(k, s[i]);
		return;
	}
	size_t room = k->length + 1 < k->size ? k->size - 1 - k->length : 0;
	if (n > room)
		n = room;
	memcpy(k->buffer + k->length, s, n);
	k->length += n;
}

static void vformat(struct sink *k, const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			const char *end = fmt;
			while (*end && *end != '%')
				end++;
			out_run(k, fmt, (size_t)(end - fmt));
			fmt = end - 1;
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
			out_run(k, s, n);
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
