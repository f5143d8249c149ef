/*
 * Private to the VT-x backend (vmx.c, vmx_caps.c, vmx_vmcs.c, vmx_exit.c;
 * nothing else includes it): the MSRs and CPUID bits, the VMCS field
 * encodings, control bits, exit reasons and qualifications (Intel SDM vol.
 * 3C, chapters 24-31; vol. 3D, appendices A-C), the VMX instructions, and
 * what the files share: the capabilities detect found, and the functions
 * one file calls in another (vmx_ prefixed, declared at the end).
 * svm.h holds the AMD-V twins of these.
 */
#ifndef ARCH_VMX_H
#define ARCH_VMX_H

#include <stdint.h>
#include <stdbool.h>
#include "percpu.h"
#include "arch/vcpu.h"

/* --- MSRs and CPUID bits (SDM vol. 3C 24.6-24.7; vol. 3D appendix A) -----*/
#define CPUID_VMX               (1u << 5)    /* CPUID.1:ECX.VMX (24.6) */
#define MSR_FEATURE_CONTROL     0x3A         /* 24.7 */
#define FEATURE_CONTROL_LOCK    (1ull << 0)
#define FEATURE_CONTROL_VMXON   (1ull << 2)  /* VMXON outside SMX operation */
#define MSR_SYSENTER_CS         0x174
#define MSR_SYSENTER_ESP        0x175
#define MSR_SYSENTER_EIP        0x176
#define MSR_PAT                 0x277
#define MSR_EFER                0xC0000080
#define MSR_STAR                0xC0000081
#define MSR_LSTAR               0xC0000082
#define MSR_CSTAR               0xC0000083
#define MSR_SFMASK              0xC0000084
#define MSR_FS_BASE             0xC0000100
#define MSR_GS_BASE             0xC0000101
#define MSR_KERNEL_GS_BASE      0xC0000102
#define MSR_VMX_BASIC           0x480        /* A.1 */
#define VMX_BASIC_TRUE_CONTROLS (1ull << 55)
#define MSR_VMX_PINBASED        0x481        /* A.3.1 */
#define MSR_VMX_PROCBASED       0x482        /* A.3.2 */
#define MSR_VMX_EXIT            0x483        /* A.4 */
#define MSR_VMX_ENTRY           0x484        /* A.5 */
#define MSR_VMX_MISC            0x485        /* A.6 */
#define VMX_MISC_TIMER_RATE     0x1Full      /* preemption timer ticks every 2^n TSC cycles */
#define MSR_VMX_CR0_FIXED0      0x486        /* A.7 */
#define MSR_VMX_CR0_FIXED1      0x487
#define MSR_VMX_CR4_FIXED0      0x488        /* A.8 */
#define MSR_VMX_CR4_FIXED1      0x489
#define MSR_VMX_PROCBASED2      0x48B        /* A.3.3 */
#define MSR_VMX_EPT_VPID_CAP    0x48C        /* A.10 */
#define EPT_CAP_WALK_4          (1ull << 6)
#define EPT_CAP_WB              (1ull << 14)
#define EPT_CAP_2M              (1ull << 16)
#define EPT_CAP_INVEPT          (1ull << 20)
#define EPT_CAP_INVEPT_SINGLE   (1ull << 25)
#define EPT_CAP_INVEPT_ALL      (1ull << 26)
#define VPID_CAP_INVVPID        (1ull << 32)
#define VPID_CAP_INVVPID_SINGLE (1ull << 41)
#define VPID_CAP_INVVPID_ALL    (1ull << 42)
#define MSR_VMX_TRUE_PINBASED   0x48D        /* A.3.1: the TRUE_ ones may */
#define MSR_VMX_TRUE_PROCBASED  0x48E        /* allow 0 where the others */
#define MSR_VMX_TRUE_EXIT       0x48F        /* report default-1 bits */
#define MSR_VMX_TRUE_ENTRY      0x490

