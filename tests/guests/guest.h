/* What every test guest shares: COM1 output and the exit port. */
#ifndef GUEST_H
#define GUEST_H
#include <stdint.h>
static inline void outb(uint16_t p, uint8_t v) { __asm__ volatile("outb %0, %1" :: "a"(v), "Nd"(p)); }
static inline void outl(uint16_t p, uint32_t v) { __asm__ volatile("outl %0, %1" :: "a"(v), "Nd"(p)); }
static inline uint8_t inb(uint16_t p) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(p)); return v; }
static inline uint32_t inl(uint16_t p) { uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(p)); return v; }

#define COM1 0x3f8
static inline void putc(char c)
{
	while (!(inb(COM1 + 5) & 0x20)) {}
	outb(COM1, (uint8_t)c);
}
static inline void puts(const char *s) { while (*s) putc(*s++); }
static inline void puthex(uint32_t v)
{
	puts("0x");
	for (int i = 28; i >= 0; i -= 4) putc("0123456789abcdef"[(v >> i) & 15]);
}
static inline void putdec(uint32_t v)
{
	char b[11]; int n = 0;
	do { b[n++] = (char)('0' + v % 10); v /= 10; } while (v);
	while (n) putc(b[--n]);
}
static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
	__asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(sub));
}
static inline uint32_t read_cr0(void) { uint32_t v; __asm__ volatile("mov %%cr0, %0" : "=r"(v)); return v; }
static inline uint32_t read_cr4(void) { uint32_t v; __asm__ volatile("mov %%cr4, %0" : "=r"(v)); return v; }
static inline void write_cr0(uint32_t v) { __asm__ volatile("mov %0, %%cr0" :: "r"(v) : "memory"); }
static inline void write_cr4(uint32_t v) { __asm__ volatile("mov %0, %%cr4" :: "r"(v) : "memory"); }
static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return lo | (uint64_t)hi << 32;
}
static inline void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" :: "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

/* lib.c: prints "<tag>: ok   <what>" or "<tag>: FAIL <what>", counting
 * the failures in guest_failures (the guest's exit status, usually). */
extern int guest_failures;
void guest_check(const char *tag, const char *what, int ok);

/* Gives the CPU to the other guests (the tshv "yield" hypercall, RAX =
 * "YELD"; as KVM's KVM_HC_SCHED_YIELD): VMMCALL on AMD, VMCALL on Intel.
 * HLT no longer yields: it waits for an interrupt, as on a real CPU. */
static inline void guest_yield(void)
{
	static int amd = -1;
	if (amd < 0) {
		uint32_t a, b, c, d;
		cpuid(0, 0, &a, &b, &c, &d);
		amd = b == 0x68747541;     /* "Auth" of AuthenticAMD */
	}
	if (amd)
		__asm__ volatile("vmmcall" :: "a"(0x444c4559) : "memory");
	else
		__asm__ volatile("vmcall" :: "a"(0x444c4559) : "memory");
}

/* Ends the guest with status v (the isa-debug-exit convention). */
static inline void guest_exit(uint32_t v) { outl(0xf4, v); for (;;) __asm__ volatile("cli; hlt"); }


/* The first fields of the multiboot information (Multiboot spec 3.3). */
struct multiboot_info { uint32_t flags, mem_lower, mem_upper, boot_device, cmdline; };
/* lib.c: the number after `key` in the command line, or `fallback`. */
uint32_t guest_option(const struct multiboot_info *info, const char *key, uint32_t fallback);

/* lib.c: interrupt vectors 32-255 call `handler(vector)` and return
 * (guest_setup_traps installs them); a vector without a handler is noted
 * in guest_unexpected_vector. */
void guest_set_irq_handler(uint32_t vector, void (*handler)(uint32_t vector));
extern volatile uint32_t guest_unexpected_vector;
static inline uint64_t rdtsc(void) { uint32_t lo, hi; __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi)); return lo | (uint64_t)hi << 32; }
/* The TSC's rate from the hypervisor's timing leaf (0x40000010), in kHz. */
static inline uint32_t tsc_khz(void) { uint32_t a, b, c, d; cpuid(0x40000010, 0, &a, &b, &c, &d); return a; }
static inline void outw_(uint16_t p, uint16_t v) { __asm__ volatile("outw %0, %1" :: "a"(v), "Nd"(p)); }
static inline void sti_hlt(void) { __asm__ volatile("sti; hlt; cli" ::: "memory"); }
/* lib.c: n / d without libgcc; TSC cycles as microseconds (by the timing
 * leaf); a check that `measured` is within `percent` of `expected`, both
 * printed, and one that allows `late` percent after a deadline (the host
 * may not run the emulator when it passes). */
uint32_t guest_udiv64(uint64_t n, uint32_t d);
uint32_t guest_tsc_us(uint64_t cycles);
void guest_check_within(const char *tag, const char *what, uint32_t measured, uint32_t expected, uint32_t percent);
void guest_check_deadline(const char *tag, const char *what, uint32_t measured, uint32_t expected, uint32_t percent,
			  uint32_t late);
/* Periodic interrupts timed by the TSC: a handler stamps each one with
 * guest_tick; guest_check_periodic then checks `count` stamps from `at`,
 * counted from `t0` (the tick before, or when the timer was armed). */
#define GUEST_TICKS_MAX 128
struct guest_ticks { volatile uint32_t n; uint64_t at[GUEST_TICKS_MAX]; };
static inline void guest_tick(struct guest_ticks *t)
{
	uint32_t n = t->n;
	if (n < GUEST_TICKS_MAX)
		t->at[n] = rdtsc();
	t->n = n + 1;
}
void guest_check_periodic(const char *tag, const char *what, uint64_t t0, const uint64_t *at, uint32_t count,
			  uint32_t period_us, uint32_t percent);
/* lib.c: traps that resume at a recovery label. */
extern volatile uint32_t last_vector, last_error, recover_eip;
void guest_setup_traps(void);

/* 4-level tables identity-mapping the first GiB by 2 MiB pages, in CR3,
 * with CR4.PAE and EFER.LME set: setting CR0.PG next enters long mode. */
void guest_long_mode_tables(void);
/* Runs the instruction(s) in `insn`; evaluates to the exception vector it
 * raised, or 0xFFFFFFFF if none. */
#define TRAP_OF(insn, ...) ({ \
	last_vector = 0xFFFFFFFF; \
	__asm__ volatile("movl $1f, recover_eip\n" insn "\n1:" ::: "memory", "eax", "ecx", "edx"); \
	last_vector; })
#endif
