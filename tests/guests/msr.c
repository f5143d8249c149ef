/* MSRs: the guest's own are virtualized, the host's are out of reach (#GP),
 * and setting EFER.SVME does not stick. */
#include "guest.h"

#define check(what, ok) guest_check("msr", what, ok)

static volatile uint32_t lo, hi;
#define RDMSR_TRAPS(index) TRAP_OF("mov $" #index ", %%ecx\n rdmsr\n mov %%eax, lo\n mov %%edx, hi")

uint32_t guest_main(void)
{
	guest_setup_traps();
	check("reading EFER works", RDMSR_TRAPS(0xC0000080) == 0xFFFFFFFF);
	uint32_t efer = lo;
	check("EFER.SVME is clear", !(efer & (1u << 12)));
	uint32_t v = TRAP_OF("mov $0xC0000080, %%ecx\n rdmsr\n or $0x1000, %%eax\n wrmsr");
	check("writing EFER with SVME set does not fault", v == 0xFFFFFFFF);
	RDMSR_TRAPS(0xC0000080);
	check("EFER.SVME did not stick", !(lo & (1u << 12)));
	check("IA32_FEATURE_CONTROL (0x3a) raises #GP", RDMSR_TRAPS(0x3A) == 13);
	check("VM_HSAVE_PA (0xc0010117) raises #GP", RDMSR_TRAPS(0xC0010117) == 13);
	check("VM_CR (0xc0010114) raises #GP", RDMSR_TRAPS(0xC0010114) == 13);
	check("an unknown MSR (0x12345) raises #GP", RDMSR_TRAPS(0x12345) == 13);
	check("writing VM_HSAVE_PA raises #GP",
	      TRAP_OF("mov $0xC0010117, %%ecx\n xor %%eax, %%eax\n xor %%edx, %%edx\n wrmsr") == 13);
	check("the TSC MSR (0x10) reads", RDMSR_TRAPS(0x10) == 0xFFFFFFFF && (lo | hi));
	check("writing PAT works",
	      TRAP_OF("mov $0x277, %%ecx\n mov $0x00070406, %%eax\n mov $0x00070106, %%edx\n wrmsr") == 0xFFFFFFFF);
	RDMSR_TRAPS(0x277);
	check("PAT reads back what was written", lo == 0x00070406 && hi == 0x00070106);
	return guest_failures;
}