/* --- control and flag bits ------------------------------------------------*/
#define CR0_PE (1ull << 0)
#define CR0_TS (1ull << 3)
#define CR0_ET (1ull << 4)
#define CR0_NE (1ull << 5)
#define CR0_WP (1ull << 16)
#define CR0_NW (1ull << 29)
#define CR0_CD (1ull << 30)
#define CR0_PG (1ull << 31)
#define CR0_DEFINED 0xE005003Full    /* PE MP EM TS ET NE WP AM NW CD PG (vol. 3A 2.5) */
#define CR4_PAE   (1ull << 5)
#define CR4_VMXE  (1ull << 13)
#define CR4_PCIDE (1ull << 17)
#define EFER_LME  (1ull << 8)
#define EFER_LMA  (1ull << 10)

/* --- VMCS field encodings (SDM vol. 3D, appendix B) -----------------------*/
enum vmcs_field {
	/* 16-bit (B.1) */
	VPID                    = 0x0000,
	GUEST_ES_SELECTOR       = 0x0800,   /* ES, CS, SS, DS, FS, GS, LDTR, TR: +2 each */
	HOST_ES_SELECTOR        = 0x0C00,
	HOST_CS_SELECTOR        = 0x0C02,
	HOST_SS_SELECTOR        = 0x0C04,
	HOST_DS_SELECTOR        = 0x0C06,
	HOST_FS_SELECTOR        = 0x0C08,
	HOST_GS_SELECTOR        = 0x0C0A,
	HOST_TR_SELECTOR        = 0x0C0C,
	/* 64-bit (B.2) */
	IO_BITMAP_A             = 0x2000,
	IO_BITMAP_B             = 0x2002,
	MSR_BITMAP              = 0x2004,
	TSC_OFFSET              = 0x2010,
	EPT_POINTER             = 0x201A,
	GUEST_PHYSICAL_ADDRESS  = 0x2400,
	VMCS_LINK_POINTER       = 0x2800,
	GUEST_DEBUGCTL          = 0x2802,
	GUEST_PAT               = 0x2804,
	GUEST_EFER              = 0x2806,
	GUEST_PDPTE0            = 0x280A,   /* PDPTE0-3: +2 each */
	HOST_PAT                = 0x2C00,
	HOST_EFER               = 0x2C02,
	/* 32-bit (B.3) */
	PIN_BASED_CONTROLS      = 0x4000,
	PRIMARY_CONTROLS        = 0x4002,
	EXCEPTION_BITMAP        = 0x4004,
	PAGE_FAULT_ERROR_MASK   = 0x4006,
	PAGE_FAULT_ERROR_MATCH  = 0x4008,
	CR3_TARGET_COUNT        = 0x400A,
	EXIT_CONTROLS           = 0x400C,
	EXIT_MSR_STORE_COUNT    = 0x400E,
	EXIT_MSR_LOAD_COUNT     = 0x4010,
	ENTRY_CONTROLS          = 0x4012,
	ENTRY_MSR_LOAD_COUNT    = 0x4014,
	ENTRY_INTERRUPTION_INFO = 0x4016,
	ENTRY_EXCEPTION_ERROR   = 0x4018,
	ENTRY_INSTRUCTION_LENGTH = 0x401A,
	SECONDARY_CONTROLS      = 0x401E,
	VM_INSTRUCTION_ERROR    = 0x4400,
	EXIT_REASON             = 0x4402,
	EXIT_INTERRUPTION_INFO  = 0x4404,
	EXIT_INTERRUPTION_ERROR = 0x4406,
	IDT_VECTORING_INFO      = 0x4408,
	IDT_VECTORING_ERROR     = 0x440A,
	EXIT_INSTRUCTION_LENGTH = 0x440C,
	GUEST_ES_LIMIT          = 0x4800,   /* ES .. TR: +2 each */
	GUEST_GDTR_LIMIT        = 0x4810,
	GUEST_IDTR_LIMIT        = 0x4812,
	GUEST_ES_ACCESS_RIGHTS  = 0x4814,   /* ES .. TR: +2 each */
	GUEST_INTERRUPTIBILITY  = 0x4824,
	GUEST_ACTIVITY_STATE    = 0x4826,
	GUEST_SYSENTER_CS       = 0x482A,
	GUEST_PREEMPTION_TIMER  = 0x482E,
	HOST_SYSENTER_CS        = 0x4C00,
	/* natural width (B.4) */
	CR0_GUEST_HOST_MASK     = 0x6000,
	CR4_GUEST_HOST_MASK     = 0x6002,
	CR0_READ_SHADOW         = 0x6004,
	CR4_READ_SHADOW         = 0x6006,
	EXIT_QUALIFICATION      = 0x6400,
	GUEST_CR0               = 0x6800,
	GUEST_CR3               = 0x6802,
	GUEST_CR4               = 0x6804,
	GUEST_ES_BASE           = 0x6806,   /* ES .. TR: +2 each */
	GUEST_GDTR_BASE         = 0x6816,
	GUEST_IDTR_BASE         = 0x6818,
	GUEST_DR7               = 0x681A,
	GUEST_RSP               = 0x681C,
	GUEST_RIP               = 0x681E,
	GUEST_RFLAGS            = 0x6820,
	GUEST_PENDING_DEBUG     = 0x6822,
	GUEST_SYSENTER_ESP      = 0x6824,
	GUEST_SYSENTER_EIP      = 0x6826,
	HOST_CR0                = 0x6C00,
	HOST_CR3                = 0x6C02,
	HOST_CR4                = 0x6C04,
	HOST_FS_BASE            = 0x6C06,
	HOST_GS_BASE            = 0x6C08,
	HOST_TR_BASE            = 0x6C0A,
	HOST_GDTR_BASE          = 0x6C0C,
	HOST_IDTR_BASE          = 0x6C0E,
	HOST_SYSENTER_ESP       = 0x6C10,
	HOST_SYSENTER_EIP       = 0x6C12,
	HOST_RIP                = 0x6C16,   /* HOST_RSP (0x6C14) is vmx_entry.S's */
};

