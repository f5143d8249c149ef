/*
 * AMD-V with nested paging (AMD APM vol. 2, chapter 15): the backend that
 * runs guests on AMD CPUs and under QEMU TCG. Sibling of vmx.c behind
 * boot/arch/vcpu.h; same functions in the same order. The VMCB and the
 * constants are in svm.h, as vmx.c's are in vmx.h.
 */
#include "hv.h"
#include "boot.h"
#include "percpu.h"
#include "arch/vcpu.h"
#include "arch/svm.h"

extern void svm_enter(uint64_t vmcb_pa, uint64_t *gpr, uint64_t host_save_pa);

/* Per host CPU, in struct cpu: arch_host_save is the VM_HSAVE_PA page
 * (where VMRUN keeps the host state), arch_host_state the host's VMSAVE
 * area (its hidden state). */
static bool has_nrips EXIT_PATH_DATA;

/* CR4 bits that change nothing for the host, whose page tables have no
 * user and no global pages: SMEP and SMAP (user pages), PGE (global
 * pages), PSE (ignored in long mode). Those the CPU has. */
static uint64_t cr4_host_follows EXIT_PATH_DATA;
#define CR4_PSE  (1ull << 4)
#define CR4_PGE  (1ull << 7)
#define CR4_SMEP (1ull << 20)
#define CR4_SMAP (1ull << 21)

static bool svm_detect(char *why, unsigned why_size)
{
	uint32_t a, b, c, d;
	cpuid(0x80000000, 0, &a, &b, &c, &d);
	uint32_t max_extended = a;
	cpuid(0x80000001, 0, &a, &b, &c, &d);
	if (max_extended < 0x8000000A || !(c & CPUID_SVM)) {
		ksnprintf(why, why_size, "the CPU has no AMD-V (CPUID Fn8000_0001 ECX.SVM = 0)");
		return false;
	}
	cpuid(0x8000000A, 0, &a, &b, &c, &d);
	if (!(d & CPUID_NP)) {
		ksnprintf(why, why_size, "AMD-V without nested paging (CPUID Fn8000_000A EDX.NP = 0)");
		return false;
	}
	has_nrips = d & CPUID_NRIPS;
	cpuid(0, 0, &a, &b, &c, &d);
	uint32_t max_basic = a;
	cpuid(1, 0, &a, &b, &c, &d);
	cr4_host_follows = (d & 1u << 3 ? CR4_PSE : 0) | (d & 1u << 13 ? CR4_PGE : 0);
	if (max_basic >= 7) {
		cpuid(7, 0, &a, &b, &c, &d);
		cr4_host_follows |= (b & 1u << 7 ? CR4_SMEP : 0) | (b & 1u << 20 ? CR4_SMAP : 0);
	}
	/* APM vol. 2, 15.4: firmware may disable SVM and lock it off. */
	if (rdmsr(MSR_VM_CR) & VM_CR_SVMDIS) {
		ksnprintf(why, why_size, "AMD-V is disabled by the firmware (VM_CR.SVMDIS): enable SVM in the BIOS setup");
		return false;
	}
	return true;
}

static bool svm_cpu_enable(char *why, unsigned why_size)
{
	struct cpu *cpu = this_cpu();
	if (!cpu->arch_host_save)
		cpu->arch_host_save = pmm_alloc(1, PAGE_SIZE);
	if (!cpu->arch_host_state)
		cpu->arch_host_state = pmm_alloc(1, PAGE_SIZE);
	if (!cpu->arch_host_save || !cpu->arch_host_state) {
		ksnprintf(why, why_size, "out of memory for the host save areas");
		return false;
	}
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SVME);
	wrmsr(MSR_VM_HSAVE_PA, (uint64_t)(uintptr_t)cpu->arch_host_save);
	/* The host's hidden state (TR, GS base, the syscall MSRs), saved once:
	 * the host sets it at its CPU's start and never changes it, so each
	 * exit's VMLOAD brings it back without a VMSAVE before every entry. */
	uint64_t pa = (uint64_t)(uintptr_t)cpu->arch_host_state;
	__asm__ volatile("vmsave" :: "a"(pa) : "memory");
	return true;
}

