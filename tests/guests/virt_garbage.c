/* Hostile guest: every virtualisation instruction, AMD-V's and VT-x's,
 * with garbage operands (issue 11). RAX (the VMCB/VMCS address, or the
 * memory operand's base) points at RAM, at our own code, beyond RAM, at the
 * local APIC and I/O APIC pages, at the bus's last page, unaligned, ~0;
 * ECX/EDX hold garbage too (INVLPGA's ASID 0 is the host's own). Each must
 * raise #UD, as on a CPU without the extension (virt.c checks the plain
 * forms once; vmmtrap.c uses the one hypercall that asks for a trap, left
 * out here), and the guest goes on. VMMCALL/VMCALL with a function number
 * the hypervisor does not know is #UD too (guest/exits.ts); only "YELD"
 * (yield) and "TRAP" are known. With prefixes (66, F3, F2, 67, F0) and in
 * every operand form the result is the same. Counts and prints. */
#include "guest.h"

static volatile uint32_t operand_rax, operand_rcx, operand_rdx;
static uint32_t raised[32], none, tried, notes, unaligned_gp;

/* The first few that did not raise #UD, by their bytes and operands. */
static void note(const char *bytes, uint32_t vector)
{
	if (notes++ >= 8)
		return;
	puts("virt-garbage: not #UD: ");
	puts(bytes);
	puts(" with EAX ");
	puthex(operand_rax);
	puts(vector < 32 ? ": vector " : ": no exception");
	if (vector < 32)
		putdec(vector);
	puts("\n");
}

/* The instruction in `bytes` (a .byte list) with EAX, ECX, EDX set.
 * VMRUN, VMLOAD and VMSAVE check that rAX is 4 KiB aligned (#GP, APM
 * vol. 3): QEMU's TCG makes that check before the intercept, so the guest
 * gets #GP without an exit (as on a CPU with SVM that it thinks it has
 * not enabled); harmless, and out of the hypervisor's hands: counted
 * apart (`svm_address`). */
#define TRY_(bytes, svm_address) do { \
	uint32_t v_ = TRAP_OF("mov operand_rax, %%eax\n mov operand_rcx, %%ecx\n mov operand_rdx, %%edx\n" \
			      ".byte " bytes); \
	tried++; \
	if (v_ == 13 && (svm_address) && (operand_rax & 0xfff)) unaligned_gp++; \
	else if (v_ < 32) raised[v_]++; \
	else none++; \
	if (v_ != 6 && !(v_ == 13 && (svm_address) && (operand_rax & 0xfff))) note(bytes, v_); \
} while (0)
#define TRY(bytes) TRY_(bytes, 0)
#define TRY_SVM_ADDRESS(bytes) TRY_(bytes, 1)

static const uint32_t addresses[] = {
	0x00000000, 0x00002000, 0x00100000 /* our own code */, 0x00003ff8, 0x00001234 /* unaligned */,
	0x00400000 /* beyond 4 MiB of RAM */, 0x40000000, 0xfec00000 /* I/O APIC */, 0xfee00000 /* local APIC */,
	0xfee00ff8, 0xfffff000, 0xfffffff8, 0xffffffff,
};
static const uint32_t numbers[] = {
	0, 1, 2, 0x444c4558 /* "YELD" - 1 */, 0x444c455a, 0x50415253 /* "TRAP" - 1 */, 0x50415255,
	0x4b564d00, 0x80000000, 0x12345678, 0xffffffff,
};

