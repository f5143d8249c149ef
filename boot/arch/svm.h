/*
 * Private to the AMD-V backend (svm.c; nothing else includes it): the MSRs
 * and CPUID bits, the VMCB's layout, intercept bits, exit codes and event
 * format (AMD APM vol. 2, chapter 15 and appendix B). The twin of
 * vmx.h.
 */
#ifndef ARCH_SVM_H
#define ARCH_SVM_H

#include <stdint.h>

/* --- MSRs and CPUID bits (APM vol. 2, 15.4, 15.30; APM vol. 3, E.4) ------*/
#define MSR_EFER        0xC0000080
#define EFER_SVME       (1ull << 12)
#define MSR_VM_CR       0xC0010114
#define VM_CR_SVMDIS    (1ull << 4)
#define MSR_VM_HSAVE_PA 0xC0010117
#define CPUID_SVM       (1u << 2)   /* Fn8000_0001 ECX */
#define CPUID_NP        (1u << 0)   /* Fn8000_000A EDX */
#define CPUID_NRIPS     (1u << 3)   /* Fn8000_000A EDX: next RIP saved on #VMEXIT */

/* --- the VMCB (APM vol. 2, appendix B) -----------------------------------*/
struct vmcb_segment {
	uint16_t selector, attributes;
	uint32_t limit;
	uint64_t base;
};

struct vmcb {
	/* control area, 0x000 */
	uint32_t intercept_cr;          /* 0x000 reads 0-15, writes 16-31 */
	uint32_t intercept_dr;          /* 0x004 */
	uint32_t intercept_exceptions;  /* 0x008 */
	uint32_t intercept_misc1;       /* 0x00C */
	uint32_t intercept_misc2;       /* 0x010 */
	uint32_t intercept_misc3;       /* 0x014 */
	uint8_t reserved1[0x03C - 0x018];
	uint16_t pause_filter_threshold;/* 0x03C */
	uint16_t pause_filter_count;    /* 0x03E */
	uint64_t iopm_base_pa;          /* 0x040 */
	uint64_t msrpm_base_pa;         /* 0x048 */
	uint64_t tsc_offset;            /* 0x050 */
	uint32_t guest_asid;            /* 0x058 */
	uint8_t tlb_control;            /* 0x05C */
	uint8_t reserved2[3];
	uint64_t vintr;                 /* 0x060 V_TPR, V_IRQ (8), V_INTR_MASKING (24) ... */
	uint64_t interrupt_shadow;      /* 0x068 */
	uint64_t exitcode;              /* 0x070 */
	uint64_t exitinfo1;             /* 0x078 */
	uint64_t exitinfo2;             /* 0x080 */
	uint64_t exitintinfo;           /* 0x088 */
	uint64_t np_enable;             /* 0x090 */
	uint64_t avic_apic_bar;         /* 0x098 */
	uint64_t ghcb_pa;               /* 0x0A0 */
	uint64_t eventinj;              /* 0x0A8 */
	uint64_t n_cr3;                 /* 0x0B0 */
	uint64_t lbr_virtualization;    /* 0x0B8 */
	uint32_t clean_bits;            /* 0x0C0 */
	uint32_t reserved3;
	uint64_t next_rip;              /* 0x0C8 */
	uint8_t bytes_fetched;          /* 0x0D0 */
	uint8_t guest_instruction_bytes[15];
	uint8_t reserved4[0x400 - 0x0E0];
	/* state save area, 0x400 */
	struct vmcb_segment es, cs, ss, ds, fs, gs, gdtr, ldtr, idtr, tr; /* 0x400-0x49F */
	uint8_t reserved5[0x4CB - 0x4A0];
	uint8_t cpl;                    /* 0x4CB */
	uint32_t reserved6;
	uint64_t efer;                  /* 0x4D0 */
	uint8_t reserved7[0x548 - 0x4D8];
	uint64_t cr4;                   /* 0x548 */
	uint64_t cr3;                   /* 0x550 */
	uint64_t cr0;                   /* 0x558 */
	uint64_t dr7;                   /* 0x560 */
	uint64_t dr6;                   /* 0x568 */
	uint64_t rflags;                /* 0x570 */
	uint64_t rip;                   /* 0x578 */
	uint8_t reserved8[0x5D8 - 0x580];
	uint64_t rsp;                   /* 0x5D8 */
	uint8_t reserved9[0x5F8 - 0x5E0];
	uint64_t rax;                   /* 0x5F8 */
	uint64_t star, lstar, cstar, sfmask, kernel_gs_base; /* 0x600 */
	uint64_t sysenter_cs, sysenter_esp, sysenter_eip;    /* 0x628 */
	uint64_t cr2;                   /* 0x640 */
	uint8_t reserved10[0x668 - 0x648];
	uint64_t g_pat;                 /* 0x668 */
	uint8_t reserved11[0x1000 - 0x670];
};
_Static_assert(__builtin_offsetof(struct vmcb, next_rip) == 0x0C8, "VMCB layout");
_Static_assert(__builtin_offsetof(struct vmcb, cpl) == 0x4CB, "VMCB layout");
_Static_assert(__builtin_offsetof(struct vmcb, efer) == 0x4D0, "VMCB layout");
_Static_assert(__builtin_offsetof(struct vmcb, rax) == 0x5F8, "VMCB layout");
_Static_assert(__builtin_offsetof(struct vmcb, g_pat) == 0x668, "VMCB layout");
_Static_assert(sizeof(struct vmcb) == 4096, "VMCB is one page");

