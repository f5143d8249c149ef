/* Hostile guest: IPIs, NMIs, INIT and STARTUP aimed at vCPUs that are not
 * its own (issue 11). Two roles, each a guest of 2 vCPUs, on one host CPU:
 *
 * attack=1  vCPU 0 sends, through its local APIC's ICR (xAPIC MMIO, then
 *           x2APIC MSRs where CPUID offers x2APIC), fixed, lowest-priority
 *           and NMI IPIs, INIT and STARTUP to APIC IDs 2..254, broadcasts
 *           (0xFF, 0xFFFFFFFF), the shorthands, logical destinations no
 *           vCPU of its own holds and ones its own hold. Its vCPU 1 must get
 *           exactly what the architecture says reaches it (SDM vol. 3A,
 *           12.6: a broadcast and all-including-self reach both vCPUs,
 *           all-excluding-self reaches vCPU 1 alone, INIT and STARTUP by
 *           all-excluding-self restart it), nothing else.
 * attack=0  the neighbour: the same APIC IDs (0, 1) and the same logical
 *           IDs (1, 2, flat) inside its own VM. It starts vCPU 1, sends
 *           itself two IPIs it asks for, then watches for `ms=`
 *           milliseconds (yielding the host CPU) and counts every
 *           interrupt and NMI each vCPU took and every start of vCPU 1:
 *           it must have received none it did not ask for, and its vCPU 1
 *           must still answer (no INIT reached it).
 * tests/boot/hostile.mjs asserts the lines, and that the attack happened
 * while the neighbour watched. */
#include "guest.h"

#define LAPIC 0xFEE00000u
#define TRAMPOLINE 0x70000u             /* STARTUP vector 0x70 */
#define MSR_APIC_BASE 0x1B
#define MSR_X2APIC_EOI 0x80B
#define MSR_X2APIC_ICR 0x830
#define X2APIC_ENABLE (1u << 10)

static volatile uint32_t *reg(uint32_t offset) { return (volatile uint32_t *)(LAPIC + offset); }

/* What each vCPU took: fixed/lowest-priority vectors and NMIs. */
static volatile uint32_t counts[2][256];
static volatile uint32_t nmis[2];
static volatile uint32_t starts;           /* how often vCPU 1 came through its STARTUP */
static volatile uint32_t x2apic_on[2];
static volatile uint32_t ap_ldr;           /* vCPU 1's LDR as it answered the last ping */
static uint8_t ap_stack[4096] __attribute__((aligned(16)));
static struct { uint16_t limit; uint32_t base; } __attribute__((packed)) idtr, gdtr;

/* Which vCPU runs this: vCPU 1 runs on ap_stack. */
static uint32_t this_vcpu(void)
{
	uint32_t sp = (uint32_t)__builtin_frame_address(0);
	return sp >= (uint32_t)ap_stack && sp < (uint32_t)ap_stack + sizeof ap_stack;
}

#define SWITCH_TO_X2APIC 0x5F               /* attacker: vCPU 1 enables x2APIC on this vector */

static void on_interrupt(uint32_t vector)
{
	uint32_t v = this_vcpu();
	counts[v][vector & 0xFF]++;
	if (vector == 0x62)                 /* the neighbour's ping: vCPU 1 shows its LDR */
		ap_ldr = *reg(0xD0);
	if (vector == SWITCH_TO_X2APIC && !x2apic_on[v]) {
		wrmsr(MSR_APIC_BASE, rdmsr(MSR_APIC_BASE) | X2APIC_ENABLE);
		x2apic_on[v] = 1;
	}
	if (x2apic_on[v])
		wrmsr(MSR_X2APIC_EOI, 0);
	else
		*reg(0xB0) = 0;
}

__attribute__((used)) static void on_nmi(void) { nmis[this_vcpu()]++; }
extern char nmi_stub[];
__asm__(".text\n"
	"nmi_stub:\n"
	"  pushal\n"
	"  call on_nmi\n"
	"  popal\n"
	"  iret\n");

/* vCPU 1 starts in real mode at TRAMPOLINE (CS = 0x7000, IP = 0): it loads
 * the BSP's GDT (its GDTR copied into the trampoline) and jumps to 32-bit
 * code, on its own stack. */
