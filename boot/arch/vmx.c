/*
 * Intel VT-x with EPT (Intel SDM vol. 3C, chapters 24-31; field encodings
 * and capability MSRs in vol. 3D, appendices A and B): the backend that
 * runs guests on Intel CPUs and under Bochs. Sibling of svm.c behind
 * boot/arch/vcpu.h; same functions in the same order.
 *
 * What differs from AMD-V and is absorbed here, so the core never sees it:
 * - VMX operation fixes bits of CR0 and CR4 (NE=1, VMXE=1), and VM entry
 *   never loads CR0.CD/NW. The guest gets its own values through
 *   guest/host masks and read shadows, and mov-to-CR0/CR4 exits on masked
 *   bits are answered here, inside vcpu_run.
 * - EFER.LMA is not set by the CPU when a guest turns paging on with
 *   EFER.LME: CR0.PG is masked, and this file sets LMA and the
 *   "IA-32e mode guest" entry control itself.
 * - CR2, KERNEL_GS_BASE, STAR, LSTAR, CSTAR and SFMASK are not switched by
 *   VM entry/exit: vmx_entry.S switches CR2, vcpu_run the MSRs.
 * - Segment attributes: the core speaks the AMD VMCB layout, the VMCS has
 *   access rights (SDM 25.4.1); converted both ways here.
 * - Under Bochs 2.7 a host interrupt does not make a guest with IF = 0
 *   exit: the VMX-preemption timer bounds how long the host waits.
 */
#include "hv.h"
#include "boot.h"
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
#define PIN_PREEMPTION_TIMER    (1u << 6)
/* Primary processor-based controls (25.6.2) */
#define PRIMARY_HLT             (1u << 7)
#define PRIMARY_MWAIT           (1u << 10)
#define PRIMARY_CR8_LOAD        (1u << 19)
#define PRIMARY_CR8_STORE       (1u << 20)
#define PRIMARY_IO_BITMAPS      (1u << 25)
#define PRIMARY_MSR_BITMAPS     (1u << 28)
#define PRIMARY_MONITOR         (1u << 29)
#define PRIMARY_SECONDARY       (1u << 31)
/* Secondary processor-based controls (25.6.2) */
#define SECONDARY_EPT           (1u << 1)
#define SECONDARY_RDTSCP        (1u << 3)
#define SECONDARY_VPID          (1u << 5)
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

/* Basic exit reasons (SDM vol. 3D, appendix C) */
#define EXIT_REASON_EXCEPTION_NMI   0
#define EXIT_REASON_INTERRUPT       1
#define EXIT_REASON_TRIPLE_FAULT    2
#define EXIT_REASON_INIT            3
#define EXIT_REASON_SIPI            4
#define EXIT_REASON_IO_SMI          5
#define EXIT_REASON_OTHER_SMI       6
#define EXIT_REASON_INTERRUPT_WINDOW 7
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
#define INTERRUPTION_SOFTWARE_EXCEPTION 6  /* they need an instruction length */
#define INTERRUPTION_ENTRY_BITS (INTERRUPTION_VALID | INTERRUPTION_ERROR_CODE | 0x7FFu)
#define VECTOR_GP 13
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
 * machine are alike). */
static struct {
	uint32_t revision;                 /* IA32_VMX_BASIC bits 30:0 */
	uint32_t pin, primary, secondary, exit, entry;
	uint64_t cr0_fixed0, cr0_fixed1, cr4_fixed0, cr4_fixed1;
	uint64_t cr0_mask, cr4_mask;       /* bits the guest sees from the read shadow */
	uint64_t invept_type, invvpid_type; /* 0: not available */
	uint32_t timer_value;              /* the preemption timer's period */
} vmx;
/* Per host CPU, in struct cpu: arch_host_save is the VMXON region,
 * arch_current the VMCS VMPTRLD last made current there. A vCPU only ever
 * runs on the CPU that created it (its VMCS holds that CPU's host state);
 * moving one would need VMCLEAR on the old CPU first (SDM 25.11.1). And
 * here, by CPU index: whose syscall MSRs each CPU holds. */
static struct arch_vcpu *msr_owner[MAX_CPUS];

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

