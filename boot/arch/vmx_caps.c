/*
 * VT-x capabilities and VMX operation (Intel SDM vol. 3C, 24.6-24.8; the
 * capability MSRs in vol. 3D, appendix A): detect reads CPUID and the
 * (TRUE_) capability MSRs once, on the boot CPU, and settles the controls
 * every VMCS gets; cpu_enable turns VMX on for each CPU (VMXON). The
 * twins of svm_detect and svm_cpu_enable.
 */
#include "hv.h"
#include "boot.h"
#include "percpu.h"
#include "arch/vcpu.h"
#include "arch/vmx.h"

/* What detect found on the boot CPU and every VMCS gets (the CPUs of one
 * machine are alike). */
struct vmx_capabilities vmx;

/* A control word as the CPU allows it: allowed-0 bits (low half of the
 * capability MSR) forced on, bits outside allowed-1 (high half) off
 * (SDM vol. 3D, A.3-A.5). */
static uint32_t adjust_controls(uint32_t wanted, uint64_t capability)
{
	return (wanted | (uint32_t)capability) & (uint32_t)(capability >> 32);
}

/* Checks that `have` has every bit of `need`; `what` names the missing
 * feature in the refusal. */
static bool require(uint32_t have, uint32_t need, const char *what, char *why, unsigned why_size)
{
	if ((have & need) == need)
		return true;
	ksnprintf(why, why_size, "VT-x without %s (missing control bits 0x%x)", what, need & ~have);
	return false;
}

