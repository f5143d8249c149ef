/*
 * The TSC, calibrated against the 8254 PIT: channel 2 counts down ~10 ms
 * in mode 0 with its gate on port 0x61, and the TSC ticks in between give
 * the frequency. Integer math only (the stub has no FPU state).
 * The boot overlaps it with its own work and then with the guests':
 * tsc_calibrate_start() sets channel 2 counting down from 0xFFFF (55 ms),
 * and how far it got (counter latch) against the TSC gives a first rate
 * after 1 ms (tsc_calibrate_quick) and the settled one after 10 ms
 * (tsc_settle), so no CPU waits 10 ms for it before the first guest.
 * PIT: Intel 82C54 datasheet; port 0x61: the PC/AT "system control port B".
 */
#include "boot.h"

#define PIT_HZ           1193182ull
#define PIT_CHANNEL2     0x42
#define PIT_COMMAND      0x43
#define PORT_B           0x61
#define PORT_B_GATE2     0x01   /* channel 2 gate */
#define PORT_B_SPEAKER   0x02   /* speaker data: keep it off */
#define PORT_B_OUT2      0x20   /* channel 2 output, read-only */
/* Channel 2, lobyte/hibyte access, mode 0 (interrupt on terminal count),
 * binary: OUT2 goes high when the count reaches 0. */
#define PIT_CH2_MODE0    0xb0

#define CALIBRATION_MS   10
#define CALIBRATION_RUNS 3
/* Port reads before giving up on a PIT that does not count (some machines
 * have none). ~1 us each on hardware, far longer than 10 ms. */
#define POLL_LIMIT       10000000u
#define FALLBACK_HZ      1000000000ull

static uint64_t hz;

uint64_t tsc_hz(void)
{
	return hz;
}

/* TSC ticks during one PIT countdown of `latch` ticks, 0 if it never ends. */
static uint64_t measure(uint16_t latch)
{
	outb(PORT_B, (inb(PORT_B) & ~PORT_B_SPEAKER) | PORT_B_GATE2);
	outb(PIT_COMMAND, PIT_CH2_MODE0);
	outb(PIT_CHANNEL2, latch & 0xff);
	outb(PIT_CHANNEL2, latch >> 8);   /* counting starts here */
	uint64_t start = tsc_read();
	for (unsigned i = 0; i < POLL_LIMIT; i++)
		if (inb(PORT_B) & PORT_B_OUT2)
			return tsc_read() - start;
	return 0;
}

void tsc_calibrate(void)
{
	const uint16_t latch = PIT_HZ * CALIBRATION_MS / 1000;
	/* The shortest run is the one least stretched by the host (under
	 * emulation) or by SMIs (on hardware). */
	uint64_t best = 0;
	for (int run = 0; run < CALIBRATION_RUNS; run++) {
		uint64_t ticks = measure(latch);
		if (ticks && (!best || ticks < best))
			best = ticks;
	}
	outb(PORT_B, inb(PORT_B) & ~(PORT_B_GATE2 | PORT_B_SPEAKER));
	if (!best) {
		hz = FALLBACK_HZ;
		kprintf("[hv] tsc: the PIT did not count; assuming %lu MHz\n", hz / 1000000);
		return;
	}
	hz = best * PIT_HZ / latch;
}

/* --- calibration overlapped with the boot's work, and with the guests' ------*/

#define PIT_LATCH_CH2    0x80   /* counter latch command, channel 2 */
#define WINDOW_MIN_TICKS (PIT_HZ * CALIBRATION_MS / 1000)
/* The first figure: 1 ms of PIT time, good to ~0.2 % on hardware (two
 * port reads of ~1 us against 838 ns ticks), which is all the host's own
 * timing needs (time slices, its timer, the console's pace). */
#define QUICK_TICKS      (PIT_HZ / 1000)

static uint64_t window_start;
static volatile bool window_open;      /* counting towards the settled figure */
static uint64_t settle_at;             /* TSC, at the quick rate, when it is due */
static volatile uint32_t settle_lock;

