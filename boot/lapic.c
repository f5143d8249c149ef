/*
 * The local APIC: the host's time slice and the IPIs that start the other
 * CPUs. xAPIC in MMIO mode (Intel SDM vol. 3A, chapter 12 "Advanced
 * Programmable Interrupt Controller"): it is in every x86-64 CPU, QEMU TCG
 * and Bochs. Each CPU has its own LAPIC at the same address.
 *
 * The timer is one-shot, armed before each guest entry for the earliest of
 * the end of the current time slice and the running guest's next timer
 * event (its emulated PIT, APIC timer, RTC...); the interrupt makes the
 * guest exit (SVM: INTR intercept; VT-x: external-interrupt exiting). An
 * idle CPU arms it for the earliest wake-up among its waiting guests and
 * halts.
 */
#include "hv.h"
#include "boot.h"
#include "percpu.h"

#define MSR_APIC_BASE        0x1B
#define APIC_BASE_ENABLE     (1ull << 11)
#define APIC_BASE_ADDRESS    0xFFFFFF000ull

/* Register offsets (SDM vol. 3A, table 12-1) */
#define LAPIC_ID             0x020
#define LAPIC_EOI            0x0B0
#define LAPIC_SVR            0x0F0
#define LAPIC_ICR_LOW        0x300
#define LAPIC_ICR_HIGH       0x310
#define LAPIC_LVT_TIMER      0x320
#define LAPIC_TIMER_INITIAL  0x380
#define LAPIC_TIMER_CURRENT  0x390
#define LAPIC_TIMER_DIVIDE   0x3E0
#define SVR_ENABLE           (1u << 8)
#define LVT_MASKED           (1u << 16)
#define LVT_PERIODIC         (1u << 17)
#define DIVIDE_BY_16         0x3
/* ICR (SDM vol. 3A 12.6.1) */
#define ICR_INIT             (5u << 8)
#define ICR_STARTUP          (6u << 8)
#define ICR_LEVEL_ASSERT     (1u << 14)
#define ICR_PENDING          (1u << 12)

static volatile uint32_t *lapic EXIT_PATH_DATA;
/* The timer's rate, measured once: counts per TSC tick, 32.32 fixed point.
 * Against the TSC, not in Hz, so it holds whether or not the TSC's own
 * rate has settled yet (tsc.c). */
static uint64_t counts_per_tsc EXIT_PATH_DATA;

static inline uint32_t lapic_read(unsigned reg) { return lapic[reg / 4]; }
static inline void lapic_write(unsigned reg, uint32_t v) { lapic[reg / 4] = v; }

void lapic_timer_interrupt(void)
{
	struct cpu *cpu = this_cpu();
	cpu->ticks++;
	cpu->timer_deadline = 0;     /* fired: the next arm writes the count again */
	lapic_write(LAPIC_EOI, 0);
}

/* Enables this CPU's LAPIC (software enable, spurious vector). */
static void lapic_enable(void)
{
	wrmsr(MSR_APIC_BASE, rdmsr(MSR_APIC_BASE) | APIC_BASE_ENABLE);
	lapic_write(LAPIC_SVR, SVR_ENABLE | VECTOR_SPURIOUS);
}

/* The timer's rate is not architectural: it is counted against the TSC.
 * lapic_timer_measure_start() sets it counting early in the boot, and
 * lapic_init() reads it once the TSC has its first rate (tsc.c overlaps
 * its own calibration the same way): at least 1 ms of counting, which the
 * boot's own work mostly covers. A count read against RDTSC errs by a few
 * counts in a million, far below what a host timer needs. */
static uint64_t measure_start;

static bool lapic_present(void)
{
	uint32_t a, b, c, d;
	cpuid(1, 0, &a, &b, &c, &d);
	return d & (1u << 9);   /* CPUID.1:EDX.APIC */
}

void lapic_timer_measure_start(void)
{
	if (!lapic_present())
		return;
	/* The legacy 8259s stay masked: their default vectors (8-15) would
	 * collide with exceptions. */
	outb(0x21, 0xFF);
	outb(0xA1, 0xFF);
	lapic = phys_to_virt(rdmsr(MSR_APIC_BASE) & APIC_BASE_ADDRESS);  /* below 4 GiB */
	lapic_enable();
	lapic_write(LAPIC_TIMER_DIVIDE, DIVIDE_BY_16);
	lapic_write(LAPIC_LVT_TIMER, LVT_MASKED | VECTOR_TIMER);
	lapic_write(LAPIC_TIMER_INITIAL, 0xFFFFFFFF);
	measure_start = tsc_read();
}

