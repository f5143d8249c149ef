/*
 * The one contract between the vendor-neutral stub and a virtualization
 * backend: boot/arch/svm.c (AMD-V + NPT) and boot/arch/vmx.c (VT-x + EPT)
 * implement these functions, with the same names in the same order. Nothing
 * outside boot/arch/ asks which vendor it runs on.
 */
#ifndef ARCH_VCPU_H
#define ARCH_VCPU_H

#include <stdint.h>
#include <stdbool.h>
#include "exit_record.h"

/* Which backend the core must build nested page tables and bitmaps for. */
enum arch_vendor { ARCH_NONE = 0, ARCH_SVM = 1, ARCH_VMX = 2 };

struct arch_backend;

/* CR4 bits a guest may not set: state they enable is not switched between
 * guests (PKRU, the CET and PKS MSRs, UINTR and Key Locker state) or not
 * modelled by the core (LA57: 5-level guest paging). A write setting one
 * raises #GP (SDM vol. 3A, 2.5; issue 11, hole 3). */
#define CR4_NOT_VIRTUALISED ((1ull << 12) | (1ull << 19) | (1ull << 22) | (1ull << 23) | \
			     (1ull << 24) | (1ull << 25))

struct arch_vcpu {
	const struct arch_backend *backend;
	void *control;           /* VMCB / VMCS page (host-physical == virtual) */
	uint64_t gpr[16];        /* guest registers VMRUN/VMLAUNCH do not save */
	uint32_t asid;           /* ASID / VPID, never 0 */
	bool pause_exits;        /* PAUSE exits (EXIT_PAUSE): set before vcpu_create for a
				  * guest of several vCPUs, whose spin loops wait on a
				  * vCPU that is not running */
	bool launched;           /* VMX: VMLAUNCH done, VMRESUME next */
	bool nmi_blocked;        /* an injected NMI's handler has not returned yet */
	/* VT-x only (vmx.c): guest state that VM entry and exit do not switch
	 * and the VMCS does not hold; SVM keeps all of it in the VMCB. */
	struct {
		uint64_t cr2;
		uint64_t syscall_msrs[5];  /* KERNEL_GS_BASE, STAR, LSTAR, CSTAR, SFMASK */
		uint64_t eptp;             /* for INVEPT once the VMCS is gone */
		uint8_t tpr;               /* CR8: intercepted, so kept here */
		bool injecting;            /* the VM-entry interruption field is armed */
		uint32_t windows;          /* window-exiting controls set for the next entry */
	} vmx;
};

/* Where a guest's tables are; built by the supervisor in its linear memory. */
struct arch_guest_tables {
	uint64_t nested_root;    /* NPT (CR3 format) / EPT PML4 host-physical */
	uint64_t io_bitmap;      /* SVM: 12 KiB IOPM; VMX: 8 KiB (bitmaps A then B) */
	uint64_t msr_bitmap;     /* SVM: 8 KiB MSRPM; VMX: 4 KiB */
};

struct arch_backend {
	const char *name;        /* "AMD-V" / "VT-x" */
	enum arch_vendor vendor;
	/* Probes the CPU by CPUID and capability MSRs only (never by setting
	 * CR4.VMXE: QEMU 7.2 hangs on a reserved CR4 bit). Returns false and
	 * fills `why` with a sentence when the feature set is not enough. */
	bool (*detect)(char *why, unsigned why_size);
	/* Turns the extension on for the calling CPU (EFER.SVME + HSAVE /
	 * VMXON). Returns false with `why` filled. */
	bool (*cpu_enable)(char *why, unsigned why_size);
	/* Prepares a vCPU: its VMCB/VMCS, intercepts, tables, initial state. */
	bool (*vcpu_create)(struct arch_vcpu *, const struct arch_guest_tables *,
			    const struct vcpu_state *initial, char *why, unsigned why_size);
	void (*vcpu_destroy)(struct arch_vcpu *);
	/* Enters the guest and returns at the next exit with `exit` filled. */
	void (*vcpu_run)(struct arch_vcpu *, struct exit_record *exit);
	/* Writes the core's answer (registers, RIP advance, injection, dirty
	 * control registers) back before the next run. */
	void (*vcpu_apply)(struct arch_vcpu *, const struct exit_record *exit);
	/* Makes the guest exit as soon as it can take an interrupt (an
	 * interrupt window), for an event raised between exits (typed input). */
	void (*vcpu_kick)(struct arch_vcpu *);
};

extern const struct arch_backend svm_backend;
extern const struct arch_backend vmx_backend;

#endif