/* intercept_misc1 (APM vol. 2, B-1, offset 0x00C) */
#define INTERCEPT_INTR     (1u << 0)
#define INTERCEPT_NMI      (1u << 1)
#define INTERCEPT_SMI      (1u << 2)
#define INTERCEPT_INIT     (1u << 3)
#define INTERCEPT_VINTR    (1u << 4)   /* the interrupt window: V_IRQ about to be taken */
#define INTERCEPT_IRET     (1u << 20)  /* the NMI window: the handler's IRET */
#define INTERCEPT_CPUID    (1u << 18)
#define INTERCEPT_INVD     (1u << 22)
#define INTERCEPT_PAUSE    (1u << 23)
#define INTERCEPT_HLT      (1u << 24)
#define INTERCEPT_INVLPGA  (1u << 26)
#define INTERCEPT_IOIO     (1u << 27)
#define INTERCEPT_MSR      (1u << 28)
#define INTERCEPT_SHUTDOWN (1u << 31)
/* intercept_misc2 (offset 0x010) */
#define INTERCEPT_VMRUN    (1u << 0)   /* required: VMRUN checks it (15.5.1) */
#define INTERCEPT_VMMCALL  (1u << 1)
#define INTERCEPT_VMLOAD   (1u << 2)
#define INTERCEPT_VMSAVE   (1u << 3)
#define INTERCEPT_STGI     (1u << 4)
#define INTERCEPT_CLGI     (1u << 5)
#define INTERCEPT_SKINIT   (1u << 6)
#define INTERCEPT_WBINVD   (1u << 9)    /* and WBNOINVD */
#define INTERCEPT_MONITOR  (1u << 10)
#define INTERCEPT_MWAIT    (1u << 11)
#define INTERCEPT_MWAIT_C  (1u << 12)
#define INTERCEPT_XSETBV   (1u << 13)

/* VINTR (APM vol. 2, 15.21.1, VMCB offset 0x60) */
#define V_TPR_MASK         0xFull       /* the guest's CR8 */
#define V_IRQ              (1ull << 8)  /* a virtual interrupt is pending */
#define V_INTR_PRIO_ALL    (0xFull << 16)
#define V_IGN_TPR          (1ull << 20) /* taken whatever V_TPR says: only a window */
#define V_INTR_MASKING     (1ull << 24) /* guest IF masks only virtual interrupts */
#define INTERRUPT_SHADOW   1ull         /* VMCB 0x68 bit 0: STI/MOV SS shadow */
#define TLB_FLUSH_ALL      1

/* #VMEXIT codes (APM vol. 2, appendix C) */
#define VMEXIT_EXCEPTION_0 0x40
#define VMEXIT_INTR        0x60
#define VMEXIT_NMI         0x61
#define VMEXIT_SMI         0x62
#define VMEXIT_INIT        0x63
#define VMEXIT_VINTR       0x64
#define VMEXIT_IRET        0x74
#define VMEXIT_CPUID       0x72
#define VMEXIT_INVD        0x76
#define VMEXIT_PAUSE       0x77
#define VMEXIT_HLT         0x78
#define VMEXIT_INVLPGA     0x7A
#define VMEXIT_IOIO        0x7B
#define VMEXIT_MSR         0x7C
#define VMEXIT_SHUTDOWN    0x7F
#define VMEXIT_VMRUN       0x80
#define VMEXIT_VMMCALL     0x81
#define VMEXIT_VMLOAD      0x82
#define VMEXIT_SKINIT      0x86
#define VMEXIT_MONITOR     0x8A
#define VMEXIT_MWAIT_C     0x8C
#define VMEXIT_WBINVD      0x89
#define VMEXIT_CR4_WRITE   0x14
#define INTERCEPT_CR4_WRITE (1u << (16 + 4))
#define VMEXIT_XSETBV      0x8D
#define VMEXIT_NPF         0x400
#define VMEXIT_INVALID     ((uint64_t)-1)

/* IOIO EXITINFO1 (APM vol. 2, 15.10.2) */
#define IOIO_IN   (1u << 0)
#define IOIO_STR  (1u << 2)
#define IOIO_REP  (1u << 3)
/* NPF EXITINFO1: a page-fault error code (15.25.6) */
#define NPF_PRESENT (1u << 0)
#define NPF_WRITE   (1u << 1)
#define NPF_EXECUTE (1u << 4)
#define NPF_GUEST_PAGE_TABLE (1ull << 33) /* the fault was on the guest's own page-table walk */

/* EVENTINJ / EXITINTINFO (15.20): same bit layout as our inject field in
 * the low 32 bits, error code in the high 32. */
#define EVENT_VALID (1ull << 31)

#endif
