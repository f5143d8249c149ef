/*
 * The ExitRecord: how one VM exit crosses from the stub into a guest VMM
 * instance and how the core's answer comes back. It lives at a fixed place
 * in that instance's linear memory (the guest VMM exports exitRecord()).
 * Arch-neutral: svm.c and vmx.c fill the same fields from the VMCB / VMCS.
 * The AssemblyScript twin is assembly/vcpu/exit_record.ts: keep the two
 * offsets identical (a static assert below and a unit test check the size).
 */
#ifndef EXIT_RECORD_H
#define EXIT_RECORD_H

#include <stdint.h>

enum exit_reason {
	EXIT_NONE = 0,
	EXIT_CPUID = 1,
	EXIT_IO = 2,                /* port, io_size, io_flags; rax for OUT */
	EXIT_MSR_READ = 3,          /* msr */
	EXIT_MSR_WRITE = 4,         /* msr, edx:eax */
	EXIT_HLT = 5,
	EXIT_NESTED_PAGE_FAULT = 6, /* gpa, access: NPF (AMD) / EPT violation (Intel) */
	EXIT_EXTERNAL_INTERRUPT = 7,/* a host interrupt or the host timer: nothing for the guest */
	EXIT_INTERRUPT_WINDOW = 8,
	EXIT_HYPERCALL = 9,         /* VMMCALL (AMD) / VMCALL (Intel) */
	EXIT_EXCEPTION = 10,        /* exception_vector, exception_error_code */
	EXIT_SHUTDOWN = 11,         /* triple fault */
	EXIT_INVALID_STATE = 12,    /* VM entry failed; raw_reason and detail say why */
	EXIT_VIRTUALIZATION_INSTRUCTION = 13, /* VMRUN, VMLOAD, VMXON, VMREAD, ...: #UD */
	EXIT_XSETBV = 14,           /* ecx = XCR index, edx:eax = value */
	EXIT_NESTED_PAGE_MISCONFIG = 15, /* EPT misconfiguration: a bug in our tables */
	EXIT_UNKNOWN = 16,          /* raw_reason holds the vendor's code */
	EXIT_WAKE = 17,             /* not an exit: the wait the core asked for (ACTION_WAIT) ended */
	EXIT_NMI_WINDOW = 18,       /* the guest can take an NMI again */
	EXIT_PAUSE = 19,            /* PAUSE, intercepted in guests of several vCPUs (a spin loop) */
	EXIT_WBINVD = 20,           /* WBINVD/WBNOINVD: the core answers it as a no-op */
	EXIT_CR_WRITE = 21,         /* MOV to CR4 (AMD-V intercepts it): detail = EXITINFO1 */
};

/* io_flags */
#define EXIT_IO_IN     0x1
#define EXIT_IO_STRING 0x2
#define EXIT_IO_REP    0x4

/* access (nested page fault) */
#define EXIT_ACCESS_READ    0x1
#define EXIT_ACCESS_WRITE   0x2
#define EXIT_ACCESS_EXECUTE 0x4
#define EXIT_ACCESS_PRESENT 0x8   /* the entry was present: a permission fault */
#define EXIT_ACCESS_PAGE_WALK 0x10 /* the CPU's own access to a guest paging-structure entry
				  * (its walk, or loading PAE PDPTEs), not the instruction's */

/* action: what the stub does after the core returns */
enum exit_action {
	ACTION_RESUME = 0,  /* apply the results and re-enter the guest */
	ACTION_YIELD = 1,   /* apply, then let another guest run (the yield hypercall) */
	ACTION_STOP = 2,    /* the guest is finished: stop_reason, stop_code */
	ACTION_WAIT = 3,    /* HLT with nothing pending: apply nothing, the vCPU halts;
			     * run the vCPU the core's nextVcpu names, or (none) let
			     * the guest wait until `deadline` or console input */
	ACTION_SWITCH = 4,  /* apply, then run the vCPU the core's nextVcpu names */
};

