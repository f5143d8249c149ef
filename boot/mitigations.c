/*
 * Transient-execution mitigations between guests and the host, applied as
 * the host CPU calls for them (its CPUID bits and IA32_ARCH_CAPABILITIES,
 * read as Linux and Xen do):
 *   - IBPB when a CPU switches to another guest, so branch predictions one
 *     guest trained do not steer the next (Spectre v2);
 *   - VERW before each entry on parts with MD_CLEAR that are not MDS_NO,
 *     so the CPU's buffers hold nothing of the host or another guest (MDS);
 *   - an L1D flush before each entry on parts that report FLUSH_L1D and
 *     are neither RDCL_NO nor SKIP_L1DFL_VMENTRY (L1TF);
 *   - the return stack buffer is refilled after every exit in the entry
 *     code itself (svm_entry.S, vmx_entry.S: FILL_RSB), before the host's
 *     first RET.
 * Intel SDM vol. 4 (IA32_ARCH_CAPABILITIES, IA32_PRED_CMD, IA32_FLUSH_CMD);
 * AMD "Software Techniques for Managing Speculation" (IBPB).
 */
#include "hv.h"
#include "boot.h"
#include "percpu.h"

#define MSR_PRED_CMD        0x49
#define MSR_ARCH_CAPABILITIES 0x10a
#define MSR_FLUSH_CMD       0x10b
#define ARCH_CAP_RDCL_NO    (1ull << 0)
#define ARCH_CAP_SKIP_L1DFL (1ull << 3)
#define ARCH_CAP_MDS_NO     (1ull << 5)

static bool ibpb EXIT_PATH_DATA, verw EXIT_PATH_DATA, l1d_flush EXIT_PATH_DATA;
static int last_guest[MAX_CPUS] EXIT_PATH_DATA;

void mitigations_probe(void)
{
	uint32_t a, b, c, d, max;
	cpuid(0, 0, &max, &b, &c, &d);
	uint32_t edx7 = 0;
	if (max >= 7)
		cpuid(7, 0, &a, &b, &c, &edx7);
	cpuid(0x80000000, 0, &a, &b, &c, &d);
	uint32_t ebx8 = 0;
	if (a >= 0x80000008)
		cpuid(0x80000008, 0, &a, &ebx8, &c, &d);
	uint64_t caps = (edx7 & (1u << 29)) ? rdmsr(MSR_ARCH_CAPABILITIES) : 0;
	ibpb = (edx7 & (1u << 26)) || (ebx8 & (1u << 12));          /* IBRS_IBPB; AMD IBPB */
	verw = (edx7 & (1u << 10)) && !(caps & ARCH_CAP_MDS_NO);    /* MD_CLEAR */
	l1d_flush = (edx7 & (1u << 28)) && !(caps & (ARCH_CAP_RDCL_NO | ARCH_CAP_SKIP_L1DFL));
	for (unsigned i = 0; i < MAX_CPUS; i++)
		last_guest[i] = -1;
	kprintf("[hv] mitigations: IBPB between guests %s, VERW before entry %s, L1D flush before entry %s\n",
		ibpb ? "on" : "off (not offered)", verw ? "on" : "off (not needed)",
		l1d_flush ? "on" : "off (not needed)");
}

/* Before a guest's time slice: IBPB when the CPU ran another guest last. */
void mitigations_guest_switch(unsigned guest)
{
	unsigned cpu = this_cpu()->index;
	if (ibpb && cpu < MAX_CPUS && last_guest[cpu] != (int)guest) {
		if (last_guest[cpu] >= 0)
			wrmsr(MSR_PRED_CMD, 1);
		last_guest[cpu] = (int)guest;
	}
}

/* Before each entry. */
EXIT_PATH void mitigations_before_entry(void)
{
	if (l1d_flush)
		wrmsr(MSR_FLUSH_CMD, 1);
	if (verw) {
		static const uint16_t data_selector = HV_DS;   /* any writable data segment */
		__asm__ volatile("verw %0" :: "m"(data_selector) : "cc");
	}
}
