/*
 * One time slice of one guest, on the CPU it lives on: enter a vCPU, take
 * its exit, have the guest's VMM instance answer it (or the stub, for a
 * first touch of its RAM), apply the answer, again, until the slice ends
 * or the guest yields, waits or stops. Everything on this path is marked
 * EXIT_PATH / EXIT_PATH_DATA (hv.h), so that its code and data stay on
 * few pages (scripts/exit-pages counts them).
 */
#include "run.h"
#include "percpu.h"
#include "bench_bypass.h"

/* Time to the first guest instruction (make bench, P4): from the TSC at
 * the multiboot entry (boot/entry.S) to each guest's first entry. */
extern uint64_t boot_entry_tsc;
static bool entered[CORE_MAX_GUESTS] EXIT_PATH_DATA;
static volatile uint32_t entered_count;

static void note_first_entry(unsigned g)
{
	uint64_t us = (tsc_read() - boot_entry_tsc) / (tsc_hz() / 1000000 ? tsc_hz() / 1000000 : 1);
	entered[g] = true;
	uint32_t n = __atomic_add_fetch(&entered_count, 1, __ATOMIC_ACQ_REL);
	if (n == 1)
		kprintf("[hv] first guest instruction %llu us after the multiboot entry\n", (unsigned long long)us);
	if (n == guest_total)
		kprintf("[hv] all %u guests entered %llu us after the multiboot entry\n", guest_total,
			(unsigned long long)us);
}

/* The host never touches the FPU, so a CPU's FPU state belongs to the last
 * vCPU it ran: switch it only when the next vCPU is another one. */
static void fpu_switch_to(struct guest_fpu *fpu)
{
	struct cpu *cpu = this_cpu();
	if (cpu->fpu_owner == fpu)
		return;
	guest_fpu_switch(cpu->fpu_owner, fpu);
	cpu->fpu_owner = fpu;
}

/* Forgets this CPU's copy of `fpu` (its owner is going away). */
void fpu_disown(struct guest_fpu *fpu)
{
	if (this_cpu()->fpu_owner == fpu)
		this_cpu()->fpu_owner = NULL;
}

static enum exit_action vmm_trapped(unsigned g, wasm_rt_trap_t trap, const struct exit_record *exit,
				    uint32_t *stop_reason)
{
	*stop_reason = STOP_VMM_TRAP;
	kprintf("[hv] guest %s stopped: its guest VMM trapped: %s (RIP %#llx, exit %u)\n",
		core_guest_name(g), wasm_rt_strerror(trap),
		(unsigned long long)(exit ? exit->rip : 0), exit ? exit->reason : 0);
	return ACTION_STOP;
}

/* Guest g's instance trapped taking typed input: it stops (or restarts
 * by its on_crash) as for a trap at an exit. */
static enum exit_action input_trapped(unsigned g, uint32_t *stop_reason)
{
	*stop_reason = STOP_VMM_TRAP;
	kprintf("[hv] guest %s stopped: its guest VMM trapped taking console input: %s\n",
		core_guest_name(g), wasm_rt_strerror(core_guest_input_trap(g)));
	return ACTION_STOP;
}

/* TSC_AUX is not switched by VM entry or exit and the guest reads it with
 * RDTSCP/RDPID: the CPU holds the running vCPU's (the host does not use
 * it), written only when it differs. */
static bool tsc_aux_present EXIT_PATH_DATA;
static uint32_t tsc_aux_loaded[MAX_CPUS] EXIT_PATH_DATA;

void tsc_aux_probe(void)
{
	uint32_t a, b, c, d;
	cpuid(0x80000001, 0, &a, &b, &c, &d);
	tsc_aux_present = d & (1u << 27);     /* RDTSCP */
	for (unsigned i = 0; i < MAX_CPUS; i++)
		tsc_aux_loaded[i] = ~0u;
}