bool vmx_detect(char *why, unsigned why_size)
{
	uint32_t a, b, c, d;
	cpuid(1, 0, &a, &b, &c, &d);
	if (!(c & CPUID_VMX)) {
		ksnprintf(why, why_size, "the CPU has no VT-x (CPUID.1:ECX.VMX = 0)");
		return false;
	}
	/* SDM 24.7: firmware may lock VMXON off. Unlocked: cpu_enable locks
	 * it on. */
	uint64_t feature = rdmsr(MSR_FEATURE_CONTROL);
	if ((feature & FEATURE_CONTROL_LOCK) && !(feature & FEATURE_CONTROL_VMXON)) {
		ksnprintf(why, why_size, "VT-x is disabled by the firmware (IA32_FEATURE_CONTROL locked): "
			  "enable it in the BIOS setup");
		return false;
	}

	uint64_t basic = rdmsr(MSR_VMX_BASIC);
	bool true_controls = basic & VMX_BASIC_TRUE_CONTROLS;
	vmx.revision = (uint32_t)basic & 0x7FFFFFFF;
	uint64_t pin_cap = rdmsr(true_controls ? MSR_VMX_TRUE_PINBASED : MSR_VMX_PINBASED);
	uint64_t primary_cap = rdmsr(true_controls ? MSR_VMX_TRUE_PROCBASED : MSR_VMX_PROCBASED);
	uint64_t exit_cap = rdmsr(true_controls ? MSR_VMX_TRUE_EXIT : MSR_VMX_EXIT);
	uint64_t entry_cap = rdmsr(true_controls ? MSR_VMX_TRUE_ENTRY : MSR_VMX_ENTRY);

	/* Host interrupts and NMIs exit: they are the host's, never the guest's.
	 * The preemption timer, where there is one, is a backstop for the
	 * host's time slice: Bochs 2.7 loads the guest's RFLAGS before it
	 * counts as in VMX non-root operation, so with the guest's IF = 0 it
	 * keeps host interrupts masked and external-interrupt exiting never
	 * fires (SDM 26.2 says IF does not matter); the timer exits anyway. */
	vmx.pin = adjust_controls(PIN_EXTERNAL_INTERRUPT | PIN_NMI | PIN_VIRTUAL_NMIS | PIN_PREEMPTION_TIMER, pin_cap);
	if (!require(vmx.pin, PIN_EXTERNAL_INTERRUPT | PIN_NMI, "external-interrupt and NMI exiting", why, why_size))
		return false;
	/* Its rate: it counts down every 2^rate TSC cycles (26.5.1). The
	 * period is set per VMCS (vmx_vmcs.c): detect runs before the TSC's
	 * rate is known (run_prepare_boot_cpu). */
	vmx.timer_rate = (unsigned)(rdmsr(MSR_VMX_MISC) & VMX_MISC_TIMER_RATE);
	/* What the guest may not do on its own: halt, MONITOR/MWAIT (could
	 * park the physical CPU), touch the real TPR through CR8, and the
	 * ports and MSRs the bitmaps keep. CR3 accesses, INVLPG, RDTSC stay
	 * native (with the TRUE_ MSRs they may; EPT makes them harmless). */
	uint32_t primary_need = PRIMARY_HLT | PRIMARY_MWAIT | PRIMARY_CR8_LOAD | PRIMARY_CR8_STORE |
				PRIMARY_IO_BITMAPS | PRIMARY_MSR_BITMAPS | PRIMARY_MONITOR | PRIMARY_SECONDARY |
				PRIMARY_TSC_OFFSET;
	vmx.primary = adjust_controls(primary_need, primary_cap);
	if (!require(vmx.primary, primary_need, "the I/O and MSR bitmaps, HLT/MWAIT/CR8 exiting, TSC offsetting "
		     "or secondary controls", why, why_size))
		return false;
	/* The window exits are set per entry, when the core asks (25.6.2):
	 * interrupt-window exiting always exists; NMI-window exiting only
	 * with virtual NMIs. */
	vmx.window_controls = (uint32_t)(primary_cap >> 32) & PRIMARY_INTERRUPT_WINDOW;
	if (vmx.pin & PIN_VIRTUAL_NMIS)
		vmx.window_controls |= (uint32_t)(primary_cap >> 32) & PRIMARY_NMI_WINDOW;

	/* PAUSE exiting (25.6.2), for guests of several vCPUs. */
	vmx.pause_control = (uint32_t)(primary_cap >> 32) & PRIMARY_PAUSE;

	uint64_t secondary_cap = rdmsr(MSR_VMX_PROCBASED2);
	uint32_t secondary_allowed = (uint32_t)(secondary_cap >> 32);
	if (!(secondary_allowed & SECONDARY_EPT)) {
		ksnprintf(why, why_size, "VT-x without EPT (secondary controls bit 1)");
		return false;
	}
	if (!(secondary_allowed & SECONDARY_UNRESTRICTED)) {
		ksnprintf(why, why_size, "VT-x without unrestricted guest: multiboot guests start in "
			  "protected mode with paging off, which needs it");
		return false;
	}
	uint64_t ept_cap = rdmsr(MSR_VMX_EPT_VPID_CAP);
	uint64_t ept_need = EPT_CAP_WALK_4 | EPT_CAP_WB | EPT_CAP_2M | EPT_CAP_INVEPT;
	if ((ept_cap & ept_need) != ept_need || !(ept_cap & (EPT_CAP_INVEPT_SINGLE | EPT_CAP_INVEPT_ALL))) {
		ksnprintf(why, why_size, "VT-x with EPT lacking a 4-level walk, write-back tables, 2 MiB pages "
			  "or INVEPT (IA32_VMX_EPT_VPID_CAP 0x%llx)", (unsigned long long)ept_cap);
		return false;
	}
	vmx.invept_type = ept_cap & EPT_CAP_INVEPT_SINGLE ? INVEPT_SINGLE_CONTEXT : INVEPT_ALL_CONTEXT;
	/* VPID tags the guest's TLB entries so exits need not flush them;
	 * only with INVVPID, to drop them when a VPID changes hands. */
	uint32_t secondary = SECONDARY_EPT | SECONDARY_UNRESTRICTED;
	if ((secondary_allowed & SECONDARY_VPID) && (ept_cap & VPID_CAP_INVVPID) &&
	    (ept_cap & (VPID_CAP_INVVPID_SINGLE | VPID_CAP_INVVPID_ALL))) {
		secondary |= SECONDARY_VPID;
		vmx.invvpid_type = ept_cap & VPID_CAP_INVVPID_SINGLE ? INVVPID_SINGLE_CONTEXT : INVVPID_ALL_CONTEXT;
	}
	/* Without these, RDTSCP and INVPCID raise #UD in the guest although
	 * its CPUID offers them (on AMD-V they just run). Neither touches the
	 * host: RDTSCP reads TSC_AUX, INVPCID flushes this VPID's entries.
	 * XSAVES stays off: guests get XSAVE (fpu.c switches
	 * XCR0 and their XSAVE areas) but not XSAVES/IA32_XSS. */
	secondary |= secondary_allowed & (SECONDARY_RDTSCP | SECONDARY_INVPCID);
	/* WBINVD would flush caches other cores share: it exits where it can
	 * (the core makes it a no-op; issue 11). */
	secondary |= secondary_allowed & SECONDARY_WBINVD;
	vmx.secondary = adjust_controls(secondary, secondary_cap);

	/* 64-bit host; EFER and PAT switched both ways, DR7/DEBUGCTL too. */
	uint32_t exit_need = EXIT_SAVE_DEBUG | EXIT_HOST_64BIT | EXIT_SAVE_PAT | EXIT_LOAD_PAT |
			     EXIT_SAVE_EFER | EXIT_LOAD_EFER;
	vmx.exit = adjust_controls(exit_need, exit_cap);
	if (!require(vmx.exit, exit_need, "saving/loading EFER and PAT on VM exit", why, why_size))
		return false;
	uint32_t entry_need = ENTRY_LOAD_DEBUG | ENTRY_LOAD_PAT | ENTRY_LOAD_EFER;
	vmx.entry = adjust_controls(entry_need, entry_cap) & ~ENTRY_IA32E_GUEST;
	if (!require(vmx.entry, entry_need, "loading EFER and PAT on VM entry", why, why_size))
		return false;

	/* A.7-A.8: bits fixed to 1 in FIXED0, bits that may be 1 in FIXED1.
	 * Unrestricted guest exempts CR0.PE and CR0.PG (27.3.1.1). */
	vmx.cr0_fixed0 = rdmsr(MSR_VMX_CR0_FIXED0);
	vmx.cr0_fixed1 = rdmsr(MSR_VMX_CR0_FIXED1);
	vmx.cr4_fixed0 = rdmsr(MSR_VMX_CR4_FIXED0);
	vmx.cr4_fixed1 = rdmsr(MSR_VMX_CR4_FIXED1);
	/* The guest sees its own value of every bit VMX fixes; of CR0.PG,
	 * whose changes the backend must see to keep EFER.LMA right; and of
	 * CD/NW, which VM entry and exit never switch (27.3.2.1, 28.5.1): the
	 * CPU's stay the host's, the guest's live in the shadow. */
	vmx.cr0_mask = (((vmx.cr0_fixed0 & ~(CR0_PE | CR0_PG)) | ~vmx.cr0_fixed1) & 0xFFFFFFFF) |
		       CR0_PG | CR0_CD | CR0_NW;
	/* And of the bits not virtualised: a write setting one exits, #GP. */
	vmx.cr4_mask = ((vmx.cr4_fixed0 | ~vmx.cr4_fixed1) & 0xFFFFFFFF) | CR4_NOT_VIRTUALISED;
	return true;
}

