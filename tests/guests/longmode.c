/* The way to long mode and back, as Linux walks it: CR0/CR4 as the guest
 * wrote them (no trace of the hypervisor's own bits), 32-bit PAE paging
 * (whose PDPTEs VT-x with EPT takes from the VMCS), PAE + EFER.LME +
 * CR0.PG gives EFER.LMA, 64-bit code runs (CPUID, port I/O, CR8), then
 * paging off again clears LMA. And the syscall MSRs the guest writes
 * directly stay its own while other guests run (give each instance its own
 * cmdline). With "vmxe" in the cmdline it also checks that setting
 * CR4.VMXE raises #GP (VT-x hidden; QEMU TCG's AMD-V gets this wrong for
 * the reserved bit, so only ask for it on Intel hosts). Exits 0 when all
 * hold. */
#include "guest.h"


#define check(what, ok) guest_check("longmode", what, ok)


#define CR0_PE (1u << 0)
#define CR0_NE (1u << 5)
#define CR0_PG (1u << 31)
#define CR4_PAE (1u << 5)
#define CR4_VMXE (1u << 13)
#define MSR_EFER 0xC0000080
#define EFER_LME (1u << 8)
#define EFER_LMA (1u << 10)
#define MSR_LSTAR 0xC0000082
#define MSR_KERNEL_GS_BASE 0xC0000102

/* Identity map of the first 1 GiB in 2 MiB pages. */

/* 32-bit PAE paging: 0-2 MiB identity, 2-4 MiB an alias of 0-2 MiB. */
static uint64_t pae_pdpt[4] __attribute__((aligned(32)));
static uint64_t pae_pd[512] __attribute__((aligned(4096)));
static volatile uint32_t marker = 0x5eed1e55;

/* null, 32-bit code (0x08), data (0x10), 64-bit code (0x18) */
static uint64_t gdt[4] = { 0, 0x00CF9A000000FFFFull, 0x00CF92000000FFFFull, 0x00AF9A000000FFFFull };

/* What the 64-bit code found. */
volatile uint32_t long_cpuid_max, long_cs, long_cr8;

/* Far-jumps to 64-bit code, which runs CPUID, writes '*' to the UART's
 * scratch register, loads CR8 and reads it back, and far-returns to 32-bit
 * compatibility mode. */
static void visit_64bit_mode(void)
{
	__asm__ volatile(
		"push %%ebx\n"
		"ljmp $0x18, $1f\n"
		".code64\n"
		"1: mov %%esp, %%esp\n"             /* RSP[63:32] are undefined after the switch */
		"xor %%eax, %%eax\n"
		"xor %%ecx, %%ecx\n"
		"cpuid\n"
		"mov %%eax, long_cpuid_max(%%rip)\n"
		"mov %%cs, %%eax\n"
		"mov %%eax, long_cs(%%rip)\n"
		"mov $0x3ff, %%dx\n"
		"mov $0x2a, %%al\n"
		"out %%al, %%dx\n"
		"mov $9, %%eax\n"
		"mov %%rax, %%cr8\n"
		"xor %%eax, %%eax\n"
		"mov %%cr8, %%rax\n"
		"mov %%eax, long_cr8(%%rip)\n"
		"xor %%eax, %%eax\n"
		"mov %%rax, %%cr8\n"
		"pushq $0x08\n"
		"lea 2f(%%rip), %%rax\n"
		"pushq %%rax\n"
		"lretq\n"
		".code32\n"
		"2: pop %%ebx\n"
		::: "eax", "ecx", "edx", "memory");
}

static int has_word(const struct multiboot_info *info, const char *word)
{
	if (!(info->flags & 4))
		return 0;
	for (const char *p = (const char *)info->cmdline; *p; p++) {
		const char *w = word, *q = p;
		while (*w && *q == *w) { w++; q++; }
		if (!*w)
			return 1;
	}
	return 0;
}

static uint32_t seed_of(const struct multiboot_info *info)
{
	uint32_t seed = 2166136261u;
	if (info->flags & 4)
		for (const char *p = (const char *)info->cmdline; *p; p++)
			seed = (seed ^ (uint8_t)*p) * 16777619u;
	return seed;
}