extern char tramp_start[], tramp_gdtr[], tramp_end[];
__asm__(".text\n"
	".code16\n"
	"tramp_start:\n"
	"  cli\n"
	"  lgdtl %cs:tramp_gdtr - tramp_start\n"
	"  mov %cr0, %eax\n"
	"  or $1, %eax\n"
	"  mov %eax, %cr0\n"
	"  ljmpl $0x08, $ap_entry\n"
	"tramp_gdtr: .word 0\n"
	"  .long 0\n"
	"tramp_end:\n"
	".code32\n"
	"ap_entry:\n"
	"  mov $0x10, %ax\n"
	"  mov %ax, %ds\n  mov %ax, %es\n  mov %ax, %ss\n  mov %ax, %fs\n  mov %ax, %gs\n"
	"  mov $ap_stack + 4096, %esp\n"
	"  call ap_main\n"
	"1: cli\n  hlt\n  jmp 1b\n");

__attribute__((used)) static void ap_main(void)
{
	__asm__ volatile("lidt %0" :: "m"(idtr));
	x2apic_on[1] = 0;                  /* INIT put its APIC back in xAPIC mode */
	*reg(0xE0) = 0xFFFFFFFF;           /* DFR: flat */
	*reg(0xD0) = 2u << 24;             /* LDR: logical ID 2 */
	*reg(0xF0) = 0x1FF;                /* software-enable */
	__atomic_add_fetch(&starts, 1, __ATOMIC_SEQ_CST);
	for (;;)
		__asm__ volatile("sti; hlt" ::: "memory");
}

/* xAPIC ICR (12.6.1): destination, then the low word that sends. */
static void send(uint32_t destination, uint32_t low)
{
	*reg(0x310) = destination << 24;
	*reg(0x300) = low;
}
static void send_x2(uint32_t destination, uint32_t low) { wrmsr(MSR_X2APIC_ICR, (uint64_t)destination << 32 | low); }

/* Waits (PAUSE hands the host CPU to the other vCPU) until *p >= n. */
static int wait_for(volatile uint32_t *p, uint32_t n)
{
	for (uint32_t i = 0; i < 200000; i++) {
		if (*p >= n)
			return 1;
		__asm__ volatile("pause");
	}
	return 0;
}
static void settle(void) { for (int i = 0; i < 200; i++) __asm__ volatile("pause"); }

static void setup(const char *tag)
{
	guest_setup_traps();
	for (uint32_t v = 32; v < 256; v++)
		guest_set_irq_handler(v, on_interrupt);
	__asm__ volatile("sidt %0\n sgdt %1" : "=m"(idtr), "=m"(gdtr));
	struct { uint16_t lo, sel; uint8_t zero, type; uint16_t hi; } __attribute__((packed)) *idt = (void *)idtr.base;
	uint32_t nmi = (uint32_t)nmi_stub;
	idt[2].lo = (uint16_t)nmi;
	idt[2].hi = (uint16_t)(nmi >> 16);
	for (char *s = tramp_start; s < tramp_end; s++)
		((volatile char *)TRAMPOLINE)[s - tramp_start] = *s;
	for (unsigned i = 0; i < sizeof gdtr; i++)
		((volatile char *)TRAMPOLINE + (tramp_gdtr - tramp_start))[i] = ((char *)&gdtr)[i];
	*reg(0xE0) = 0xFFFFFFFF;
	*reg(0xD0) = 1u << 24;             /* logical ID 1 */
	*reg(0xF0) = 0x1FF;
	send(1, 0x4500);                   /* INIT, assert */
	send(1, 0x8500);                   /* INIT, de-assert */
	send(1, 0x4600 | (TRAMPOLINE >> 12));
	guest_check(tag, "vCPU 1 starts by INIT and STARTUP", wait_for(&starts, 1));
	__asm__ volatile("sti" ::: "memory");
}

static uint32_t total(uint32_t v)
{
	uint32_t n = 0;
	for (int i = 0; i < 256; i++)
		n += counts[v][i];
	return n;
}

/* --- the neighbour ----------------------------------------------------------- */

/* Prints the vectors vCPU v took beyond what it asked for; answers how many. */
static uint32_t unasked(uint32_t v, const uint8_t *asked, int n_asked)
{
	uint32_t extra = 0;
	for (int i = 0; i < 256; i++) {
		uint32_t c = counts[v][i];
		for (int k = 0; k < n_asked; k++)
			if (asked[k] == i && c)
				c--;
		if (!c)
			continue;
		extra += c;
		puts("ipi-victim: vCPU ");
		putdec(v);
		puts(" took vector ");
		puthex((uint32_t)i);
		puts(" ");
		putdec(c);
		puts(" times unasked\n");
	}
	return extra;
}