/* Guest segment registers in VMCS order: field = first + 2 * index. */
enum { SEG_ES, SEG_CS, SEG_SS, SEG_DS, SEG_FS, SEG_GS, SEG_LDTR, SEG_TR };

/* Pin-based controls (25.6.1) */
#define PIN_EXTERNAL_INTERRUPT  (1u << 0)
#define PIN_NMI                 (1u << 3)
#define PIN_VIRTUAL_NMIS        (1u << 5)    /* needed for NMI-window exiting */
#define PIN_PREEMPTION_TIMER    (1u << 6)
/* Primary processor-based controls (25.6.2) */
#define PRIMARY_INTERRUPT_WINDOW (1u << 2)
#define PRIMARY_TSC_OFFSET      (1u << 3)
#define PRIMARY_HLT             (1u << 7)
#define PRIMARY_NMI_WINDOW      (1u << 22)
#define PRIMARY_MWAIT           (1u << 10)
#define PRIMARY_CR8_LOAD        (1u << 19)
#define PRIMARY_CR8_STORE       (1u << 20)
#define PRIMARY_IO_BITMAPS      (1u << 25)
#define PRIMARY_MSR_BITMAPS     (1u << 28)
#define PRIMARY_MONITOR         (1u << 29)
#define PRIMARY_PAUSE           (1u << 30)
#define PRIMARY_SECONDARY       (1u << 31)
/* Secondary processor-based controls (25.6.2) */
#define SECONDARY_EPT           (1u << 1)
#define SECONDARY_RDTSCP        (1u << 3)
#define SECONDARY_VPID          (1u << 5)
#define SECONDARY_WBINVD        (1u << 6)   /* WBINVD and WBNOINVD exit */
#define SECONDARY_UNRESTRICTED  (1u << 7)
#define SECONDARY_INVPCID       (1u << 12)
/* VM-exit controls (25.7.1) */
#define EXIT_SAVE_DEBUG         (1u << 2)
#define EXIT_HOST_64BIT         (1u << 9)
#define EXIT_SAVE_PAT           (1u << 18)
#define EXIT_LOAD_PAT           (1u << 19)
#define EXIT_SAVE_EFER          (1u << 20)
#define EXIT_LOAD_EFER          (1u << 21)
/* VM-entry controls (25.8.1) */
#define ENTRY_LOAD_DEBUG        (1u << 2)
#define ENTRY_IA32E_GUEST       (1u << 9)
#define ENTRY_LOAD_PAT          (1u << 14)
#define ENTRY_LOAD_EFER         (1u << 15)

