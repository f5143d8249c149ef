/* XSAVE and AVX under the hypervisor: CPUID offers XSAVE and AVX, XSETBV
 * takes x87|SSE|AVX and refuses AVX without SSE (#GP), then, in long mode
 * (compatibility mode between visits to 64-bit code, so all 16 YMM
 * registers exist), a pattern from the cmdline ("pattern=N") goes into
 * ymm0-ymm15 and must still be there after each of `yields` (default 20)
 * yields (hypercall), while another guest fills the same registers with its own
 * pattern. Exits 0 when all hold. */
#include "guest.h"

#define check(what, ok) guest_check("avx", what, ok)

static uint64_t xgetbv0(void)
{
	uint32_t lo, hi;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return lo | (uint64_t)hi << 32;
}

#define CR0_MP (1u << 1)
#define CR0_EM (1u << 2)
#define CR0_TS (1u << 3)
#define CR0_NE (1u << 5)
#define CR0_PG (1u << 31)
#define CR4_PAE (1u << 5)
#define CR4_OSFXSR (1u << 9)
#define CR4_OSXMMEXCPT (1u << 10)
#define CR4_OSXSAVE (1u << 18)
#define MSR_EFER 0xC0000080
#define EFER_LME (1u << 8)

/* null, 32-bit code (0x08), data (0x10), 64-bit code (0x18) */
static uint64_t gdt[4] = { 0, 0x00CF9A000000FFFFull, 0x00CF92000000FFFFull, 0x00AF9A000000FFFFull };

/* ymm0-15 in, ymm0-15 out: 16 x 32 bytes each. */
uint32_t avx_in[128] __attribute__((aligned(32)));
uint32_t avx_out[128] __attribute__((aligned(32)));

#define YMM_LIST "0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15"

/* 64-bit code: loads ymm0-15 from avx_in (load != 0) or stores them to
 * avx_out, then far-returns to 32-bit compatibility mode. */
static void visit_64bit_mode(uint32_t load)
{
	__asm__ volatile(
		"push %%ebx\n"
		"ljmp $0x18, $1f\n"
		".code64\n"
		"1: mov %%esp, %%esp\n"
		"test %%eax, %%eax\n"
		"jz 3f\n"
		".irp r," YMM_LIST "\n"
		"vmovdqu avx_in+32*\\r(%%rip), %%ymm\\r\n"
		".endr\n"
		"jmp 4f\n"
		"3:\n"
		".irp r," YMM_LIST "\n"
		"vmovdqu %%ymm\\r, avx_out+32*\\r(%%rip)\n"
		".endr\n"
		"4: pushq $0x08\n"
		"lea 2f(%%rip), %%rax\n"
		"pushq %%rax\n"
		"lretq\n"
		".code32\n"
		"2: pop %%ebx\n"
		: "+a"(load) :: "ecx", "edx", "memory");
}

static int ymm_match(void)
{
	for (int i = 0; i < 128; i++)
		if (avx_out[i] != avx_in[i])
			return 0;
	return 1;
}

uint32_t guest_main(uint32_t magic, const struct multiboot_info *info)
{
	uint32_t pattern = guest_option(info, "pattern=", 1);
	uint32_t yields = guest_option(info, "yields=", 20);
	uint32_t a, b, c, d;
	guest_setup_traps();

	cpuid(0, 0, &a, &b, &c, &d);
	uint32_t max = a;
	cpuid(1, 0, &a, &b, &c, &d);
	int xsave = (c >> 26) & 1, avx = (c >> 28) & 1;
	check("CPUID offers XSAVE", xsave);
	check("CPUID offers AVX", avx);
	check("CPUID.1:ECX.OSXSAVE is clear before CR4.OSXSAVE", !((c >> 27) & 1));
	if (!xsave || !avx || max < 0xd) {
		puts("avx: FAIL no XSAVE/AVX, nothing more to test\n");
		return 1;
	}
	cpuid(7, 0, &a, &b, &c, &d);
	puts((b >> 5) & 1 ? "avx: AVX2 offered\n" : "avx: AVX2 not offered\n");
	cpuid(0xd, 0, &a, &b, &c, &d);
	check("CPUID.(0xD,0) offers x87|SSE|AVX only", a == 0x7 && d == 0);
	check("CPUID.(0xD,0).ECX is 832 bytes", c == 832);

	write_cr0((read_cr0() & ~(CR0_EM | CR0_TS)) | CR0_MP | CR0_NE);
	write_cr4(read_cr4() | CR4_OSFXSR | CR4_OSXMMEXCPT | CR4_OSXSAVE);
	cpuid(1, 0, &a, &b, &c, &d);
	check("CPUID.1:ECX.OSXSAVE follows CR4.OSXSAVE", (c >> 27) & 1);
	check("XCR0 is x87 at reset", xgetbv0() == 1);
	check("XSETBV AVX without SSE (0x5) raises #GP",
	      TRAP_OF("mov $5, %%eax\n xor %%edx, %%edx\n xor %%ecx, %%ecx\n xsetbv") == 13);
	check("XSETBV AVX-512 (0xe7) raises #GP",
	      TRAP_OF("mov $0xe7, %%eax\n xor %%edx, %%edx\n xor %%ecx, %%ecx\n xsetbv") == 13);
	check("XCR0 is still x87", xgetbv0() == 1);
	check("XSETBV x87|SSE|AVX (0x7) works",
	      TRAP_OF("mov $7, %%eax\n xor %%edx, %%edx\n xor %%ecx, %%ecx\n xsetbv") == 0xFFFFFFFF);
	check("XCR0 reads back 0x7", xgetbv0() == 7);
	cpuid(0xd, 0, &a, &b, &c, &d);
	check("CPUID.(0xD,0).EBX is 832 bytes for XCR0 0x7", b == 832);

	/* Long mode, identity-mapped first GiB; compatibility mode between
	 * the visits to 64-bit code. No exceptions from here on. */
	struct { uint16_t limit; uint32_t base; } __attribute__((packed)) g = { sizeof gdt - 1, (uint32_t)gdt };
	__asm__ volatile("lgdt %0" :: "m"(g));
	guest_long_mode_tables();
	write_cr0(read_cr0() | CR0_PG);

	uint32_t x = pattern * 2654435761u + 0x9e3779b9u;
	for (int i = 0; i < 128; i++) {
		x ^= x << 13; x ^= x >> 17; x ^= x << 5;
		avx_in[i] = x;
	}
	visit_64bit_mode(1);
	visit_64bit_mode(0);
	check("ymm0-ymm15 hold the pattern", ymm_match());
	uint32_t good = 0;
	for (uint32_t i = 0; i < yields; i++) {
		guest_yield();
		visit_64bit_mode(0);
		good += ymm_match();
	}
	puts(good == yields ? "avx: ok   " : "avx: FAIL ");
	puts("ymm0-ymm15 kept the pattern across ");
	putdec(good);
	puts(" of ");
	putdec(yields);
	puts(" yields\n");
	guest_failures += good != yields;
	check("XCR0 is still 0x7 after the yields", xgetbv0() == 7);
	return guest_failures;
}