static uint32_t victim(uint32_t ms)
{
	const char *tag = "ipi-victim";
	setup(tag);
	send(1, 0x4060);                   /* fixed 0x60 to its vCPU 1 */
	*reg(0x300) = 0x44061;             /* fixed 0x61 to itself (shorthand self) */
	guest_check(tag, "its own IPIs arrive: 0x60 at vCPU 1, 0x61 at vCPU 0",
		    wait_for(&counts[1][0x60], 1) && wait_for(&counts[0][0x61], 1));
	puts("ipi-victim: watching\n");
	uint64_t end = rdtsc() + (uint64_t)tsc_khz() * ms;
	uint32_t yields = 0;
	while (rdtsc() < end) {
		guest_yield();
		yields++;
	}
	send(1, 0x4062);                   /* is vCPU 1 still there, as it was? */
	int alive = wait_for(&counts[1][0x62], 1);
	settle();
	static const uint8_t asked0[] = { 0x61 }, asked1[] = { 0x60, 0x62 };
	uint32_t extra0 = unasked(0, asked0, 1), extra1 = unasked(1, asked1, 2);
	puts("ipi-victim: watched ");
	putdec(ms);
	puts(" ms (");
	putdec(yields);
	puts(" yields): unasked interrupts vCPU 0 ");
	putdec(extra0);
	puts(", vCPU 1 ");
	putdec(extra1);
	puts("; NMIs ");
	putdec(nmis[0]);
	puts(", ");
	putdec(nmis[1]);
	puts("; vCPU 1 started ");
	putdec(starts);
	puts(" time(s)\n");
	guest_check(tag, "no interrupt and no NMI it did not ask for", extra0 == 0 && extra1 == 0 && nmis[0] == 0 && nmis[1] == 0);
	guest_check(tag, "vCPU 1 was started once and still answers with its LDR (no INIT, no STARTUP reached it)",
		    starts == 1 && alive && ap_ldr == 2u << 24);
	return guest_failures;
}

/* --- the attacker ------------------------------------------------------------ */