bool vmx_cpu_enable(char *why, unsigned why_size)
{
	struct cpu *cpu = this_cpu();
	if (!cpu->arch_host_save)
		cpu->arch_host_save = pmm_alloc(1, PAGE_SIZE);
	void *vmxon_region = cpu->arch_host_save;
	if (!vmxon_region) {
		ksnprintf(why, why_size, "out of memory for the VMXON region");
		return false;
	}
	uint64_t feature = rdmsr(MSR_FEATURE_CONTROL);   /* per CPU */
	if (!(feature & FEATURE_CONTROL_LOCK))
		wrmsr(MSR_FEATURE_CONTROL, feature | FEATURE_CONTROL_LOCK | FEATURE_CONTROL_VMXON);

	/* 24.8: VMXON needs CR0 and CR4 inside the fixed bits, CR4.VMXE set. */
	uint64_t cr0, cr4;
	__asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
	__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
	cr0 = (cr0 | vmx.cr0_fixed0) & vmx.cr0_fixed1;
	cr4 = (cr4 | vmx.cr4_fixed0 | CR4_VMXE) & vmx.cr4_fixed1;
	__asm__ volatile("mov %0, %%cr0" :: "r"(cr0));
	__asm__ volatile("mov %0, %%cr4" :: "r"(cr4));

	*(uint32_t *)vmxon_region = vmx.revision;    /* 25.11.5 */
	uint64_t pa = (uint64_t)(uintptr_t)vmxon_region;
	bool failed_invalid, failed_valid;
	__asm__ volatile("vmxon %2; setc %0; setz %1"
			 : "=qm"(failed_invalid), "=qm"(failed_valid) : "m"(pa) : "cc", "memory");
	if (failed_invalid || failed_valid) {
		ksnprintf(why, why_size, "VMXON failed (%s; IA32_FEATURE_CONTROL 0x%llx, CR0 0x%llx, CR4 0x%llx)",
			  failed_invalid ? "VMfailInvalid: bad VMXON region or revision" : "VMfailValid: already in VMX operation",
			  (unsigned long long)rdmsr(MSR_FEATURE_CONTROL), (unsigned long long)cr0, (unsigned long long)cr4);
		return false;
	}
	/* Nothing an earlier user of VT-x (firmware, a previous boot stage)
	 * cached may survive into our guests. */
	invept(INVEPT_ALL_CONTEXT, 0);
	if (vmx.invvpid_type)
		invvpid(INVVPID_ALL_CONTEXT, 0);
	return true;
}