static bool vmx_detect(char *why, unsigned why_size)
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
	vmx.pin = adjust_controls(PIN_EXTERNAL_INTERRUPT | PIN_NMI | PIN_PREEMPTION_TIMER, pin_cap);
	if (!require(vmx.pin, PIN_EXTERNAL_INTERRUPT | PIN_NMI, "external-interrupt and NMI exiting", why, why_size))
		return false;
	/* Its period: 1 ms, so a guest that never exits still lets the host
	 * take its timer within 1 ms (26.5.1: it counts down every 2^rate TSC
	 * cycles; each entry reloads it from the VMCS). */
	uint64_t period = (tsc_hz() / 1000) >> (rdmsr(MSR_VMX_MISC) & VMX_MISC_TIMER_RATE);
	vmx.timer_value = period == 0 ? 1 : period > 0xFFFFFFFF ? 0xFFFFFFFF : (uint32_t)period;
	/* What the guest may not do on its own: halt, MONITOR/MWAIT (could
	 * park the physical CPU), touch the real TPR through CR8, and the
	 * ports and MSRs the bitmaps keep. CR3 accesses, INVLPG, RDTSC stay
	 * native (with the TRUE_ MSRs they may; EPT makes them harmless). */
	uint32_t primary_need = PRIMARY_HLT | PRIMARY_MWAIT | PRIMARY_CR8_LOAD | PRIMARY_CR8_STORE |
				PRIMARY_IO_BITMAPS | PRIMARY_MSR_BITMAPS | PRIMARY_MONITOR | PRIMARY_SECONDARY;
	vmx.primary = adjust_controls(primary_need, primary_cap);
	if (!require(vmx.primary, primary_need, "the I/O and MSR bitmaps, HLT/MWAIT/CR8 exiting or secondary controls",
		     why, why_size))
		return false;

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
	 * XSAVES stays off: guests get XSAVE (run.c switches
	 * XCR0 and their XSAVE areas) but not XSAVES/IA32_XSS. */
	secondary |= secondary_allowed & (SECONDARY_RDTSCP | SECONDARY_INVPCID);
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
	 * whose changes this file must see to keep EFER.LMA right; and of
	 * CD/NW, which VM entry and exit never switch (27.3.2.1, 28.5.1): the
	 * CPU's stay the host's, the guest's live in the shadow. */
	vmx.cr0_mask = (((vmx.cr0_fixed0 & ~(CR0_PE | CR0_PG)) | ~vmx.cr0_fixed1) & 0xFFFFFFFF) |
		       CR0_PG | CR0_CD | CR0_NW;
	vmx.cr4_mask = (vmx.cr4_fixed0 | ~vmx.cr4_fixed1) & 0xFFFFFFFF;
	return true;
}

static bool vmx_cpu_enable(char *why, unsigned why_size)
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
static uint16_t segment_attributes(uint32_t ar)
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

static uint64_t guest_cr0(void)
{
	return (vmread(GUEST_CR0) & ~vmx.cr0_mask) | (vmread(CR0_READ_SHADOW) & vmx.cr0_mask);
}

static uint64_t guest_cr4(void)
{
	return (vmread(GUEST_CR4) & ~vmx.cr4_mask) | (vmread(CR4_READ_SHADOW) & vmx.cr4_mask);
}

/* Keeps the "IA-32e mode guest" entry control equal to EFER.LMA, as VM
 * entry demands (27.3.1.1). */
static void set_efer(uint64_t efer)
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
 * runs (28.3.4), so they need loading only when this file changes CR0,
 * CR3 or CR4 into or within PAE paging. An unreadable table gives
 * not-present entries: the guest then page-faults. */
static void load_pdptes(struct arch_vcpu *vcpu)
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
 * would have flushed them (vol. 3A 4.10.4.1), as this file emulated it;
 * without VPID every VM entry flushes anyway. */
static void flush_guest_tlb(struct arch_vcpu *vcpu)
{
	if (vmx.secondary & SECONDARY_VPID)
		invvpid(vmx.invvpid_type, (uint16_t)vcpu->asid);
}

/* Writes the CR0 the guest is to see. EFER.LMA follows CR0.PG with
 * EFER.LME, as the CPU does on a real MOV to CR0 (vol. 3A 10.8.5). */
static void set_cr0(struct arch_vcpu *vcpu, uint64_t cr0)
{
	uint64_t old = guest_cr0();
	uint64_t real = ((cr0 | (vmx.cr0_fixed0 & ~(CR0_PE | CR0_PG))) & vmx.cr0_fixed1) & ~(CR0_CD | CR0_NW);
	vmwrite(GUEST_CR0, real);
	vmwrite(CR0_READ_SHADOW, cr0);
	uint64_t efer = vmread(GUEST_EFER);
	uint64_t lma = (cr0 & CR0_PG) && (efer & EFER_LME) ? EFER_LMA : 0;
	if ((efer & EFER_LMA) != lma)
		set_efer((efer & ~EFER_LMA) | lma);
	if ((old ^ cr0) & (CR0_PG | CR0_PE | CR0_WP | CR0_CD))
		flush_guest_tlb(vcpu);
	load_pdptes(vcpu);
}