static uint32_t attacker(void)
{
	const char *tag = "ipi-attack";
	/* Let the neighbour start watching first. */
	for (int i = 0; i < 20; i++)
		guest_yield();
	setup(tag);
	puts("ipi-attack: attacking\n");
	/* Physical destinations that are no vCPU of its own. */
	for (uint32_t id = 2; id <= 254; id++) {
		send(id, 0x4050);          /* fixed 0x50 */
		send(id, 0x4157);          /* lowest priority 0x57 */
		send(id, 0x4400);          /* NMI */
		send(id, 0x4500);          /* INIT, assert */
		send(id, 0x8500);          /* INIT, de-assert */
		send(id, 0x4600 | (TRAMPOLINE >> 12));
	}
	settle();
	guest_check(tag, "fixed, lowest-priority, NMI, INIT and STARTUP to APIC IDs 2..254 reach none of its vCPUs",
		    total(0) == 0 && total(1) == 0 && nmis[0] == 0 && nmis[1] == 0 && starts == 1);

	send(1, 0x4056);                   /* to its own vCPU 1 */
	send(0xFF, 0x4051);                /* physical broadcast: both */
	*reg(0x300) = 0xC4052;             /* all excluding self: vCPU 1 */
	*reg(0x300) = 0x84053;             /* all including self: both */
	send(0xFC, 0x4854);                /* logical 0xFC (flat): no logical ID of its own */
	send(0xFF, 0x4855);                /* logical 0xFF: both */
	send(0x03, 0x4958);                /* logical, lowest priority: one of the two */
	*reg(0x300) = 0xC4400;             /* NMI, all excluding self: vCPU 1 */
	int arrived = wait_for(&counts[1][0x56], 1) && wait_for(&counts[1][0x51], 1) && wait_for(&counts[1][0x52], 1) &&
		      wait_for(&counts[1][0x53], 1) && wait_for(&counts[1][0x55], 1) && wait_for(&nmis[1], 1) &&
		      wait_for(&counts[0][0x55], 1);
	settle();
	guest_check(tag, "its vCPU 1 takes ID 1, broadcast, all-but-self, all, logical 0xFF and the all-but-self NMI once each",
		    arrived && counts[1][0x56] == 1 && counts[1][0x51] == 1 && counts[1][0x52] == 1 && counts[1][0x53] == 1 &&
		    counts[1][0x55] == 1 && counts[1][0x54] == 0 && nmis[1] == 1);
	guest_check(tag, "its vCPU 0 takes the broadcast, all and logical 0xFF, not all-but-self nor its NMI",
		    counts[0][0x51] == 1 && counts[0][0x53] == 1 && counts[0][0x55] == 1 && counts[0][0x52] == 0 &&
		    counts[0][0x56] == 0 && counts[0][0x54] == 0 && nmis[0] == 0);
	guest_check(tag, "a logical lowest-priority IPI reaches exactly one of its vCPUs",
		    counts[0][0x58] + counts[1][0x58] == 1);

	*reg(0x300) = 0xC4500;             /* INIT to all but self: its own vCPU 1 */
	*reg(0x300) = 0xC8500;
	*reg(0x300) = 0xC4600 | (TRAMPOLINE >> 12);
	guest_check(tag, "INIT and STARTUP to all but self restart its vCPU 1", wait_for(&starts, 2) && starts == 2);

	uint32_t a, b, c, d;
	cpuid(1, 0, &a, &b, &c, &d);
	if (c & (1u << 21)) {
		/* x2APIC on both vCPUs: 32-bit destinations through MSR 0x830. */
		send(1, 0x4000 | SWITCH_TO_X2APIC);
		int switched = wait_for(&x2apic_on[1], 1);
		wrmsr(MSR_APIC_BASE, rdmsr(MSR_APIC_BASE) | X2APIC_ENABLE);
		x2apic_on[0] = 1;
		uint32_t before0 = total(0), before1 = total(1);
		static const uint32_t far[] = { 0x100, 0xFFFF, 0x12345678, 0xFFFFFFFE };
		for (uint32_t k = 0; k < 253 + 4; k++) {
			uint32_t id = k < 253 ? k + 2 : far[k - 253];
			send_x2(id, 0x4059);       /* fixed 0x59 */
			send_x2(id, 0x4400);       /* NMI */
			send_x2(id, 0x4500);       /* INIT */
			send_x2(id, 0x4600 | (TRAMPOLINE >> 12));
		}
		send_x2(0x0001FFFF, 0x485A);       /* logical: cluster 1, none of its own */
		send_x2(0x0000FFFC, 0x485A);       /* logical: cluster 0, IDs 2-15 */
		settle();
		guest_check(tag, "x2APIC: fixed, NMI, INIT and STARTUP to IDs 2..254, 0x100 and beyond, and foreign logical clusters reach none of its vCPUs",
			    switched && total(0) == before0 && total(1) == before1 &&
			    nmis[0] == 0 && nmis[1] == 1 && starts == 2);
		send_x2(1, 0x405B);                /* physical ID 1 */
		send_x2(0xFFFFFFFF, 0x405C);       /* broadcast: both */
		send_x2(0x00000002, 0x485D);       /* logical cluster 0, bit 1: vCPU 1 */
		int got = wait_for(&counts[1][0x5B], 1) && wait_for(&counts[1][0x5C], 1) && wait_for(&counts[1][0x5D], 1) &&
			  wait_for(&counts[0][0x5C], 1);
		settle();
		guest_check(tag, "x2APIC: ID 1, the broadcast and logical 0x2 reach its vCPU 1 once each, vCPU 0 the broadcast",
			    got && counts[1][0x5B] == 1 && counts[1][0x5C] == 1 && counts[1][0x5D] == 1 &&
			    counts[0][0x5C] == 1 && counts[0][0x5B] == 0 && counts[0][0x5D] == 0);
		puts("ipi-attack: x2APIC offered: tried it too\n");
	} else {
		puts("ipi-attack: x2APIC not offered\n");
	}
	puts("ipi-attack: done\n");
	return guest_failures;
}

uint32_t guest_main(uint32_t magic, const struct multiboot_info *info)
{
	if (guest_option(info, "attack=", 0))
		return attacker();
	return victim(guest_option(info, "ms=", 3000));
}
