/*
 * What the test guests share beyond guest.h: their own GDT and an IDT whose
 * handlers record the exception and resume at a recovery point, so a guest
 * can check that the hypervisor injected #UD or #GP where it should.
 */
#include "guest.h"

struct gdt_entry { uint16_t limit, base_lo; uint8_t base_mid, access, flags_limit, base_hi; } __attribute__((packed));
struct idt_entry { uint16_t offset_lo, selector; uint8_t zero, type; uint16_t offset_hi; } __attribute__((packed));
struct table_register { uint16_t limit; uint32_t base; } __attribute__((packed));

static struct gdt_entry gdt[3] = {
	{ 0 },
	{ 0xFFFF, 0, 0, 0x9A, 0xCF, 0 },   /* 0x08: flat 32-bit code */
	{ 0xFFFF, 0, 0, 0x92, 0xCF, 0 },   /* 0x10: flat data */
};
static struct idt_entry idt[256];

volatile uint32_t last_vector = 0xFFFFFFFF, last_error = 0;
volatile uint32_t recover_eip;

/* Each stub pushes its vector (and a dummy error code where the CPU does
 * not push one), then jumps to the common handler. */
extern char exception_stubs[];
__asm__(
	".text\n"
	".align 16\n"
	"exception_stubs:\n"
	".irp v,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31\n"
	".align 16\n"
	".if (\\v == 8) || (\\v >= 10 && \\v <= 14) || (\\v == 17) || (\\v == 21)\n"
	"  push $\\v\n"
	".else\n"
	"  push $0\n"
	"  push $\\v\n"
	".endif\n"
	"  jmp exception_common\n"
	".endr\n"
	"exception_common:\n"
	"  pop last_vector\n"
	"  pop last_error\n"
	/* Resume at the recovery point: rewrite the saved EIP. */
	"  push %eax\n"
	"  mov recover_eip, %eax\n"
	"  mov %eax, 4(%esp)\n"
	"  pop %eax\n"
	"  iret\n");

/* Vectors 32-255: each stub pushes its vector and calls the handler the
 * guest set (guest_set_irq_handler), then returns to the interrupted code. */
static void (*irq_handlers[256])(uint32_t vector);
volatile uint32_t guest_unexpected_vector;
extern char irq_stubs[];
__attribute__((used)) static void irq_dispatch(uint32_t vector)
{
	if (irq_handlers[vector & 0xFF])
		irq_handlers[vector & 0xFF](vector);
	else
		guest_unexpected_vector = vector;
}
__asm__(
	".text\n"
	".align 16\n"
	"irq_stubs:\n"
	".set v, 32\n"
	".rept 224\n"
	".align 16\n"
	"  pushal\n"
	"  push $v\n"
	"  call irq_dispatch\n"
	"  add $4, %esp\n"
	"  popal\n"
	"  iret\n"
	".set v, v + 1\n"
	".endr\n");

void guest_set_irq_handler(uint32_t vector, void (*handler)(uint32_t vector))
{
	irq_handlers[vector & 0xFF] = handler;
}

void guest_setup_traps(void)
{
	for (int v = 0; v < 32; v++) {
		uint32_t handler = (uint32_t)(exception_stubs + 16 * v);
		idt[v] = (struct idt_entry){ (uint16_t)handler, 0x08, 0, 0x8E, (uint16_t)(handler >> 16) };
	}
	for (int v = 32; v < 256; v++) {
		uint32_t handler = (uint32_t)(irq_stubs + 16 * (v - 32));
		idt[v] = (struct idt_entry){ (uint16_t)handler, 0x08, 0, 0x8E, (uint16_t)(handler >> 16) };
	}
	struct table_register g = { sizeof gdt - 1, (uint32_t)gdt }, i = { sizeof idt - 1, (uint32_t)idt };
	__asm__ volatile("lgdt %0\n"
			 "ljmp $0x08, $1f\n"
			 "1: mov $0x10, %%ax\n"
			 "mov %%ax, %%ds\n mov %%ax, %%es\n mov %%ax, %%ss\n mov %%ax, %%fs\n mov %%ax, %%gs\n"
			 "lidt %1" :: "m"(g), "m"(i) : "eax", "memory");
}

uint32_t guest_option(const struct multiboot_info *info, const char *key, uint32_t fallback)
{
	if (!(info->flags & 4))
		return fallback;
	for (const char *p = (const char *)info->cmdline; *p; p++) {
		const char *k = key, *q = p;
		while (*k && *q == *k) { k++; q++; }
		if (*k)
			continue;
		uint32_t v = 0;
		while (*q >= '0' && *q <= '9')
			v = v * 10 + (uint32_t)(*q++ - '0');
		return v;
	}
	return fallback;
}