EXIT_PATH static void tsc_aux_switch_to(uint32_t value)
{
	unsigned cpu = this_cpu()->index;
	if (!tsc_aux_present || cpu >= MAX_CPUS || tsc_aux_loaded[cpu] == value)
		return;
	wrmsr(0xc0000103, value);
	tsc_aux_loaded[cpu] = value;
}

/* Writes the core's answer in vCPU v's record back into the vCPU. */
EXIT_PATH static void apply_answer(unsigned g, unsigned v, const struct exit_record *exit)
{
	struct vcpu_run *r = &runs[g].vcpu[v];
	if (exit->dirty & DIRTY_TSC_AUX) {
		r->tsc_aux = exit->tsc_aux;
		tsc_aux_switch_to(r->tsc_aux);
	}
	if (exit->dirty & DIRTY_XCR0)
		guest_fpu_set_xcr0(&r->fpu, exit->xcr0, this_cpu()->fpu_owner == &r->fpu);
	backend->vcpu_apply(&r->vcpu, exit);
}

/* Has guest g's VMM instance answer vCPU v's exit in `exit` (its record,
 * core_guest_exit_record), then applies the answer (unless it stops the
 * guest or halts the vCPU). */
EXIT_PATH static enum exit_action answer_exit(unsigned g, unsigned v, struct exit_record *exit,
					     uint32_t *stop_reason)
{
	uint64_t t0 = tsc_read();
	wasm_rt_trap_t trap = core_guest_answer_exit(g, v, exit);   /* inside run_slice's frame */
	runs[g].core_cycles += tsc_read() - t0;
	*stop_reason = exit->stop_reason;
	if (trap != WASM_RT_TRAP_NONE)
		return vmm_trapped(g, trap, exit, stop_reason);
	enum exit_action action = exit->action;
	if (action != ACTION_STOP && action != ACTION_WAIT)
		apply_answer(g, v, exit);
	return action;
}

/* The vCPU of g to run next (after the one that ran last), made ready:
 * started, or its HLT's end applied. -1: all halted (the guest waits);
 * -2: the guest stopped (*stop_reason). */
static int pick_vcpu(unsigned g, uint32_t *stop_reason)
{
	struct guest_run *run = &runs[g];
	char why[160];
	int next;
	uint64_t t0 = tsc_read();
	wasm_rt_trap_t trap = core_guest_next_vcpu(g, run->current, &next);
	run->core_cycles += tsc_read() - t0;
	if (trap != WASM_RT_TRAP_NONE) {
		vmm_trapped(g, trap, NULL, stop_reason);
		return -2;
	}
	if (next == CORE_NEXT_VCPU_NONE) {
		run->deadline = core_guest_deadline(g);
		return -1;
	}
	unsigned v = (unsigned)next & 0xff;
	if (next & CORE_NEXT_VCPU_LOAD) {
		if (!create_vcpu(g, v, why, sizeof why)) {
			kprintf("[hv] guest %s stopped: vCPU %u: %s\n", core_guest_name(g), v, why);
			*stop_reason = STOP_UNSUPPORTED;
			return -2;
		}
	} else if (next & CORE_NEXT_VCPU_APPLY) {
		apply_answer(g, v, core_guest_exit_record(g, v));
	}
	run->current = (int)v;
	return (int)v;
}

/* Runs g's vCPUs until the guest yields, waits, stops, or its time slice
 * ends: one vCPU at a time, the core naming the next when one halts or
 * gives way. Returns what ended it; *stop_reason is set for ACTION_STOP.
 * Its exits are answered inside run_slice's trap frame; *answering is the
 * vCPU whose exit is being answered (-1: none). */