uint32_t guest_main(uint32_t magic, const struct multiboot_info *info)
{
	uint32_t seed = seed_of(info);
	guest_setup_traps();
	struct { uint16_t limit; uint32_t base; } __attribute__((packed)) g = { sizeof gdt - 1, (uint32_t)gdt };
	__asm__ volatile("lgdt %0" :: "m"(g));

	check("CR0 reads PE|ET as loaded, without NE", (read_cr0() & ~0x10u) == CR0_PE);
	check("CR4 reads 0 as loaded (no VMXE)", read_cr4() == 0);
	write_cr0(read_cr0() | CR0_NE);
	check("CR0.NE reads back set", read_cr0() & CR0_NE);
	write_cr0(read_cr0() & ~CR0_NE);
	check("CR0.NE reads back clear", !(read_cr0() & CR0_NE));
	if (has_word(info, "vmxe")) {
		check("setting CR4.VMXE raises #GP", TRAP_OF("mov %%cr4, %%eax\n or $0x2000, %%eax\n mov %%eax, %%cr4") == 13);
		check("CR4 is still 0", read_cr4() == 0);
	}

	pae_pd[0] = 0x83;                                   /* P, RW, PS */
	pae_pd[1] = 0x83;
	pae_pdpt[0] = (uint32_t)pae_pd | 0x1;               /* bits 1-2 reserved in a PDPTE */
	__asm__ volatile("mov %0, %%cr3" :: "r"(pae_pdpt) : "memory");
	write_cr4(read_cr4() | CR4_PAE);
	write_cr0(read_cr0() | CR0_PG);
	uint32_t alias = *(volatile uint32_t *)((uint32_t)&marker + 0x200000);
	write_cr0(read_cr0() & ~CR0_PG);
	write_cr4(read_cr4() & ~CR4_PAE);
	check("32-bit PAE paging translates (an alias 2 MiB up reads the same word)", alias == marker);
	check("PAE paging left EFER.LMA clear", !(rdmsr(MSR_EFER) & EFER_LMA));

	/* KERNEL_GS_BASE and LSTAR are the guest's own (no exit on access). */
	wrmsr(MSR_KERNEL_GS_BASE, (uint64_t)seed << 12);
	wrmsr(MSR_LSTAR, 0xFFFFFFFF80000000ull | (seed & 0xFFFFF000));

	guest_long_mode_tables();
	check("EFER.LMA is clear before paging", !(rdmsr(MSR_EFER) & EFER_LMA));
	write_cr0(read_cr0() | CR0_PG);
	check("CR0.PG turns EFER.LMA on", rdmsr(MSR_EFER) & EFER_LMA);
	check("CR4 reads PAE only", read_cr4() == CR4_PAE);

	visit_64bit_mode();
	check("64-bit code ran CPUID", long_cpuid_max >= 1);
	check("64-bit code ran on the 64-bit code segment", long_cs == 0x18);
	check("64-bit code wrote the UART scratch register", inb(COM1 + 7) == 0x2a);
	check("CR8 reads back what 64-bit code wrote", long_cr8 == 9);

	write_cr0(read_cr0() & ~CR0_PG);
	check("CR0.PG off turns EFER.LMA off", !(rdmsr(MSR_EFER) & EFER_LMA));
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) & ~EFER_LME);
	write_cr4(read_cr4() & ~CR4_PAE);
	check("back in protected mode without paging", (read_cr0() & (CR0_PG | CR0_PE)) == CR0_PE);

	/* Let the other guests run, then find our MSRs as we left them. */
	for (int i = 0; i < 3; i++)
		guest_yield();
	check("KERNEL_GS_BASE kept its value while others ran", rdmsr(MSR_KERNEL_GS_BASE) == (uint64_t)seed << 12);
	check("LSTAR kept its value while others ran",
	      rdmsr(MSR_LSTAR) == (0xFFFFFFFF80000000ull | (seed & 0xFFFFF000)));
	return guest_failures;
}
