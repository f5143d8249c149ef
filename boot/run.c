/*
 * Running the guests: pick the backend, let the core place each guest on a
 * host CPU, and on every CPU: give its guests their RAM, tables, guest VMM
 * instance and vCPU, then loop: the core's scheduler names the next guest
 * and exit_loop.c runs it for a slice. A guest is only ever touched by its
 * own CPU, so the exit path takes no lock. Vendor-neutral: everything
 * vendor-specific is behind arch_backend.
 *
 * Time: before each entry the CPU's one-shot timer is armed for the
 * earlier of the slice's end and the guest's next timer event (the core
 * says when, in each answer). A guest that halts with nothing pending
 * waits (ACTION_WAIT) until that event or console input; a CPU whose
 * guests all wait halts itself until the first of them is due.
 */
#include "run.h"
#include "percpu.h"

struct guest_run runs[CORE_MAX_GUESTS];
unsigned guest_total;
static unsigned guest_cpu[CORE_MAX_GUESTS];
const struct arch_backend *backend EXIT_PATH_DATA;
static unsigned slice_ms;
uint64_t slice_cycles EXIT_PATH_DATA;
/* For the one "ready" line: every CPU adds what it prepared. */
static volatile uint64_t ready_overhead, ready_guests;
static volatile uint32_t cpus_preparing;
static uint64_t ready_t0;

const struct arch_backend *arch_select(char *why, unsigned why_size)
{
	static const struct arch_backend *const backends[] = { &svm_backend, &vmx_backend };
	char reason[160];
	unsigned used = 0;
	why[0] = 0;
	for (unsigned i = 0; i < sizeof backends / sizeof backends[0]; i++) {
		if (backends[i]->detect(reason, sizeof reason))
			return backends[i];
		if (used < why_size)
			used += ksnprintf(why + used, why_size - used, "%s%s: %s", i ? "; " : "",
					  backends[i]->name, reason);
	}
	return NULL;
}

/* Drops vCPU v's VMCB/VMCS and FPU state. */
static void release_vcpu(struct vcpu_run *r)
{
	if (r->created)
		backend->vcpu_destroy(&r->vcpu);
	r->created = false;
	fpu_disown(&r->fpu);
	guest_fpu_release(&r->fpu);
	debug_regs_disown(&r->debug);
}

/* Drops the guest's vCPUs, instance, tables and RAM. */
static void release_guest(unsigned g)
{
	struct guest_run *run = &runs[g];
	if (run->vcpu) {
		for (unsigned v = 0; v < run->vcpus; v++)
			release_vcpu(&run->vcpu[v]);
		pmm_free(run->vcpu, run->vcpu_pages);
		run->vcpu = NULL;
	}
	run->live = false;
	core_guest_release(g);
}

static void stop_guest(unsigned g)
{
	release_guest(g);
	core_schedule_stopped(g);
}

/* vCPU v of guest g from the core's first state for it (the loader's, or
 * a STARTUP IPI's): a fresh VMCB/VMCS and the FPU's reset state, on the
 * CPU that runs it (a VMCS holds that CPU's host state). */
bool create_vcpu(unsigned g, unsigned v, char *why, unsigned why_size)
{
	struct guest_run *run = &runs[g];
	struct vcpu_run *r = &run->vcpu[v];
	struct arch_guest_tables tables;
	release_vcpu(r);
	core_guest_tables(g, &tables);
	memset(&r->vcpu, 0, sizeof r->vcpu);
	r->vcpu.backend = backend;
	r->vcpu.asid = g * CORE_MAX_VCPUS + v + 1;  /* vCPUs of a guest differ in CR3 */
	r->vcpu.pause_exits = run->vcpus > 1;
	if (!guest_fpu_init(&r->fpu)) {
		ksnprintf(why, why_size, "no memory for its XSAVE area");
		return false;
	}
	debug_regs_init(&r->debug);
	if (!backend->vcpu_create(&r->vcpu, &tables, core_guest_initial_state(g, v), why, why_size))
		return false;
	r->created = true;
	return true;
}