enum stop_reason {
	STOP_EXIT_CODE = 1,        /* the guest wrote stop_code to the exit port */
	STOP_TRIPLE_FAULT = 2,
	STOP_OUTSIDE_RAM = 3,      /* gpa */
	STOP_INVALID_STATE = 4,
	STOP_HALTED = 5,           /* HLT with interrupts off: nothing can wake it */
	STOP_UNSUPPORTED = 6,      /* an exit the core cannot handle yet */
	STOP_LOAD_FAILED = 7,      /* the kernel image could not be loaded */
	STOP_VMM_TRAP = 8,         /* set by the stub: the guest VMM instance trapped */
	STOP_POWER_OFF = 9,        /* ACPI S5 (PM1a_CNT SLP_TYP/SLP_EN) */
	STOP_REBOOT = 10,          /* a reset (0xCF9, the i8042, port 0x92): start it again fresh */
	STOP_OPERATOR = 11,        /* set by the stub: `stop <name>` at the hypervisor's prompt */
};

/* inject: bit 31 valid, bits 0-7 vector, 8-10 type, bit 11 error code valid.
 * Types as in both vendors' event-injection fields. */
#define INJECT_VALID          (1u << 31)
#define INJECT_HAS_ERROR_CODE (1u << 11)
#define INJECT_TYPE_EXTERNAL  (0u << 8)
#define INJECT_TYPE_NMI       (2u << 8)
#define INJECT_TYPE_EXCEPTION (3u << 8)
#define INJECT_TYPE_SOFTWARE  (4u << 8)

/* dirty: which state the core changed and the stub must write back
 * (general registers, RIP and RFLAGS are always written back) */
#define DIRTY_CR0  0x1
#define DIRTY_CR3  0x2
#define DIRTY_CR4  0x4
#define DIRTY_EFER 0x8
#define DIRTY_XCR0 0x10
#define DIRTY_CR8  0x20   /* cr8: the local APIC's TPR changed (V_TPR / the VMX TPR) */
#define DIRTY_CR2  0x40   /* cr2: a #PF the core injects (emulated instructions) */
#define DIRTY_PAT  0x80   /* pat: the guest's PAT, into the VMCB/VMCS */
#define DIRTY_TSC_AUX 0x100 /* tsc_aux: what RDTSCP/RDPID read, loaded by the stub (exit_loop.c) */

/* interruptibility: what blocks events right now (filled at each exit) */
#define BLOCKED_BY_SHADOW 0x1     /* STI or MOV SS shadow: no interrupt for one instruction */
#define BLOCKED_NMI       0x2     /* inside an NMI handler until IRET */

/* request: exits the core wants as soon as the guest can take an event */
#define REQUEST_INTERRUPT_WINDOW 0x1
#define REQUEST_NMI_WINDOW       0x2

/* deadline: none */
#define NO_DEADLINE (~0ull)

/* Segment register, attributes in the AMD VMCB layout (APM vol. 2, 15.5.1):
 * bits 0-3 type, 4 S, 5-6 DPL, 7 P, 8 AVL, 9 L, 10 D/B, 11 G. vmx.c converts
 * to and from the VMCS access-rights layout (SDM vol. 3C, 25.4.1). */
struct exit_segment {
	uint16_t selector;
	uint16_t attributes;
	uint32_t limit;
	uint64_t base;
};

/* General registers in x86 encoding order, so a decoded ModRM register
 * number indexes this array directly. */
enum { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15 };