static void every_instruction(void)
{
	/* AMD-V (APM vol. 3, "VMRUN" .. "INVLPGA"): rAX is a physical address. */
	TRY_SVM_ADDRESS("0x0f, 0x01, 0xd8");             /* VMRUN */
	TRY_SVM_ADDRESS("0x0f, 0x01, 0xda");             /* VMLOAD */
	TRY_SVM_ADDRESS("0x0f, 0x01, 0xdb");             /* VMSAVE */
	TRY("0x0f, 0x01, 0xdc");             /* STGI */
	TRY("0x0f, 0x01, 0xdd");             /* CLGI */
	TRY("0x0f, 0x01, 0xde");             /* SKINIT */
	TRY("0x0f, 0x01, 0xdf");             /* INVLPGA rAX, ECX */
	TRY_SVM_ADDRESS("0x66, 0x0f, 0x01, 0xd8");       /* VMRUN, operand-size prefix */
	TRY_SVM_ADDRESS("0x67, 0x0f, 0x01, 0xda");       /* VMLOAD, address-size prefix (AX) */
	TRY_SVM_ADDRESS("0xf3, 0x0f, 0x01, 0xdb");       /* VMSAVE, REP */
	TRY_SVM_ADDRESS("0xf0, 0x0f, 0x01, 0xd8");       /* LOCK VMRUN */
	/* VT-x (SDM vol. 2C, chapter 6): memory operands at [EAX]. */
	TRY("0xf3, 0x0f, 0xc7, 0x30");       /* VMXON [eax] */
	TRY("0x0f, 0x01, 0xc4");             /* VMXOFF */
	TRY("0x0f, 0xc7, 0x30");             /* VMPTRLD [eax] */
	TRY("0x0f, 0xc7, 0x38");             /* VMPTRST [eax] */
	TRY("0x66, 0x0f, 0xc7, 0x30");       /* VMCLEAR [eax] */
	TRY("0x0f, 0x78, 0x08");             /* VMREAD [eax], ecx */
	TRY("0x0f, 0x78, 0xc1");             /* VMREAD ecx, eax */
	TRY("0x0f, 0x79, 0x08");             /* VMWRITE ecx, [eax] */
	TRY("0x0f, 0x79, 0xc8");             /* VMWRITE ecx, eax */
	TRY("0x0f, 0x01, 0xc2");             /* VMLAUNCH */
	TRY("0x0f, 0x01, 0xc3");             /* VMRESUME */
	TRY("0x66, 0x0f, 0x38, 0x80, 0x08"); /* INVEPT ecx, [eax] */
	TRY("0x66, 0x0f, 0x38, 0x81, 0x08"); /* INVVPID ecx, [eax] */
	TRY("0x0f, 0x01, 0xd4");             /* VMFUNC (EAX function, ECX index) */
	TRY("0xf3, 0x0f, 0xc7, 0x34, 0x05, 0x00, 0x00, 0x00, 0xfe"); /* VMXON [eax+0xfe000000] */
	TRY("0x0f, 0xc7, 0xb0, 0x00, 0xf0, 0xff, 0xff"); /* VMPTRLD [eax-0x1000] */
}

uint32_t guest_main(uint32_t magic, const struct multiboot_info *info)
{
	guest_setup_traps();
	uint32_t a, b, c, d;
	cpuid(0, 0, &a, &b, &c, &d);
	int amd = b == 0x68747541;
	for (unsigned i = 0; i < sizeof addresses / sizeof addresses[0]; i++) {
		operand_rax = addresses[i];
		operand_rcx = addresses[(i + 3) % (sizeof addresses / sizeof addresses[0])];
		operand_rdx = ~addresses[i];
		every_instruction();
		/* INVLPGA with the host's ASID (0) and with ~0. */
		operand_rcx = i & 1 ? 0xffffffff : 0;
		TRY("0x0f, 0x01, 0xdf");
	}
	/* Hypercalls with numbers nobody defined, both instructions (one is
	 * the other vendor's, #UD natively), garbage in the other registers. */
	for (unsigned i = 0; i < sizeof numbers / sizeof numbers[0]; i++) {
		for (unsigned j = 0; j < 3; j++) {
			operand_rax = numbers[i];
			operand_rcx = addresses[j * 5];
			operand_rdx = ~numbers[i];
			TRY("0x0f, 0x01, 0xd9");     /* VMMCALL */
			TRY("0x0f, 0x01, 0xc1");     /* VMCALL */
		}
	}
	puts("virt-garbage: ");
	putdec(tried);
	puts(" tried: #UD ");
	putdec(raised[6]);
	puts(", #GP ");
	putdec(raised[13]);
	puts(", #GP for an unaligned VMCB address ");
	putdec(unaligned_gp);
	puts(", #PF ");
	putdec(raised[14]);
	puts(", other ");
	uint32_t other = 0;
	for (int v = 0; v < 32; v++)
		if (v != 6 && v != 13 && v != 14)
			other += raised[v];
	putdec(other);
	puts(", none ");
	putdec(none);
	puts(amd ? " (AMD)\n" : " (Intel)\n");
	guest_check("virt-garbage", "every one raised #UD (or the CPU's own #GP for an unaligned VMCB)",
		    raised[6] + unaligned_gp == tried);
	/* Still ours: the yield hypercall works after all that. */
	guest_yield();
	guest_check("virt-garbage", "the yield hypercall still returns", 1);
	return guest_failures;
}