/* EPTP (25.6.11): memory type WB, 4-level walk. */
#define EPTP_WB      6ull
#define EPTP_WALK_4  (3ull << 3)
#define EPT_PRESENT  7ull            /* R, W or X: the entry maps something */
#define EPT_LEAF     (1ull << 7)
#define EPT_ADDRESS  0x000FFFFFFFFFF000ull

/* Segment access rights (25.4.1): AMD attributes bits 0-7 as
 * they are, bits 8-11 (AVL L D/B G) at 12-15, bit 16 "unusable". */
#define AR_UNUSABLE  (1u << 16)
#define AR_L         (1u << 13)
#define ATTR_S       (1u << 4)
#define ATTR_P       (1u << 7)

/* Guest interruptibility state (25.4.2) */
#define BLOCKING_STI    (1u << 0)
#define BLOCKING_MOV_SS (1u << 1)
#define BLOCKING_NMI    (1u << 3)

/* Basic exit reasons (SDM vol. 3D, appendix C) */
#define EXIT_REASON_EXCEPTION_NMI   0
#define EXIT_REASON_INTERRUPT       1
#define EXIT_REASON_TRIPLE_FAULT    2
#define EXIT_REASON_INIT            3
#define EXIT_REASON_SIPI            4
#define EXIT_REASON_IO_SMI          5
#define EXIT_REASON_OTHER_SMI       6
#define EXIT_REASON_INTERRUPT_WINDOW 7
#define EXIT_REASON_NMI_WINDOW      8
#define EXIT_REASON_CPUID           10
#define EXIT_REASON_GETSEC          11
#define EXIT_REASON_HLT             12
#define EXIT_REASON_INVD            13
#define EXIT_REASON_VMCALL          18
#define EXIT_REASON_VMCLEAR         19   /* 19-27: VMCLEAR .. VMXON */
#define EXIT_REASON_VMXON           27
#define EXIT_REASON_CR_ACCESS       28
#define EXIT_REASON_IO              30
#define EXIT_REASON_RDMSR           31
#define EXIT_REASON_WRMSR           32
#define EXIT_REASON_INVALID_GUEST   33
#define EXIT_REASON_MSR_LOADING     34
#define EXIT_REASON_MWAIT           36
#define EXIT_REASON_MONITOR         39
#define EXIT_REASON_PAUSE           40
#define EXIT_REASON_MACHINE_CHECK   41
#define EXIT_REASON_EPT_VIOLATION   48
#define EXIT_REASON_EPT_MISCONFIG   49
#define EXIT_REASON_INVEPT          50
#define EXIT_REASON_PREEMPTION_TIMER 52
#define EXIT_REASON_INVVPID         53
#define EXIT_REASON_WBINVD          54
#define EXIT_REASON_XSETBV          55
#define EXIT_REASON_VMFUNC          59
#define EXIT_REASON_ENTRY_FAILURE   (1u << 31)

