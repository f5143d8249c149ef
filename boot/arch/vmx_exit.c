/*
 * VT-x exits (Intel SDM vol. 3C, chapter 28; exit reasons in vol. 3D,
 * appendix C): the exit decoded into the ExitRecord, as the second half of
 * svm_vcpu_run does from the VMCB; control-register accesses, which only
 * VMX makes exit (fixed CR0/CR4 bits, CR8), answered in place; and a
 * failed VM entry reported in words.
 */
#include "hv.h"
#include "boot.h"
#include "percpu.h"
#include "arch/vcpu.h"
#include "arch/vmx.h"
#include "debug_regs.h"

static uint64_t read_gpr(struct arch_vcpu *vcpu, unsigned reg)
{
	return reg == RSP ? vmread(GUEST_RSP) : vcpu->gpr[reg];
}

static void write_gpr(struct arch_vcpu *vcpu, unsigned reg, uint64_t value)
{
	if (reg == RSP)
		vmwrite(GUEST_RSP, value);
	else
		vcpu->gpr[reg] = value;
}

/* Injects a hardware exception on the next entry. No error code in real
 * mode, where VM entry refuses one (27.2.1.3). */
static void inject_exception(struct arch_vcpu *vcpu, uint32_t vector, bool has_error_code, uint32_t error_code)
{
	uint32_t info = INTERRUPTION_VALID | INJECT_TYPE_EXCEPTION | vector;
	if (has_error_code && (vmx_guest_cr0() & CR0_PE)) {
		info |= INTERRUPTION_ERROR_CODE;
		vmwrite(ENTRY_EXCEPTION_ERROR, error_code);
	}
	vmwrite(ENTRY_INTERRUPTION_INFO, info);
	vcpu->vmx.injecting = true;
}

static bool guest_in_64bit_mode(void)
{
	return (vmread(GUEST_EFER) & EFER_LMA) && (vmread(GUEST_ES_ACCESS_RIGHTS + 2 * SEG_CS) & AR_L);
}

/* A MOV to CR0 as the CPU would check it (vol. 2, MOV CR; vol. 3A 2.5):
 * false means #GP(0). */
static bool cr0_write_allowed(uint64_t old, uint64_t cr0, uint64_t cr4, uint64_t efer, bool long64)
{
	if ((cr0 & CR0_PG) && !(cr0 & CR0_PE))
		return false;
	if ((cr0 & CR0_NW) && !(cr0 & CR0_CD))
		return false;
	if ((cr0 & CR0_PG) && !(old & CR0_PG) && (efer & EFER_LME) && !(cr4 & CR4_PAE))
		return false;
	if (!(cr0 & CR0_PG) && (old & CR0_PG) && (long64 || (cr4 & CR4_PCIDE)))
		return false;
	return true;
}

/* A control-register access exit (28.2.1), answered here as
 * the CPU would have answered the instruction. False: not one this file
 * handles; the core gets it as an unknown exit. */