static void set_cr4(struct arch_vcpu *vcpu, uint64_t cr4)
{
	uint64_t old = guest_cr4();
	vmwrite(GUEST_CR4, (cr4 | vmx.cr4_fixed0) & vmx.cr4_fixed1);
	vmwrite(CR4_READ_SHADOW, cr4);
	if (old != cr4)
		flush_guest_tlb(vcpu);
	load_pdptes(vcpu);
}

static bool vmx_vcpu_create(struct arch_vcpu *vcpu, const struct arch_guest_tables *tables,
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
	ok &= vmwrite(PRIMARY_CONTROLS, vmx.primary);   /* HLT, MWAIT/MONITOR, CR8 exit; bitmaps */
	ok &= vmwrite(SECONDARY_CONTROLS, vmx.secondary); /* EPT, unrestricted guest, VPID */
	/* #MC is the host's hardware failing: stop the guest, do not let it
	 * handle a machine check it cannot understand. Nothing else. */
	ok &= vmwrite(EXCEPTION_BITMAP, 1u << VECTOR_MC);
	ok &= vmwrite(PAGE_FAULT_ERROR_MASK, 0);        /* (no #PF intercept to filter) */
	ok &= vmwrite(PAGE_FAULT_ERROR_MATCH, 0);
	ok &= vmwrite(CR3_TARGET_COUNT, 0);             /* (CR3 loads do not exit) */
	ok &= vmwrite(IO_BITMAP_A, tables->io_bitmap);  /* ports 0-7FFF, built by the supervisor */
	ok &= vmwrite(IO_BITMAP_B, tables->io_bitmap + PAGE_SIZE); /* ports 8000-FFFF */
	ok &= vmwrite(MSR_BITMAP, tables->msr_bitmap);  /* what passes: see permission_bitmaps.ts */
	ok &= vmwrite(TSC_OFFSET, 0);                   /* the guest reads the host's TSC, as on AMD-V */
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
	ok &= vmwrite(GUEST_CR0, 0);                    /* set_cr0 below compares with these */
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
	if (vmx.pin & PIN_PREEMPTION_TIMER)
		ok &= vmwrite(GUEST_PREEMPTION_TIMER, vmx.timer_value); /* 1 ms from each entry */
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
	set_cr4(vcpu, s->cr4);
	set_cr0(vcpu, s->cr0);                          /* after CR4 and EFER: LMA, PDPTEs */

	for (int i = 0; i < 16; i++)
		vcpu->gpr[i] = s->gpr[i];
	vcpu->launched = false;
	/* The EPT root and the VPID may have served an earlier guest. */
	invept(vmx.invept_type, vcpu->vmx.eptp);
	flush_guest_tlb(vcpu);
	return true;
}

static void vmx_vcpu_destroy(struct arch_vcpu *vcpu)
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
	if (msr_owner[cpu->index] == vcpu)
		msr_owner[cpu->index] = NULL;
	vcpu->control = NULL;
}

/* The syscall MSRs VT-x does not switch and the MSR bitmap lets the guest
 * write: the CPU keeps the last guest's until another vCPU runs (the host
 * never uses SYSCALL or SWAPGS). */
static const uint32_t syscall_msrs[5] = { MSR_KERNEL_GS_BASE, MSR_STAR, MSR_LSTAR, MSR_CSTAR, MSR_SFMASK };