void tsc_calibrate_start(void)
{
	outb(PORT_B, (inb(PORT_B) & ~PORT_B_SPEAKER) | PORT_B_GATE2);
	outb(PIT_COMMAND, PIT_CH2_MODE0);
	outb(PIT_CHANNEL2, 0xff);
	outb(PIT_CHANNEL2, 0xff);         /* counting starts here */
	window_start = tsc_read();
	window_open = true;
}

/* PIT ticks since the start, with in *tsc the TSC at the reading (the
 * middle of two RDTSCs less than 1/2000 of the window apart, so a host that
 * deschedules an emulator mid-read is caught); 0 once the countdown ran
 * out (OUT2 high) or when the PIT does not count. */
static uint32_t window_ticks(uint64_t *tsc)
{
	for (int tries = 0;; tries++) {
		uint64_t a = tsc_read();
		outb(PIT_COMMAND, PIT_LATCH_CH2);
		uint32_t count = inb(PIT_CHANNEL2);
		count |= (uint32_t)inb(PIT_CHANNEL2) << 8;
		uint64_t b = tsc_read();
		if (inb(PORT_B) & PORT_B_OUT2)
			return 0;
		if ((b - a) * 2000 < b - window_start || tries == 20) {
			*tsc = a + (b - a) / 2;
			return 0xffff - count;
		}
	}
}

/* Polls the window until it holds `min` PIT ticks; answers the ticks (0:
 * ran out, or no PIT) and in *tsc the TSC of that reading. */
static uint32_t window_wait(uint32_t min, uint64_t *tsc)
{
	uint32_t ticks;
	unsigned polls = 0;
	while ((ticks = window_ticks(tsc)) != 0 && ticks < min && ++polls < POLL_LIMIT)
		;
	return ticks >= min ? ticks : 0;
}

static void window_close(void)
{
	outb(PORT_B, inb(PORT_B) & ~(PORT_B_GATE2 | PORT_B_SPEAKER));
	__atomic_store_n(&window_open, false, __ATOMIC_RELEASE);
}

/* The boot needs a rate before its guests start, and they need not wait
 * for the 10 ms figure (make bench, P4): a first one from the window so
 * far (at least 1 ms of it), then the window counts on while the guests
 * run, and tsc_settle() replaces the figure with the 10 ms one. The guests
 * are given only the settled figure (tsc_hz_settled). As Linux does with
 * its quick PIT calibration and the refinement that follows. */
void tsc_calibrate_quick(void)
{
	if (!window_open) {
		tsc_calibrate();
		return;
	}
	uint64_t tsc = 0;
	uint32_t ticks = window_wait(QUICK_TICKS, &tsc);
	if (!ticks) {   /* ran out, or no PIT: the long way */
		window_close();
		tsc_calibrate();
		return;
	}
	hz = (tsc - window_start) * PIT_HZ / ticks;
	/* Due once 10 ms have passed by this rate, with 1/64 to spare. */
	uint64_t due = hz / 1000 * CALIBRATION_MS;
	settle_at = window_start + due + due / 64;
}

static bool tsc_settled(void)
{
	return !__atomic_load_n(&window_open, __ATOMIC_ACQUIRE);
}

/* The 10 ms figure, waiting for the rest of the window if need be. Any
 * CPU may call it; the first does the reading, the others wait for it. */
static void tsc_settle(void)
{
	if (tsc_settled())
		return;
	while (__atomic_exchange_n(&settle_lock, 1, __ATOMIC_ACQUIRE))
		__asm__ volatile("pause");
	if (!tsc_settled()) {
		uint64_t tsc = 0;
		uint32_t ticks = window_wait(WINDOW_MIN_TICKS, &tsc);
		/* Ran out (55 ms passed unseen, which the run loop's deadlines
		 * prevent): the first figure stays. */
		if (ticks)
			hz = (tsc - window_start) * PIT_HZ / ticks;
		window_close();
	}
	__atomic_store_n(&settle_lock, 0, __ATOMIC_RELEASE);
}

uint64_t tsc_hz_settled(void)
{
	tsc_settle();
	return hz;
}

uint64_t tsc_settle_deadline(uint64_t deadline)
{
	return tsc_settled() || deadline <= settle_at ? deadline : settle_at;
}

void tsc_settle_poll(void)
{
	if (!tsc_settled() && tsc_read() >= settle_at)
		tsc_settle();
}