static void load_segment(struct vmcb_segment *to, const struct exit_segment *from)
{
	to->selector = from->selector;
	to->attributes = from->attributes;
	to->limit = from->limit;
	to->base = from->base;
}

static bool svm_vcpu_create(struct arch_vcpu *vcpu, const struct arch_guest_tables *tables,
			    const struct vcpu_state *s, char *why, unsigned why_size)
{
	struct vmcb *v = pmm_alloc(1, PAGE_SIZE);
	if (!v) {
		ksnprintf(why, why_size, "out of memory for the VMCB");
		return false;
	}
	vcpu->control = v;

	/* What the guest may not do on its own: everything that reaches
	 * hardware we share (ports, MSRs), halts, and every SVM instruction. */
	/* #DB and #AC always exit and are injected again: delivering either
	 * can raise it again inside the CPU with no exit (a data breakpoint
	 * on the exception's own frame, #AC on a misaligned stack:
	 * CVE-2015-8104, CVE-2015-5307), hanging this host CPU. The VMCB's
	 * DR6 already holds the #DB's bits (APM vol. 2, 15.12). #MC is the
	 * host's hardware failing: the guest stops, it does not take it. */
	v->intercept_exceptions = 1u << 1 | 1u << 17 | 1u << 18;
	/* CR4 writes exit: the core refuses the bits whose state is not
	 * switched between guests (PKE, CET, ...; issue 11, hole 3). */
	v->intercept_cr = INTERCEPT_CR4_WRITE;
	v->intercept_misc1 = INTERCEPT_INTR | INTERCEPT_NMI | INTERCEPT_SMI | INTERCEPT_INIT |
			     INTERCEPT_CPUID | INTERCEPT_INVD | INTERCEPT_HLT | INTERCEPT_INVLPGA |
			     INTERCEPT_IOIO | INTERCEPT_MSR | INTERCEPT_SHUTDOWN;
	v->intercept_misc2 = INTERCEPT_VMRUN | INTERCEPT_VMMCALL | INTERCEPT_VMLOAD | INTERCEPT_VMSAVE |
			     INTERCEPT_STGI | INTERCEPT_CLGI | INTERCEPT_SKINIT | INTERCEPT_MONITOR |
			     INTERCEPT_MWAIT | INTERCEPT_MWAIT_C | INTERCEPT_XSETBV | INTERCEPT_WBINVD;
	/* Every PAUSE exits (a filter count of 0, 15.14.4) in a guest of
	 * several vCPUs: they share one host CPU, so a spin loop waits on a
	 * vCPU that only runs once this one gives way. */
	if (vcpu->pause_exits) {
		v->intercept_misc1 |= INTERCEPT_PAUSE;
		v->pause_filter_count = 0;
	}
	v->iopm_base_pa = tables->io_bitmap;
	v->msrpm_base_pa = tables->msr_bitmap;
	v->guest_asid = vcpu->asid;          /* 0 is the host's: VMRUN refuses it */
	v->tlb_control = TLB_FLUSH_ALL;      /* the ASID may have served an earlier guest */
	v->vintr = V_INTR_MASKING;
	v->np_enable = 1;
	v->n_cr3 = tables->nested_root;
	v->tsc_offset = (uint64_t)s->tsc_offset; /* the guest's TSC starts near 0 (15.30.4) */

	load_segment((struct vmcb_segment *)&v->es, &s->es);
	load_segment(&v->cs, &s->cs);
	load_segment(&v->ss, &s->ss);
	load_segment(&v->ds, &s->ds);
	load_segment(&v->fs, &s->fs);
	load_segment(&v->gs, &s->gs);
	load_segment(&v->ldtr, &s->ldtr);
	load_segment(&v->tr, &s->tr);
	v->gdtr.base = s->gdtr_base;
	v->gdtr.limit = s->gdtr_limit;
	v->idtr.base = s->idtr_base;
	v->idtr.limit = s->idtr_limit;
	v->cpl = (s->ss.attributes >> 5) & 3;
	v->efer = s->efer | EFER_SVME;       /* VMRUN requires SVME in the guest EFER */
	v->cr0 = s->cr0;
	v->cr3 = s->cr3;
	v->cr4 = s->cr4;
	v->dr6 = 0xFFFF0FF0;
	v->dr7 = 0x400;
	v->rflags = s->rflags;
	v->rip = s->rip;
	v->rsp = s->gpr[RSP];
	v->rax = s->gpr[RAX];
	v->g_pat = 0x0007040600070406ull;    /* the power-on PAT */
	for (int i = 0; i < 16; i++)
		vcpu->gpr[i] = s->gpr[i];
	return true;
}