int guest_failures;

void guest_check(const char *tag, const char *what, int ok)
{
	puts(tag);
	puts(ok ? ": ok   " : ": FAIL ");
	puts(what);
	puts("\n");
	guest_failures += !ok;
}

uint32_t guest_udiv64(uint64_t n, uint32_t d)
{
	/* Long division: the guests build without libgcc's __udivdi3. */
	uint64_t q = 0, r = 0;
	for (int i = 63; i >= 0; i--) {
		r = (r << 1) | ((n >> i) & 1);
		if (r >= d) {
			r -= d;
			q |= 1ull << i;
		}
	}
	return q > 0xFFFFFFFFu ? 0xFFFFFFFFu : (uint32_t)q;
}

uint32_t guest_tsc_us(uint64_t cycles)
{
	uint32_t khz = tsc_khz();
	return khz ? guest_udiv64(cycles * 1000, khz) : 0;
}

/* A deadline is never met early, but it can be seen late by as long as
 * the host does not run the emulator: `percent` before, `late` after. */
void guest_check_deadline(const char *tag, const char *what, uint32_t measured, uint32_t expected, uint32_t percent,
			  uint32_t late)
{
	puts(tag); puts(": "); puts(what); puts(" "); putdec(measured);
	puts(" us (expected "); putdec(expected); puts(" us)\n");
	guest_check(tag, what, measured + expected / 100 * percent >= expected && measured <= expected + expected / 100 * late);
}

void guest_check_within(const char *tag, const char *what, uint32_t measured, uint32_t expected, uint32_t percent)
{
	guest_check_deadline(tag, what, measured, expected, percent, percent);
}

/* Two checks, both of which hold on hardware and under a loaded emulator:
 * the ticks came no faster than the period (the total, from t0, is at
 * least `count` periods), and the median spacing is the period. The total
 * has no upper bound: when the host does not run the emulator for longer
 * than a period, the periods that passed meanwhile coalesce into one
 * interrupt (the IRR holds one per vector, Intel SDM vol. 3A 11.8.4), which
 * moves the total and leaves the median alone. */
void guest_check_periodic(const char *tag, const char *what, uint64_t t0, const uint64_t *at, uint32_t count,
			  uint32_t period_us, uint32_t percent)
{
	static uint32_t spacing[GUEST_TICKS_MAX];
	uint32_t n = count < GUEST_TICKS_MAX ? count : GUEST_TICKS_MAX;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t s = guest_tsc_us(at[i] - (i ? at[i - 1] : t0)), j = i;
		for (; j > 0 && spacing[j - 1] > s; j--)      /* insertion sort */
			spacing[j] = spacing[j - 1];
		spacing[j] = s;
	}
	uint32_t median = n ? spacing[n / 2] : 0, total = n ? guest_tsc_us(at[n - 1] - t0) : 0;
	puts(tag); puts(": "); puts(what); puts(": "); putdec(n); puts(" ticks in "); putdec(total);
	puts(" us, median spacing "); putdec(median); puts(" us (expected "); putdec(period_us); puts(" us)\n");
	uint32_t slack = period_us / 100 * percent;
	guest_check(tag, "the ticks came no faster than their period",
		    n == count && (uint64_t)total * 100 >= (uint64_t)n * period_us * (100 - percent));
	guest_check(tag, what, median + slack >= period_us && median <= period_us + slack);
}

static uint64_t lm_pml4[512] __attribute__((aligned(4096)));
static uint64_t lm_pdpt[512] __attribute__((aligned(4096)));
static uint64_t lm_pd[512] __attribute__((aligned(4096)));

void guest_long_mode_tables(void)
{
	for (int i = 0; i < 512; i++)
		lm_pd[i] = (uint64_t)i << 21 | 0x83;        /* P, RW, PS */
	lm_pdpt[0] = (uint32_t)lm_pd | 0x3;
	lm_pml4[0] = (uint32_t)lm_pdpt | 0x3;
	__asm__ volatile("mov %0, %%cr3" :: "r"(lm_pml4) : "memory");
	write_cr4(read_cr4() | (1u << 5));              /* PAE */
	wrmsr(0xC0000080, rdmsr(0xC0000080) | (1u << 8)); /* EFER.LME */
}
