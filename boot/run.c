/*
 * Running the guests: pick the backend, let the core place each guest on a
 * host CPU, and on every CPU: give its guests their RAM, tables, guest VMM
 * instance and vCPU, then loop: the core's scheduler names the next guest,
 * the backend enters it, its guest VMM instance answers the exit. A guest
 * is only ever touched by its own CPU, so the exit path takes no lock.
 * Vendor-neutral: everything vendor-specific is behind arch_backend.
 */
#include "hv.h"
#include "boot.h"
#include "core.h"
#include "percpu.h"
#include "arch/vcpu.h"

struct guest_run {
	bool live;                 /* has a vCPU and RAM */
	struct arch_vcpu vcpu;
	uint8_t *xsave;            /* XSAVE area (one page, standard format), when the host has XSAVE */
	uint64_t xcr0;             /* the guest's XCR0 (1 at reset) */
	uint64_t started_tsc;
	uint64_t core_cycles;      /* time spent in the guest VMM, for the stats line */
};

static struct guest_run runs[CORE_MAX_GUESTS];
static unsigned guest_total;
static unsigned guest_cpu[CORE_MAX_GUESTS];
static const struct arch_backend *backend;
static unsigned slice_ms;
/* For the one "ready" line: every CPU adds what it prepared. */
static volatile uint64_t ready_overhead, ready_guests;
static volatile uint32_t cpus_preparing;
static uint64_t ready_t0;

/*
 * Guest FPU/SSE/AVX state. The host never touches the FPU (it is built
 * -mgeneral-regs-only), so a CPU's FPU state and XCR0 belong to the last
 * guest it ran, and are switched only when the next guest is another one.
 *
 * With XSAVE (CPUID.1:ECX.XSAVE), guests may use the XCR0 components in
 * xcr0_allowed: those the host supports among x87, SSE and AVX (never
 * MPX, AVX-512, PKRU or AMX). Each guest has a standard-format XSAVE area
 * (one page) and its own XCR0. Saving and restoring always covers every
 * allowed component, with XCR0 = xcr0_allowed for the two instructions:
 * legacy SSE instructions run whatever XCR0 says, so a guest with
 * XCR0 = x87 still owns XMM registers (and the YMM upper halves it cannot
 * reach must still not be another guest's). Then XCR0 becomes the next
 * guest's own. Without XSAVE: FXSAVE/FXRSTOR, x87 + SSE.
 */
#define XCR0_X87 0x1ull
#define XCR0_SSE 0x2ull
#define XCR0_AVX 0x4ull
#define XCR0_GUEST_COMPONENTS (XCR0_X87 | XCR0_SSE | XCR0_AVX)
#define CR4_OSXSAVE (1ull << 18)

static uint64_t xcr0_allowed;        /* 0: no XSAVE, FXSAVE is used */

static inline void xsetbv0(uint64_t value)
{
	__asm__ volatile("xsetbv" :: "c"(0), "a"((uint32_t)value), "d"((uint32_t)(value >> 32)));
}

static inline void xsave_to(uint8_t *area, uint64_t mask)
{
	__asm__ volatile("xsave64 %0" : "=m"(*(uint8_t (*)[PAGE_SIZE])area)
			 : "a"((uint32_t)mask), "d"((uint32_t)(mask >> 32)));
}

static inline void xrstor_from(const uint8_t *area, uint64_t mask)
{
	__asm__ volatile("xrstor64 %0" :: "m"(*(const uint8_t (*)[PAGE_SIZE])area),
			 "a"((uint32_t)mask), "d"((uint32_t)(mask >> 32)));
}

/* Once, on the boot CPU: which components guests may use, and whether one
 * page holds their standard-format XSAVE area (SDM vol. 1, 13.4-13.5). */