struct exit_record {
	/* --- filled by the stub at each exit --------------------------------*/
	uint32_t reason;              /*   0 enum exit_reason */
	uint32_t instruction_length;  /*   4 of the exiting instruction; 0 = unknown */
	uint64_t gpr[16];             /*   8 */
	uint64_t rip;                 /* 136 */
	uint64_t rflags;              /* 144 */
	uint64_t cr0;                 /* 152 */
	uint64_t cr2;                 /* 160 */
	uint64_t cr3;                 /* 168 */
	uint64_t cr4;                 /* 176 */
	uint64_t efer;                /* 184 as the guest sees it */
	uint64_t gpa;                 /* 192 nested page fault address */
	uint64_t access;              /* 200 EXIT_ACCESS_* */
	uint32_t msr;                 /* 208 */
	uint16_t port;                /* 212 */
	uint8_t io_size;              /* 214 1, 2 or 4 */
	uint8_t io_flags;             /* 215 EXIT_IO_* */
	uint32_t exception_vector;    /* 216 */
	uint32_t exception_error_code;/* 220 */
	uint32_t raw_reason;          /* 224 the vendor's exit code */
	uint32_t cpl;                 /* 228 */
	uint64_t detail;              /* 232 vendor detail (exit qualification / EXITINFO1) */
	uint64_t xcr0;                /* 240 */
	struct exit_segment cs;       /* 248 */
	struct exit_segment ss;       /* 264 */
	/* ES, DS, FS, GS: filled only on the exits whose emulation needs
	 * them (nested page faults and string I/O); zero on the others. */
	struct exit_segment es;       /* 280 */
	struct exit_segment ds;       /* 296 */
	struct exit_segment fs;       /* 312 */
	struct exit_segment gs;       /* 328 */
	uint32_t interruptibility;    /* 344 BLOCKED_* */
	uint32_t pending_event;       /* 348 INJECT_* layout: an event whose delivery the exit
				       * interrupted; the stub delivers it again unless the
				       * core injects (0: none) */
	uint32_t pending_error_code;  /* 352 */
	uint32_t cr8;                 /* 356 the guest's TPR (CR8, bits 3-0) */
	/* --- written by the core ------------------------------------------*/
	uint32_t action;              /* 360 enum exit_action */
	uint32_t advance;             /* 364 bytes to add to RIP */
	uint32_t inject;              /* 368 INJECT_* */
	uint32_t inject_error_code;   /* 372 */
	uint32_t dirty;               /* 376 DIRTY_* */
	uint32_t stop_reason;         /* 380 enum stop_reason */
	uint64_t stop_code;           /* 384 */
	uint64_t exits;               /* 392 count of exits handled (statistics) */
	uint32_t request;             /* 400 REQUEST_* */
	uint32_t reserved;            /* 404 */
	uint64_t deadline;            /* 408 host TSC at which the guest's next timer event is
				       * due (NO_DEADLINE: none): the host timer fires by then */
	uint64_t pat;                 /* 416 the guest's IA32_PAT (DIRTY_PAT) */
	uint32_t tsc_aux;             /* 424 the guest's IA32_TSC_AUX (DIRTY_TSC_AUX) */
	uint32_t reserved2;           /* 428 */
};                                /* 432 bytes */

/* Clears the operands of the last exit before a backend fills the new
 * one's: each exit sets only the operands of its own reason. */
static inline void exit_record_clear_operands(struct exit_record *e)
{
	e->gpa = 0;
	e->access = 0;
	e->msr = 0;
	e->port = 0;
	e->io_size = 0;
	e->io_flags = 0;
	e->exception_vector = 0;
	e->exception_error_code = 0;
	e->instruction_length = 0;
	e->pending_event = 0;
	e->pending_error_code = 0;
	e->interruptibility = 0;
}

_Static_assert(sizeof(struct exit_record) == 432, "exit_record layout changed: update exit_record.ts");
_Static_assert(__builtin_offsetof(struct exit_record, action) == 360, "exit_record layout");
_Static_assert(__builtin_offsetof(struct exit_record, deadline) == 408, "exit_record layout");

/*
 * The full architectural state a vCPU starts from, written by the core's
 * loader (guest VMM export vcpuInitialState()) and loaded by the backend
 * into the VMCB / VMCS before the first entry.
 */
struct vcpu_state {
	uint64_t gpr[16];             /*   0 */
	uint64_t rip, rflags;         /* 128 */
	uint64_t cr0, cr3, cr4, efer; /* 144 */
	struct exit_segment es, cs, ss, ds, fs, gs, ldtr, tr; /* 176 */
	uint64_t gdtr_base;           /* 304 */
	uint64_t idtr_base;           /* 312 */
	uint32_t gdtr_limit;          /* 320 */
	uint32_t idtr_limit;          /* 324 */
	uint64_t xcr0;                /* 328 */
	int64_t tsc_offset;           /* 336 guest TSC = host TSC + tsc_offset */
};                                /* 344 bytes */
_Static_assert(sizeof(struct vcpu_state) == 344, "vcpu_state layout changed: update exit_record.ts");

#endif
