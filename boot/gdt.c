/*
 * The 64-bit GDT and the TSS. In long mode segments are flat; the GDT is
 * needed for CS/SS and to point at the TSS, whose only job here is the
 * interrupt stack table: #DF, NMI and #MC switch to known-good stacks even
 * when the current one is broken (Intel SDM vol. 3A 7.14.5, "Interrupt
 * Stack Table").
 */
#include "boot.h"
#include "percpu.h"

/* Descriptor bits: Intel SDM vol. 3A 3.4.5, figure 3-8. */
#define SEG_CODE64 0x00af9a000000ffffull   /* P, DPL0, code exec/read, L=1, G */
#define SEG_DATA   0x00cf92000000ffffull   /* P, DPL0, data read/write, G */
#define TSS_AVAILABLE 0x9                   /* 64-bit TSS, available (table 3-2) */

#define IST_STACK_SIZE 8192

/* 64-bit TSS: Intel SDM vol. 3A 8.7, figure 8-11. */
struct tss {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
} __attribute__((packed));

/* One GDT and TSS per CPU: LTR marks a TSS descriptor busy, and each CPU
 * needs IST stacks of its own. */
static struct tss tss_of[MAX_CPUS];
static uint8_t ist_stacks[MAX_CPUS][3][IST_STACK_SIZE] __attribute__((aligned(16), section(".noinit.ist_stacks")));
/* null, code, data, TSS (a 16-byte system descriptor). */
static uint64_t gdt_of[MAX_CPUS][5] __attribute__((aligned(16)));

struct table_pointer {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

void gdt_init(unsigned cpu)
{
	struct tss *tss = &tss_of[cpu];
	uint64_t *gdt = gdt_of[cpu];
	tss->ist[IST_DOUBLE_FAULT - 1] = (uint64_t)&ist_stacks[cpu][0][IST_STACK_SIZE];
	tss->ist[IST_NMI - 1] = (uint64_t)&ist_stacks[cpu][1][IST_STACK_SIZE];
	tss->ist[IST_MACHINE_CHECK - 1] = (uint64_t)&ist_stacks[cpu][2][IST_STACK_SIZE];
	tss->iomap_base = sizeof(*tss);      /* no I/O permission bitmap */

	uint64_t base = (uint64_t)tss;
	uint64_t limit = sizeof(*tss) - 1;
	gdt[0] = 0;
	gdt[HV_CS >> 3] = SEG_CODE64;
	gdt[HV_DS >> 3] = SEG_DATA;
	/* TSS descriptor: Intel SDM vol. 3A 8.2.3, figure 8-4. */
	gdt[HV_TSS >> 3] = (limit & 0xffff) | (base & 0xffffff) << 16 |
		(uint64_t)(0x80 | TSS_AVAILABLE) << 40 | ((limit >> 16) & 0xf) << 48 |
		((base >> 24) & 0xff) << 56;
	gdt[(HV_TSS >> 3) + 1] = base >> 32;

	struct table_pointer pointer = { sizeof(gdt_of[0]) - 1, (uint64_t)gdt };
	/* Reload CS with a far return, then the data segments and TR. */
	__asm__ volatile(
		"lgdt %0\n\t"
		"pushq %1\n\t"
		"leaq 1f(%%rip), %%rax\n\t"
		"pushq %%rax\n\t"
		"lretq\n"
		"1:\n\t"
		"movl %2, %%eax\n\t"
		"movl %%eax, %%ds\n\t"
		"movl %%eax, %%es\n\t"
		"movl %%eax, %%ss\n\t"
		"xorl %%eax, %%eax\n\t"
		"movl %%eax, %%fs\n\t"
		"movl %%eax, %%gs\n\t"
		"movw %3, %%ax\n\t"
		"ltr %%ax"
		:: "m"(pointer), "i"((uint64_t)HV_CS), "i"(HV_DS), "i"(HV_TSS)
		: "rax", "memory");
}