static void xsave_probe(void)
{
	uint32_t a, b, c, d;
	xcr0_allowed = 0;
	cpuid(0, 0, &a, &b, &c, &d);
	if (a < 0xd)
		return;
	cpuid(1, 0, &a, &b, &c, &d);
	if (!(c & (1u << 26)))
		return;
	cpuid(0xd, 0, &a, &b, &c, &d);
	uint64_t allowed = ((uint64_t)d << 32 | a) & XCR0_GUEST_COMPONENTS;
	if ((allowed & (XCR0_X87 | XCR0_SSE)) != (XCR0_X87 | XCR0_SSE))
		return;
	uint32_t end = 576;                  /* legacy region + XSAVE header */
	for (unsigned i = 2; i < 64; i++) {
		if (!(allowed & (1ull << i)))
			continue;
		cpuid(0xd, i, &a, &b, &c, &d);  /* EAX size, EBX offset */
		if (b + a > end)
			end = b + a;
	}
	if (end > PAGE_SIZE)
		allowed &= XCR0_X87 | XCR0_SSE;
	xcr0_allowed = allowed;
}

/* A guest's FPU state as after reset/FNINIT: FCW 0x37F, MXCSR 0x1F80
 * (SDM vol. 1, 10.5.1); in the XSAVE area XSTATE_BV = x87|SSE, XCOMP_BV = 0
 * (standard format), the rest of the header 0 and AVX in its init state. */
static void fpu_init_image(uint8_t *area, bool xsave)
{
	memset(area, 0, xsave ? PAGE_SIZE : 512);
	area[0] = 0x7F;
	area[1] = 0x03;
	area[24] = 0x80;
	area[25] = 0x1F;
	if (xsave)
		*(uint64_t *)(area + 512) = XCR0_X87 | XCR0_SSE;
}

static void fpu_switch_to(int guest)
{
	struct cpu *cpu = this_cpu();
	if (cpu->fpu_owner == guest)
		return;
	if (!xcr0_allowed) {
		if (cpu->fpu_owner >= 0 && runs[cpu->fpu_owner].live)
			__asm__ volatile("fxsave64 %0" : "=m"(*(uint8_t (*)[512])runs[cpu->fpu_owner].vcpu.fpu));
		__asm__ volatile("fxrstor64 %0" :: "m"(*(const uint8_t (*)[512])runs[guest].vcpu.fpu));
		cpu->fpu_owner = guest;
		return;
	}
	xsetbv0(xcr0_allowed);
	if (cpu->fpu_owner >= 0 && runs[cpu->fpu_owner].live)
		xsave_to(runs[cpu->fpu_owner].xsave, xcr0_allowed);
	xrstor_from(runs[guest].xsave, xcr0_allowed);
	xsetbv0(runs[guest].xcr0);
	cpu->fpu_owner = guest;
}

/* The core asked for a new XCR0 (the guest's XSETBV, checked there): check
 * again, trusting nothing from an instance, and load it at once, since this
 * CPU holds that guest's state. Invalid values are ignored. */
static void guest_set_xcr0(unsigned g, uint64_t value)
{
	if (!xcr0_allowed || (value & ~xcr0_allowed) || !(value & XCR0_X87) ||
	    ((value & XCR0_AVX) && !(value & XCR0_SSE)))
		return;
	runs[g].xcr0 = value;
	if (this_cpu()->fpu_owner == (int)g)
		xsetbv0(value);
}

/* After an exit: the CPU's XCR0 is the guest's. XSETBV always exits on
 * VT-x and is intercepted on AMD-V, but QEMU 7.2 TCG ignores that
 * intercept and lets the guest write XCR0 itself: take what the guest set
 * when it is within the allowed components, else put the guest's back. */
static void guest_sync_xcr0(unsigned g)
{
	if (!xcr0_allowed)
		return;
	uint32_t lo, hi;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	uint64_t now = (uint64_t)hi << 32 | lo;
	if (now == runs[g].xcr0)
		return;
	if (!(now & ~xcr0_allowed))
		runs[g].xcr0 = now;
	else
		xsetbv0(runs[g].xcr0);
}