EXIT_PATH __attribute__((noinline)) static enum exit_action run_vcpus(unsigned g, uint32_t *stop_reason, volatile int *answering)
{
	struct guest_run *run = &runs[g];
	/* Ends in time for the TSC's rate to settle (tsc.c) while the PIT's
	 * window lasts. */
	uint64_t slice_end = tsc_settle_deadline(tsc_read() + slice_cycles);
	mitigations_guest_switch(g);
	if (__builtin_expect(!entered[g], 0))   /* its first slice: entered right after */
		note_first_entry(g);
	/* Typed input first: it may be what woke the guest. (An instance
	 * can trap taking input only when bytes were offered to it.) */
	if (console_input_deliver(g) && core_guest_input_trap(g))
		return input_trapped(g, stop_reason);
	run->waiting = false;
	for (;;) {
		/* Each slice starts with the next vCPU in turn. */
		int v = pick_vcpu(g, stop_reason);
		if (v == -2)
			return ACTION_STOP;
		if (v == -1) {
			run->waiting = true;
			return ACTION_WAIT;
		}
		struct vcpu_run *r = &run->vcpu[v];
		struct exit_record *exit = core_guest_exit_record(g, (unsigned)v);
		fpu_switch_to(&r->fpu);
		debug_regs_switch_to(&r->debug);
		tsc_aux_switch_to(r->tsc_aux);
		enum exit_action action = ACTION_RESUME;
		while (action == ACTION_RESUME) {
			/* Typed bytes raise the UART's interrupt between exits:
			 * have the guest exit as soon as it can take it. */
			if (console_input_deliver(g)) {
				if (core_guest_input_trap(g))
					return input_trapped(g, stop_reason);
				backend->vcpu_kick(&r->vcpu);
			}
			uint64_t deadline = exit->deadline < slice_end ? exit->deadline : slice_end;
			lapic_timer_arm(console_poll_deadline(deadline));
			mitigations_before_entry();
			backend->vcpu_run(&r->vcpu, exit);
			guest_fpu_sync_xcr0(&r->fpu);
			exit->xcr0 = r->fpu.xcr0;
			if (exit->reason == EXIT_EXTERNAL_INTERRUPT)
				host_interrupt_window();
			/* The first touch of a block of its RAM: zeroed and
			 * mapped now (guest_ram.c); the access runs again. */
			if (exit->reason == EXIT_NESTED_PAGE_FAULT && guest_ram_fault(g, exit->gpa))
				continue;
			/* The host's machine check: logged here, the core stops
			 * the guest (an exception it is never given). */
			if (exit->reason == EXIT_EXCEPTION && exit->exception_vector == 18)
				mce_guest_exit(core_guest_name(g));
#ifdef HV_BENCH_BYPASS
			if (bench_bypass(exit)) {
				backend->vcpu_apply(&r->vcpu, exit);
				action = ACTION_RESUME;
			} else
#endif
			{
				*answering = v;
				action = answer_exit(g, (unsigned)v, exit, stop_reason);
				*answering = -1;
			}
			console_poll_output();
			if (tsc_read() >= slice_end)
				break;
		}
		if (action == ACTION_STOP || action == ACTION_YIELD)
			return action;
		if (tsc_read() >= slice_end)
			return action == ACTION_WAIT ? ACTION_YIELD : ACTION_RESUME;  /* preempted */
		/* ACTION_WAIT (this vCPU halted) or ACTION_SWITCH: the next one. */
	}
}

/* One trap frame for a whole slice's exits, not one per exit: a trap of
 * g's instance while it answers an exit comes back here and stops the
 * guest as a trapped exit does (answer_exit). Traps in the other calls
 * into the instance are caught by their own frames, inside this one. */
enum exit_action run_slice(unsigned g, uint32_t *stop_reason)
{
	wasm_rt_jmp_buf frame;
	volatile int answering = -1;
	wasm_rt_trap_t trap = wasm_rt_try(&frame);
	if (trap != WASM_RT_TRAP_NONE) {
		wasm_rt_end_try(&frame);
		int v = answering;
		return vmm_trapped(g, trap, v >= 0 ? core_guest_exit_record(g, (unsigned)v) : NULL, stop_reason);
	}
	enum exit_action action = run_vcpus(g, stop_reason, &answering);
	wasm_rt_end_try(&frame);
	return action;
}
