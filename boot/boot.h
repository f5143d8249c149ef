/*
 * What the stub's own files tell each other; the contract with the rest of
 * the hypervisor is hv.h.
 */
#ifndef BOOT_H
#define BOOT_H

#include "hv.h"

/* boot/console.c */
void console_flush(void);          /* waits until the UART has sent it all */

/* boot/gdt.c, boot/idt.c; IST slots (1-based, as in the IDT gate). */
#define IST_DOUBLE_FAULT  1
#define IST_NMI           2
#define IST_MACHINE_CHECK 3
void gdt_init(unsigned cpu);   /* this CPU's GDT and TSS */
void idt_init(void);          /* the IDT, shared; idt_load on the other CPUs */
void idt_load(void);
#define VECTOR_TIMER    0x20
#define VECTOR_SPURIOUS 0xFF
extern char isr_timer[], isr_spurious[], isr_nmi[];
extern volatile uint64_t host_nmi_count;

/* boot/lapic.c: the local APIC: time slices and starting CPUs */
/* On the boot CPU: masks the legacy PICs, enables the LAPIC, measures the
 * timer. False when there is no usable LAPIC. */
/* A machine check exited guest `name`: log, clear (boot/mce.c). */
void mce_guest_exit(const char *name);
void mce_enable_host(void);           /* on each CPU: CR4.MCE */
/* Transient-execution mitigations (boot/mitigations.c). */
void mitigations_probe(void);         /* once, prints what is on */
void mitigations_guest_switch(unsigned guest);
void mitigations_before_entry(void);
void lapic_timer_measure_start(void);   /* early: lapic_init() finishes it */
bool lapic_init(void);
uint32_t lapic_id(void);
/* Readies the calling CPU's one-shot timer; lapic_timer_arm sets it to
 * fire at a TSC value. */
bool lapic_timer_start(void);
void lapic_timer_arm(uint64_t deadline_tsc);
void lapic_timer_stop(void);
void lapic_timer_interrupt(void);
void lapic_start_cpu(uint32_t apic_id, uint8_t vector);

/* boot/fpu.c: the guests' FPU, SSE and AVX state */
struct guest_fpu {
	uint8_t *xsave;             /* standard-format XSAVE area (a page), with XSAVE */
	uint64_t xcr0;              /* the guest's XCR0 */
	uint8_t fxsave[512] __attribute__((aligned(16)));  /* without XSAVE */
};
void fpu_probe(void);                 /* once: which XCR0 components guests get */
uint64_t fpu_guest_overhead(void);    /* bytes per guest (the XSAVE page) */
void fpu_enable_host(void);           /* on each CPU, before the backend */
bool fpu_host_ready(void);            /* after it: false if CR4.OSXSAVE did not stick */
bool guest_fpu_init(struct guest_fpu *f);   /* false: out of memory */
void guest_fpu_release(struct guest_fpu *f);
/* Saves `from` (NULL: nothing to save), loads `to`, on this CPU. */
void guest_fpu_switch(struct guest_fpu *from, struct guest_fpu *to);
/* A new XCR0 the core accepted (checked again here); loaded at once when
 * this CPU holds the guest's state. */
void guest_fpu_set_xcr0(struct guest_fpu *f, uint64_t value, bool on_this_cpu);
/* After an exit: keep the guest's XCR0 in step with the CPU's. */
void guest_fpu_sync_xcr0(struct guest_fpu *f);

/* boot/smp.c: the other CPUs */
/* Starts every enabled CPU the ACPI MADT lists; returns how many CPUs are
 * online (at least 1). They wait in smp_wait_for_work until released. */
unsigned smp_start(void);
/* Releases the other CPUs into `work(cpu index)`, runs it on this CPU
 * too, and returns when every CPU has returned from it. */
void smp_run_everywhere(void (*work)(unsigned cpu));
/* Takes an interrupt that is pending (a VM exit for a host interrupt leaves
 * it pending: SVM with interrupts masked until here, VT-x without
 * acknowledge-on-exit). */
static inline void host_interrupt_window(void) { __asm__ volatile("sti; nop; cli" ::: "memory"); }

/* boot/multiboot2.c */
struct memory_range {
	uint64_t base, length;
	uint32_t type;                 /* MB2_MEMORY_* below */
};
#define MB2_MEMORY_AVAILABLE 1
void multiboot2_parse(uint32_t magic, uint64_t info_phys);
unsigned multiboot2_memory_count(void);
const struct memory_range *multiboot2_memory(unsigned index);
const void *multiboot2_rsdp(void);   /* copy of the RSDP GRUB passed, or NULL */
/* The screen GRUB left us, if it is one screen.c can draw on. */
struct framebuffer {
	uint64_t address;
	uint32_t pitch, width, height;
	uint8_t bpp;
	bool text;                  /* EGA text mode: 2 bytes per cell */
	uint8_t red_position, green_position, blue_position;
};
const struct framebuffer *multiboot2_framebuffer(void);

/* boot/screen.c: the console on the screen, beside COM1 */
void screen_init(const struct framebuffer *f);
/* Called with the console lock held, from what console.c's ring holds. */
void screen_write(const char *s, size_t n);
/* Physical ranges pmm must never hand out: the boot information, modules. */
unsigned multiboot2_reserved_count(void);
void multiboot2_reserved(unsigned index, uint64_t *base, uint64_t *end);

/* boot/pmm.c */
void pmm_init(void);

/* boot/tsc.c */
void tsc_calibrate(void);
/* The same, overlapped with the boot's work and then the guests': start,
 * work, a first rate (quick), and the settled one while guests run
 * (tsc_settle_poll, tsc_hz_settled in hv.h). */
void tsc_calibrate_start(void);
void tsc_calibrate_quick(void);

/* boot/acpi.c: tables by signature (from the RSDT/XSDT) or by address
 * (the DSDT, which only the FADT points at). NULL if absent or corrupt. */
const void *acpi_find_table(const char signature[4]);
const void *acpi_table_at(uint64_t address, const char signature[4]);

/* Linker symbols (linker/kernel.ld): physical bounds of the loaded image. */
extern const char __kernel_phys_start[], __kernel_phys_end[];

static inline void cpuid(uint32_t leaf, uint32_t subleaf, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
	__asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(subleaf));
}

/* A pointer to physical memory below 4 GiB (identity-mapped). The empty asm
 * hides fixed addresses from GCC, which otherwise treats them as objects of
 * size 0 and warns (-Warray-bounds) on every access. */
static inline void *phys_to_virt(uint64_t address)
{
	void *p = (void *)(uintptr_t)address;
	__asm__("" : "+r"(p));
	return p;
}

/* Model-specific registers; both arch backends and the stub use them. */
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

static inline uint64_t read_cr2(void)
{
	uint64_t v;
	__asm__ volatile("mov %%cr2, %0" : "=r"(v));
	return v;
}

#endif