static void enable_host_fpu(void)
{
	uint64_t cr0, cr4;
	__asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
	__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
	cr0 = (cr0 & ~(1ull << 2 | 1ull << 3)) | 1ull << 1 | 1ull << 5; /* EM=0 TS=0 MP=1 NE=1 */
	cr4 |= 1ull << 9 | 1ull << 10;                               /* OSFXSR, OSXMMEXCPT */
	if (xcr0_allowed)
		cr4 |= CR4_OSXSAVE;                                  /* XSAVE, XSETBV; XCR0 = 1 */
	__asm__ volatile("mov %0, %%cr0" :: "r"(cr0));
	__asm__ volatile("mov %0, %%cr4" :: "r"(cr4));
}

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

/* Drops the guest's vCPU, instance, tables and RAM. */
static void release_guest(unsigned g)
{
	if (runs[g].live) {
		backend->vcpu_destroy(&runs[g].vcpu);
		runs[g].live = false;
	}
	if (runs[g].xsave) {
		pmm_free(runs[g].xsave, 1);
		runs[g].xsave = NULL;
	}
	if (this_cpu()->fpu_owner == (int)g)
		this_cpu()->fpu_owner = -1;
	core_guest_release(g);
}

static void stop_guest(unsigned g)
{
	release_guest(g);
	core_schedule_stopped(g);
}

/* Everything a guest needs before its first entry, on the CPU that will
 * run it (a VMCS holds that CPU's host state). False: it is stopped (and
 * the reason was printed). */
static bool prepare_guest(unsigned g)
{
	char why[160];
	const char *name = core_guest_name(g);
	wasm_rt_trap_t trap = core_guest_start(g, why, sizeof why);
	if (trap != WASM_RT_TRAP_NONE) {
		if (why[0])
			kprintf("[hv] guest %s stopped: %s\n", name, why);
		return false;
	}
	struct arch_guest_tables tables;
	core_guest_tables(g, &tables);
	struct arch_vcpu *vcpu = &runs[g].vcpu;
	memset(vcpu, 0, sizeof *vcpu);
	vcpu->backend = backend;
	vcpu->asid = g + 1;
	fpu_init_image(vcpu->fpu, false);
	runs[g].xcr0 = XCR0_X87;            /* as at reset */
	if (xcr0_allowed) {
		runs[g].xsave = pmm_alloc(1, PAGE_SIZE);
		if (!runs[g].xsave) {
			kprintf("[hv] guest %s stopped: no memory for its XSAVE area\n", name);
			core_guest_release(g);
			return false;
		}
		fpu_init_image(runs[g].xsave, true);
	}
	if (!backend->vcpu_create(vcpu, &tables, core_guest_initial_state(g), why, sizeof why)) {
		kprintf("[hv] guest %s stopped: %s\n", name, why);
		if (runs[g].xsave) {
			pmm_free(runs[g].xsave, 1);
			runs[g].xsave = NULL;
		}
		core_guest_release(g);
		return false;
	}
	runs[g].live = true;
	runs[g].started_tsc = tsc_read();
	runs[g].core_cycles = 0;
	return true;
}

/* Runs `g` until it yields, stops, or its time slice ends (a host timer
 * tick: the guest exits for it whatever it does). Returns what ended it;
 * *stop_reason is set for ACTION_STOP. */