static void svm_vcpu_destroy(struct arch_vcpu *vcpu)
{
	if (vcpu->control)
		pmm_free(vcpu->control, 1);
	vcpu->control = NULL;
}

static void save_segment(struct exit_segment *to, const struct vmcb_segment *from)
{
	to->selector = from->selector;
	to->attributes = from->attributes;
	to->limit = from->limit;
	to->base = from->base;
}

/* ES, DS, FS, GS: what instruction emulation needs beyond CS and SS. */
static void save_data_segments(struct exit_record *e, const struct vmcb *v)
{
	save_segment(&e->es, (const struct vmcb_segment *)&v->es);
	save_segment(&e->ds, &v->ds);
	save_segment(&e->fs, &v->fs);
	save_segment(&e->gs, &v->gs);
}

/* The host takes the guest's value of the CR4 bits it need not care about
 * before each entry. QEMU TCG empties its whole soft TLB and TB jump cache
 * at a world switch that changes one of them (cpu_x86_update_cr4), at VMRUN
 * and again at #VMEXIT: for a Linux guest, 2 of the 6 flushes of each of
 * its exits. Written only when they differ, as a guest sets them once (on
 * hardware a CR4 write that changes PGE empties the TLB). */
static void host_cr4_follow(uint64_t guest_cr4)
{
	uint64_t cr4;
	__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
	uint64_t want = (cr4 & ~cr4_host_follows) | (guest_cr4 & cr4_host_follows);
	if (want != cr4)
		__asm__ volatile("mov %0, %%cr4" :: "r"(want) : "memory");
}