static void switch_syscall_msrs(struct cpu *cpu, struct arch_vcpu *vcpu)
{
	struct arch_vcpu *owner = msr_owner[cpu->index];
	if (owner == vcpu)
		return;
	if (owner)
		for (int i = 0; i < 5; i++)
			owner->vmx.syscall_msrs[i] = rdmsr(syscall_msrs[i]);
	for (int i = 0; i < 5; i++)
		wrmsr(syscall_msrs[i], vcpu->vmx.syscall_msrs[i]);
	msr_owner[cpu->index] = vcpu;
}

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
	if (has_error_code && (guest_cr0() & CR0_PE)) {
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
static bool handle_cr_access(struct arch_vcpu *vcpu)
{
	uint64_t q = vmread(EXIT_QUALIFICATION);
	unsigned cr = q & 15, type = (q >> 4) & 3, reg = (q >> 8) & 15;
	bool long64 = guest_in_64bit_mode();
	uint64_t old = guest_cr0(), cr4 = guest_cr4(), efer = vmread(GUEST_EFER);
	bool fault = false;

	if (type == CR_ACCESS_TO_CR) {
		uint64_t value = read_gpr(vcpu, reg);
		if (!long64)
			value &= 0xFFFFFFFF;
		if (cr == 0) {
			uint64_t cr0 = (value & CR0_DEFINED) | CR0_ET;   /* ET is hardwired to 1 */
			fault = (value >> 32) || !cr0_write_allowed(old, cr0, cr4, efer, long64);
			if (!fault)
				set_cr0(vcpu, cr0);
		} else if (cr == 4) {
			/* Only bits VMX fixes exit: VMXE (VT-x is hidden from the
			 * guest) or bits the CPU does not have, #GP either way;
			 * and the checks of the instruction itself. */
			bool pcide_on = (value & CR4_PCIDE) && !(cr4 & CR4_PCIDE);
			fault = (value & ~vmx.cr4_fixed1) || (value & CR4_VMXE) || (value >> 32) ||
				((efer & EFER_LMA) && !(value & CR4_PAE)) ||
				(pcide_on && (!(efer & EFER_LMA) || (vmread(GUEST_CR3) & 0xFFF)));
			if (!fault)
				set_cr4(vcpu, value);
		} else if (cr == 3) {
			/* Only where CR3-load exiting cannot be turned off. */
			vmwrite(GUEST_CR3, value);
			load_pdptes(vcpu);
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
		set_cr0(vcpu, old & ~CR0_TS);
	} else {
		/* LMSW: loads PE, MP, EM, TS; can set PE but not clear it. */
		uint64_t source = (q >> 16) & 0xF;
		set_cr0(vcpu, (old & ~0xEull) | (source & 0xE) | ((old | source) & CR0_PE));
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

static void save_segment(struct exit_segment *to, int index)
{
	to->selector = (uint16_t)vmread(GUEST_ES_SELECTOR + 2 * index);
	to->attributes = segment_attributes((uint32_t)vmread(GUEST_ES_ACCESS_RIGHTS + 2 * index));
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

static void vmx_vcpu_run(struct arch_vcpu *vcpu, struct exit_record *e)
{
	struct cpu *cpu = this_cpu();
	if (cpu->arch_current != vcpu->control) {
		vmptrld((uint64_t)(uintptr_t)vcpu->control);
		cpu->arch_current = vcpu->control;
	}
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
		if ((exit_reason & 0xFFFF) != EXIT_REASON_CR_ACCESS || !handle_cr_access(vcpu))
			break;
	}

	for (int i = 0; i < 16; i++)
		e->gpr[i] = vcpu->gpr[i];
	e->gpr[RSP] = vmread(GUEST_RSP);
	e->rip = vmread(GUEST_RIP);
	e->rflags = vmread(GUEST_RFLAGS);
	e->cr0 = guest_cr0();
	e->cr2 = vcpu->vmx.cr2;
	e->cr3 = vmread(GUEST_CR3);
	e->cr4 = guest_cr4();
	e->efer = vmread(GUEST_EFER);            /* nothing in it the guest cannot see */
	save_segment(&e->cs, SEG_CS);
	save_segment(&e->ss, SEG_SS);
	e->cpl = (e->ss.attributes >> 5) & 3;    /* SS.DPL is the CPL (25.4.1) */
	exit_record_clear_operands(e);

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
		e->access = (qualification & EPT_VIOLATION_WRITE ? EXIT_ACCESS_WRITE : EXIT_ACCESS_READ) |
			    (qualification & EPT_VIOLATION_EXECUTE ? EXIT_ACCESS_EXECUTE : 0) |
			    (qualification & EPT_VIOLATION_MAPPED ? EXIT_ACCESS_PRESENT : 0);
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
	case EXIT_REASON_VMCALL:
		e->reason = EXIT_HYPERCALL;
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
	case EXIT_REASON_WBINVD:
		/* INVD always exits (26.1.2): answered as svm.c does. WBINVD
		 * exiting is off, so 54 does not happen. */
		e->reason = EXIT_VIRTUALIZATION_INSTRUCTION;
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
		if (info & INTERRUPTION_ERROR_CODE)
			e->exception_error_code = (uint32_t)vmread(EXIT_INTERRUPTION_ERROR);
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
	}
}

static void vmx_vcpu_apply(struct arch_vcpu *vcpu, const struct exit_record *e)
{
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
	/* EFER first: CR0.PG with EFER.LME decides EFER.LMA in set_cr0. */
	if (e->dirty & DIRTY_EFER)
		set_efer(e->efer);
	if (e->dirty & DIRTY_CR3)
		vmwrite(GUEST_CR3, e->cr3);
	if (e->dirty & DIRTY_CR4)
		set_cr4(vcpu, e->cr4);
	if (e->dirty & DIRTY_CR0)
		set_cr0(vcpu, e->cr0);
	else if (e->dirty & (DIRTY_CR3 | DIRTY_EFER))
		load_pdptes(vcpu);
	if (e->inject & INJECT_VALID) {
		uint32_t info = e->inject & INTERRUPTION_ENTRY_BITS;
		uint32_t type = INTERRUPTION_TYPE(info);
		/* No error code in real mode (27.2.1.3). */
		if (!(guest_cr0() & CR0_PE))
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
};
