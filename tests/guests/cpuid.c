/* The CPUID policy as a guest sees it: hypervisor bit set, our signature at
 * 0x40000000, no VMX and no SVM to nest. Exits 0 when all hold. */
#include "guest.h"


#define check(what, ok) guest_check("cpuid", what, ok)

uint32_t guest_main(void)
{
	uint32_t a, b, c, d;
	cpuid(1, 0, &a, &b, &c, &d);
	check("hypervisor bit (leaf 1 ECX bit 31) is set", (c >> 31) & 1);
	check("VMX (leaf 1 ECX bit 5) is hidden", !((c >> 5) & 1));
	cpuid(0x80000001, 0, &a, &b, &c, &d);
	check("SVM (leaf 0x80000001 ECX bit 2) is hidden", !((c >> 2) & 1));
	cpuid(0x40000000, 0, &a, &b, &c, &d);
	char sig[13];
	((uint32_t *)sig)[0] = b;
	((uint32_t *)sig)[1] = c;
	((uint32_t *)sig)[2] = d;
	sig[12] = 0;
	int printable = 1;
	for (int i = 0; i < 12; i++)
		printable &= sig[i] >= 0x20 && sig[i] < 0x7f;
	check("leaf 0x40000000 answers a max leaf >= 0x40000000", a >= 0x40000000 && a < 0x40000100);
	check("the signature is 12 printable bytes", printable);
	puts("cpuid: signature \"");
	puts(sig);
	puts("\"\n");
	return guest_failures;
}
