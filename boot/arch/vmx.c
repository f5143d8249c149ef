/*
 * Intel VT-x with EPT (Intel SDM vol. 3C, chapters 24-31; field encodings
 * and capability MSRs in vol. 3D, appendices A and B): the backend that
 * runs guests on Intel CPUs and under Bochs. Sibling of svm.c behind
 * boot/arch/vcpu.h; same functions in the same order, in five files that
 * map onto svm.c one to one:
 * - vmx.h: MSRs, VMCS field encodings, control bits, exit reasons, the
 *   VMX instructions (svm.c's head: its MSRs, the VMCB, #VMEXIT codes);
 * - vmx_caps.c: vmx_detect, vmx_cpu_enable (svm_detect, svm_cpu_enable);
 * - vmx_vmcs.c: vmx_vcpu_create, vmx_vcpu_destroy (svm_vcpu_create,
 *   svm_vcpu_destroy), with segment conversion and the guest's CR0/CR4/EFER;
 * - vmx_exit.c: the exit decoded into the ExitRecord (the second half of
 *   svm_vcpu_run), CR-access exits, entry failures;
 * - this file: vmx_vcpu_run, vmx_vcpu_apply and vmx_backend.
 *
 * What differs from AMD-V and is absorbed in these files, so the core never
 * sees it:
 * - VMX operation fixes bits of CR0 and CR4 (NE=1, VMXE=1), and VM entry
 *   never loads CR0.CD/NW. The guest gets its own values through
 *   guest/host masks and read shadows, and mov-to-CR0/CR4 exits on masked
 *   bits are answered inside vcpu_run (vmx_exit.c).
 * - EFER.LMA is not set by the CPU when a guest turns paging on with
 *   EFER.LME: CR0.PG is masked, and vmx_vmcs.c sets LMA and the
 *   "IA-32e mode guest" entry control itself.
 * - CR2, KERNEL_GS_BASE, STAR, LSTAR, CSTAR and SFMASK are not switched by
 *   VM entry/exit: vmx_entry.S switches CR2, vcpu_run the MSRs.
 * - Segment attributes: the core speaks the AMD VMCB layout, the VMCS has
 *   access rights (SDM 25.4.1); converted both ways in vmx_vmcs.c.
 * - Under Bochs 2.7 a host interrupt does not make a guest with IF = 0
 *   exit: the VMX-preemption timer bounds how long the host waits.
 */
#include "hv.h"
#include "boot.h"
#include "percpu.h"
#include "arch/vcpu.h"
#include "arch/vmx.h"

/* The syscall MSRs VT-x does not switch and the MSR bitmap lets the guest
 * write: the CPU keeps the last guest's until another vCPU runs (the host
 * never uses SYSCALL or SWAPGS). */
static const uint32_t syscall_msrs[5] = { MSR_KERNEL_GS_BASE, MSR_STAR, MSR_LSTAR, MSR_CSTAR, MSR_SFMASK };

/* By CPU index: whose syscall MSRs each CPU holds (see vmx.h). */
struct arch_vcpu *vmx_msr_owner[MAX_CPUS];

static void switch_syscall_msrs(struct cpu *cpu, struct arch_vcpu *vcpu)
{
	struct arch_vcpu *owner = vmx_msr_owner[cpu->index];
	if (owner == vcpu)
		return;
	if (owner)
		for (int i = 0; i < 5; i++)
			owner->vmx.syscall_msrs[i] = rdmsr(syscall_msrs[i]);
	for (int i = 0; i < 5; i++)
		wrmsr(syscall_msrs[i], vcpu->vmx.syscall_msrs[i]);
	vmx_msr_owner[cpu->index] = vcpu;
}

/* The interrupt- and NMI-window exiting controls (25.6.2) for the next
 * entries: the guest exits as soon as it can take an interrupt / NMI. */
static void set_windows(struct arch_vcpu *vcpu, uint32_t windows)
{
	windows &= vmx.window_controls;
	if (windows == vcpu->vmx.windows)
		return;
	vmwrite(PRIMARY_CONTROLS, vmx.primary | (vcpu->pause_exits ? vmx.pause_control : 0) | windows);
	vcpu->vmx.windows = windows;
}

/* VMREAD/VMWRITE reach the current VMCS only: make it this vCPU's. The
 * loop may apply an answer to a vCPU that did not run last (a waiting
 * guest woken while another ran), so every entry point calls this. */
static void make_current(struct cpu *cpu, struct arch_vcpu *vcpu)
{
	if (cpu->arch_current != vcpu->control) {
		vmptrld((uint64_t)(uintptr_t)vcpu->control);
		cpu->arch_current = vcpu->control;
	}
}