bool lapic_init(void)
{
	if (!lapic_present() || !tsc_hz())
		return false;
	if (!measure_start)
		lapic_timer_measure_start();
	uint64_t window = tsc_hz() / 1000;
	while (tsc_read() - measure_start < window) {}
	uint64_t elapsed = tsc_read() - measure_start;
	uint32_t counted = 0xFFFFFFFF - lapic_read(LAPIC_TIMER_CURRENT);
	lapic_write(LAPIC_TIMER_INITIAL, 0);
	counts_per_tsc = ((uint64_t)counted << 32) / elapsed;
	return counts_per_tsc != 0;
}

uint32_t lapic_id(void)
{
	return lapic ? lapic_read(LAPIC_ID) >> 24 : 0;
}

bool lapic_timer_start(void)
{
	if (!lapic || !counts_per_tsc)
		return false;
	lapic_enable();
	lapic_write(LAPIC_TIMER_DIVIDE, DIVIDE_BY_16);
	lapic_write(LAPIC_LVT_TIMER, VECTOR_TIMER);      /* one-shot */
	lapic_write(LAPIC_TIMER_INITIAL, 0);
	this_cpu()->timer_deadline = 0;
	return true;
}

/* Arms the one-shot timer to fire at TSC `deadline` (at once if it has
 * passed), unless it is armed for that time already. Counts beyond the
 * register's 32 bits fire early, which is harmless: the loop re-arms. */
EXIT_PATH void lapic_timer_arm(uint64_t deadline)
{
	struct cpu *cpu = this_cpu();
	if (!lapic || cpu->timer_deadline == deadline)
		return;
	cpu->timer_deadline = deadline;
	uint64_t now = tsc_read();
	uint64_t wait = deadline > now ? deadline - now : 0;
	unsigned __int128 counts = (unsigned __int128)wait * counts_per_tsc >> 32;
	uint64_t count = counts > 0xFFFFFFFF ? 0xFFFFFFFF : (uint64_t)counts;
	if (count == 0)
		count = 1;
	lapic_write(LAPIC_TIMER_INITIAL, (uint32_t)count);
}

void lapic_timer_stop(void)
{
	if (lapic) {
		lapic_write(LAPIC_LVT_TIMER, LVT_MASKED | VECTOR_TIMER);
		lapic_write(LAPIC_TIMER_INITIAL, 0);
	}
}

static void icr_send(uint32_t apic_id, uint32_t command)
{
	lapic_write(LAPIC_ICR_HIGH, apic_id << 24);
	lapic_write(LAPIC_ICR_LOW, command);
	while (lapic_read(LAPIC_ICR_LOW) & ICR_PENDING)
		__asm__ volatile("pause");
}

static void delay_us(uint64_t us)
{
	uint64_t t0 = tsc_read(), cycles = tsc_hz() / 1000000 * us;
	while (tsc_read() - t0 < cycles)
		__asm__ volatile("pause");
}

/* The SDM's 10 ms after INIT is for the discrete APICs of old parts;
 * integrated ones take the STARTUP at once, and Linux waits for none on
 * Intel family 6 and AMD family 0xF and later (smp_quirk_init_udelay).
 * With one wait per AP, a host with 16 CPUs would spend 150 ms here
 * before its first guest. */
static unsigned init_delay_us(void)
{
	uint32_t a, b, c, d;
	cpuid(0, 0, &a, &b, &c, &d);
	bool intel = b == 0x756e6547, amd = b == 0x68747541;   /* "Genu", "Auth" */
	cpuid(1, 0, &a, &b, &c, &d);
	unsigned family = (a >> 8) & 0xf;
	if (family == 0xf)
		family += (a >> 20) & 0xff;
	return (intel && family >= 6) || (amd && family >= 0xf) ? 10 : 10000;
}

/* INIT-SIPI-SIPI (SDM vol. 3A 9.4.4.1, "Typical BSP Initialization
 * Sequence"): the AP starts in real mode at vector * 4 KiB. */
void lapic_start_cpu(uint32_t apic_id, uint8_t vector)
{
	icr_send(apic_id, ICR_INIT | ICR_LEVEL_ASSERT);
	delay_us(init_delay_us());
	icr_send(apic_id, ICR_STARTUP | vector);
	delay_us(200);
	icr_send(apic_id, ICR_STARTUP | vector);
}