EXIT_PATH static void svm_vcpu_run(struct arch_vcpu *vcpu, struct exit_record *e)
{
	struct vmcb *v = vcpu->control;
	uint64_t pa = (uint64_t)(uintptr_t)v;

	host_cr4_follow(v->cr4);

	/* An NMI injected now blocks the next until its handler's IRET. */
	if ((v->eventinj & EVENT_VALID) && (v->eventinj & 0x700) == INJECT_TYPE_NMI)
		vcpu->nmi_blocked = true;
	svm_enter(pa, vcpu->gpr, (uint64_t)(uintptr_t)this_cpu()->arch_host_state);
	v->tlb_control = 0;
	v->eventinj = 0;
	/* The window was asked for one exit: the core asks again if it
	 * still needs it. */
	v->vintr &= ~(V_IRQ | V_IGN_TPR | V_INTR_PRIO_ALL);
	v->intercept_misc1 &= ~(INTERCEPT_VINTR | INTERCEPT_IRET);

	for (int i = 0; i < 16; i++)
		e->gpr[i] = vcpu->gpr[i];
	e->gpr[RAX] = v->rax;
	e->gpr[RSP] = v->rsp;
	e->rip = v->rip;
	e->rflags = v->rflags;
	e->cr0 = v->cr0;
	e->cr2 = v->cr2;
	e->cr3 = v->cr3;
	e->cr4 = v->cr4;
	e->efer = v->efer & ~EFER_SVME;      /* the guest never sees SVME */
	e->cpl = v->cpl;
	save_segment(&e->cs, &v->cs);
	save_segment(&e->ss, &v->ss);
	e->raw_reason = (uint32_t)v->exitcode;
	e->detail = v->exitinfo1;
	exit_record_clear_operands(e);
	e->cr8 = (uint32_t)(v->vintr & V_TPR_MASK);
	e->interruptibility = (v->interrupt_shadow & INTERRUPT_SHADOW ? BLOCKED_BY_SHADOW : 0) |
			      (vcpu->nmi_blocked ? BLOCKED_NMI : 0);
	/* TCG and older CPUs have no next-RIP: the core then knows the
	 * length of the instructions it emulates (0 = unknown). */
	e->instruction_length = has_nrips && v->next_rip > v->rip && v->next_rip - v->rip <= 15
				? (uint32_t)(v->next_rip - v->rip) : 0;

	uint64_t code = v->exitcode;
	/* VMEXIT_INVALID is -1; QEMU TCG reports it in the low 32 bits only. */
	if ((uint32_t)code == 0xFFFFFFFFu)
		code = VMEXIT_INVALID;
	switch (code) {
	case VMEXIT_CPUID:
		e->reason = EXIT_CPUID;
		break;
	case VMEXIT_IOIO: {
		uint32_t info = (uint32_t)v->exitinfo1;
		e->reason = EXIT_IO;
		e->port = (uint16_t)(info >> 16);
		e->io_size = (info >> 4) & 1 ? 1 : (info >> 5) & 1 ? 2 : 4;
		e->io_flags = (info & IOIO_IN ? EXIT_IO_IN : 0) | (info & IOIO_STR ? EXIT_IO_STRING : 0) |
			      (info & IOIO_REP ? EXIT_IO_REP : 0);
		if (info & IOIO_STR)
			save_data_segments(e, v);
		/* EXITINFO2 is the RIP of the next instruction, with or without
		 * NRIPS (APM vol. 2, 15.10.2). */
		if (v->exitinfo2 > v->rip && v->exitinfo2 - v->rip <= 15)
			e->instruction_length = (uint32_t)(v->exitinfo2 - v->rip);
		break;
	}
	case VMEXIT_MSR:
		e->reason = v->exitinfo1 ? EXIT_MSR_WRITE : EXIT_MSR_READ;
		e->msr = (uint32_t)vcpu->gpr[RCX];
		break;
	case VMEXIT_HLT:
		e->reason = EXIT_HLT;
		break;
	case VMEXIT_NPF:
		e->reason = EXIT_NESTED_PAGE_FAULT;
		e->gpa = v->exitinfo2;
		save_data_segments(e, v);
		e->access = (v->exitinfo1 & NPF_WRITE ? EXIT_ACCESS_WRITE : EXIT_ACCESS_READ) |
			    (v->exitinfo1 & NPF_EXECUTE ? EXIT_ACCESS_EXECUTE : 0) |
			    (v->exitinfo1 & NPF_PRESENT ? EXIT_ACCESS_PRESENT : 0) |
			    (v->exitinfo1 & NPF_GUEST_PAGE_TABLE ? EXIT_ACCESS_PAGE_WALK : 0);
		break;
	case VMEXIT_INTR:
	case VMEXIT_NMI:
	case VMEXIT_SMI:
	case VMEXIT_INIT:
		e->reason = EXIT_EXTERNAL_INTERRUPT;
		break;
	case VMEXIT_VINTR:
		e->reason = EXIT_INTERRUPT_WINDOW;
		break;
	case VMEXIT_IRET:
		/* The NMI handler returns: NMIs are unblocked once this IRET
		 * retires; the core's NMI is delivered right at it, which is
		 * where the CPU itself would take a pending one. */
		vcpu->nmi_blocked = false;
		e->interruptibility &= ~BLOCKED_NMI;
		e->reason = EXIT_NMI_WINDOW;
		break;
	case VMEXIT_VMMCALL:
		e->reason = EXIT_HYPERCALL;
		break;
	case VMEXIT_VMRUN:
	case VMEXIT_VMLOAD ... VMEXIT_SKINIT:
	case VMEXIT_INVLPGA:
	case VMEXIT_MONITOR ... VMEXIT_MWAIT_C:
		/* VMRUN, VMLOAD, VMSAVE, STGI, CLGI, SKINIT, INVLPGA; and
		 * MONITOR/MWAIT, which could park the physical CPU. */
		e->reason = EXIT_VIRTUALIZATION_INSTRUCTION;
		break;
	case VMEXIT_PAUSE:
		e->reason = EXIT_PAUSE;
		break;
	case VMEXIT_INVD:
		/* INVD would drop dirty cache lines that are not the guest's:
		 * refused with #UD, as the virtualization instructions are. */
		e->reason = EXIT_VIRTUALIZATION_INSTRUCTION;
		break;
	case VMEXIT_XSETBV:
		e->reason = EXIT_XSETBV;
		break;
	case VMEXIT_WBINVD:
		e->reason = EXIT_WBINVD;
		break;
	case VMEXIT_CR4_WRITE:
		e->reason = EXIT_CR_WRITE;          /* EXITINFO1 (decode assist) is in detail */
		break;
	case VMEXIT_SHUTDOWN:
		e->reason = EXIT_SHUTDOWN;
		break;
	case VMEXIT_INVALID:
		e->reason = EXIT_INVALID_STATE;
		break;
	default:
		if (code >= VMEXIT_EXCEPTION_0 && code < VMEXIT_EXCEPTION_0 + 32) {
			e->reason = EXIT_EXCEPTION;
			e->exception_vector = (uint32_t)(code - VMEXIT_EXCEPTION_0);
			e->exception_error_code = (uint32_t)v->exitinfo1;
		} else {
			e->reason = EXIT_UNKNOWN;
		}
	}
	/* An event that was being delivered when the exit hit (e.g. an
	 * interrupt whose IDT access faulted) must be delivered again
	 * (APM vol. 2, 15.7.2): keep it unless the core injects its own. */
	if (v->exitintinfo & EVENT_VALID) {
		v->eventinj = v->exitintinfo;
		e->pending_event = (uint32_t)v->exitintinfo;
		e->pending_error_code = (uint32_t)(v->exitintinfo >> 32);
	}
}

