/*
 * Console input, as in Xen: what is typed on COM1 goes to the guest with
 * the input focus; Ctrl-A three times moves the focus to the next guest or
 * the hypervisor's prompt. The supervisor decides where each byte goes
 * (assembly/supervisor/console_focus.ts); this file moves the bytes:
 *
 *   console_input_poll()     any CPU, at its scheduling decisions: reads
 *                            every byte COM1 has and queues each in the
 *                            ring of the guest it is for
 *   console_input_deliver()  the CPU that runs a guest, before each entry:
 *                            offers the guest's queued bytes to its UART
 *                            until the UART is full
 *
 * Nothing typed is lost: a byte waits in its ring while the guest's UART
 * is full, and while the ring is full COM1 is not read, so later bytes wait
 * in the host's UART (and, behind it, in whatever feeds it). One exception
 * keeps the console usable: a guest whose ring stays full without it
 * reading a byte for a second is not reading its console, and what is
 * typed for it is dropped until it reads again, so the Ctrl-As behind
 * those bytes still reach the supervisor.
 */
#include "hv.h"
#include "core.h"
#include "percpu.h"
#include "console_glue.h"

#define RING_BYTES 256u          /* a power of two */
#define CTRL_A 0x01

/*
 * One ring per guest, single producer (the CPU in console_input_poll,
 * under poll_lock) and single consumer (the CPU running the guest). head
 * and tail count bytes since boot and wrap as integers; head - tail bytes
 * are queued. The producer publishes bytes with a release store of head,
 * the consumer frees them with a release store of tail.
 */
struct input_ring {
	uint32_t head;               /* written by the producer only */
	uint32_t tail;               /* written by the consumer only */
};

static struct input_ring rings[CORE_MAX_GUESTS] EXIT_PATH_DATA;
/* Each ring's bytes: read only where written, so not zeroed at boot
 * (kernel.ld's .noinit). */
static uint8_t ring_bytes[CORE_MAX_GUESTS][RING_BYTES] __attribute__((section(".noinit.ring_bytes")));

static uint8_t *ring_data(const struct input_ring *ring)
{
	return ring_bytes[ring - rings];
}

/* One CPU polls at a time; another that comes along returns. */
static spinlock_t poll_lock;

/* Bytes routed to a guest whose ring had no room: a byte and the
 * Ctrl-As released before it. COM1 is not read while they wait. */
static struct {
	int guest;
	unsigned count;
	uint8_t bytes[3];
	uint32_t tail;               /* the ring's tail when they began to wait */
	uint64_t since;              /* TSC when the tail last moved */
} held;

/* The guest that did not read its console, and its tail then (-1: none). */
static int silent_guest = -1;
static uint32_t silent_tail;

/* Producer side: queues all n bytes or none. */
static bool ring_put(struct input_ring *ring, const uint8_t *bytes, unsigned n)
{
	uint32_t head = __atomic_load_n(&ring->head, __ATOMIC_RELAXED);
	uint32_t tail = __atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE);
	if (RING_BYTES - (head - tail) < n)
		return false;
	for (unsigned i = 0; i < n; i++)
		ring_data(ring)[(head + i) % RING_BYTES] = bytes[i];
	__atomic_store_n(&ring->head, head + n, __ATOMIC_RELEASE);
	return true;
}

/* Queues the held bytes. False while they must wait (COM1 is then left
 * alone); true when they are queued or dropped. */
static bool place_held(void)
{
	struct input_ring *ring = &rings[held.guest];
	if (ring_put(ring, held.bytes, held.count)) {
		held.count = 0;
		if (silent_guest == held.guest)
			silent_guest = -1;
		return true;
	}
	/* The guest lost the focus meanwhile: it stopped. */
	if (core_console_focus() != held.guest) {
		held.count = 0;
		return true;
	}
	uint32_t tail = __atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE);
	if (tail != held.tail) {
		held.tail = tail;
		held.since = tsc_read();
		return false;
	}
	bool known_silent = silent_guest == held.guest && silent_tail == tail;
	if (!known_silent && tsc_read() - held.since < tsc_hz())
		return false;
	if (!known_silent)
		kprintf("[hv] guest %s does not read its console: what is typed for it is dropped "
			"until it does\n", core_guest_name((unsigned)held.guest));
	silent_guest = held.guest;
	silent_tail = tail;
	held.count = 0;
	return true;
}

void console_input_poll(void)
{
	if (!spin_trylock(&poll_lock))
		return;
	for (;;) {
		if (held.count && !place_held())
			break;
		int byte = console_read_byte();
		if (byte < 0)
			break;
		unsigned released = 0;
		int guest = core_console_input((uint8_t)byte, &released);
		if (guest < 0)
			continue;
		held.guest = guest;
		held.count = 0;
		while (released--)
			held.bytes[held.count++] = CTRL_A;
		held.bytes[held.count++] = (uint8_t)byte;
		held.tail = __atomic_load_n(&rings[guest].tail, __ATOMIC_ACQUIRE);
		held.since = tsc_read();
	}
	spin_unlock(&poll_lock);
}

bool console_input_pending(unsigned guest)
{
	if (guest >= CORE_MAX_GUESTS)
		return false;
	struct input_ring *ring = &rings[guest];
	return __atomic_load_n(&ring->tail, __ATOMIC_RELAXED) != __atomic_load_n(&ring->head, __ATOMIC_ACQUIRE);
}

EXIT_PATH unsigned console_input_deliver(unsigned guest)
{
	if (guest >= CORE_MAX_GUESTS)
		return 0;
	struct input_ring *ring = &rings[guest];
	uint32_t tail = __atomic_load_n(&ring->tail, __ATOMIC_RELAXED);
	uint32_t head = __atomic_load_n(&ring->head, __ATOMIC_ACQUIRE);
	if (tail == head)
		return 0;                        /* the usual case: nothing typed */
	uint32_t first = tail;
	while (tail != head) {
		int taken = core_console_receive(guest, ring_data(ring)[tail % RING_BYTES]);
		if (taken < 0)
			tail = head;             /* no instance to take them: dropped */
		if (taken <= 0)
			break;
		tail++;
	}
	__atomic_store_n(&ring->tail, tail, __ATOMIC_RELEASE);
	return tail - first;
}