/* Exit qualifications (28.2.1): I/O instructions */
#define IO_SIZE_MASK 7u
#define IO_IN        (1u << 3)
#define IO_STRING    (1u << 4)
#define IO_REP       (1u << 5)
/* EPT violations */
#define EPT_VIOLATION_READ    (1u << 0)
#define EPT_VIOLATION_WRITE   (1u << 1)
#define EPT_VIOLATION_EXECUTE (1u << 2)
#define EPT_VIOLATION_MAPPED  (7u << 3)   /* the translation was readable/writable/executable */
#define EPT_VIOLATION_LINEAR_VALID (1u << 7) /* the guest linear address field is valid */
#define EPT_VIOLATION_TRANSLATED   (1u << 8) /* (with bit 7) the access was to the linear address's
					     * translation, not to a paging-structure entry */
/* Control-register accesses */
#define CR_ACCESS_TO_CR   0
#define CR_ACCESS_FROM_CR 1
#define CR_ACCESS_CLTS    2
#define CR_ACCESS_LMSW    3

/* Interruption information (25.8.3 entry, 25.9.2 exit, 25.9.3 IDT vectoring):
 * vector 0-7, type 8-10, error code valid 11, valid 31: the layout of our
 * INJECT_* (exit_record.h) with the same type numbers. */
#define INTERRUPTION_VALID      (1u << 31)
#define INTERRUPTION_ERROR_CODE (1u << 11)
#define INTERRUPTION_TYPE(info) (((info) >> 8) & 7)
#define INTERRUPTION_NMI        2
#define INTERRUPTION_SOFTWARE_INTERRUPT 4  /* 4-6: INT n, INT1, INT3/INTO: */
#define INTERRUPTION_PRIVILEGED_SOFTWARE_EXCEPTION 5  /* INT1 (ICEBP) */
#define INTERRUPTION_SOFTWARE_EXCEPTION 6  /* they need an instruction length */
#define INTERRUPTION_ENTRY_BITS (INTERRUPTION_VALID | INTERRUPTION_ERROR_CODE | 0x7FFu)
#define VECTOR_GP 13
#define VECTOR_DB 1
#define VECTOR_AC 17
#define VECTOR_MC 18

_Static_assert(INJECT_VALID == INTERRUPTION_VALID && INJECT_HAS_ERROR_CODE == INTERRUPTION_ERROR_CODE &&
	       INJECT_TYPE_NMI == 2u << 8 && INJECT_TYPE_EXCEPTION == 3u << 8 && INJECT_TYPE_SOFTWARE == 4u << 8,
	       "INJECT_* and the VMX interruption-information layout agree");

extern int vmx_enter(uint64_t *gpr, uint64_t *cr2, int launched);
extern const char vmx_exit[];

/* --- VMX instructions (SDM vol. 3C, 31.3). CF or ZF set: the instruction
 * failed (31.2); setna catches both. ------------------------------------*/
static inline bool vmclear(uint64_t pa)
{
	bool failed;
	__asm__ volatile("vmclear %1; setna %0" : "=qm"(failed) : "m"(pa) : "cc", "memory");
	return !failed;
}

static inline bool vmptrld(uint64_t pa)
{
	bool failed;
	__asm__ volatile("vmptrld %1; setna %0" : "=qm"(failed) : "m"(pa) : "cc", "memory");
	return !failed;
}

static inline uint64_t vmread(enum vmcs_field field)
{
	uint64_t value;
	__asm__ volatile("vmread %1, %0" : "=rm"(value) : "r"((uint64_t)field) : "cc");
	return value;
}

static inline bool vmwrite(enum vmcs_field field, uint64_t value)
{
	bool failed;
	__asm__ volatile("vmwrite %1, %2; setna %0" : "=qm"(failed) : "rm"(value), "r"((uint64_t)field) : "cc");
	return !failed;
}

