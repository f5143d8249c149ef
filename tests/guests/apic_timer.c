/* The local APIC's timer in its three modes, through the x2APIC MSRs, as
 * Linux drives it: one-shot and periodic against the 1 GHz rate the timing
 * leaf gives, TSC-deadline against the TSC; and the TPR holding back an
 * interrupt of a lower priority class until it drops. */
#include "guest.h"

#define MSR_APIC_BASE   0x1B
#define MSR_TSC_DEADLINE 0x6E0
#define X2APIC(reg)     (0x800 + ((reg) >> 4))
#define APIC_ID         0x020
#define APIC_TPR        0x080
#define APIC_EOI        0x0B0
#define APIC_SVR        0x0F0
#define APIC_LVT_TIMER  0x320
#define APIC_INITIAL    0x380
#define APIC_CURRENT    0x390
#define APIC_DIVIDE     0x3E0
#define VECTOR          0x40
#define PERIODIC        (1u << 17)
#define TSC_DEADLINE    (2u << 17)
#define MASKED          (1u << 16)

static volatile uint32_t fired;
static struct guest_ticks stamps;
static void on_timer(uint32_t vector)
{
	fired++;
	guest_tick(&stamps);
	wrmsr(X2APIC(APIC_EOI), 0);
}

static void check(const char *what, int ok) { guest_check("apic", what, ok); }

/* Waits until `count` interrupts came; the microseconds since `t0`. */
static uint32_t wait_fired(uint32_t count, uint64_t t0)
{
	while (fired < count)
		sti_hlt();
	return guest_tsc_us(rdtsc() - t0);
}

/* Lets an interrupt already in the IRR in, then forgets it. */
static void drain(void)
{
	__asm__ volatile("sti; nop; nop; cli");
	fired = 0;
}

uint32_t guest_main(uint32_t magic, struct multiboot_info *info)
{
	uint32_t a, b, c, d;
	guest_setup_traps();
	outb(0x21, 0xFF);                  /* the 8259s stay quiet */
	outb(0xA1, 0xFF);
	cpuid(1, 0, &a, &b, &c, &d);
	check("CPUID offers an APIC, x2APIC and the TSC-deadline timer",
	      (d & (1u << 9)) && (c & (1u << 21)) && (c & (1u << 24)));
	cpuid(0x40000010, 0, &a, &b, &c, &d);
	check("the timing leaf gives the APIC timer's rate: 1 GHz", b == 1000000);
	uint64_t base = rdmsr(MSR_APIC_BASE);
	check("IA32_APIC_BASE: enabled BSP at 0xFEE00000", base == 0xFEE00900);
	wrmsr(MSR_APIC_BASE, base | (1u << 10));
	check("x2APIC mode is on", rdmsr(MSR_APIC_BASE) & (1u << 10));
	check("the x2APIC ID is 0", rdmsr(X2APIC(APIC_ID)) == 0);
	wrmsr(X2APIC(APIC_SVR), 0x1FF);
	guest_set_irq_handler(VECTOR, on_timer);
	wrmsr(X2APIC(APIC_DIVIDE), 0xB);   /* divide by 1 */

	/* One-shot, 1 ms, unmeasured: under emulation (QEMU TCG) the first
	 * run of each path is translated and takes a millisecond or so. */
	wrmsr(X2APIC(APIC_LVT_TIMER), VECTOR);
	wrmsr(X2APIC(APIC_INITIAL), 1000000);
	wait_fired(1, 0);
	fired = 0;
	/* One-shot, 20 ms. */
	uint64_t t0 = rdtsc();
	wrmsr(X2APIC(APIC_INITIAL), 20000000);
	uint32_t current = (uint32_t)rdmsr(X2APIC(APIC_CURRENT));
	uint32_t us = wait_fired(1, t0);
	check("the current count runs down", current < 20000000 && current > 10000000);
	guest_check_deadline("apic", "one-shot timer of 20 ms fired after", us, 20000, 5, 25);
	check("a one-shot timer stays at 0", rdmsr(X2APIC(APIC_CURRENT)) == 0);

	/* Periodic, 2 ms, 100 periods. */
	fired = 0;
	stamps.n = 0;
	wrmsr(X2APIC(APIC_LVT_TIMER), VECTOR | PERIODIC);
	t0 = rdtsc();
	wrmsr(X2APIC(APIC_INITIAL), 2000000);
	wait_fired(100, t0);
	wrmsr(X2APIC(APIC_LVT_TIMER), VECTOR | MASKED);
	wrmsr(X2APIC(APIC_INITIAL), 0);
	guest_check_periodic("apic", "periodic timer of 2 ms", t0, stamps.at, 100, 2000, 5);
	drain();

	/* TSC-deadline, 30 ms ahead. */
	drain();
	wrmsr(X2APIC(APIC_LVT_TIMER), VECTOR | TSC_DEADLINE);
	t0 = rdtsc();
	wrmsr(MSR_TSC_DEADLINE, t0 + (uint64_t)tsc_khz() * 30);
	while (!fired)
		sti_hlt();
	guest_check_deadline("apic", "TSC-deadline timer 30 ms ahead fired after", guest_tsc_us(rdtsc() - t0), 30000, 5, 25);
	check("the deadline MSR reads 0 once it fired", rdmsr(MSR_TSC_DEADLINE) == 0);

	/* TPR: class 5 blocks vector 0x40 (class 4) until it drops. */
	fired = 0;
	wrmsr(X2APIC(APIC_TPR), 0x50);
	wrmsr(X2APIC(APIC_LVT_TIMER), VECTOR);
	wrmsr(X2APIC(APIC_INITIAL), 1000000);    /* 1 ms */
	uint64_t w0 = rdtsc(), wait = (uint64_t)tsc_khz() * 10;
	__asm__ volatile("sti");
	while (rdtsc() - w0 < wait) {}
	__asm__ volatile("cli");
	check("TPR 0x50 held back vector 0x40 for 10 ms", fired == 0);
	__asm__ volatile("sti");
	wrmsr(X2APIC(APIC_TPR), 0);
	for (int i = 0; i < 1000 && !fired; i++)
		__asm__ volatile("pause");
	__asm__ volatile("cli");
	check("it came as soon as TPR dropped", fired == 1);
	check("no interrupt came at an unexpected vector", guest_unexpected_vector == 0);
	return guest_failures;
}