/* Everything a guest needs before its first entry, on the CPU that will
 * run it. False: it is stopped (and the reason was printed). */
static bool prepare_guest(unsigned g)
{
	char why[160];
	const char *name = core_guest_name(g);
	struct guest_run *run = &runs[g];
	wasm_rt_trap_t trap = core_guest_start(g, why, sizeof why);
	if (trap != WASM_RT_TRAP_NONE) {
		if (why[0])
			kprintf("[hv] guest %s stopped: %s\n", name, why);
		return false;
	}
	if (run->cmos_kept) {
		core_guest_cmos(g, run->cmos, false);
		run->cmos_kept = false;
	}
	run->vcpus = core_guest_vcpus(g);
	run->vcpu_pages = (run->vcpus * sizeof(struct vcpu_run) + PAGE_SIZE - 1) / PAGE_SIZE;
	run->vcpu = pmm_alloc(run->vcpu_pages, PAGE_SIZE);
	if (!run->vcpu) {
		kprintf("[hv] guest %s stopped: no memory for its %u vCPUs\n", name, run->vcpus);
		core_guest_release(g);
		return false;
	}
	/* vCPU 0 now; the others when a STARTUP IPI starts them. */
	if (!create_vcpu(g, 0, why, sizeof why)) {
		kprintf("[hv] guest %s stopped: %s\n", name, why);
		release_guest(g);
		return false;
	}
	run->live = true;
	run->waiting = false;
	run->current = -1;
	run->deadline = NO_DEADLINE;
	run->started_tsc = tsc_read();
	run->core_cycles = 0;
	run->stop_after_ms = core_guest_stop_after_ms(g);
	run->stop_tsc = run->stop_after_ms ? run->started_tsc + tsc_hz() / 1000 * run->stop_after_ms : 0;
	return true;
}

/* Wakes the waiting guests of this CPU that are due (their deadline passed,
 * or input came for them); answers whether any was. *first is lowered to
 * the earliest deadline among those that still wait. */
static bool wake_due(unsigned cpu_index, uint64_t *first)
{
	uint64_t now = tsc_read();
	bool woke = false;
	for (unsigned g = 0; g < guest_total; g++) {
		if (guest_cpu[g] != cpu_index || !runs[g].live || !runs[g].waiting)
			continue;
		bool overdue = runs[g].stop_tsc && runs[g].stop_tsc <= now;
		if (runs[g].deadline <= now || console_input_pending(g) || core_guest_stop_requested(g) || overdue) {
			core_schedule_wake(g);
			woke = true;
		} else {
			if (runs[g].deadline < *first)
				*first = runs[g].deadline;
			if (runs[g].stop_tsc && runs[g].stop_tsc < *first)
				*first = runs[g].stop_tsc;
		}
	}
	return woke;
}

/* All of this CPU's guests wait: halt the CPU until the first of them is
 * due (at most a slice, so typed input is still polled). Returns once at
 * least one guest was woken. */
static void idle_until_wake(unsigned cpu_index)
{
	for (;;) {
		uint64_t first = tsc_settle_deadline(tsc_read() + slice_cycles);
		tsc_settle_poll();
		console_input_poll();
		console_poll_output();
		if (wake_due(cpu_index, &first))
			return;
		lapic_timer_arm(console_poll_deadline(first));
		__asm__ volatile("sti; hlt; cli" ::: "memory");
	}
}

/* A guest has stopped: print its statistics, then restart it by policy or
 * let it go. Returns the action for the scheduler. */
