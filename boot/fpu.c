/*
 * The guests' FPU, SSE and AVX state. The host never touches the FPU (it
 * is built -mgeneral-regs-only), so a CPU's FPU state and XCR0 belong to
 * the last guest it ran, and are switched only when the next guest is
 * another one (boot/exit_loop.c decides when).
 *
 * With XSAVE (CPUID.1:ECX.XSAVE), guests may use the XCR0 components in
 * xcr0_allowed: those the host supports among x87, SSE and AVX (never
 * MPX, AVX-512, PKRU or AMX). Each guest has a standard-format XSAVE area
 * (one page) and its own XCR0. Saving and restoring always covers every
 * allowed component, with XCR0 = xcr0_allowed for the two instructions:
 * legacy SSE instructions run whatever XCR0 says, so a guest with
 * XCR0 = x87 still owns XMM registers (and the YMM upper halves it cannot
 * reach must still not be another guest's). Then XCR0 becomes the next
 * guest's own. Without XSAVE: FXSAVE/FXRSTOR, x87 + SSE.
 */
#include "hv.h"
#include "boot.h"

#define XCR0_X87 0x1ull
#define XCR0_SSE 0x2ull
#define XCR0_AVX 0x4ull
#define XCR0_GUEST_COMPONENTS (XCR0_X87 | XCR0_SSE | XCR0_AVX)
#define CR4_OSXSAVE (1ull << 18)

static uint64_t xcr0_allowed EXIT_PATH_DATA;        /* 0: no XSAVE, FXSAVE is used */
/* AMD parts without CPUID 0x80000008 EBX bit 2 (XSaveErPtr) keep the last
 * x87 instruction and data pointers and opcode (FIP, FDP, FOP) through
 * FXRSTOR/XRSTOR while FSW.ES is clear, so the next guest would read the
 * previous one's (APM vol. 5, FXRSTOR; Linux's X86_BUG_FXSAVE_LEAK). */
static bool fxsave_leak;

/* Gives FIP, FDP and FOP fixed values (an x87 load of a known word) before
 * the next guest's state is loaded, as Linux does. */
static void clear_x87_pointers(void)
{
	static const uint32_t fixed;
	__asm__ volatile("fnclex; emms; fildl %0" :: "m"(fixed));
}

static inline void xsetbv0(uint64_t value)
{
	__asm__ volatile("xsetbv" :: "c"(0), "a"((uint32_t)value), "d"((uint32_t)(value >> 32)));
}

static inline void xsave_to(uint8_t *area, uint64_t mask)
{
	__asm__ volatile("xsave64 %0" : "=m"(*(uint8_t (*)[PAGE_SIZE])area)
			 : "a"((uint32_t)mask), "d"((uint32_t)(mask >> 32)));
}

static inline void xrstor_from(const uint8_t *area, uint64_t mask)
{
	__asm__ volatile("xrstor64 %0" :: "m"(*(const uint8_t (*)[PAGE_SIZE])area),
			 "a"((uint32_t)mask), "d"((uint32_t)(mask >> 32)));
}

static bool leaks_x87_pointers(void)
{
	uint32_t a, b, c, d;
	cpuid(0, 0, &a, &b, &c, &d);
	if (b != 0x68747541)                 /* "Auth"enticAMD */
		return false;
	cpuid(0x80000000, 0, &a, &b, &c, &d);
	if (a < 0x80000008)
		return true;
	cpuid(0x80000008, 0, &a, &b, &c, &d);
	return !(b & (1u << 2));
}

void fpu_probe(void)
{
	uint32_t a, b, c, d;
	xcr0_allowed = 0;
	fxsave_leak = leaks_x87_pointers();
	cpuid(0, 0, &a, &b, &c, &d);
	if (a < 0xd)
		return;
	cpuid(1, 0, &a, &b, &c, &d);
	if (!(c & (1u << 26)))
		return;
	/* Which components, and whether one page holds their standard-format
	 * area (SDM vol. 1, 13.4-13.5). */
	cpuid(0xd, 0, &a, &b, &c, &d);
	uint64_t allowed = ((uint64_t)d << 32 | a) & XCR0_GUEST_COMPONENTS;
	if ((allowed & (XCR0_X87 | XCR0_SSE)) != (XCR0_X87 | XCR0_SSE))
		return;
	uint32_t end = 576;                  /* legacy region + XSAVE header */
	for (unsigned i = 2; i < 64; i++) {
		if (!(allowed & (1ull << i)))
			continue;
		cpuid(0xd, i, &a, &b, &c, &d);  /* EAX size, EBX offset */
		if (b + a > end)
			end = b + a;
	}
	if (end > PAGE_SIZE)
		allowed &= XCR0_X87 | XCR0_SSE;
	xcr0_allowed = allowed;
}