bool vmx_handle_cr_access(struct arch_vcpu *vcpu)
{
	uint64_t q = vmread(EXIT_QUALIFICATION);
	unsigned cr = q & 15, type = (q >> 4) & 3, reg = (q >> 8) & 15;
	bool long64 = guest_in_64bit_mode();
	uint64_t old = vmx_guest_cr0(), cr4 = vmx_guest_cr4(), efer = vmread(GUEST_EFER);
	bool fault = false;

	if (type == CR_ACCESS_TO_CR) {
		uint64_t value = read_gpr(vcpu, reg);
		if (!long64)
			value &= 0xFFFFFFFF;
		if (cr == 0) {
			uint64_t cr0 = (value & CR0_DEFINED) | CR0_ET;   /* ET is hardwired to 1 */
			fault = (value >> 32) || !cr0_write_allowed(old, cr0, cr4, efer, long64);
			if (!fault)
				vmx_set_cr0(vcpu, cr0);
		} else if (cr == 4) {
			/* Only bits VMX fixes exit, and those not virtualised
			 * (CR4_NOT_VIRTUALISED): VMXE (VT-x is hidden from the
			 * guest), bits the CPU does not have, PKE, CET, ...: #GP
			 * for all of them; and the checks of the instruction. */
			bool pcide_on = (value & CR4_PCIDE) && !(cr4 & CR4_PCIDE);
			fault = (value & ~vmx.cr4_fixed1) || (value & (CR4_VMXE | CR4_NOT_VIRTUALISED)) || (value >> 32) ||
				((efer & EFER_LMA) && !(value & CR4_PAE)) ||
				(pcide_on && (!(efer & EFER_LMA) || (vmread(GUEST_CR3) & 0xFFF)));
			if (!fault)
				vmx_set_cr4(vcpu, value);
		} else if (cr == 3) {
			/* Only where CR3-load exiting cannot be turned off. */
			vmwrite(GUEST_CR3, value);
			vmx_load_pdptes(vcpu);
		} else if (cr == 8) {
			fault = value >> 4;                     /* reserved bits (vol. 3A 2.5) */
			if (!fault)
				vcpu->vmx.tpr = (uint8_t)value;
		} else {
			return false;
		}
	} else if (type == CR_ACCESS_FROM_CR) {
		uint64_t value;
		if (cr == 3)
			value = vmread(GUEST_CR3);
		else if (cr == 8)
			value = vcpu->vmx.tpr;
		else
			return false;
		write_gpr(vcpu, reg, long64 ? value : value & 0xFFFFFFFF);
	} else if (type == CR_ACCESS_CLTS) {
		vmx_set_cr0(vcpu, old & ~CR0_TS);
	} else {
		/* LMSW: loads PE, MP, EM, TS; can set PE but not clear it. */
		uint64_t source = (q >> 16) & 0xF;
		vmx_set_cr0(vcpu, (old & ~0xEull) | (source & 0xE) | ((old | source) & CR0_PE));
	}

	if (fault) {
		inject_exception(vcpu, VECTOR_GP, true, 0);
		return true;
	}
	/* The instruction retired: past it, and its STI/MOV SS shadow ends. */
	vmwrite(GUEST_RIP, vmread(GUEST_RIP) + vmread(EXIT_INSTRUCTION_LENGTH));
	uint64_t interruptibility = vmread(GUEST_INTERRUPTIBILITY);
	if (interruptibility & (BLOCKING_STI | BLOCKING_MOV_SS))
		vmwrite(GUEST_INTERRUPTIBILITY, interruptibility & ~(uint64_t)(BLOCKING_STI | BLOCKING_MOV_SS));
	return true;
}

static void save_segment(struct exit_segment *to, int index);

/* Whether an EPT violation was the CPU's own access to a guest paging-
 * structure entry (SDM vol. 3C, 28.2.1, Table 28-7): bit 7 set with bit 8
 * clear is a walk for a linear address; bit 7 clear is the PDPTE load of
 * a MOV to CR0/CR3/CR4 in PAE paging (the only such case without Intel
 * PT), a page-table access too. Never the instruction's own data. */
static bool page_table_access(uint64_t qualification)
{
	return !(qualification & EPT_VIOLATION_LINEAR_VALID) || !(qualification & EPT_VIOLATION_TRANSLATED);
}

/* ES, DS, FS, GS: what instruction emulation needs beyond CS and SS. */
static void save_data_segments(struct exit_record *e)
{
	save_segment(&e->es, SEG_ES);
	save_segment(&e->ds, SEG_DS);
	save_segment(&e->fs, SEG_FS);
	save_segment(&e->gs, SEG_GS);
}

static void save_segment(struct exit_segment *to, int index)
{
	to->selector = (uint16_t)vmread(GUEST_ES_SELECTOR + 2 * index);
	to->attributes = vmx_segment_attributes((uint32_t)vmread(GUEST_ES_ACCESS_RIGHTS + 2 * index));
	to->limit = (uint32_t)vmread(GUEST_ES_LIMIT + 2 * index);
	to->base = vmread(GUEST_ES_BASE + 2 * index);
}

/* Exits that come from an instruction, whose length the CPU reports
 * (28.2.5); for the others the field is undefined. */
