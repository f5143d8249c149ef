/*
 * The VMCS of a vCPU (Intel SDM vol. 3C, chapter 25): vcpu_create writes
 * its controls, host state and the guest's initial state, vcpu_destroy
 * clears it; the twins of svm_vcpu_create and svm_vcpu_destroy. With them
 * what they need and the rest of the backend shares: segment attributes
 * converted to access rights and back, and the guest's CR0, CR4 and EFER
 * as VMX operation lets a guest have them (guest/host masks, read shadows,
 * EFER.LMA, the PAE PDPTEs, the TLB flushes a MOV to CR would do).
 */
#include "hv.h"
#include "boot.h"
#include "percpu.h"
#include "arch/vcpu.h"
#include "arch/vmx.h"

/* AMD attributes (exit_record.h) to VMX access rights (25.4.1). VT-x checks
 * what AMD-V does not (27.3.1.2): code and data segments must have their
 * accessed bit set and TR must hold a busy TSS; the CPU sets the first on
 * every load anyway, and a TSS in TR is busy by definition. */
static uint32_t access_rights(const struct exit_segment *s, int index)
{
	uint32_t attributes = s->attributes;
	if (!(attributes & ATTR_P))
		return AR_UNUSABLE | (attributes & 0xFF);   /* SS.DPL still counts (the CPL) */
	uint32_t ar = (attributes & 0xFF) | ((attributes & 0xF00) << 4);
	if (attributes & ATTR_S)
		ar |= 1;                                      /* accessed */
	if (index == SEG_TR)
		ar |= 2;                                      /* busy (type 3 or 11) */
	return ar;
}

/* And back: access rights to AMD attributes, P clear when unusable. */
uint16_t vmx_segment_attributes(uint32_t ar)
{
	uint16_t attributes = (uint16_t)((ar & 0xFF) | ((ar >> 4) & 0xF00));
	if (ar & AR_UNUSABLE)
		attributes &= ~ATTR_P;
	return attributes;
}

static bool load_segment(int index, const struct exit_segment *from)
{
	bool ok = vmwrite(GUEST_ES_SELECTOR + 2 * index, from->selector);
	ok &= vmwrite(GUEST_ES_LIMIT + 2 * index, from->limit);
	ok &= vmwrite(GUEST_ES_ACCESS_RIGHTS + 2 * index, access_rights(from, index));
	ok &= vmwrite(GUEST_ES_BASE + 2 * index, from->base);
	return ok;
}

/* --- guest control registers -------------------------------------------------
 * The real CR0/CR4 (GUEST_CR0/4) honour VMX's fixed bits; the read shadows
 * hold what the guest wrote, and guest reads of masked bits see them
 * (25.6.6). */

uint64_t vmx_guest_cr0(void)
{
	return (vmread(GUEST_CR0) & ~vmx.cr0_mask) | (vmread(CR0_READ_SHADOW) & vmx.cr0_mask);
}

uint64_t vmx_guest_cr4(void)
{
	return (vmread(GUEST_CR4) & ~vmx.cr4_mask) | (vmread(CR4_READ_SHADOW) & vmx.cr4_mask);
}

/* Keeps the "IA-32e mode guest" entry control equal to EFER.LMA, as VM
 * entry demands (27.3.1.1). */
void vmx_set_efer(uint64_t efer)
{
	vmwrite(GUEST_EFER, efer);
	uint32_t entry = (uint32_t)vmread(ENTRY_CONTROLS);
	uint32_t wanted = efer & EFER_LMA ? entry | ENTRY_IA32E_GUEST : entry & ~ENTRY_IA32E_GUEST;
	if (wanted != entry)
		vmwrite(ENTRY_CONTROLS, wanted);
}

/* Host-physical address of a guest-physical one, through the guest's EPT
 * (the tables are in identity-mapped host memory); ~0 if not mapped. */