static inline bool invept(uint64_t type, uint64_t eptp)
{
	struct { uint64_t eptp, reserved; } descriptor = { eptp, 0 };
	bool failed;
	__asm__ volatile("invept %1, %2; setna %0" : "=qm"(failed) : "m"(descriptor), "r"(type) : "cc", "memory");
	return !failed;
}

static inline bool invvpid(uint64_t type, uint16_t vpid)
{
	struct { uint64_t vpid, linear_address; } descriptor = { vpid, 0 };
	bool failed;
	__asm__ volatile("invvpid %1, %2; setna %0" : "=qm"(failed) : "m"(descriptor), "r"(type) : "cc", "memory");
	return !failed;
}

#define INVEPT_SINGLE_CONTEXT  1     /* 31.3, INVEPT: types */
#define INVEPT_ALL_CONTEXT     2
#define INVVPID_SINGLE_CONTEXT 1
#define INVVPID_ALL_CONTEXT    2

/* What detect found on the boot CPU and every VMCS gets (the CPUs of one
 * machine are alike). Filled by vmx_detect (vmx_caps.c). */
struct vmx_capabilities {
	uint32_t revision;                 /* IA32_VMX_BASIC bits 30:0 */
	uint32_t pin, primary, secondary, exit, entry;
	uint64_t cr0_fixed0, cr0_fixed1, cr4_fixed0, cr4_fixed1;
	uint64_t cr0_mask, cr4_mask;       /* bits the guest sees from the read shadow */
	uint64_t invept_type, invvpid_type; /* 0: not available */
	unsigned timer_rate;               /* the preemption timer ticks every 2^rate TSC cycles */
	uint32_t window_controls;          /* interrupt/NMI-window bits this CPU allows */
	uint32_t pause_control;            /* PAUSE exiting, if this CPU allows it */
};
extern struct vmx_capabilities vmx;

/* Per host CPU, in struct cpu: arch_host_save is the VMXON region,
 * arch_current the VMCS VMPTRLD last made current there. A vCPU only ever
 * runs on the CPU that created it (its VMCS holds that CPU's host state);
 * moving one would need VMCLEAR on the old CPU first (SDM 25.11.1). And
 * vmx_msr_owner, by CPU index: whose syscall MSRs each CPU holds (vmx.c
 * switches them; vmx_vcpu_destroy forgets its vCPU). */
extern struct arch_vcpu *vmx_msr_owner[MAX_CPUS];

/* --- the backend's functions, in the order of vcpu.h and svm.c ----------*/
/* vmx_caps.c */
bool vmx_detect(char *why, unsigned why_size);
bool vmx_cpu_enable(char *why, unsigned why_size);
/* vmx_vmcs.c */
bool vmx_vcpu_create(struct arch_vcpu *vcpu, const struct arch_guest_tables *tables,
		     const struct vcpu_state *s, char *why, unsigned why_size);
void vmx_vcpu_destroy(struct arch_vcpu *vcpu);
/* vmx.c: vmx_vcpu_run, vmx_vcpu_apply and vmx_backend (vcpu.h). */

/* --- shared between the files ---------------------------------------------*/
/* vmx_vmcs.c: segment conversion and the guest's control registers. */
uint16_t vmx_segment_attributes(uint32_t ar);
uint64_t vmx_guest_cr0(void);
uint64_t vmx_guest_cr4(void);
void vmx_set_efer(uint64_t efer);
void vmx_load_pdptes(struct arch_vcpu *vcpu);
void vmx_set_cr0(struct arch_vcpu *vcpu, uint64_t cr0);
void vmx_set_cr4(struct arch_vcpu *vcpu, uint64_t cr4);
/* vmx_exit.c: CR-access exits answered inside vcpu_run, and the exit
 * decoded into the ExitRecord after the last entry. */
bool vmx_handle_cr_access(struct arch_vcpu *vcpu);
void vmx_record_exit(struct arch_vcpu *vcpu, struct exit_record *e, int failed, uint32_t exit_reason);

#endif