uint64_t fpu_guest_overhead(void)
{
	return xcr0_allowed ? PAGE_SIZE : 0;
}

void fpu_enable_host(void)
{
	uint64_t cr0, cr4;
	__asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
	__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
	cr0 = (cr0 & ~(1ull << 2 | 1ull << 3)) | 1ull << 1 | 1ull << 5; /* EM=0 TS=0 MP=1 NE=1 */
	cr4 |= 1ull << 9 | 1ull << 10;                               /* OSFXSR, OSXMMEXCPT */
	if (xcr0_allowed)
		cr4 |= CR4_OSXSAVE;                                  /* XSAVE, XSETBV; XCR0 = 1 */
	__asm__ volatile("mov %0, %%cr0" :: "r"(cr0));
	__asm__ volatile("mov %0, %%cr4" :: "r"(cr4));
}

bool fpu_host_ready(void)
{
	uint64_t cr4;
	__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
	return !xcr0_allowed || (cr4 & CR4_OSXSAVE);
}

/* A guest's FPU state as after reset/FNINIT: FCW 0x37F, MXCSR 0x1F80
 * (SDM vol. 1, 10.5.1); in the XSAVE area XSTATE_BV = x87|SSE, XCOMP_BV = 0
 * (standard format), the rest of the header 0 and AVX in its init state. */
static void init_image(uint8_t *area, bool xsave)
{
	memset(area, 0, xsave ? PAGE_SIZE : 512);
	area[0] = 0x7F;
	area[1] = 0x03;
	area[24] = 0x80;
	area[25] = 0x1F;
	if (xsave)
		*(uint64_t *)(area + 512) = XCR0_X87 | XCR0_SSE;
}

bool guest_fpu_init(struct guest_fpu *f)
{
	f->xcr0 = XCR0_X87;                  /* as at reset */
	f->xsave = NULL;
	init_image(f->fxsave, false);
	if (!xcr0_allowed)
		return true;
	f->xsave = pmm_alloc(1, PAGE_SIZE);
	if (!f->xsave)
		return false;
	init_image(f->xsave, true);
	return true;
}

void guest_fpu_release(struct guest_fpu *f)
{
	if (f->xsave)
		pmm_free(f->xsave, 1);
	f->xsave = NULL;
}

void guest_fpu_switch(struct guest_fpu *from, struct guest_fpu *to)
{
	if (!xcr0_allowed) {
		if (from)
			__asm__ volatile("fxsave64 %0" : "=m"(*(uint8_t (*)[512])from->fxsave));
		if (fxsave_leak)
			clear_x87_pointers();
		__asm__ volatile("fxrstor64 %0" :: "m"(*(const uint8_t (*)[512])to->fxsave));
		return;
	}
	xsetbv0(xcr0_allowed);
	if (from)
		xsave_to(from->xsave, xcr0_allowed);
	if (fxsave_leak)
		clear_x87_pointers();
	xrstor_from(to->xsave, xcr0_allowed);
	xsetbv0(to->xcr0);
}

void guest_fpu_set_xcr0(struct guest_fpu *f, uint64_t value, bool on_this_cpu)
{
	if (!xcr0_allowed || (value & ~xcr0_allowed) || !(value & XCR0_X87) ||
	    ((value & XCR0_AVX) && !(value & XCR0_SSE)))
		return;
	f->xcr0 = value;
	if (on_this_cpu)
		xsetbv0(value);
}

/* XSETBV always exits on VT-x and is intercepted on AMD-V, but QEMU 7.2
 * TCG ignores that intercept and lets the guest write XCR0 itself: take
 * what the guest set when it is within the allowed components, else put
 * the guest's back. */
EXIT_PATH void guest_fpu_sync_xcr0(struct guest_fpu *f)
{
	if (!xcr0_allowed)
		return;
	uint32_t lo, hi;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	uint64_t now = (uint64_t)hi << 32 | lo;
	if (now == f->xcr0)
		return;
	if (!(now & ~xcr0_allowed))
		f->xcr0 = now;
	else
		xsetbv0(f->xcr0);
}
