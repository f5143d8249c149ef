/* Hostile guest: MMIO to the local APIC page in instruction forms beyond
 * a plain MOV (issue 11), on its TPR (0xFEE00080, bits 7:0 writable,
 * harmless with interrupts off). `form=0`: forms the decoder knows
 * (assembly/x86/decoder.ts), each checked by reading the TPR back: XCHG
 * with memory, LOCK BTS, REP STOS and MOVS to MMIO, an FS override, a
 * 16-bit (66) write, a MOV whose bytes span a page boundary. `form=1`:
 * LOCK CMPXCHG, which it does not know: this guest must be stopped alone,
 * the stop line naming the bytes and the address. */
#include "guest.h"

#define TPR 0xfee00080u
static volatile uint32_t *const tpr = (volatile uint32_t *)TPR;
static uint8_t code[8192] __attribute__((aligned(4096)));
static volatile uint32_t source = 0x50;

uint32_t guest_main(uint32_t magic, const struct multiboot_info *info)
{
	uint32_t form = guest_option(info, "form=", 0);
	__asm__ volatile("cli");
	*tpr = 0x20;
	if (form == 1) {
		puts("mmio-forms: LOCK CMPXCHG on the TPR\n");
		uint32_t expected = 0x20, v = 0x30;
		__asm__ volatile("lock cmpxchgl %2, %1" : "+a"(expected), "+m"(*tpr) : "r"(v) : "memory", "cc");
		puts("mmio-forms: FAIL still running\n");
		return 1;
	}
	uint32_t old = 0x30;
	__asm__ volatile("xchgl %0, %1" : "+r"(old), "+m"(*tpr) :: "memory");
	guest_check("mmio-forms", "XCHG with the TPR swaps", old == 0x20 && *tpr == 0x30);
	uint8_t carry;
	__asm__ volatile("lock btsl $6, %1\n setc %0" : "=q"(carry), "+m"(*tpr) :: "memory", "cc");
	guest_check("mmio-forms", "LOCK BTS sets the bit, CF the old one", carry == 0 && *tpr == 0x70);
	{
		uint32_t d = TPR, c = 1, a = 0x40;
		__asm__ volatile("cld\n rep stosl" : "+D"(d), "+c"(c) : "a"(a) : "memory");
		guest_check("mmio-forms", "REP STOSL to the TPR", *tpr == 0x40 && d == TPR + 4 && c == 0);
	}
	{
		uint32_t d = TPR, s = (uint32_t)&source;
		__asm__ volatile("movsl" : "+D"(d), "+S"(s) :: "memory");
		guest_check("mmio-forms", "MOVSL from RAM to the TPR", *tpr == 0x50 && d == TPR + 4);
	}
	{
		uint32_t v;
		__asm__ volatile("movl %%fs:0xfee00080, %0" : "=r"(v) :: "memory");
		guest_check("mmio-forms", "a read with an FS override", v == 0x50);
	}
	__asm__ volatile("movw $0x60, 0xfee00080" ::: "memory");
	puts("mmio-forms: after a 16-bit write of 0x60 the TPR reads ");
	puthex(*tpr);
	puts("\n");
	/* mov 0xfee00080, %eax; ret, its 5 bytes across two pages. */
	static const uint8_t mov[] = { 0xa1, 0x80, 0x00, 0xe0, 0xfe, 0xc3 };
	for (unsigned i = 0; i < sizeof mov; i++)
		code[4096 - 2 + i] = mov[i];
	*tpr = 0x10;
	uint32_t v;
	__asm__ volatile("call *%1" : "=a"(v) : "r"(code + 4096 - 2) : "memory", "ecx", "edx");
	guest_check("mmio-forms", "a MOV whose bytes span two pages", v == 0x10);
	return guest_failures;
}