static bool reason_has_length(uint32_t reason)
{
	switch (reason) {
	case EXIT_REASON_CPUID ... EXIT_REASON_VMXON:      /* 10-27 */
	case EXIT_REASON_CR_ACCESS ... EXIT_REASON_WRMSR:  /* 28-32 */
	case EXIT_REASON_MWAIT:
	case EXIT_REASON_MONITOR ... 40:                   /* MONITOR, PAUSE */
	case 46 ... 47:                                    /* descriptor-table accesses */
	case EXIT_REASON_INVEPT ... 51:                    /* INVEPT, RDTSCP */
	case EXIT_REASON_INVVPID ... EXIT_REASON_XSETBV:   /* INVVPID, WBINVD, XSETBV */
	case 57 ... 61:                                    /* RDRAND .. RDSEED */
	case 63 ... 64:                                    /* XSAVES, XRSTORS */
		return true;
	default:
		return false;
	}
}

/* Says why a VM entry failed, in words, before the core stops the guest. */
static void report_entry_failure(uint32_t reason, uint64_t qualification, uint64_t instruction_error)
{
	if (reason & EXIT_REASON_ENTRY_FAILURE) {
		uint32_t basic = reason & 0xFFFF;
		const char *what = basic == EXIT_REASON_INVALID_GUEST ? "invalid guest state"
				 : basic == EXIT_REASON_MSR_LOADING ? "MSR loading"
				 : basic == EXIT_REASON_MACHINE_CHECK ? "machine check" : "unknown cause";
		kprintf("[hv] VT-x: VM entry failed: %s (exit reason %u, qualification %llu); "
			"CR0 0x%llx CR4 0x%llx EFER 0x%llx entry controls 0x%llx CS AR 0x%llx\n",
			what, basic, (unsigned long long)qualification, (unsigned long long)vmread(GUEST_CR0),
			(unsigned long long)vmread(GUEST_CR4), (unsigned long long)vmread(GUEST_EFER),
			(unsigned long long)vmread(ENTRY_CONTROLS),
			(unsigned long long)vmread(GUEST_ES_ACCESS_RIGHTS + 2 * SEG_CS));
	} else {
		/* SDM vol. 3C 31.4, table 31-1 */
		const char *what = instruction_error == 7 ? "invalid control fields"
				 : instruction_error == 8 ? "invalid host-state fields"
				 : instruction_error == 4 ? "VMLAUNCH with a non-clear VMCS"
				 : instruction_error == 5 ? "VMRESUME with a non-launched VMCS"
				 : instruction_error == 26 ? "events blocked by MOV SS"
				 : "see SDM vol. 3C, table 31-1";
		kprintf("[hv] VT-x: VMLAUNCH/VMRESUME failed: VM-instruction error %llu (%s)\n",
			(unsigned long long)instruction_error, what);
	}
}

/* After vmx_vcpu_run's last entry: `failed` is what vmx_enter returned
 * (0 an exit, 1 VMfailInvalid, 2 VMfailValid), `exit_reason` the VMCS's
 * exit reason when it exited. */
