/*
 * The local APIC timer: the host's time slice. Periodic, at the configured
 * timeslice; each tick is a physical interrupt that makes the running guest
 * exit (SVM: INTR intercept; VT-x: external-interrupt exiting), and the run
 * loop then lets the next guest run. xAPIC in MMIO mode (Intel SDM vol. 3A,
 * chapter 12 "Advanced Programmable Interrupt Controller"): it is in every
 * x86-64 CPU, QEMU TCG and Bochs.
 */
#include "hv.h"
#include "boot.h"

#define MSR_APIC_BASE        0x1B
#define APIC_BASE_ENABLE     (1ull << 11)
#define APIC_BASE_ADDRESS    0xFFFFFF000ull

/* Register offsets (SDM vol. 3A, table 12-1) */
#define LAPIC_EOI            0x0B0
#define LAPIC_SVR            0x0F0
#define LAPIC_LVT_TIMER      0x320
#define LAPIC_TIMER_INITIAL  0x380
#define LAPIC_TIMER_CURRENT  0x390
#define LAPIC_TIMER_DIVIDE   0x3E0
#define SVR_ENABLE           (1u << 8)
#define LVT_MASKED           (1u << 16)
#define LVT_PERIODIC         (1u << 17)
#define DIVIDE_BY_16         0x3

volatile uint64_t lapic_ticks;
static volatile uint32_t *lapic;

static inline uint32_t lapic_read(unsigned reg) { return lapic[reg / 4]; }
static inline void lapic_write(unsigned reg, uint32_t v) { lapic[reg / 4] = v; }

void lapic_timer_interrupt(void)
{
	lapic_ticks++;
	lapic_write(LAPIC_EOI, 0);
}

bool lapic_timer_start(unsigned period_ms)
{
	uint32_t a, b, c, d;
	cpuid(1, 0, &a, &b, &c, &d);
	if (!(d & (1u << 9)) || !tsc_hz())   /* CPUID.1:EDX.APIC */
		return false;
	/* The legacy 8259s stay masked: their default vectors (8-15) would
	 * collide with exceptions. */
	outb(0x21, 0xFF);
	outb(0xA1, 0xFF);

	uint64_t base = rdmsr(MSR_APIC_BASE);
	wrmsr(MSR_APIC_BASE, base | APIC_BASE_ENABLE);
	lapic = phys_to_virt(base & APIC_BASE_ADDRESS);   /* below 4 GiB, identity-mapped */
	lapic_write(LAPIC_SVR, SVR_ENABLE | VECTOR_SPURIOUS);

	/* The timer's rate is not architectural: count it against the TSC
	 * for 10 ms (the TSC is calibrated against the PIT already). */
	lapic_write(LAPIC_TIMER_DIVIDE, DIVIDE_BY_16);
	lapic_write(LAPIC_LVT_TIMER, LVT_MASKED | VECTOR_TIMER);
	lapic_write(LAPIC_TIMER_INITIAL, 0xFFFFFFFF);
	uint64_t t0 = tsc_read(), window = tsc_hz() / 100;
	while (tsc_read() - t0 < window) {}
	uint32_t counted = 0xFFFFFFFF - lapic_read(LAPIC_TIMER_CURRENT);
	lapic_write(LAPIC_TIMER_INITIAL, 0);
	if (counted == 0)
		return false;
	uint64_t per_ms = counted / 10;
	uint64_t initial = per_ms * period_ms;
	if (initial == 0 || initial > 0xFFFFFFFF)
		return false;
	lapic_write(LAPIC_LVT_TIMER, LVT_PERIODIC | VECTOR_TIMER);
	lapic_write(LAPIC_TIMER_INITIAL, (uint32_t)initial);
	return true;
}