static uint64_t ept_translate(uint64_t eptp, uint64_t gpa)
{
	uint64_t table = eptp & EPT_ADDRESS;
	for (int level = 4; level >= 1; level--) {
		unsigned shift = 12 + 9 * (level - 1);
		uint64_t entry = ((const uint64_t *)phys_to_virt(table))[(gpa >> shift) & 511];
		if (!(entry & EPT_PRESENT))
			return ~0ull;
		if (level == 1 || (entry & EPT_LEAF))
			return (entry & EPT_ADDRESS & ~((1ull << shift) - 1)) | (gpa & ((1ull << shift) - 1));
		table = entry & EPT_ADDRESS;
	}
	return ~0ull;
}

/* With EPT, VM entry takes a PAE guest's four PDPTEs from the VMCS, not
 * from memory (27.3.2.4); the CPU keeps them up to date while the guest
 * runs (28.3.4), so they need loading only when the backend changes CR0,
 * CR3 or CR4 into or within PAE paging. An unreadable table gives
 * not-present entries: the guest then page-faults. */
void vmx_load_pdptes(struct arch_vcpu *vcpu)
{
	uint64_t cr0 = vmread(GUEST_CR0), cr4 = vmread(GUEST_CR4);
	if (!(cr0 & CR0_PG) || !(cr4 & CR4_PAE) || (vmread(GUEST_EFER) & EFER_LMA))
		return;
	uint64_t gpa = vmread(GUEST_CR3) & 0xFFFFFFE0;
	uint64_t hpa = ept_translate(vcpu->vmx.eptp, gpa);
	for (int i = 0; i < 4; i++)   /* 32-byte aligned: never across a page */
		vmwrite(GUEST_PDPTE0 + 2 * i, hpa == ~0ull ? 0 : ((const uint64_t *)phys_to_virt(hpa))[i]);
}

/* The guest's TLB entries must go where the guest's own MOV to CR0/CR4
 * would have flushed them (vol. 3A 4.10.4.1), as the backend emulated it;
 * without VPID every VM entry flushes anyway. */
static void flush_guest_tlb(struct arch_vcpu *vcpu)
{
	if (vmx.secondary & SECONDARY_VPID)
		invvpid(vmx.invvpid_type, (uint16_t)vcpu->asid);
}

/* Writes the CR0 the guest is to see. EFER.LMA follows CR0.PG with
 * EFER.LME, as the CPU does on a real MOV to CR0 (vol. 3A 10.8.5). */
void vmx_set_cr0(struct arch_vcpu *vcpu, uint64_t cr0)
{
	uint64_t old = vmx_guest_cr0();
	uint64_t real = ((cr0 | (vmx.cr0_fixed0 & ~(CR0_PE | CR0_PG))) & vmx.cr0_fixed1) & ~(CR0_CD | CR0_NW);
	vmwrite(GUEST_CR0, real);
	vmwrite(CR0_READ_SHADOW, cr0);
	uint64_t efer = vmread(GUEST_EFER);
	uint64_t lma = (cr0 & CR0_PG) && (efer & EFER_LME) ? EFER_LMA : 0;
	if ((efer & EFER_LMA) != lma)
		vmx_set_efer((efer & ~EFER_LMA) | lma);
	if ((old ^ cr0) & (CR0_PG | CR0_PE | CR0_WP | CR0_CD))
		flush_guest_tlb(vcpu);
	vmx_load_pdptes(vcpu);
}

void vmx_set_cr4(struct arch_vcpu *vcpu, uint64_t cr4)
{
	uint64_t old = vmx_guest_cr4();
	vmwrite(GUEST_CR4, (cr4 | vmx.cr4_fixed0) & vmx.cr4_fixed1);
	vmwrite(CR4_READ_SHADOW, cr4);
	if (old != cr4)
		flush_guest_tlb(vcpu);
	vmx_load_pdptes(vcpu);
}

