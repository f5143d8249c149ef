/*
 * Machine checks taken while a guest ran. Both backends intercept #MC
 * (the guest never handles the host's hardware failing); the exit comes
 * here before the core stops the guest. The machine-check banks are read
 * and logged (SDM vol. 3B, 16.3; APM vol. 2, 9.3), then cleared. A check
 * that left the processor's context corrupt (PCC in a bank, or MCG_STATUS
 * without RIPV) cannot be survived: the host stops. Otherwise only the
 * guest that ran stops, and the others go on.
 */
#include "hv.h"
#include "boot.h"

#define MSR_MCG_CAP     0x179
#define MSR_MCG_STATUS  0x17a
#define MSR_MC0_STATUS  0x401
#define MCG_RIPV        (1ull << 0)
#define MCG_MCIP        (1ull << 2)
#define MCI_VAL         (1ull << 63)
#define MCI_UC          (1ull << 61)
#define MCI_PCC         (1ull << 57)

static bool has_mca(void)
{
	uint32_t a, b, c, d;
	cpuid(1, 0, &a, &b, &c, &d);
	return (d & (1u << 7)) && (d & (1u << 14));   /* MCE and MCA */
}

/* On each CPU: machine checks raise #MC (CR4.MCE) instead of shutting the
 * whole machine down, so the host can log them and go on where it can. */
void mce_enable_host(void)
{
	if (!has_mca())
		return;
	uint64_t cr4;
	__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
	__asm__ volatile("mov %0, %%cr4" :: "r"(cr4 | 1ull << 6));
}

void mce_guest_exit(const char *guest)
{
	if (!has_mca()) {
		kprintf("[hv] machine check while guest %s ran (no MCA banks to read)\n", guest);
		return;
	}
	unsigned banks = (unsigned)(rdmsr(MSR_MCG_CAP) & 0xff);
	uint64_t mcg = rdmsr(MSR_MCG_STATUS);
	bool fatal = !(mcg & MCG_RIPV);
	kprintf("[hv] machine check while guest %s ran: MCG_STATUS %#llx\n", guest, (unsigned long long)mcg);
	for (unsigned i = 0; i < banks; i++) {
		uint64_t status = rdmsr(MSR_MC0_STATUS + 4 * i);
		if (!(status & MCI_VAL))
			continue;
		kprintf("[hv]   bank %u: status %#llx%s%s\n", i, (unsigned long long)status,
			status & MCI_UC ? " uncorrected" : "", status & MCI_PCC ? " context corrupt" : "");
		fatal |= (status & MCI_PCC) != 0;
		wrmsr(MSR_MC0_STATUS + 4 * i, 0);
	}
	if (fatal)
		panic("machine check: the processor's context is corrupt, the host cannot go on");
	wrmsr(MSR_MCG_STATUS, mcg & ~MCG_MCIP);
}