void vmx_record_exit(struct arch_vcpu *vcpu, struct exit_record *e, int failed, uint32_t exit_reason)
{
	for (int i = 0; i < 16; i++)
		e->gpr[i] = vcpu->gpr[i];
	e->gpr[RSP] = vmread(GUEST_RSP);
	e->rip = vmread(GUEST_RIP);
	e->rflags = vmread(GUEST_RFLAGS);
	e->cr0 = vmx_guest_cr0();
	e->cr2 = vcpu->vmx.cr2;
	e->cr3 = vmread(GUEST_CR3);
	e->cr4 = vmx_guest_cr4();
	e->efer = vmread(GUEST_EFER);            /* nothing in it the guest cannot see */
	save_segment(&e->cs, SEG_CS);
	save_segment(&e->ss, SEG_SS);
	e->cpl = (e->ss.attributes >> 5) & 3;    /* SS.DPL is the CPL (25.4.1) */
	exit_record_clear_operands(e);
	e->cr8 = vcpu->vmx.tpr;
	uint32_t blocking = (uint32_t)vmread(GUEST_INTERRUPTIBILITY);
	e->interruptibility = (blocking & (BLOCKING_STI | BLOCKING_MOV_SS) ? BLOCKED_BY_SHADOW : 0) |
			      (blocking & BLOCKING_NMI ? BLOCKED_NMI : 0);

	if (failed) {
		/* VMfailInvalid/VMfailValid: no exit happened, nothing ran. */
		uint64_t error = failed == 2 ? vmread(VM_INSTRUCTION_ERROR) : 0;
		report_entry_failure(0, 0, error);
		e->reason = EXIT_INVALID_STATE;
		e->raw_reason = 0xFFFFFFFF;
		e->detail = error;
		return;
	}
	uint32_t reason = exit_reason & 0xFFFF;
	uint64_t qualification = vmread(EXIT_QUALIFICATION);
	e->raw_reason = exit_reason;
	e->detail = qualification;
	if (exit_reason & EXIT_REASON_ENTRY_FAILURE) {
		report_entry_failure(exit_reason, qualification, 0);
		e->reason = EXIT_INVALID_STATE;
		return;
	}
	if (reason_has_length(reason)) {
		uint32_t length = (uint32_t)vmread(EXIT_INSTRUCTION_LENGTH);
		e->instruction_length = length >= 1 && length <= 15 ? length : 0;
	}

	switch (reason) {
	case EXIT_REASON_CPUID:
		e->reason = EXIT_CPUID;
		break;
	case EXIT_REASON_IO:
		e->reason = EXIT_IO;
		e->port = (uint16_t)(qualification >> 16);
		e->io_size = (uint8_t)((qualification & IO_SIZE_MASK) + 1);
		e->io_flags = (qualification & IO_IN ? EXIT_IO_IN : 0) | (qualification & IO_STRING ? EXIT_IO_STRING : 0) |
			      (qualification & IO_REP ? EXIT_IO_REP : 0);
		if (qualification & IO_STRING)
			save_data_segments(e);
		break;
	case EXIT_REASON_RDMSR:
	case EXIT_REASON_WRMSR:
		e->reason = reason == EXIT_REASON_WRMSR ? EXIT_MSR_WRITE : EXIT_MSR_READ;
		e->msr = (uint32_t)vcpu->gpr[RCX];
		break;
	case EXIT_REASON_HLT:
		e->reason = EXIT_HLT;
		break;
	case EXIT_REASON_EPT_VIOLATION:
		e->reason = EXIT_NESTED_PAGE_FAULT;
		e->gpa = vmread(GUEST_PHYSICAL_ADDRESS);
		save_data_segments(e);
		e->access = (qualification & EPT_VIOLATION_WRITE ? EXIT_ACCESS_WRITE : EXIT_ACCESS_READ) |
			    (qualification & EPT_VIOLATION_EXECUTE ? EXIT_ACCESS_EXECUTE : 0) |
			    (qualification & EPT_VIOLATION_MAPPED ? EXIT_ACCESS_PRESENT : 0) |
			    (page_table_access(qualification) ? EXIT_ACCESS_PAGE_WALK : 0);
		break;
	case EXIT_REASON_EPT_MISCONFIG:
		e->reason = EXIT_NESTED_PAGE_MISCONFIG;
		e->gpa = vmread(GUEST_PHYSICAL_ADDRESS);
		break;
	case EXIT_REASON_INTERRUPT:
	case EXIT_REASON_INIT:
	case EXIT_REASON_SIPI:
	case EXIT_REASON_IO_SMI:
	case EXIT_REASON_OTHER_SMI:
	case EXIT_REASON_PREEMPTION_TIMER:
		e->reason = EXIT_EXTERNAL_INTERRUPT;
		break;
	case EXIT_REASON_INTERRUPT_WINDOW:
		e->reason = EXIT_INTERRUPT_WINDOW;
		break;
	case EXIT_REASON_NMI_WINDOW:
		e->reason = EXIT_NMI_WINDOW;
		break;
	case EXIT_REASON_VMCALL:
		e->reason = EXIT_HYPERCALL;
		break;
	case EXIT_REASON_PAUSE:
		e->reason = EXIT_PAUSE;
		break;
	case EXIT_REASON_GETSEC:
	case EXIT_REASON_VMCLEAR ... EXIT_REASON_VMXON:
	case EXIT_REASON_INVEPT:
	case EXIT_REASON_INVVPID:
	case EXIT_REASON_VMFUNC:
	case EXIT_REASON_MWAIT:
	case EXIT_REASON_MONITOR:
		/* VMCLEAR .. VMXON, INVEPT, INVVPID, VMFUNC, GETSEC; and
		 * MONITOR/MWAIT, which could park the physical CPU. */
		e->reason = EXIT_VIRTUALIZATION_INSTRUCTION;
		break;
	case EXIT_REASON_INVD:
		/* INVD always exits (26.1.2): answered as svm.c does. */
		e->reason = EXIT_VIRTUALIZATION_INSTRUCTION;
		break;
	case EXIT_REASON_WBINVD:
		e->reason = EXIT_WBINVD;
		break;
	case EXIT_REASON_XSETBV:
		e->reason = EXIT_XSETBV;
		break;
	case EXIT_REASON_TRIPLE_FAULT:
		e->reason = EXIT_SHUTDOWN;
		break;
	case EXIT_REASON_EXCEPTION_NMI: {
		uint32_t info = (uint32_t)vmread(EXIT_INTERRUPTION_INFO);
		if (INTERRUPTION_TYPE(info) == INTERRUPTION_NMI) {
			e->reason = EXIT_EXTERNAL_INTERRUPT;   /* the host's NMI */
			break;
		}
		e->reason = EXIT_EXCEPTION;
		e->exception_vector = info & 0xFF;
		/* ICEBP (F1, INT1) is a trap reported as a privileged software
		 * exception with RIP on the F1 and its length (27.2.2, 28.2.5):
		 * the core resumes past it, or the guest's #DB handler would
		 * return to the F1 and raise it again, forever. */
		if (INTERRUPTION_TYPE(info) == INTERRUPTION_PRIVILEGED_SOFTWARE_EXCEPTION) {
			uint32_t length = (uint32_t)vmread(EXIT_INSTRUCTION_LENGTH);
			e->instruction_length = length >= 1 && length <= 15 ? length : 0;
		}
		if (info & INTERRUPTION_ERROR_CODE)
			e->exception_error_code = (uint32_t)vmread(EXIT_INTERRUPTION_ERROR);
		/* A #DB exit leaves DR6 as it was and reports its new bits in
		 * the qualification (SDM vol. 3C, 28.1, Table 28-1): put them
		 * in DR6 before the #DB is injected again, as delivering it
		 * would have. DR6 holds the guest's value while it runs. */
		if (e->exception_vector == VECTOR_DB)
			debug_regs_deliver_dr6(vmread(EXIT_QUALIFICATION));
		break;
	}
	default:
		e->reason = EXIT_UNKNOWN;
	}
	/* An event that was being delivered when the exit hit (e.g. an
	 * interrupt whose IDT access faulted) must be delivered again
	 * (SDM 28.2.4; 27.6.1 delivers it like any injection): keep it unless
	 * the core injects its own. */
	uint32_t vectoring = (uint32_t)vmread(IDT_VECTORING_INFO);
	if (vectoring & INTERRUPTION_VALID) {
		vmwrite(ENTRY_INTERRUPTION_INFO, vectoring & INTERRUPTION_ENTRY_BITS);
		if (vectoring & INTERRUPTION_ERROR_CODE)
			vmwrite(ENTRY_EXCEPTION_ERROR, vmread(IDT_VECTORING_ERROR));
		uint32_t type = INTERRUPTION_TYPE(vectoring);
		if (type >= INTERRUPTION_SOFTWARE_INTERRUPT && type <= INTERRUPTION_SOFTWARE_EXCEPTION)
			vmwrite(ENTRY_INSTRUCTION_LENGTH, vmread(EXIT_INSTRUCTION_LENGTH));
		vcpu->vmx.injecting = true;
		e->pending_event = vectoring & INTERRUPTION_ENTRY_BITS;
		e->pending_error_code = vectoring & INTERRUPTION_ERROR_CODE ? (uint32_t)vmread(IDT_VECTORING_ERROR) : 0;
	}
}