bool vmx_vcpu_create(struct arch_vcpu *vcpu, const struct arch_guest_tables *tables,
			const struct vcpu_state *s, char *why, unsigned why_size)
{
	void *vmcs = pmm_alloc(1, PAGE_SIZE);
	if (!vmcs) {
		ksnprintf(why, why_size, "out of memory for the VMCS");
		return false;
	}
	*(uint32_t *)vmcs = vmx.revision;               /* 25.2 */
	uint64_t pa = (uint64_t)(uintptr_t)vmcs;
	if (!vmclear(pa) || !vmptrld(pa)) {
		pmm_free(vmcs, 1);
		ksnprintf(why, why_size, "VMCLEAR/VMPTRLD of the new VMCS failed");
		return false;
	}
	vcpu->control = vmcs;
	this_cpu()->arch_current = vmcs;
	vcpu->vmx.eptp = tables->nested_root | EPTP_WB | EPTP_WALK_4;
	bool ok = true;

	/* --- execution controls (25.6) --- */
	ok &= vmwrite(PIN_BASED_CONTROLS, vmx.pin);     /* host interrupts, NMIs, the timer exit */
	/* HLT, MWAIT/MONITOR, CR8 exit; bitmaps; PAUSE for several vCPUs */
	ok &= vmwrite(PRIMARY_CONTROLS, vmx.primary | (vcpu->pause_exits ? vmx.pause_control : 0));
	ok &= vmwrite(SECONDARY_CONTROLS, vmx.secondary); /* EPT, unrestricted guest, VPID */
	/* #MC is the host's hardware failing: stop the guest, do not let it
	 * handle a machine check it cannot understand. #DB and #AC always
	 * exit and are injected again: delivering either can raise it again
	 * inside the CPU with no exit at all (a data breakpoint on the
	 * exception's own stack frame, an #AC pushing to a misaligned stack:
	 * CVE-2015-8104, CVE-2015-5307), which would hang this host CPU. */
	ok &= vmwrite(EXCEPTION_BITMAP, 1u << VECTOR_MC | 1u << VECTOR_DB | 1u << VECTOR_AC);
	ok &= vmwrite(PAGE_FAULT_ERROR_MASK, 0);        /* (no #PF intercept to filter) */
	ok &= vmwrite(PAGE_FAULT_ERROR_MATCH, 0);
	ok &= vmwrite(CR3_TARGET_COUNT, 0);             /* (CR3 loads do not exit) */
	ok &= vmwrite(IO_BITMAP_A, tables->io_bitmap);  /* ports 0-7FFF, built by the supervisor */
	ok &= vmwrite(IO_BITMAP_B, tables->io_bitmap + PAGE_SIZE); /* ports 8000-FFFF */
	ok &= vmwrite(MSR_BITMAP, tables->msr_bitmap);  /* what passes: see permission_bitmaps.ts */
	ok &= vmwrite(TSC_OFFSET, (uint64_t)s->tsc_offset); /* the guest's TSC starts near 0 (25.6.5) */
	ok &= vmwrite(EPT_POINTER, vcpu->vmx.eptp);     /* the guest's RAM, WB, 4 levels (25.6.11) */
	if (vmx.secondary & SECONDARY_VPID)
		ok &= vmwrite(VPID, vcpu->asid);        /* 0 is the host's: entry refuses it */
	/* Masked CR bits read from the shadow: the guest sees its own CR0/CR4,
	 * the CPU gets NE=1, VMXE=1 (and whatever else VMX fixes). */
	ok &= vmwrite(CR0_GUEST_HOST_MASK, vmx.cr0_mask);
	ok &= vmwrite(CR4_GUEST_HOST_MASK, vmx.cr4_mask);

	/* --- exit and entry controls (25.7, 25.8) --- */
	ok &= vmwrite(EXIT_CONTROLS, vmx.exit);         /* 64-bit host; EFER, PAT, DR7 switched */
	ok &= vmwrite(EXIT_MSR_STORE_COUNT, 0);         /* no MSR lists: the bitmaps and */
	ok &= vmwrite(EXIT_MSR_LOAD_COUNT, 0);          /* vcpu_run cover the MSRs */
	ok &= vmwrite(ENTRY_MSR_LOAD_COUNT, 0);
	ok &= vmwrite(ENTRY_CONTROLS, vmx.entry | (s->efer & EFER_LMA ? ENTRY_IA32E_GUEST : 0));
	ok &= vmwrite(ENTRY_INTERRUPTION_INFO, 0);      /* nothing to inject yet */
	ok &= vmwrite(ENTRY_EXCEPTION_ERROR, 0);
	ok &= vmwrite(ENTRY_INSTRUCTION_LENGTH, 0);

	/* --- host state (25.5): what a VM exit loads (28.5) --- */
	uint64_t cr0, cr3, cr4;
	__asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
	__asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
	__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
	struct { uint16_t limit; uint64_t base; } __attribute__((packed)) gdtr, idtr;
	__asm__ volatile("sgdt %0" : "=m"(gdtr));
	__asm__ volatile("sidt %0" : "=m"(idtr));
	/* TR's base is in the GDT's 16-byte TSS descriptor (vol. 3A 8.2.3). */
	const uint8_t *tss = (const uint8_t *)(uintptr_t)gdtr.base + HV_TSS;
	uint64_t tr_base = (uint64_t)tss[2] | (uint64_t)tss[3] << 8 | (uint64_t)tss[4] << 16 |
			   (uint64_t)tss[7] << 24 | (uint64_t)*(const uint32_t *)(tss + 8) << 32;
	ok &= vmwrite(HOST_CR0, cr0);                   /* the stub's own, current */
	ok &= vmwrite(HOST_CR3, cr3);
	ok &= vmwrite(HOST_CR4, cr4);
	ok &= vmwrite(HOST_CS_SELECTOR, HV_CS);         /* boot/gdt.c's selectors */
	ok &= vmwrite(HOST_SS_SELECTOR, HV_DS);
	ok &= vmwrite(HOST_DS_SELECTOR, HV_DS);
	ok &= vmwrite(HOST_ES_SELECTOR, HV_DS);
	ok &= vmwrite(HOST_FS_SELECTOR, 0);             /* gdt_init loads null into FS/GS */
	ok &= vmwrite(HOST_GS_SELECTOR, 0);
	ok &= vmwrite(HOST_TR_SELECTOR, HV_TSS);        /* the IST stacks for #DF, NMI, #MC */
	ok &= vmwrite(HOST_FS_BASE, rdmsr(MSR_FS_BASE));
	ok &= vmwrite(HOST_GS_BASE, rdmsr(MSR_GS_BASE));
	ok &= vmwrite(HOST_TR_BASE, tr_base);
	ok &= vmwrite(HOST_GDTR_BASE, gdtr.base);       /* limits become 0xFFFF on exit (28.5.2): */
	ok &= vmwrite(HOST_IDTR_BASE, idtr.base);       /* harmless, all selectors stay valid */
	ok &= vmwrite(HOST_SYSENTER_CS, rdmsr(MSR_SYSENTER_CS)); /* the host's, unused but loaded */
	ok &= vmwrite(HOST_SYSENTER_ESP, rdmsr(MSR_SYSENTER_ESP));
	ok &= vmwrite(HOST_SYSENTER_EIP, rdmsr(MSR_SYSENTER_EIP));
	ok &= vmwrite(HOST_EFER, rdmsr(MSR_EFER));      /* LME/LMA/NXE of the stub */
	ok &= vmwrite(HOST_PAT, rdmsr(MSR_PAT));
	ok &= vmwrite(HOST_RIP, (uint64_t)(uintptr_t)vmx_exit); /* HOST_RSP: per entry, vmx_entry.S */

	/* --- guest state (25.4) from the core's initial state --- */
	ok &= load_segment(SEG_ES, &s->es);
	ok &= load_segment(SEG_CS, &s->cs);
	ok &= load_segment(SEG_SS, &s->ss);
	ok &= load_segment(SEG_DS, &s->ds);
	ok &= load_segment(SEG_FS, &s->fs);
	ok &= load_segment(SEG_GS, &s->gs);
	ok &= load_segment(SEG_LDTR, &s->ldtr);
	ok &= load_segment(SEG_TR, &s->tr);
	ok &= vmwrite(GUEST_GDTR_BASE, s->gdtr_base);
	ok &= vmwrite(GUEST_GDTR_LIMIT, s->gdtr_limit);
	ok &= vmwrite(GUEST_IDTR_BASE, s->idtr_base);
	ok &= vmwrite(GUEST_IDTR_LIMIT, s->idtr_limit);
	ok &= vmwrite(GUEST_EFER, s->efer);             /* LMA matches the IA-32e entry control */
	ok &= vmwrite(GUEST_CR3, s->cr3);
	ok &= vmwrite(GUEST_CR0, 0);                    /* vmx_set_cr0 below compares with these */
	ok &= vmwrite(CR0_READ_SHADOW, 0);
	ok &= vmwrite(GUEST_CR4, 0);
	ok &= vmwrite(CR4_READ_SHADOW, 0);
	ok &= vmwrite(GUEST_DR7, 0x400);                /* the reset value: no breakpoints */
	ok &= vmwrite(GUEST_DEBUGCTL, 0);
	ok &= vmwrite(GUEST_RSP, s->gpr[RSP]);
	ok &= vmwrite(GUEST_RIP, s->rip);
	ok &= vmwrite(GUEST_RFLAGS, s->rflags);
	ok &= vmwrite(GUEST_PENDING_DEBUG, 0);
	ok &= vmwrite(GUEST_SYSENTER_CS, 0);            /* switched by entry/exit, like the */
	ok &= vmwrite(GUEST_SYSENTER_ESP, 0);           /* VMCB's under VMLOAD/VMSAVE */
	ok &= vmwrite(GUEST_SYSENTER_EIP, 0);
	ok &= vmwrite(GUEST_PAT, 0x0007040600070406ull); /* the power-on PAT */
	ok &= vmwrite(VMCS_LINK_POINTER, ~0ull);        /* no shadow VMCS (27.3.1.5) */
	ok &= vmwrite(GUEST_INTERRUPTIBILITY, 0);       /* no STI/MOV SS shadow pending */
	ok &= vmwrite(GUEST_ACTIVITY_STATE, 0);         /* active */
	if (vmx.pin & PIN_PREEMPTION_TIMER) {
		/* 1 ms from each entry, so a guest that never exits still lets
		 * the host take its timer within 1 ms (each entry reloads it). */
		uint64_t period = (tsc_hz() / 1000) >> vmx.timer_rate;
		ok &= vmwrite(GUEST_PREEMPTION_TIMER, period == 0 ? 1 : period > 0xFFFFFFFF ? 0xFFFFFFFF : period);
	}
	for (int i = 0; i < 4; i++)
		ok &= vmwrite(GUEST_PDPTE0 + 2 * i, 0);
	if (!ok) {
		ksnprintf(why, why_size, "a VMWRITE to the new VMCS failed (VM-instruction error %llu)",
			  (unsigned long long)vmread(VM_INSTRUCTION_ERROR));
		vmclear(pa);
		this_cpu()->arch_current = NULL;
		pmm_free(vmcs, 1);
		vcpu->control = NULL;
		return false;
	}
	vmx_set_cr4(vcpu, s->cr4);
	vmx_set_cr0(vcpu, s->cr0);                          /* after CR4 and EFER: LMA, PDPTEs */

	for (int i = 0; i < 16; i++)
		vcpu->gpr[i] = s->gpr[i];
	vcpu->launched = false;
	/* The EPT root and the VPID may have served an earlier guest. */
	invept(vmx.invept_type, vcpu->vmx.eptp);
	flush_guest_tlb(vcpu);
	return true;
}

void vmx_vcpu_destroy(struct arch_vcpu *vcpu)
{
	struct cpu *cpu = this_cpu();
	if (vcpu->control) {
		vmclear((uint64_t)(uintptr_t)vcpu->control);
		if (cpu->arch_current == vcpu->control)
			cpu->arch_current = NULL;
		/* Whatever guest gets these tables' pages or this VPID next must
		 * find nothing of this one cached. */
		invept(vmx.invept_type, vcpu->vmx.eptp);
		flush_guest_tlb(vcpu);
		pmm_free(vcpu->control, 1);
	}
	if (vmx_msr_owner[cpu->index] == vcpu)
		vmx_msr_owner[cpu->index] = NULL;
	vcpu->control = NULL;
}