static enum exit_action finish_guest(unsigned g, uint32_t stop_reason)
{
	uint64_t exits = 0;
	for (unsigned v = 0; v < runs[g].vcpus; v++)
		exits += core_guest_exit_record(g, v)->exits;
	uint64_t cycles = tsc_read() - runs[g].started_tsc;
	uint64_t ms = tsc_hz() >= 1000 ? cycles / (tsc_hz() / 1000) : 0;
	kprintf("[hv] guest %s: %llu exits in %llu ms, %llu%% of it in the core\n",
		core_guest_name(g), (unsigned long long)exits, (unsigned long long)ms,
		(unsigned long long)(cycles ? runs[g].core_cycles * 100 / cycles : 0));
	if (core_guest_should_restart(g, stop_reason)) {
		/* Everything anew: instance, RAM, tables, image, vCPU; after a
		 * reset, the CMOS RAM stays as the guest left it. */
		/* A reset, or the reset a triple fault is on a PC: the
		 * battery-backed CMOS RAM stays. */
		if (stop_reason == STOP_REBOOT || stop_reason == STOP_TRIPLE_FAULT)
			runs[g].cmos_kept = core_guest_cmos(g, runs[g].cmos, true);
		release_guest(g);
		if (prepare_guest(g))
			return ACTION_YIELD;
		core_schedule_stopped(g);
		return ACTION_STOP;
	}
	stop_guest(g);
	return ACTION_STOP;
}

/* The stub stops g itself: printed as a stop by the core is, its last
 * (partial) console line first, then why, then its exits by reason. */
static void stop_by_host(unsigned g, const char *why)
{
	core_guest_flush_console(g);
	kprintf("[hv] guest %s stopped: %s\n", core_guest_name(g), why);
	core_guest_print_stop_stats(g);
}

/* The backend and the boot CPU's part of it, before the boot's first line
 * (boot_main): QEMU's TCG keys every block it translates by EFER.SVME
 * among other flags, so each block the boot ran before the bit was set
 * was translated once more after it (151 of the 2,679 translations up to
 * the first VMRUN; make bench P4). It runs before the TSC's rate is
 * known: neither detect nor cpu_enable may need tsc_hz(). */
static char select_why[160], boot_cpu_why[160];
static bool boot_cpu_enabled;   /* meaningful once backend is set */

/* This CPU's part: its FPU, machine checks and the backend. */
static bool enable_this_cpu(char *why, unsigned why_size)
{
	/* Before the backend: VMXON keeps CR4's bits, the VMCS takes the host CR4. */
	fpu_enable_host();
	mce_enable_host();
	return backend->cpu_enable(why, why_size);
}

void run_prepare_boot_cpu(void)
{
	backend = arch_select(select_why, sizeof select_why);
	if (!backend)
		return;
	fpu_probe();
	boot_cpu_enabled = enable_this_cpu(boot_cpu_why, sizeof boot_cpu_why);
}