static enum exit_action run_slice(unsigned g, uint32_t *stop_reason)
{
	struct exit_record *exit = core_guest_exit_record(g);
	enum exit_action action = ACTION_RESUME;
	struct cpu *cpu = this_cpu();
	uint64_t slice_start = cpu->ticks;
	fpu_switch_to((int)g);
	while (action == ACTION_RESUME && cpu->ticks == slice_start) {
		console_input_deliver(g);
		backend->vcpu_run(&runs[g].vcpu, exit);
		guest_sync_xcr0(g);
		exit->xcr0 = runs[g].xcr0;
		if (exit->reason == EXIT_EXTERNAL_INTERRUPT)
			host_interrupt_window();
		uint64_t t0 = tsc_read();
		wasm_rt_trap_t trap = core_guest_handle_exit(g);
		runs[g].core_cycles += tsc_read() - t0;
		*stop_reason = exit->stop_reason;
		if (trap != WASM_RT_TRAP_NONE) {
			*stop_reason = STOP_VMM_TRAP;
			kprintf("[hv] guest %s stopped: its guest VMM trapped: %s (RIP %#llx, exit %u)\n",
				core_guest_name(g), wasm_rt_strerror(trap),
				(unsigned long long)exit->rip, exit->reason);
			return ACTION_STOP;
		}
		action = exit->action;
		if (action != ACTION_STOP) {
			if (exit->dirty & DIRTY_XCR0)
				guest_set_xcr0(g, exit->xcr0);
			backend->vcpu_apply(&runs[g].vcpu, exit);
		}
	}
	return action;
}

/* A guest has stopped: print its statistics, then restart it by policy or
 * let it go. Returns the action for the scheduler. */
static enum exit_action finish_guest(unsigned g, uint32_t stop_reason)
{
	struct exit_record *exit = core_guest_exit_record(g);
	uint64_t cycles = tsc_read() - runs[g].started_tsc;
	uint64_t ms = tsc_hz() >= 1000 ? cycles / (tsc_hz() / 1000) : 0;
	kprintf("[hv] guest %s: %llu exits in %llu ms, %llu%% of it in the core\n",
		core_guest_name(g), (unsigned long long)exit->exits, (unsigned long long)ms,
		(unsigned long long)(cycles ? runs[g].core_cycles * 100 / cycles : 0));
	if (core_guest_should_restart(g, stop_reason)) {
		/* Everything anew: instance, RAM, tables, image, vCPU. */
		release_guest(g);
		if (prepare_guest(g))
			return ACTION_YIELD;
		core_schedule_stopped(g);
		return ACTION_STOP;
	}
	stop_guest(g);
	return ACTION_STOP;
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
	/* Before the backend: VMXON keeps CR4's bits, the VMCS takes the host CR4. */
	enable_host_fpu();
	bool enabled = backend->cpu_enable(why, sizeof why);
	if (enabled && xcr0_allowed) {
		uint64_t cr4;
		__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
		if (!(cr4 & CR4_OSXSAVE)) {          /* VMX's fixed CR4 bits refused it */
			ksnprintf(why, sizeof why, "CR4.OSXSAVE cannot be set");
			enabled = false;
		}
	}
	if (!enabled) {
		kprintf("[hv] CPU %u: cannot run guests: %s %s\n", cpu_index, backend->name, why);
		for (unsigned g = 0; g < guest_total; g++)
			if (guest_cpu[g] == cpu_index)
				core_schedule_stopped(g);
		__atomic_fetch_sub(&cpus_preparing, 1, __ATOMIC_ACQ_REL);
		return;
	}
	if (!lapic_timer_start(slice_ms))
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
			    (xcr0_allowed ? PAGE_SIZE : 0);
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

	int current = core_schedule_next_on(cpu_index, -1, ACTION_RESUME);
	while (current >= 0) {
		unsigned g = (unsigned)current;
		uint32_t stop_reason = 0;
		enum exit_action action = run_slice(g, &stop_reason);
		if (action == ACTION_STOP)
			action = finish_guest(g, stop_reason);
		console_input_poll();
		current = core_schedule_next_on(cpu_index, current, action);
	}
	lapic_timer_stop();
}

void run_guests(unsigned count)
{
	char why[160];
	backend = arch_select(why, sizeof why);
	if (!backend) {
		kprintf("[hv] cannot run guests: %s\n", why);
		return;
	}
	guest_total = count;
	xsave_probe();
	slice_ms = core_timeslice_ms();
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
	smp_run_everywhere(cpu_run);
	if (host_nmi_count)
		kprintf("[hv] host NMIs dismissed while guests ran: %llu\n", (unsigned long long)host_nmi_count);
	kprintf("[hv] all guests stopped\n");
}