EXIT_PATH static void vmx_vcpu_run(struct arch_vcpu *vcpu, struct exit_record *e)
{
	struct cpu *cpu = this_cpu();
	make_current(cpu, vcpu);
	switch_syscall_msrs(cpu, vcpu);

	int failed;
	uint32_t exit_reason = 0;
	for (;;) {
		failed = vmx_enter(vcpu->gpr, &vcpu->vmx.cr2, vcpu->launched);
		if (failed)
			break;
		exit_reason = (uint32_t)vmread(EXIT_REASON);
		if (exit_reason & EXIT_REASON_ENTRY_FAILURE)
			break;
		vcpu->launched = true;
		/* The entry delivered what was armed. (A VM exit clears the
		 * valid bit itself, 28.2; being explicit costs one VMWRITE.) */
		if (vcpu->vmx.injecting) {
			vmwrite(ENTRY_INTERRUPTION_INFO, 0);
			vcpu->vmx.injecting = false;
		}
		/* A window is asked for one entry: the core asks again if it
		 * still needs it. */
		if (vcpu->vmx.windows)
			set_windows(vcpu, 0);
		if ((exit_reason & 0xFFFF) != EXIT_REASON_CR_ACCESS || !vmx_handle_cr_access(vcpu))
			break;
	}

	vmx_record_exit(vcpu, e, failed, exit_reason);
}

EXIT_PATH static void vmx_vcpu_apply(struct arch_vcpu *vcpu, const struct exit_record *e)
{
	make_current(this_cpu(), vcpu);
	for (int i = 0; i < 16; i++)
		vcpu->gpr[i] = e->gpr[i];
	vmwrite(GUEST_RSP, e->gpr[RSP]);
	uint64_t rip = e->rip + e->advance;
	vmwrite(GUEST_RFLAGS, e->rflags);
	if (e->advance) {
		/* The instruction retired: its STI/MOV SS shadow ends. */
		uint64_t interruptibility = vmread(GUEST_INTERRUPTIBILITY);
		if (interruptibility & (BLOCKING_STI | BLOCKING_MOV_SS))
			vmwrite(GUEST_INTERRUPTIBILITY, interruptibility & ~(uint64_t)(BLOCKING_STI | BLOCKING_MOV_SS));
	}
	/* EFER first: CR0.PG with EFER.LME decides EFER.LMA in vmx_set_cr0. */
	if (e->dirty & DIRTY_EFER)
		vmx_set_efer(e->efer);
	if (e->dirty & DIRTY_CR3)
		vmwrite(GUEST_CR3, e->cr3);
	if (e->dirty & DIRTY_PAT)
		vmwrite(GUEST_PAT, e->pat);           /* loaded at entry (load IA32_PAT) */
	if (e->dirty & DIRTY_CR4)
		vmx_set_cr4(vcpu, e->cr4);
	if (e->dirty & DIRTY_CR0)
		vmx_set_cr0(vcpu, e->cr0);
	else if (e->dirty & (DIRTY_CR3 | DIRTY_EFER))
		vmx_load_pdptes(vcpu);
	if (e->inject & INJECT_VALID) {
		uint32_t info = e->inject & INTERRUPTION_ENTRY_BITS;
		uint32_t type = INTERRUPTION_TYPE(info);
		/* No error code in real mode (27.2.1.3). */
		if (!(vmx_guest_cr0() & CR0_PE))
			info &= ~INTERRUPTION_ERROR_CODE;
		if (type >= INTERRUPTION_SOFTWARE_INTERRUPT && type <= INTERRUPTION_SOFTWARE_EXCEPTION) {
			/* AMD-V pushes the RIP the core left (past the INT n it
			 * advanced over); VT-x pushes RIP + the entry's instruction
			 * length (27.6.1.1): the same return address. (Length 0
			 * needs IA32_VMX_MISC bit 30, or the entry fails.) */
			vmwrite(ENTRY_INSTRUCTION_LENGTH, e->advance);
			rip = e->rip;
		}
		vmwrite(ENTRY_INTERRUPTION_INFO, info);
		vmwrite(ENTRY_EXCEPTION_ERROR, e->inject_error_code);
		vcpu->vmx.injecting = true;
	}
	vmwrite(GUEST_RIP, rip);
	if (e->dirty & DIRTY_CR2)
		vcpu->vmx.cr2 = e->cr2;       /* vmx_entry.S loads it */
	if (e->dirty & DIRTY_CR8)
		vcpu->vmx.tpr = (uint8_t)(e->cr8 & 0xF);
	if (e->request)
		set_windows(vcpu, (e->request & REQUEST_INTERRUPT_WINDOW ? PRIMARY_INTERRUPT_WINDOW : 0) |
				  (e->request & REQUEST_NMI_WINDOW ? PRIMARY_NMI_WINDOW : 0));
}

static void vmx_vcpu_kick(struct arch_vcpu *vcpu)
{
	make_current(this_cpu(), vcpu);
	set_windows(vcpu, vcpu->vmx.windows | PRIMARY_INTERRUPT_WINDOW);
}

const struct arch_backend vmx_backend = {
	.name = "VT-x",
	.vendor = ARCH_VMX,
	.detect = vmx_detect,
	.cpu_enable = vmx_cpu_enable,
	.vcpu_create = vmx_vcpu_create,
	.vcpu_destroy = vmx_vcpu_destroy,
	.vcpu_run = vmx_vcpu_run,
	.vcpu_apply = vmx_vcpu_apply,
	.vcpu_kick = vmx_vcpu_kick,
};
