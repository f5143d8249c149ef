/*
 * What the two halves of running guests share: run.c (the backend, each
 * guest's start, stop and restart, each CPU's scheduling loop) and
 * exit_loop.c (one time slice of one guest: entries, exits, answers).
 */
#ifndef RUN_H
#define RUN_H

#include "hv.h"
#include "boot.h"
#include "core.h"
#include "arch/vcpu.h"
#include "debug_regs.h"

/* One vCPU: its VMCB/VMCS and its FPU/SSE/AVX state and XCR0. */
struct vcpu_run {
	struct arch_vcpu vcpu;
	struct guest_fpu fpu;
	struct guest_debug debug;  /* DR0-DR3, DR6 */
	uint32_t tsc_aux;          /* IA32_TSC_AUX: RDTSCP and RDPID read it in the guest */
	bool created;              /* vcpu has its VMCB/VMCS */
};

struct guest_run {
	bool live;                 /* has its vCPUs and RAM */
	bool waiting;              /* every vCPU halted: until `deadline` or input */
	uint64_t deadline;         /* host TSC of its next timer event, NO_DEADLINE */
	unsigned vcpus;
	int current;               /* the vCPU that ran last (-1: none yet) */
	struct vcpu_run *vcpu;     /* `vcpus` of them, in pages of their own */
	unsigned vcpu_pages;
	bool cmos_kept;            /* rebooting: cmos holds its CMOS RAM */
	uint8_t cmos[CORE_CMOS_BYTES];
	uint64_t started_tsc;
	uint64_t stop_tsc;         /* its stop_after_ms, as a TSC value (0: never) */
	unsigned stop_after_ms;
	uint64_t core_cycles;      /* time spent in the guest VMM, for the stats line */
};

extern struct guest_run runs[CORE_MAX_GUESTS];
extern unsigned guest_total;
extern const struct arch_backend *backend;
extern uint64_t slice_cycles;        /* a time slice, in TSC ticks */

/* run.c */
bool create_vcpu(unsigned g, unsigned v, char *why, unsigned why_size);

/* exit_loop.c */
void tsc_aux_probe(void);
void fpu_disown(struct guest_fpu *fpu);
/* Runs g's vCPUs for one time slice; *stop_reason is set for ACTION_STOP. */
enum exit_action run_slice(unsigned g, uint32_t *stop_reason);

#endif