/* What every CPU with guests does, the boot CPU included. */
static void cpu_run(unsigned cpu_index)
{
	char why[160];
	unsigned mine = 0;
	for (unsigned g = 0; g < guest_total; g++)
		mine += guest_cpu[g] == cpu_index;
	if (!mine)
		return;
	core_cpu_scheduler_start(guest_total, guest_cpu);
	bool enabled;
	/* The boot CPU was enabled before the boot's first line. */
	if (cpu_index == 0) {
		enabled = boot_cpu_enabled;
		ksnprintf(why, sizeof why, "%s", boot_cpu_why);
	} else {
		enabled = enable_this_cpu(why, sizeof why);
	}
	if (enabled && !fpu_host_ready()) {      /* VMX's fixed CR4 bits refused OSXSAVE */
		ksnprintf(why, sizeof why, "CR4.OSXSAVE cannot be set");
		enabled = false;
	}
	if (!enabled) {
		kprintf("[hv] CPU %u: cannot run guests: %s %s\n", cpu_index, backend->name, why);
		for (unsigned g = 0; g < guest_total; g++)
			if (guest_cpu[g] == cpu_index)
				core_schedule_stopped(g);
		__atomic_fetch_sub(&cpus_preparing, 1, __ATOMIC_ACQ_REL);
		return;
	}
	if (!lapic_timer_start())
		kprintf("[hv] CPU %u: no usable local APIC timer: its guests are not preempted\n", cpu_index);

	uint64_t overhead = 0, started = 0;
	for (unsigned g = 0; g < guest_total; g++) {
		if (guest_cpu[g] != cpu_index)
			continue;
		if (!prepare_guest(g)) {
			core_schedule_stopped(g);
			continue;
		}
		/* Beyond its RAM: the core's share, the VMCB/VMCS page, the vCPU. */
		overhead += core_guest_overhead_bytes(g) + PAGE_SIZE + sizeof(struct guest_run) +
			    runs[g].vcpu_pages * PAGE_SIZE + fpu_guest_overhead();
		started++;
	}
	__atomic_fetch_add(&ready_overhead, overhead, __ATOMIC_ACQ_REL);
	__atomic_fetch_add(&ready_guests, started, __ATOMIC_ACQ_REL);
	if (__atomic_sub_fetch(&cpus_preparing, 1, __ATOMIC_ACQ_REL) == 0 && ready_guests)
		kprintf("[hv] %llu guest(s) ready in %llu ms; per-guest overhead %llu KiB "
			"(guest VMM memory, nested tables, bitmaps, VMCB/VMCS, vCPU)\n",
			(unsigned long long)ready_guests,
			(unsigned long long)((tsc_read() - ready_t0) / (tsc_hz() / 1000 ? tsc_hz() / 1000 : 1)),
			(unsigned long long)(ready_overhead / ready_guests / 1024));

	int current = core_schedule_next_on(-1, ACTION_RESUME), last = -1;
	while (current != SCHEDULE_NONE) {
		if (current == SCHEDULE_IDLE) {
			idle_until_wake(cpu_index);
			current = core_schedule_next_on(last, ACTION_RESUME);
			continue;
		}
		unsigned g = (unsigned)current;
		uint32_t stop_reason = STOP_OPERATOR;
		enum exit_action action = ACTION_STOP;
		if (core_guest_stop_requested(g)) {
			ksnprintf(why, sizeof why, "at the prompt (stop %s)", core_guest_name(g));
			stop_by_host(g, why);
		} else if (runs[g].stop_tsc && tsc_read() >= runs[g].stop_tsc) {
			ksnprintf(why, sizeof why, "its stop_after_ms (%u ms) ran out", runs[g].stop_after_ms);
			stop_by_host(g, why);
		} else {
			action = run_slice(g, &stop_reason);
		}
		if (action == ACTION_STOP)
			action = finish_guest(g, stop_reason);
		console_input_poll();
		tsc_settle_poll();
		uint64_t unused = NO_DEADLINE;
		wake_due(cpu_index, &unused);   /* a busy CPU must not starve its sleepers */
		last = current;
		current = core_schedule_next_on(current, action);
	}
	lapic_timer_stop();
}

void run_guests(unsigned count)
{
	if (!backend) {
		kprintf("[hv] cannot run guests: %s\n", select_why);
		return;
	}
	guest_total = count;
	mitigations_probe();
	tsc_aux_probe();
	slice_ms = core_timeslice_ms();
	slice_cycles = tsc_hz() / 1000 * slice_ms;
	core_set_vendor(backend->vendor);
	core_schedule_reset(count);
	core_assign_cpus(cpu_count);
	unsigned busy = 0;
	for (unsigned c = 0; c < cpu_count; c++) {
		unsigned n = 0;
		for (unsigned g = 0; g < count; g++) {
			guest_cpu[g] = core_guest_cpu(g);
			n += guest_cpu[g] == c;
		}
		busy += n > 0;
	}
	kprintf("[hv] running %u guest(s) on %s, time slice %u ms\n", count, backend->name, slice_ms);
	cpus_preparing = busy;
	ready_t0 = tsc_read();
	uint64_t entries = core_supervisor_entries;
	smp_run_everywhere(cpu_run);
	if (host_nmi_count)
		kprintf("[hv] host NMIs dismissed while guests ran: %llu\n", (unsigned long long)host_nmi_count);
	/* Only starts, stops and restarts enter it: no slice, halt or wake. */
	kprintf("[hv] supervisor entered %llu times while guests ran\n",
		(unsigned long long)(core_supervisor_entries - entries));
	kprintf("[hv] all guests stopped\n");
}