/* The interrupt window (APM vol. 2, 15.21.4): a virtual interrupt the
 * guest takes as soon as its IF and shadow allow, intercepted before it is
 * delivered (VINTR). */
static void request_interrupt_window(struct vmcb *v)
{
	v->vintr |= V_IRQ | V_IGN_TPR | V_INTR_PRIO_ALL;
	v->intercept_misc1 |= INTERCEPT_VINTR;
}

EXIT_PATH static void svm_vcpu_apply(struct arch_vcpu *vcpu, const struct exit_record *e)
{
	struct vmcb *v = vcpu->control;
	for (int i = 0; i < 16; i++)
		vcpu->gpr[i] = e->gpr[i];
	v->rax = e->gpr[RAX];
	v->rsp = e->gpr[RSP];
	v->rip = e->rip + e->advance;
	v->rflags = e->rflags;
	if (e->advance)
		v->interrupt_shadow = 0;     /* the instruction retired (STI/MOV SS shadow ends) */
	if (e->dirty & DIRTY_EFER)
		v->efer = e->efer | EFER_SVME;
	if (e->dirty & DIRTY_CR0)
		v->cr0 = e->cr0;
	if (e->dirty & DIRTY_CR3)
		v->cr3 = e->cr3;
	if (e->dirty & DIRTY_CR4) {
		v->cr4 = e->cr4;
		v->tlb_control = TLB_FLUSH_ALL;   /* as MOV CR4 would flush the guest's TLB */
	}
	if (e->dirty & DIRTY_CR2)
		v->cr2 = e->cr2;
	if (e->dirty & DIRTY_PAT)
		v->g_pat = e->pat;                   /* the guest's PAT under nested paging (15.25.8) */
	if (e->dirty & DIRTY_CR8)
		v->vintr = (v->vintr & ~V_TPR_MASK) | (e->cr8 & V_TPR_MASK);
	if (e->inject & INJECT_VALID)
		v->eventinj = (uint64_t)e->inject | (uint64_t)e->inject_error_code << 32;
	if (e->request & REQUEST_INTERRUPT_WINDOW)
		request_interrupt_window(v);
	/* The NMI window: NMIs are blocked until the handler's IRET. */
	if ((e->request & REQUEST_NMI_WINDOW) && vcpu->nmi_blocked)
		v->intercept_misc1 |= INTERCEPT_IRET;
}

static void svm_vcpu_kick(struct arch_vcpu *vcpu)
{
	request_interrupt_window(vcpu->control);
}

const struct arch_backend svm_backend = {
	.name = "AMD-V",
	.vendor = ARCH_SVM,
	.detect = svm_detect,
	.cpu_enable = svm_cpu_enable,
	.vcpu_create = svm_vcpu_create,
	.vcpu_destroy = svm_vcpu_destroy,
	.vcpu_run = svm_vcpu_run,
	.vcpu_apply = svm_vcpu_apply,
	.vcpu_kick = svm_vcpu_kick,
};
