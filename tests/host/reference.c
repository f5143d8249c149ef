/*
 * The reference VMM of figure P1 (issue 10, "instructions per exit in the
 * core"): the exits `hvhost exits` replays, handled the way a careful
 * hypervisor written in C would handle them, so that callgrind can count
 * both on the same records (`hvhost ref-exits`, scripts/bench-core.mjs).
 *
 * Same input, same answer: it reads the struct exit_record the stub fills
 * (linker/exit_record.h) and writes the same answer fields the core writes
 * (assembly/guest/exits.ts): registers, advance, action, inject, request,
 * dirty, cr8, deadline, exits. `hvhost ref-check` proves it, record by
 * record, against the core. It does the work per exit that the answer
 * depends on, as the core does: the exit counted, the guest's clock read,
 * its timers checked, CR8 synced with the TPR, the exit handled, pending
 * events looked for, the next deadline answered.
 *
 * How it differs, as C code written for speed and clarity would:
 *   - plain structs reached through one pointer; no bounds check on its own
 *     memory, no call-depth count, no trap frame around the call;
 *   - timers are one earliest deadline, checked with a compare at each exit
 *     (the core advances every timed device at every exit);
 *   - host facts that cannot change (XSAVE support and sizes, the TSC rate)
 *     are read once at creation (the core asks the host's CPUID for them on
 *     every CPUID exit of leaf 1, 7 or 0xD);
 *   - an IRQ line is driven only when its level changes;
 *   - guest RAM is read in place (the core copies through an import).
 *
 * Scope, so no one mistakes it for a second VMM: one vCPU; CPUID (the whole
 * policy of vcpu/cpuid.ts), port I/O to the UART and the exit port, RDMSR,
 * MMIO by the MOV forms (88-8B, C6/C7, A0-A3, 0F B6/B7/BE/BF) to the local
 * APIC's page through the guest's paging, HLT and its wake, the interrupt
 * window and external interrupts. The local APIC keeps IRR/ISR/TMR, TPR,
 * SVR, LVTs and EOI (its timer, ICR and IPIs are not modelled); the 8259
 * pair has fixed priority and no poll or special modes; the I/O APIC has
 * its pins and redirection entries but no register window; the UART does
 * not receive. Every other exit stops the guest as unsupported.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "hv.h"
#include "exit_record.h"
#include "reference.h"

#define NO_DEADLINE_TSC (~0ull)
#define RFLAGS_IF  (1ull << 9)
#define RFLAGS_VM  (1ull << 17)
#define RFLAGS_AC  (1ull << 18)
#define VECTOR_NMI 2
#define VECTOR_GP  13
#define VECTOR_SS  12
#define VECTOR_PF  14

/* --- the machine ---------------------------------------------------------------*/

struct ref_lapic {
	uint64_t apic_base;
	uint32_t isr[8], tmr[8], irr[8];   /* vector v: word v / 32, bit v % 32 */
	uint32_t id, tpr, ldr, dfr, svr, esr, errors;
	uint32_t lvt_timer, lvt_thermal, lvt_perf, lvt_lint0, lvt_lint1, lvt_error;
	uint64_t tsc_deadline;
	bool nmi_pending, extint_pending;
};

struct ref_pic {
	uint8_t irr, isr, imr, lines, elcr, vector_base, icw3;
};

struct ref_ioapic {
	uint32_t pins;
	uint64_t entry[24];
};

#define LINE_TEXT_BYTES 200
#define NAME_PREFIX_BYTES 32
/* The guest's share of the host console (devices/console_line.ts): a budget
 * of bytes refilled by its own clock, up to a burst; with it spent a byte
 * is refused and the OUT runs again after a yield. */
#define CONSOLE_BYTES_PER_SECOND 5760
#define CONSOLE_BURST_BYTES 64
struct ref_console {
	uint32_t prefix, length;
	uint32_t budget;
	uint64_t budget_at, ticks_per_byte;
	bool refused;
	char line[1 + NAME_PREFIX_BYTES + 2 + LINE_TEXT_BYTES + 1];
};

struct ref_uart {
	uint8_t dll, dlm, ier, fcr, lcr, mcr, scr, rbr, lsr, modem_deltas;
	bool thr_pending, irq;
};

enum msr_slot {
	SLOT_MTRR_DEF_TYPE, SLOT_PAT, SLOT_TSC_AUX, SLOT_MTRR_PHYS,
	SLOT_MTRR_FIX64K = SLOT_MTRR_PHYS + 16, SLOT_MTRR_FIX16K, SLOT_MTRR_FIX4K = SLOT_MTRR_FIX16K + 2,
	SLOT_KVM_WALL_CLOCK = SLOT_MTRR_FIX4K + 8, SLOT_KVM_SYSTEM_TIME, MSR_SLOTS,
};

/* A leaf's edit of the host's answer: reg = reg & keep | set. */
struct cpuid_edit {
	uint32_t keep[4], set[4];
};
enum { EDIT_LEAF1, EDIT_LEAF4, EDIT_LEAF7_0, EDIT_LEAF7_1, EDIT_EXT1, EDIT_EXT7, EDIT_EXT8, EDIT_ZERO, EDITS };

enum run_state { RUN_RUNNABLE = 1, RUN_HALTED = 2, RUN_HALTED_INTERRUPTS_OFF = 3 };

struct ref_vm {
	uint8_t *ram;
	uint64_t ram_bytes;
	int64_t tsc_offset;
	uint64_t now;                 /* guest TSC at this exit */
	uint64_t next_deadline;       /* guest TSC: the earliest armed timer */
	bool stopped;
	uint32_t stop_reason;
	uint64_t stop_code;
	uint32_t vcpu;                /* its index: the APIC ID CPUID reports */
	uint8_t run_state;
	uint32_t requests;            /* REQUEST_EXIT: the exit port was written */
	uint32_t exit_code;
	uint64_t exit_counts[21];
	uint64_t unclaimed_reads, unclaimed_writes;
	uint64_t msr[MSR_SLOTS];
	struct ref_lapic lapic;
	struct ref_pic pic[2];        /* master, slave */
	bool slave_output;
	struct ref_ioapic ioapic;
	struct ref_uart uart;
	struct ref_console console;
	/* Read once from the host. */
	struct cpuid_edit cpuid[EDITS];
	uint64_t xcr0_allowed;        /* 0: no XSAVE for the guest */
	uint32_t xsave_end[64];       /* offset + size of each allowed component */
	uint32_t timing_khz;          /* CPUID 0x40000010 EAX */
	char name[NAME_PREFIX_BYTES + 1];
};
#define REQUEST_EXIT 1

/* --- CPUID (assembly/vcpu/cpuid.ts says why for each bit) ---------------------*/

enum { EAX, EBX, ECX, EDX };
#define LEAF_HV_FIRST     0x40000000u
#define LEAF_HV_LAST      0x400000ffu
#define LEAF_HV_MAX       0x40000010u
#define LEAF_HV_TIMING    0x40000010u
#define LEAF_KVM_FIRST    0x40000100u
#define LEAF_KVM_FEATURES 0x40000101u
#define LEAF_KVM_LAST     0x400001ffu
#define LAPIC_TIMER_KHZ   1000000u

#define L1_ECX_MONITOR     (1u << 3)
#define L1_ECX_VMX         (1u << 5)
#define L1_ECX_UNBACKED    ((1u << 2) | (1u << 4) | (1u << 6) | (1u << 7) | (1u << 8) | (1u << 14) | (1u << 15))
#define L1_ECX_X2APIC      (1u << 21)
#define L1_ECX_TSC_DEADLINE (1u << 24)
#define L1_ECX_XSAVE       (1u << 26)
#define L1_ECX_OSXSAVE     (1u << 27)
#define L1_ECX_XSAVE_FAMILY ((1u << 12) | (1u << 26) | (1u << 27) | (1u << 28) | (1u << 29))
#define L1_ECX_AVX_FAMILY  ((1u << 12) | (1u << 28) | (1u << 29))
#define L1_ECX_HYPERVISOR  (1u << 31)
#define L1_EDX_APIC        (1u << 9)
#define L1_EDX_HTT         (1u << 28)
#define L1_EDX_UNBACKED    ((1u << 7) | (1u << 14) | (1u << 21) | (1u << 22) | (1u << 29) | (1u << 31))
#define L7_EBX_AVX2        (1u << 5)
#define L7_EBX_AVX         ((1u << 16) | (1u << 17) | (1u << 21) | (1u << 26) | (1u << 27) | (1u << 28) | (1u << 30) | (1u << 31))
#define L7_ECX_AVX         ((1u << 1) | (1u << 3) | (1u << 6) | (1u << 9) | (1u << 10) | (1u << 11) | (1u << 12) | (1u << 14))
#define L7_ECX_OSPKE       (1u << 4)
#define L7_EDX_AVX         ((1u << 2) | (1u << 3) | (1u << 8) | (1u << 22) | (1u << 23) | (1u << 24) | (1u << 25))
#define L7_ECX_UNBACKED    ((1u << 7) | (1u << 16) | (1u << 23) | (1u << 31))
#define L7_EDX_UNBACKED    ((1u << 5) | (1u << 9) | (1u << 10) | (1u << 13) | (1u << 20) | (1u << 26) | \
			    (1u << 27) | (1u << 28) | (1u << 29) | (1u << 30) | (1u << 31))
#define EXT8_EBX_SPECULATION ((1u << 12) | (1u << 14) | (1u << 15) | (1u << 16) | (1u << 17) | (1u << 18) | \
			      (1u << 19) | (1u << 24) | (1u << 25))
#define L7_1_EAX_AVX_VNNI  (1u << 4)
#define L7_1_EAX_AVX512_BF16 (1u << 5)
#define LD1_EAX_OFFERED    0x7u
#define EXT1_ECX_CMP_LEGACY (1u << 1)
#define EXT1_ECX_SVM       (1u << 2)
#define EXT1_ECX_TOPOEXT   (1u << 22)
#define EXT7_EDX_INVARIANT_TSC (1u << 8)
#define XCR0_X87 1ull
#define XCR0_SSE 2ull
#define XCR0_AVX 4ull
#define CR4_OSXSAVE (1ull << 18)
#define XSAVE_LEGACY_AND_HEADER 576u

#define ALL 0xffffffffu
static const struct cpuid_edit cpuid_policy[EDITS] = {
	[EDIT_LEAF1] = { { ALL, 0x0000ffff, ~(L1_ECX_OSXSAVE | L1_ECX_VMX | L1_ECX_MONITOR | L1_ECX_UNBACKED),
			   ~(L1_EDX_UNBACKED | L1_EDX_HTT) },
			 { 0, 1u << 16, L1_ECX_HYPERVISOR | L1_ECX_X2APIC | L1_ECX_TSC_DEADLINE, L1_EDX_APIC } },
	[EDIT_LEAF4] = { { 0x3fff, ALL, ALL, ALL }, { 0 } },
	[EDIT_LEAF7_0] = { { ALL, ~L7_EBX_AVX, ~(L7_ECX_AVX | L7_ECX_OSPKE | L7_ECX_UNBACKED),
			     ~(L7_EDX_AVX | L7_EDX_UNBACKED) }, { 0 } },
	[EDIT_LEAF7_1] = { { ~L7_1_EAX_AVX512_BF16, ALL, ALL, ALL }, { 0 } },
	[EDIT_EXT1] = { { ALL, ALL, ~(EXT1_ECX_SVM | EXT1_ECX_CMP_LEGACY | EXT1_ECX_TOPOEXT), ALL }, { 0 } },
	[EDIT_EXT7] = { { ALL, ALL, ALL, ALL }, { 0, 0, 0, EXT7_EDX_INVARIANT_TSC } },
	[EDIT_EXT8] = { { ALL, ~EXT8_EBX_SPECULATION, ~0xf0ffu, ALL }, { 0 } },
	[EDIT_ZERO] = { { 0, 0, 0, 0 }, { 0 } },
};

static inline void host_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t r[4])
{
	__asm__ volatile("cpuid" : "=a"(r[EAX]), "=b"(r[EBX]), "=c"(r[ECX]), "=d"(r[EDX]) : "a"(leaf), "c"(subleaf));
}

static inline void set_regs(uint32_t r[4], uint32_t a, uint32_t b, uint32_t c, uint32_t d)
{
	r[EAX] = a, r[EBX] = b, r[ECX] = c, r[EDX] = d;
}

/* What the guest may have of XSAVE, from the host (vcpu/xsetbv.ts): the
 * edits of leaves 1 and 7 that depend on it, and the components' sizes. */
static void cpuid_setup(struct ref_vm *vm)
{
	uint32_t r[4];
	uint64_t host = 0;
	host_cpuid(0, 0, r);
	if (r[EAX] >= 0xd) {
		host_cpuid(1, 0, r);
		if (r[ECX] & L1_ECX_XSAVE) {
			host_cpuid(0xd, 0, r);
			host = r[EAX] | (uint64_t)r[EDX] << 32;
		}
	}
	uint64_t allowed = host & (XCR0_X87 | XCR0_SSE | XCR0_AVX);
	if ((allowed & (XCR0_X87 | XCR0_SSE)) != (XCR0_X87 | XCR0_SSE))
		allowed = 0;
	vm->xcr0_allowed = allowed;
	memcpy(vm->cpuid, cpuid_policy, sizeof vm->cpuid);
	bool avx = allowed & XCR0_AVX;
	if (!allowed)
		vm->cpuid[EDIT_LEAF1].keep[ECX] &= ~L1_ECX_XSAVE_FAMILY;
	else if (!avx)
		vm->cpuid[EDIT_LEAF1].keep[ECX] &= ~L1_ECX_AVX_FAMILY;
	if (!avx) {
		vm->cpuid[EDIT_LEAF7_0].keep[EBX] &= ~L7_EBX_AVX2;
		vm->cpuid[EDIT_LEAF7_1].keep[EAX] &= ~L7_1_EAX_AVX_VNNI;
	}
	for (unsigned i = 2; i < 64; i++) {
		if (!((allowed >> i) & 1))
			continue;
		host_cpuid(0xd, i, r);
		vm->xsave_end[i] = r[EBX] + r[EAX];
	}
	uint64_t khz = tsc_hz() / 1000;
	vm->timing_khz = khz > 0xffffffffull ? 0xffffffffu : (uint32_t)khz;
}

/* Bytes of a standard-format XSAVE area holding `components`. */
static uint32_t xsave_size(const struct ref_vm *vm, uint64_t components)
{
	uint32_t end = XSAVE_LEGACY_AND_HEADER;
	for (uint64_t c = components & ~3ull; c; c &= c - 1) {
		uint32_t e = vm->xsave_end[__builtin_ctzll(c)];
		if (e > end)
			end = e;
	}
	return end;
}

static void guest_cpuid(const struct ref_vm *vm, const struct exit_record *e, uint32_t leaf, uint32_t subleaf,
			uint32_t r[4])
{
	if (leaf - LEAF_HV_FIRST <= LEAF_HV_LAST - LEAF_HV_FIRST) {
		if (leaf == LEAF_HV_FIRST)
			set_regs(r, LEAF_HV_MAX, 0x76687374, 0x2d76682d, 0x65726f63);   /* "tshv-hv-core" */
		else if (leaf == LEAF_HV_TIMING)
			set_regs(r, vm->timing_khz, LAPIC_TIMER_KHZ, 0, 0);
		else
			set_regs(r, 0, 0, 0, 0);
		return;
	}
	if (leaf - LEAF_KVM_FIRST <= LEAF_KVM_LAST - LEAF_KVM_FIRST) {
		if (leaf == LEAF_KVM_FIRST)
			set_regs(r, LEAF_KVM_FEATURES, 0x4b4d564b, 0x564b4d56, 0x4d);   /* "KVMKVMKVM" */
		else if (leaf == LEAF_KVM_FEATURES)
			set_regs(r, (1u << 3) | (1u << 24), 0, 0, 0);   /* CLOCKSOURCE2, STABLE_BIT */
		else
			set_regs(r, 0, 0, 0, 0);
		return;
	}
	const struct cpuid_edit *edit;
	switch (leaf) {
	case 0xb:
	case 0x1f: {
		/* One thread in one core in one package: the vCPU's APIC ID. */
		uint32_t type = subleaf == 0 ? 1 : subleaf == 1 ? 2 : 0;
		set_regs(r, 0, type ? 1 : 0, type << 8 | (subleaf & 0xff), vm->vcpu);
		return;
	}
	case 5: case 0xa: case 0x8000000a: case 0x8000001e:
		set_regs(r, 0, 0, 0, 0);
		return;
	case 0xd: {
		uint64_t allowed = vm->xcr0_allowed;
		if (!allowed || subleaf >= 64) {
			set_regs(r, 0, 0, 0, 0);
		} else if (subleaf == 0) {
			set_regs(r, (uint32_t)allowed, xsave_size(vm, e->xcr0 & allowed), xsave_size(vm, allowed),
				 (uint32_t)(allowed >> 32));
		} else if (subleaf == 1) {
			host_cpuid(0xd, 1, r);
			set_regs(r, r[EAX] & LD1_EAX_OFFERED, xsave_size(vm, e->xcr0 & allowed), 0, 0);
		} else if ((allowed >> subleaf) & 1) {
			host_cpuid(0xd, subleaf, r);
		} else {
			set_regs(r, 0, 0, 0, 0);
		}
		return;
	}
	case 1: edit = &vm->cpuid[EDIT_LEAF1]; break;
	case 4: edit = &vm->cpuid[EDIT_LEAF4]; break;
	case 7:
		if (subleaf > 1) {
			host_cpuid(leaf, subleaf, r);
			return;
		}
		edit = &vm->cpuid[subleaf ? EDIT_LEAF7_1 : EDIT_LEAF7_0];
		break;
	case 0x80000001: edit = &vm->cpuid[EDIT_EXT1]; break;
	case 0x80000007: edit = &vm->cpuid[EDIT_EXT7]; break;
	case 0x80000008: edit = &vm->cpuid[EDIT_EXT8]; break;
	default:
		host_cpuid(leaf, subleaf, r);   /* as on bare metal */
		return;
	}
	host_cpuid(leaf, subleaf, r);
	r[EAX] = (r[EAX] & edit->keep[EAX]) | edit->set[EAX];
	r[EBX] = (r[EBX] & edit->keep[EBX]) | edit->set[EBX];
	r[ECX] = (r[ECX] & edit->keep[ECX]) | edit->set[ECX];
	r[EDX] = (r[EDX] & edit->keep[EDX]) | edit->set[EDX];
	if (leaf == 1) {
		r[EBX] |= vm->vcpu << 24;   /* the initial APIC ID */
		if (vm->xcr0_allowed && (e->cr4 & CR4_OSXSAVE))
			r[ECX] |= L1_ECX_OSXSAVE;
	}
}

/* --- the local APIC, the 8259 pair, the I/O APIC --------------------------------*/

#define APIC_BASE_ADDRESS 0xfee00000ull
#define APIC_BASE_BSP     (1ull << 8)
#define APIC_BASE_X2APIC  (1ull << 10)
#define APIC_BASE_ENABLE  (1ull << 11)
#define APIC_VERSION      0x00050014u
#define SVR_ENABLE        (1u << 8)
#define LVT_MASKED        (1u << 16)
#define LVT_EXTINT        (7u << 8)
#define LVT_NMI           (4u << 8)
#define LAPIC_BYTES       0x1000u
#define IOAPIC_ENTRY_VECTOR     0xffull
#define IOAPIC_ENTRY_REMOTE_IRR (1ull << 14)
#define IOAPIC_ENTRY_LEVEL      (1ull << 15)
#define IOAPIC_ENTRY_MASKED     (1ull << 16)
#define ELCR_MASTER_BITS  0xf8
#define ELCR_SLAVE_BITS   0xde

static inline int highest_bit(const uint32_t words[8])
{
	for (int i = 7; i >= 0; i--)
		if (words[i])
			return i * 32 + 31 - __builtin_clz(words[i]);
	return -1;
}

static inline bool lapic_accepts_fixed(const struct ref_lapic *l)
{
	return (l->apic_base & APIC_BASE_ENABLE) && (l->svr & SVR_ENABLE);
}

static uint32_t lapic_ppr(const struct ref_lapic *l)
{
	int in_service = highest_bit(l->isr);
	uint32_t service_class = in_service < 0 ? 0 : (uint32_t)in_service & 0xf0;
	return (l->tpr & 0xf0) >= service_class ? l->tpr : service_class;
}

static int lapic_pending_vector(const struct ref_lapic *l)
{
	if (!lapic_accepts_fixed(l))
		return -1;
	int v = highest_bit(l->irr);
	if (v < 0 || ((uint32_t)v & 0xf0) <= (lapic_ppr(l) & 0xf0))
		return -1;
	return v;
}

static void lapic_accept(struct ref_lapic *l, uint32_t vector, bool level)
{
	if (!(l->apic_base & APIC_BASE_ENABLE))
		return;
	vector &= 0xff;
	if (vector < 16) {
		l->errors |= 1u << 6;   /* received illegal vector (its LVT error interrupt: not modelled) */
		return;
	}
	if (!(l->svr & SVR_ENABLE))
		return;
	l->irr[vector >> 5] |= 1u << (vector & 31);
	if (level)
		l->tmr[vector >> 5] |= 1u << (vector & 31);
	else
		l->tmr[vector >> 5] &= ~(1u << (vector & 31));
}

/* An I/O APIC input asserted (or still asserted): its entry's message. */
static void ioapic_service(struct ref_vm *vm, unsigned pin)
{
	uint64_t entry = vm->ioapic.entry[pin];
	if (entry & IOAPIC_ENTRY_MASKED)
		return;
	bool level = entry & IOAPIC_ENTRY_LEVEL;
	if (level && (entry & IOAPIC_ENTRY_REMOTE_IRR))
		return;
	uint32_t mode = (entry >> 8) & 7;
	if (mode == 4)
		vm->lapic.nmi_pending = true;
	else if (mode == 7)
		vm->lapic.extint_pending = true;
	else if (mode <= 1) {
		lapic_accept(&vm->lapic, (uint32_t)(entry & IOAPIC_ENTRY_VECTOR), level);
		if (level)
			vm->ioapic.entry[pin] = entry | IOAPIC_ENTRY_REMOTE_IRR;
	}
}

static void ioapic_set_pin(struct ref_vm *vm, unsigned pin, bool high)
{
	uint32_t bit = 1u << pin;
	bool was = vm->ioapic.pins & bit;
	vm->ioapic.pins = high ? vm->ioapic.pins | bit : vm->ioapic.pins & ~bit;
	if (high && (!was || (vm->ioapic.entry[pin] & IOAPIC_ENTRY_LEVEL)))
		ioapic_service(vm, pin);
}

static void lapic_eoi(struct ref_vm *vm)
{
	struct ref_lapic *l = &vm->lapic;
	int v = highest_bit(l->isr);
	if (v < 0)
		return;
	uint32_t bit = 1u << (v & 31);
	l->isr[v >> 5] &= ~bit;
	if (!(l->tmr[v >> 5] & bit))
		return;
	for (unsigned pin = 0; pin < 24; pin++) {
		uint64_t entry = vm->ioapic.entry[pin];
		if ((entry & IOAPIC_ENTRY_VECTOR) != (uint64_t)v || !(entry & IOAPIC_ENTRY_REMOTE_IRR))
			continue;
		vm->ioapic.entry[pin] = entry & ~IOAPIC_ENTRY_REMOTE_IRR;
		if ((entry & IOAPIC_ENTRY_LEVEL) && (vm->ioapic.pins & (1u << pin)))
			ioapic_service(vm, pin);
	}
}

/* The pending level of an 8259 given its requests, or -1 (fixed priority:
 * IR0 highest; nothing at or below a level in service). */
static inline int pic_pending_level(const struct ref_pic *p, uint8_t requests)
{
	uint8_t candidates = requests & ~p->imr;
	if (!candidates)
		return -1;
	int level = __builtin_ctz(candidates);
	if (p->isr && level >= __builtin_ctz(p->isr))
		return -1;
	return level;
}

static void pic_set_line(struct ref_pic *p, unsigned level, bool high)
{
	uint8_t bit = 1u << level;
	bool rising = high && !(p->lines & bit);
	p->lines = high ? p->lines | bit : p->lines & ~bit;
	if (p->elcr & bit)
		p->irr = high ? p->irr | bit : p->irr & ~bit;
	else if (rising)
		p->irr |= bit;
}

static void pic_update_cascade(struct ref_vm *vm)
{
	bool output = pic_pending_level(&vm->pic[1], vm->pic[1].irr) >= 0;
	if (output != vm->slave_output) {
		vm->slave_output = output;
		pic_set_line(&vm->pic[0], 2, output);
	}
}

static inline uint8_t pic_master_requests(const struct ref_vm *vm)
{
	return vm->pic[0].irr | (vm->slave_output ? 4 : 0);
}

static void set_irq(struct ref_vm *vm, unsigned irq, bool high)
{
	if (irq != 2) {
		pic_set_line(&vm->pic[irq >> 3], irq & 7, high);
		pic_update_cascade(vm);
	}
	ioapic_set_pin(vm, irq == 0 ? 2 : irq, high);
}

static uint32_t pic_acknowledge(struct ref_vm *vm)
{
	struct ref_pic *m = &vm->pic[0];
	int level = pic_pending_level(m, pic_master_requests(vm));
	if (level < 0)
		return m->vector_base + 7u;
	uint8_t bit = 1u << level;
	m->isr |= bit;
	if (!(m->elcr & bit))
		m->irr &= ~bit;
	uint32_t vector = m->vector_base + (uint32_t)level;
	if (m->icw3 & bit) {
		struct ref_pic *s = &vm->pic[1];
		int slave_level = pic_pending_level(s, s->irr);
		if (slave_level < 0) {
			vector = s->vector_base + 7u;
		} else {
			s->isr |= 1u << slave_level;
			if (!(s->elcr & (1u << slave_level)))
				s->irr &= ~(1u << slave_level);
			vector = s->vector_base + (uint32_t)slave_level;
		}
	}
	pic_update_cascade(vm);
	return vector;
}

/* LINT0 passes the 8259 pair's INTR: the APIC disabled, or LINT0 unmasked ExtINT. */
static inline bool pic_reaches_vcpu(const struct ref_lapic *l)
{
	if (!(l->apic_base & APIC_BASE_ENABLE))
		return true;
	return (l->lvt_lint0 & (LVT_MASKED | (7u << 8))) == LVT_EXTINT;
}

static bool interrupt_pending(const struct ref_vm *vm)
{
	const struct ref_lapic *l = &vm->lapic;
	if (lapic_pending_vector(l) >= 0 || l->extint_pending)
		return true;
	return pic_reaches_vcpu(l) && pic_pending_level(&vm->pic[0], pic_master_requests(vm)) >= 0;
}

static int take_interrupt(struct ref_vm *vm)
{
	struct ref_lapic *l = &vm->lapic;
	int v = lapic_pending_vector(l);
	if (v >= 0) {
		l->irr[v >> 5] &= ~(1u << (v & 31));
		l->isr[v >> 5] |= 1u << (v & 31);
		return v;
	}
	if (l->extint_pending) {
		l->extint_pending = false;
		return (int)pic_acknowledge(vm);
	}
	if (pic_reaches_vcpu(l) && pic_pending_level(&vm->pic[0], pic_master_requests(vm)) >= 0)
		return (int)pic_acknowledge(vm);
	return -1;
}

/* The xAPIC page: 32-bit registers at 16-byte boundaries. */
static uint64_t lapic_mmio_read(struct ref_vm *vm, uint32_t offset, uint32_t size)
{
	const struct ref_lapic *l = &vm->lapic;
	if (!(l->apic_base & APIC_BASE_ENABLE) || (l->apic_base & APIC_BASE_X2APIC))
		return size >= 8 ? ~0ull : ~0ull >> (64 - 8 * size);
	if (size != 4 || (offset & 0xf))
		return 0;
	uint32_t reg = offset >> 4;
	if (reg >= 0x10 && reg < 0x28) {
		const uint32_t *words = reg < 0x18 ? l->isr : reg < 0x20 ? l->tmr : l->irr;
		return words[reg & 7];
	}
	switch (reg) {
	case 0x02: return l->id << 24;
	case 0x03: return APIC_VERSION;
	case 0x08: return l->tpr;
	case 0x0a: return lapic_ppr(l);
	case 0x0d: return l->ldr;
	case 0x0e: return l->dfr;
	case 0x0f: return l->svr;
	case 0x28: return l->esr;
	case 0x32: return l->lvt_timer;
	case 0x33: return l->lvt_thermal;
	case 0x34: return l->lvt_perf;
	case 0x35: return l->lvt_lint0;
	case 0x36: return l->lvt_lint1;
	case 0x37: return l->lvt_error;
	default: return 0;
	}
}

static void lapic_mmio_write(struct ref_vm *vm, uint32_t offset, uint32_t size, uint64_t value64)
{
	struct ref_lapic *l = &vm->lapic;
	if (!(l->apic_base & APIC_BASE_ENABLE) || (l->apic_base & APIC_BASE_X2APIC))
		return;
	if (size != 4 || (offset & 0xf))
		return;
	uint32_t value = (uint32_t)value64;
	uint32_t masked = l->svr & SVR_ENABLE ? 0 : LVT_MASKED;
	switch (offset >> 4) {
	case 0x02: l->id = value >> 24; break;
	case 0x08: l->tpr = value & 0xff; break;
	case 0x0b: lapic_eoi(vm); break;
	case 0x0d: l->ldr = value & 0xff000000; break;
	case 0x0e: l->dfr = (value & 0xf0000000) | 0x0fffffff; break;
	case 0x0f:
		l->svr = value & 0x3ff;
		if (!(l->svr & SVR_ENABLE)) {
			l->lvt_timer |= LVT_MASKED, l->lvt_thermal |= LVT_MASKED, l->lvt_perf |= LVT_MASKED;
			l->lvt_lint0 |= LVT_MASKED, l->lvt_lint1 |= LVT_MASKED, l->lvt_error |= LVT_MASKED;
		}
		break;
	case 0x28: l->esr = l->errors, l->errors = 0; break;
	case 0x33: l->lvt_thermal = (value & 0x107ff) | masked; break;
	case 0x34: l->lvt_perf = (value & 0x107ff) | masked; break;
	case 0x35: l->lvt_lint0 = (value & 0x1a7ff) | masked; break;
	case 0x36: l->lvt_lint1 = (value & 0x1a7ff) | masked; break;
	case 0x37: l->lvt_error = (value & 0x100ff) | masked; break;
	default: break;   /* read-only, or not modelled (timer, ICR) */
	}
}

/* --- the console line and the UART ----------------------------------------------*/

static void console_finish_line(struct ref_console *c)
{
	c->line[c->length] = '\n';
	console_write(c->line, c->length + 1);
	c->length = c->prefix;
}

/* Whole bytes earned since budget_at; true when one may go now. */
static bool console_can_send(struct ref_console *c, uint64_t now)
{
	if (c->budget < CONSOLE_BURST_BYTES) {
		if (now < c->budget_at)
			c->budget_at = now;
		uint64_t earned = (now - c->budget_at) / c->ticks_per_byte;
		if (earned >= CONSOLE_BURST_BYTES - c->budget) {
			c->budget = CONSOLE_BURST_BYTES;
			c->budget_at = now;
		} else {
			c->budget += (uint32_t)earned;
			c->budget_at += earned * c->ticks_per_byte;
		}
	}
	return c->budget != 0;
}

static void console_put(struct ref_console *c, uint8_t byte, uint64_t now)
{
	if (c->budget == CONSOLE_BURST_BYTES)
		c->budget_at = now;
	c->budget--;
	if (byte == '\r')
		return;
	if (byte == '\n') {
		console_finish_line(c);
		return;
	}
	c->line[c->length++] = byte == '\t' ? ' ' : byte >= 0x20 && byte < 0x7f ? (char)byte : '.';
	if (c->length - c->prefix >= LINE_TEXT_BYTES)
		console_finish_line(c);
}

#define UART_IER_RDA  0x01
#define UART_IER_THRE 0x02
#define UART_IER_LS   0x04
#define UART_IER_MS   0x08
#define UART_LCR_DLAB 0x80
#define UART_MCR_OUT2 0x08
#define UART_MCR_LOOP 0x10
#define UART_LSR_OE   0x02
#define UART_LSR_THRE 0x20
#define UART_LSR_TEMT 0x40
#define IRQ_COM1 4

static inline uint8_t uart_source(const struct ref_uart *u)
{
	if ((u->ier & UART_IER_LS) && (u->lsr & UART_LSR_OE))
		return 0x06;
	if ((u->ier & UART_IER_THRE) && u->thr_pending)
		return 0x02;
	if ((u->ier & UART_IER_MS) && u->modem_deltas)
		return 0x00;
	return 0x01;   /* none */
}

/* The IRQ line follows the chip's INTRPT through OUT2 (never in loopback);
 * driven only when it changes. */
static inline void uart_update_irq(struct ref_vm *vm)
{
	struct ref_uart *u = &vm->uart;
	bool irq = uart_source(u) != 0x01 && (u->mcr & (UART_MCR_OUT2 | UART_MCR_LOOP)) == UART_MCR_OUT2;
	if (irq != u->irq) {
		u->irq = irq;
		set_irq(vm, IRQ_COM1, irq);
	}
}

static inline uint8_t uart_modem_lines(const struct ref_uart *u)
{
	if (!(u->mcr & UART_MCR_LOOP))
		return 0xb0;   /* DCD, DSR, CTS */
	return (u->mcr & 1 ? 0x20 : 0) | (u->mcr & 2 ? 0x10 : 0) | (u->mcr & 4 ? 0x40 : 0) | (u->mcr & 8 ? 0x80 : 0);
}

static void uart_write(struct ref_vm *vm, uint32_t reg, uint8_t byte)
{
	struct ref_uart *u = &vm->uart;
	bool dlab = u->lcr & UART_LCR_DLAB;
	switch (reg) {
	case 0:
		if (dlab) {
			u->dll = byte;
		} else {
			if (!(u->mcr & UART_MCR_LOOP)) {   /* (loopback reception: not modelled) */
				if (!console_can_send(&vm->console, vm->now)) {
					vm->console.refused = true;
					break;
				}
				console_put(&vm->console, byte, vm->now);
			}
			u->thr_pending = u->ier & UART_IER_THRE;
		}
		break;
	case 1:
		if (dlab) {
			u->dlm = byte;
		} else {
			if (byte & ~u->ier & UART_IER_THRE)
				u->thr_pending = true;
			u->ier = byte & 0x0f;
			if (!(u->ier & UART_IER_THRE))
				u->thr_pending = false;
		}
		break;
	case 2: u->fcr = byte & 1 ? byte & 0xc9 : 0; break;
	case 3: u->lcr = byte; break;
	case 4: {
		uint8_t before = uart_modem_lines(u);
		u->mcr = byte & 0x1f;
		uint8_t after = uart_modem_lines(u), changed = before ^ after;
		u->modem_deltas |= (changed & 0x10 ? 1 : 0) | (changed & 0x20 ? 2 : 0) | (changed & 0x80 ? 8 : 0) |
				   ((before & 0x40) && !(after & 0x40) ? 4 : 0);
		break;
	}
	case 7: u->scr = byte; break;
	default: break;   /* LSR, MSR: read-only */
	}
	uart_update_irq(vm);
}

static uint8_t uart_read(struct ref_vm *vm, uint32_t reg)
{
	struct ref_uart *u = &vm->uart;
	bool dlab = u->lcr & UART_LCR_DLAB;
	uint8_t value;
	switch (reg) {
	case 0: value = dlab ? u->dll : u->rbr; break;
	case 1: value = dlab ? u->dlm : u->ier; break;
	case 2: {
		uint8_t source = uart_source(u);
		if (source == 0x02)
			u->thr_pending = false;
		value = source | (u->fcr & 1 ? 0xc0 : 0);
		break;
	}
	case 3: value = u->lcr; break;
	case 4: value = u->mcr; break;
	case 5: value = u->lsr | (console_can_send(&vm->console, vm->now) ? UART_LSR_THRE | UART_LSR_TEMT : 0); u->lsr &= ~UART_LSR_OE; break;
	case 6: value = uart_modem_lines(u) | u->modem_deltas; u->modem_deltas = 0; break;
	default: value = u->scr; break;
	}
	uart_update_irq(vm);
	return value;
}

/* --- ports ---------------------------------------------------------------------*/

#define PORT_COM1 0x3f8
#define PORT_DEBUG_EXIT 0xf4

static void port_write_byte(struct ref_vm *vm, uint32_t port, uint8_t byte)
{
	switch (port) {
	case PORT_COM1 ... PORT_COM1 + 7: uart_write(vm, port - PORT_COM1, byte); break;
	case PORT_DEBUG_EXIT: vm->requests |= REQUEST_EXIT, vm->exit_code = byte; break;
	default: break;   /* no device: dropped */
	}
}

static uint32_t port_read_byte(struct ref_vm *vm, uint32_t port)
{
	switch (port) {
	case PORT_COM1 ... PORT_COM1 + 7: return uart_read(vm, port - PORT_COM1);
	case PORT_DEBUG_EXIT: return 0;
	default: return 0xff;
	}
}

static void port_write(struct ref_vm *vm, uint32_t port, uint32_t size, uint32_t value)
{
	if (port == PORT_DEBUG_EXIT) {   /* the whole access */
		vm->requests |= REQUEST_EXIT;
		vm->exit_code = value;
		return;
	}
	/* Everything else here has byte registers: the ISA bus splits it. */
	port_write_byte(vm, port, (uint8_t)value);
	for (uint32_t i = 1; i < size; i++)
		port_write_byte(vm, (port + i) & 0xffff, (uint8_t)(value >> (8 * i)));
}

static uint32_t port_read(struct ref_vm *vm, uint32_t port, uint32_t size)
{
	if (port == PORT_DEBUG_EXIT)
		return 0;
	uint32_t value = port_read_byte(vm, port);
	for (uint32_t i = 1; i < size; i++)
		value |= port_read_byte(vm, (port + i) & 0xffff) << (8 * i);
	return value;
}

/* --- MSRs ------------------------------------------------------------------------*/

#define MSR_IA32_TSC           0x10
#define MSR_IA32_PLATFORM_ID   0x17
#define MSR_IA32_APIC_BASE     0x1b
#define MSR_IA32_BIOS_SIGN_ID  0x8b
#define MSR_IA32_MTRRCAP       0xfe
#define MSR_IA32_MISC_ENABLE   0x1a0
#define MSR_MTRR_PHYS_FIRST    0x200
#define MSR_MTRR_PHYS_LAST     0x20f
#define MSR_MTRR_FIX64K_00000  0x250
#define MSR_MTRR_FIX16K_80000  0x258
#define MSR_MTRR_FIX16K_A0000  0x259
#define MSR_MTRR_FIX4K_FIRST   0x268
#define MSR_MTRR_FIX4K_LAST    0x26f
#define MSR_IA32_PAT           0x277
#define MSR_MTRR_DEF_TYPE      0x2ff
#define MSR_IA32_TSC_DEADLINE  0x6e0
#define MSR_X2APIC_FIRST       0x800
#define MSR_X2APIC_LAST        0x8ff
#define MSR_KVM_WALL_CLOCK_NEW 0x4b564d00
#define MSR_KVM_SYSTEM_TIME_NEW 0x4b564d01
#define MSR_EFER               0xc0000080
#define MSR_TSC_AUX            0xc0000103
#define MSR_K7_HWCR            0xc0010015
#define MSR_AMD64_NB_CFG       0xc001001f
#define EFER_SVME              (1ull << 12)
#define PAT_DEFAULT            0x0007040600070406ull

/* RDMSR: true with the value, false for #GP(0). */
static bool msr_read(struct ref_vm *vm, const struct exit_record *e, uint32_t index, uint64_t *value)
{
	switch (index) {
	case MSR_MTRR_PHYS_FIRST ... MSR_MTRR_PHYS_LAST: *value = vm->msr[SLOT_MTRR_PHYS + index - MSR_MTRR_PHYS_FIRST]; return true;
	case MSR_MTRR_FIX4K_FIRST ... MSR_MTRR_FIX4K_LAST: *value = vm->msr[SLOT_MTRR_FIX4K + index - MSR_MTRR_FIX4K_FIRST]; return true;
	case MSR_MTRR_DEF_TYPE: *value = vm->msr[SLOT_MTRR_DEF_TYPE]; return true;
	case MSR_IA32_PAT: *value = vm->msr[SLOT_PAT]; return true;
	case MSR_TSC_AUX: *value = vm->msr[SLOT_TSC_AUX]; return true;
	case MSR_MTRR_FIX64K_00000: *value = vm->msr[SLOT_MTRR_FIX64K]; return true;
	case MSR_MTRR_FIX16K_80000: *value = vm->msr[SLOT_MTRR_FIX16K]; return true;
	case MSR_MTRR_FIX16K_A0000: *value = vm->msr[SLOT_MTRR_FIX16K + 1]; return true;
	case MSR_KVM_WALL_CLOCK_NEW: *value = vm->msr[SLOT_KVM_WALL_CLOCK]; return true;
	case MSR_KVM_SYSTEM_TIME_NEW: *value = vm->msr[SLOT_KVM_SYSTEM_TIME]; return true;
	case MSR_X2APIC_FIRST ... MSR_X2APIC_LAST: return false;   /* the APIC is in xAPIC mode here (x2APIC: not modelled) */
	case MSR_IA32_TSC: *value = vm->now; return true;
	case MSR_IA32_APIC_BASE: *value = vm->lapic.apic_base; return true;
	case MSR_IA32_TSC_DEADLINE: *value = ((vm->lapic.lvt_timer >> 17) & 3) == 2 ? vm->lapic.tsc_deadline : 0; return true;
	case MSR_IA32_MISC_ENABLE: *value = 1; return true;
	case MSR_EFER: *value = e->efer & ~EFER_SVME; return true;
	case MSR_IA32_MTRRCAP: case MSR_IA32_BIOS_SIGN_ID: case MSR_IA32_PLATFORM_ID: case MSR_AMD64_NB_CFG:
		*value = 0;
		return true;
	case MSR_K7_HWCR: *value = 1ull << 24; return true;   /* TscFreqSel */
	default: return false;
	}
}

/* --- the guest's paging and the instruction fetch --------------------------------*/

#define CR0_PE   (1ull << 0)
#define CR0_WP   (1ull << 16)
#define CR0_PG   (1ull << 31)
#define CR4_PSE  (1ull << 4)
#define CR4_PAE  (1ull << 5)
#define CR4_LA57 (1ull << 12)
#define CR4_SMEP (1ull << 20)
#define CR4_SMAP (1ull << 21)
#define EFER_LMA (1ull << 10)
#define EFER_NXE (1ull << 11)
#define PTE_P    (1ull << 0)
#define PTE_RW   (1ull << 1)
#define PTE_US   (1ull << 2)
#define PTE_A    (1ull << 5)
#define PTE_D    (1ull << 6)
#define PTE_PS   (1ull << 7)
#define PTE_NX   (1ull << 63)
#define PTE_ADDRESS 0x000ffffffffff000ull
#define PF_P 1u
#define PF_W 2u
#define PF_U 4u
#define PF_I 16u
#define SEG_LONG (1u << 9)
#define SEG_BIG  (1u << 10)

enum access { ACCESS_READ, ACCESS_WRITE, ACCESS_EXECUTE };

struct walk {
	uint64_t linear, gpa;
	uint32_t error_code;
	bool fault;
};

static unsigned code_size(const struct exit_record *e)
{
	if (!(e->cr0 & CR0_PE) || (e->rflags & RFLAGS_VM))
		return 2;
	if ((e->efer & EFER_LMA) && (e->cs.attributes & SEG_LONG))
		return 8;
	return e->cs.attributes & SEG_BIG ? 4 : 2;
}

static uint32_t fault_code(bool present, enum access access, bool user, uint64_t cr4, uint64_t efer)
{
	return (present ? PF_P : 0) | (access == ACCESS_WRITE ? PF_W : 0) | (user ? PF_U : 0) |
	       (access == ACCESS_EXECUTE && ((cr4 & CR4_SMEP) || ((cr4 & CR4_PAE) && (efer & EFER_NXE))) ? PF_I : 0);
}

/* Linear to guest-physical through the guest's tables, read in place in
 * its RAM, checked as the CPU checks (mm/guest_page_walk.ts), A and D set. */
static bool walk_guest(struct ref_vm *vm, const struct exit_record *e, uint64_t linear, enum access access,
		       struct walk *w)
{
	w->linear = linear, w->gpa = 0, w->error_code = 0, w->fault = false;
	uint64_t cr0 = e->cr0, cr4 = e->cr4, efer = e->efer;
	if (!(cr0 & CR0_PG)) {
		w->gpa = linear & 0xffffffff;
		return true;
	}
	bool user = e->cpl == 3, pae = cr4 & CR4_PAE, lm = pae && (efer & EFER_LMA);
	bool nxe = pae && (efer & EFER_NXE);
	unsigned entry_bytes = pae ? 8 : 4;
	int top = !pae ? 2 : !lm ? 3 : (cr4 & CR4_LA57) ? 5 : 4;
	uint64_t table = !pae ? e->cr3 & 0xfffff000 : !lm ? e->cr3 & 0xffffffe0 : e->cr3 & PTE_ADDRESS;
	uint8_t *entries[6];
	bool writable = true, user_page = true, no_execute = false;
	uint64_t gpa = 0;
	int leaf = 0;
	for (int level = top; level >= 1; level--) {
		unsigned shift = !pae ? 12 + 10 * (level - 1) : 12 + 9 * (level - 1);
		uint64_t index_mask = !pae ? 0x3ff : (!lm && level == 3) ? 3 : 0x1ff;
		uint64_t at = table + ((linear >> shift) & index_mask) * entry_bytes;
		if (at > vm->ram_bytes - entry_bytes) {
			w->error_code = fault_code(false, access, user, cr4, efer);
			w->fault = true;
			return false;
		}
		uint8_t *p = vm->ram + at;
		uint64_t entry;
		if (pae) {
			memcpy(&entry, p, 8);
		} else {
			uint32_t entry32;
			memcpy(&entry32, p, 4);
			entry = entry32;
		}
		entries[level] = p;
		if (!(entry & PTE_P)) {
			w->error_code = fault_code(false, access, user, cr4, efer);
			w->fault = true;
			return false;
		}
		if (lm || !pae || level != 3) {   /* PAE PDPTEs carry no R/W, U/S, XD */
			writable &= (entry & PTE_RW) != 0;
			user_page &= (entry & PTE_US) != 0;
			no_execute |= nxe && (entry & PTE_NX);
		}
		bool large = (entry & PTE_PS) && (!pae ? level == 2 && (cr4 & CR4_PSE) : level == 2 || (lm && level == 3));
		if (level == 1 || large) {
			if (!pae && large) {
				gpa = (entry & 0xffc00000) | (((entry >> 13) & 0xff) << 32) | (linear & 0x3fffff);
			} else {
				uint64_t page_mask = (1ull << shift) - 1;
				gpa = (entry & (!pae ? 0xfffff000ull : PTE_ADDRESS) & ~page_mask) | (linear & page_mask);
			}
			leaf = level;
			break;
		}
		table = entry & (!pae ? 0xfffff000ull : PTE_ADDRESS);
	}
	bool allowed = true;
	if (user) {
		allowed = user_page && (access != ACCESS_WRITE || writable);
	} else {
		if (access == ACCESS_WRITE && !writable && (cr0 & CR0_WP))
			allowed = false;
		if (access == ACCESS_EXECUTE && user_page && (cr4 & CR4_SMEP))
			allowed = false;
		if (access != ACCESS_EXECUTE && user_page && (cr4 & CR4_SMAP) && !(e->rflags & RFLAGS_AC))
			allowed = false;
	}
	if (access == ACCESS_EXECUTE && no_execute)
		allowed = false;
	if (!allowed) {
		w->error_code = fault_code(true, access, user, cr4, efer);
		w->fault = true;
		return false;
	}
	for (int level = top; level >= leaf; level--) {
		if (pae && !lm && level == 3)
			continue;
		uint8_t wanted = *entries[level] | PTE_A;
		if (level == leaf && access == ACCESS_WRITE)
			wanted |= PTE_D;
		if (wanted != *entries[level])
			*entries[level] = wanted;
	}
	w->gpa = gpa;
	return true;
}

#define MAX_INSTRUCTION_BYTES 15

/* Up to 15 bytes at CS:RIP, page by page; a page whose walk faults ends
 * the fetch there with the fault in `w`. */
static unsigned fetch_instruction(struct ref_vm *vm, const struct exit_record *e, unsigned mode, uint8_t *out,
				  struct walk *w)
{
	uint64_t start;
	if (mode == 8)
		start = e->rip;
	else
		start = (e->cs.base + (mode == 4 ? e->rip & 0xffffffff : e->rip & 0xffff)) & 0xffffffff;
	unsigned canonical_shift = e->cr4 & CR4_LA57 ? 7 : 16;
	unsigned fetched = 0;
	w->fault = false, w->error_code = 0;
	while (fetched < MAX_INSTRUCTION_BYTES) {
		uint64_t linear = start + fetched;
		if (mode != 8)
			linear &= 0xffffffff;
		else if ((uint64_t)((int64_t)(linear << canonical_shift) >> canonical_shift) != linear)
			break;
		unsigned room = 4096 - (unsigned)(linear & 4095), chunk = MAX_INSTRUCTION_BYTES - fetched;
		if (chunk > room)
			chunk = room;
		if (!walk_guest(vm, e, linear, ACCESS_EXECUTE, w))
			break;
		if (w->gpa <= vm->ram_bytes && chunk <= vm->ram_bytes - w->gpa) {
			memcpy(out + fetched, vm->ram + w->gpa, chunk);
			fetched += chunk;
			continue;
		}
		while (chunk && w->gpa < vm->ram_bytes)   /* RAM ends inside the chunk */
			out[fetched++] = vm->ram[w->gpa++], chunk--;
		break;
	}
	return fetched;
}

/* --- the decoder: the MOV forms ---------------------------------------------------*/

enum op { OP_NONE, OP_MOV, OP_MOVZX, OP_MOVSX };
enum form { FORM_NONE, FORM_MEM_REG, FORM_REG_MEM, FORM_MEM_IMM };
enum decoded { DECODE_OK, DECODE_UNKNOWN, DECODE_TRUNCATED };
enum seg { SEG_ES, SEG_CS, SEG_SS, SEG_DS, SEG_FS, SEG_GS, NO_SEG = 0xff };
#define NO_REG 0xff
#define RIP_REG 16

struct insn {
	unsigned length, op, form, operand_size, memory_size, address_size, segment, reg, base, index, scale;
	bool high_byte, lock;
	unsigned rep;
	uint64_t displacement, immediate;
};

struct cursor {
	const uint8_t *bytes;
	unsigned count, at;
};

static inline uint32_t next_byte(struct cursor *c)
{
	unsigned at = c->at;
	if (c->at < 64)
		c->at++;
	return at < c->count ? c->bytes[at] : 0;
}

static uint64_t read_signed(struct cursor *c, unsigned bytes)
{
	uint64_t value = 0;
	for (unsigned i = 0; i < bytes; i++)
		value |= (uint64_t)next_byte(c) << (8 * i);
	unsigned shift = 64 - 8 * bytes;
	return (uint64_t)((int64_t)(value << shift) >> shift);
}

/* ModRM (SIB, displacement): the memory operand; ModRM.reg (with REX.R),
 * or -1 for a register form. */
static int decode_modrm(struct cursor *c, struct insn *in, unsigned rex, unsigned mode, unsigned seg_override)
{
	uint32_t modrm = next_byte(c);
	unsigned mod = modrm >> 6, rm = modrm & 7;
	int reg = (int)(((modrm >> 3) & 7) | ((rex >> 2) & 1) << 3);
	if (mod == 3)
		return -1;
	in->segment = SEG_DS;
	if (in->address_size == 2) {
		static const uint8_t base16[8] = { 3, 3, 5, 5, 6, 7, 5, 3 };
		static const uint8_t index16[8] = { 6, 7, 6, 7, NO_REG, NO_REG, NO_REG, NO_REG };
		in->base = mod == 0 && rm == 6 ? NO_REG : base16[rm];
		in->index = index16[rm];
		if (in->base == 5)
			in->segment = SEG_SS;
		if (mod == 0 && rm == 6)
			in->displacement = read_signed(c, 2);
		else if (mod == 1)
			in->displacement = read_signed(c, 1);
		else if (mod == 2)
			in->displacement = read_signed(c, 2);
	} else {
		bool disp32 = false;
		if (rm == 4) {
			uint32_t sib = next_byte(c);
			unsigned index = ((sib >> 3) & 7) | ((rex >> 1) & 1) << 3, base = sib & 7;
			if (index != 4)
				in->index = index, in->scale = 1u << (sib >> 6);
			if (base == 5 && mod == 0)
				disp32 = true;
			else
				in->base = base | (rex & 1) << 3;
		} else if (rm == 5 && mod == 0) {
			disp32 = true;
			if (mode == 8)
				in->base = RIP_REG;
		} else {
			in->base = rm | (rex & 1) << 3;
		}
		if (in->base == 4 || in->base == 5)
			in->segment = SEG_SS;
		if (disp32 || mod == 2)
			in->displacement = read_signed(c, 4);
		else if (mod == 1)
			in->displacement = read_signed(c, 1);
	}
	if (seg_override != NO_SEG && (mode != 8 || seg_override >= SEG_FS))
		in->segment = seg_override;
	return reg;
}

static unsigned decode(const uint8_t *bytes, unsigned count, unsigned mode, struct insn *in)
{
	struct cursor c = { bytes, count, 0 };
	unsigned rex = 0, seg_override = NO_SEG;
	bool opsize = false, adsize = false;
	memset(in, 0, sizeof *in);
	in->segment = NO_SEG, in->reg = NO_REG, in->base = NO_REG, in->index = NO_REG, in->scale = 1;
	uint32_t b;
	for (;;) {   /* prefixes; a REX counts only right before the opcode */
		b = next_byte(&c);
		if (mode == 8 && (b & 0xf0) == 0x40) {
			rex = b;
			continue;
		}
		switch (b) {
		case 0x66: opsize = true; break;
		case 0x67: adsize = true; break;
		case 0x26: seg_override = SEG_ES; break;
		case 0x2e: seg_override = SEG_CS; break;
		case 0x36: seg_override = SEG_SS; break;
		case 0x3e: seg_override = SEG_DS; break;
		case 0x64: seg_override = SEG_FS; break;
		case 0x65: seg_override = SEG_GS; break;
		case 0xf0: in->lock = true; break;
		case 0xf2: in->rep = 2; break;
		case 0xf3: in->rep = 1; break;
		default: goto opcode;
		}
		rex = 0;
	}
opcode:;
	unsigned full = mode == 8 && (rex & 8) ? 8 : mode == 2 ? (opsize ? 4 : 2) : (opsize ? 2 : 4);
	in->address_size = mode == 8 ? (adsize ? 4 : 8) : mode == 4 ? (adsize ? 2 : 4) : (adsize ? 4 : 2);
	in->segment = SEG_DS;
	unsigned result = DECODE_OK;
	int reg;
	switch (b) {
	case 0x88: case 0x89: case 0x8a: case 0x8b:
		in->op = OP_MOV;
		in->operand_size = in->memory_size = b & 1 ? full : 1;
		in->form = b & 2 ? FORM_REG_MEM : FORM_MEM_REG;
		reg = decode_modrm(&c, in, rex, mode, seg_override);
		if (reg < 0) {
			result = DECODE_UNKNOWN;
			break;
		}
		in->reg = (unsigned)reg;
		if (in->operand_size == 1 && !rex && reg >= 4 && reg < 8)
			in->reg = (unsigned)reg - 4, in->high_byte = true;   /* AH, CH, DH, BH */
		break;
	case 0xa0: case 0xa1: case 0xa2: case 0xa3:
		in->op = OP_MOV;
		in->operand_size = in->memory_size = b & 1 ? full : 1;
		in->form = b <= 0xa1 ? FORM_REG_MEM : FORM_MEM_REG;
		in->reg = 0;
		for (unsigned i = 0; i < in->address_size; i++)
			in->displacement |= (uint64_t)next_byte(&c) << (8 * i);
		if (seg_override != NO_SEG && (mode != 8 || seg_override >= SEG_FS))
			in->segment = seg_override;
		break;
	case 0xc6: case 0xc7:
		in->op = OP_MOV;
		in->operand_size = in->memory_size = b == 0xc6 ? 1 : full;
		in->form = FORM_MEM_IMM;
		reg = decode_modrm(&c, in, rex, mode, seg_override);
		if (reg < 0 || (reg & 7)) {
			result = DECODE_UNKNOWN;
			break;
		}
		in->immediate = read_signed(&c, in->operand_size >= 4 ? 4 : in->operand_size);
		break;
	case 0x0f:
		b = next_byte(&c);
		if (b != 0xb6 && b != 0xb7 && b != 0xbe && b != 0xbf) {
			result = DECODE_UNKNOWN;
			break;
		}
		in->op = b <= 0xb7 ? OP_MOVZX : OP_MOVSX;
		in->operand_size = full;
		in->memory_size = b & 1 ? 2 : 1;
		in->form = FORM_REG_MEM;
		reg = decode_modrm(&c, in, rex, mode, seg_override);
		if (reg < 0)
			result = DECODE_UNKNOWN;
		else
			in->reg = (unsigned)reg;
		break;
	default:
		result = DECODE_UNKNOWN;   /* not one of the MOV forms */
	}
	in->length = c.at;
	if (c.at > count && count < MAX_INSTRUCTION_BYTES)
		return DECODE_TRUNCATED;
	if (c.at > MAX_INSTRUCTION_BYTES)
		return DECODE_UNKNOWN;
	return result;
}

static inline uint64_t size_mask(unsigned size)
{
	return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

static inline uint64_t read_register(const struct exit_record *e, unsigned reg, bool high_byte, unsigned size)
{
	uint64_t value = e->gpr[reg & 15];
	return high_byte ? (value >> 8) & 0xff : value & size_mask(size);
}

static inline void write_register(struct exit_record *e, unsigned reg, bool high_byte, unsigned size, uint64_t value)
{
	uint64_t *r = &e->gpr[reg & 15];
	if (high_byte)
		*r = (*r & ~0xff00ull) | (value & 0xff) << 8;
	else if (size == 1)
		*r = (*r & ~0xffull) | (value & 0xff);
	else if (size == 2)
		*r = (*r & ~0xffffull) | (value & 0xffff);
	else if (size == 4)
		*r = value & 0xffffffff;
	else
		*r = value;
}

/* --- MMIO ------------------------------------------------------------------------*/

static uint64_t mmio_read(struct ref_vm *vm, uint64_t gpa, unsigned size)
{
	if (gpa - APIC_BASE_ADDRESS <= LAPIC_BYTES - size)
		return lapic_mmio_read(vm, (uint32_t)(gpa - APIC_BASE_ADDRESS), size) & size_mask(size);
	vm->unclaimed_reads++;   /* (an access straddling into the page: not modelled) */
	return size_mask(size);
}

static void mmio_write(struct ref_vm *vm, uint64_t gpa, unsigned size, uint64_t value)
{
	if (gpa - APIC_BASE_ADDRESS <= LAPIC_BYTES - size) {
		lapic_mmio_write(vm, (uint32_t)(gpa - APIC_BASE_ADDRESS), size, value & size_mask(size));
		return;
	}
	vm->unclaimed_writes++;
}

enum emulation { EMULATED, EMULATION_UNKNOWN, EMULATION_PAGE_FAULT };

static unsigned emulate_mmio(struct ref_vm *vm, struct exit_record *e, struct walk *w)
{
	uint8_t bytes[MAX_INSTRUCTION_BYTES];
	struct insn in;
	unsigned mode = code_size(e);
	unsigned fetched = fetch_instruction(vm, e, mode, bytes, w);
	unsigned decoded = decode(bytes, fetched, mode, &in);
	if (decoded == DECODE_TRUNCATED)
		return w->fault ? EMULATION_PAGE_FAULT : EMULATION_UNKNOWN;
	if (decoded != DECODE_OK)
		return EMULATION_UNKNOWN;
	uint64_t gpa = e->gpa;
	unsigned size = in.operand_size;
	switch (in.op) {
	case OP_MOV:
		if (in.form == FORM_REG_MEM)
			write_register(e, in.reg, in.high_byte, size, mmio_read(vm, gpa, size));
		else
			mmio_write(vm, gpa, size, in.form == FORM_MEM_IMM ? in.immediate & size_mask(size)
								      : read_register(e, in.reg, in.high_byte, size));
		break;
	case OP_MOVZX:
		write_register(e, in.reg, false, size, mmio_read(vm, gpa, in.memory_size) & size_mask(in.memory_size));
		break;
	case OP_MOVSX: {
		unsigned shift = 64 - 8 * in.memory_size;
		uint64_t value = (uint64_t)((int64_t)(mmio_read(vm, gpa, in.memory_size) << shift) >> shift);
		write_register(e, in.reg, false, size, value & size_mask(size));
		break;
	}
	}
	e->advance = in.length;
	return EMULATED;
}

/* --- the exits -------------------------------------------------------------------*/

static inline uint32_t length_or(const struct exit_record *e, uint32_t fallback)
{
	return e->instruction_length ? e->instruction_length : fallback;
}

static void inject_exception(struct exit_record *e, uint32_t vector, bool has_error_code, uint32_t error_code)
{
	e->inject = INJECT_VALID | INJECT_TYPE_EXCEPTION | vector | (has_error_code ? INJECT_HAS_ERROR_CODE : 0);
	e->inject_error_code = has_error_code ? error_code : 0;
	e->advance = 0;
}

/* Stops the guest for good, with the line that says why. */
static void stop(struct ref_vm *vm, struct exit_record *e, uint32_t reason, uint64_t code, const char *why)
{
	if (vm->console.length > vm->console.prefix)
		console_finish_line(&vm->console);
	char line[160];
	int n = ksnprintf(line, sizeof line, "[hv] guest %s stopped: %s\n", vm->name, why);
	console_write(line, (size_t)n);
	vm->stopped = true, vm->stop_reason = reason, vm->stop_code = code;
	e->action = ACTION_STOP, e->stop_reason = reason, e->stop_code = code;
}

static void handle_io(struct ref_vm *vm, struct exit_record *e)
{
	uint32_t port = e->port, size = e->io_size;
	if (e->io_flags & EXIT_IO_STRING) {
		stop(vm, e, STOP_UNSUPPORTED, 0, "string port I/O (not in the reference)");
		return;
	}
	if ((size != 1 && size != 2 && size != 4) || !e->instruction_length) {
		stop(vm, e, STOP_UNSUPPORTED, 0, "bug: a port I/O exit without a size or length");
		return;
	}
	if (e->io_flags & EXIT_IO_IN) {
		uint32_t value = port_read(vm, port, size);
		e->gpr[RAX] = size == 4 ? value : (e->gpr[RAX] & ~size_mask(size)) | value;
	} else {
		port_write(vm, port, size, (uint32_t)(e->gpr[RAX] & size_mask(size)));
		if (vm->requests) {   /* the exit port */
			vm->requests = 0;
			stop(vm, e, STOP_EXIT_CODE, vm->exit_code, "exit code");
			return;
		}
		if (vm->console.refused) {   /* run the OUT again after the others */
			vm->console.refused = false;
			e->advance = 0;
			e->action = ACTION_YIELD;
			return;
		}
	}
	e->advance = e->instruction_length;
}

/* HLT at RIP ends when an interrupt can be taken (with IF clear, an NMI). */
static void handle_wake(struct ref_vm *vm, struct exit_record *e)
{
	bool interrupts = e->rflags & RFLAGS_IF;
	if (vm->lapic.nmi_pending || (interrupts && interrupt_pending(vm))) {
		e->advance = length_or(e, 1);
		vm->run_state = RUN_RUNNABLE;
		return;
	}
	e->action = ACTION_WAIT;
	vm->run_state = interrupts ? RUN_HALTED : RUN_HALTED_INTERRUPTS_OFF;
}

static void handle_npf(struct ref_vm *vm, struct exit_record *e)
{
	bool outside = e->gpa >= vm->ram_bytes;
	if (!outside || (e->access & EXIT_ACCESS_EXECUTE)) {
		stop(vm, e, outside ? STOP_OUTSIDE_RAM : STOP_UNSUPPORTED, 0, "a nested page fault the reference does not emulate");
		return;
	}
	struct walk w;
	switch (emulate_mmio(vm, e, &w)) {
	case EMULATED:
		return;
	case EMULATION_PAGE_FAULT:
		inject_exception(e, VECTOR_PF, true, w.error_code);
		e->cr2 = w.linear;
		e->dirty |= DIRTY_CR2;
		return;
	default:
		stop(vm, e, STOP_UNSUPPORTED, 0, "MMIO: an instruction the reference does not know");
	}
}

/* The event the vCPU takes on entry, or the window it needs (vcpu/events.ts). */
static void deliver_events(struct ref_vm *vm, struct exit_record *e)
{
	if (e->action == ACTION_STOP || e->action == ACTION_WAIT)
		return;
	bool interrupt = interrupt_pending(vm), nmi = vm->lapic.nmi_pending;
	if (!interrupt && !nmi)
		return;
	if ((e->inject & INJECT_VALID) || (e->pending_event & INJECT_VALID)) {
		e->request |= (interrupt ? REQUEST_INTERRUPT_WINDOW : 0) | (nmi ? REQUEST_NMI_WINDOW : 0);
		return;
	}
	bool shadow = (e->interruptibility & BLOCKED_BY_SHADOW) && e->advance == 0;
	if (nmi) {
		if (!shadow && !(e->interruptibility & BLOCKED_NMI)) {
			vm->lapic.nmi_pending = false;
			e->inject = INJECT_VALID | INJECT_TYPE_NMI | VECTOR_NMI;
			e->inject_error_code = 0;
			if (interrupt)
				e->request |= REQUEST_INTERRUPT_WINDOW;
			return;
		}
		e->request |= REQUEST_NMI_WINDOW;
	}
	if (!interrupt)
		return;
	if (shadow || !(e->rflags & RFLAGS_IF)) {
		e->request |= REQUEST_INTERRUPT_WINDOW;
		return;
	}
	int vector = take_interrupt(vm);
	if (vector < 0)
		return;
	e->inject = INJECT_VALID | INJECT_TYPE_EXTERNAL | ((uint32_t)vector & 0xff);
	e->inject_error_code = 0;
	if (interrupt_pending(vm))
		e->request |= REQUEST_INTERRUPT_WINDOW;
}

void ref_handle_exit(struct ref_vm *vm, struct exit_record *e)
{
	e->action = ACTION_RESUME;
	e->advance = 0;
	e->inject = 0;
	e->inject_error_code = 0;
	e->dirty = 0;
	e->stop_reason = 0;
	e->stop_code = 0;
	e->request = 0;
	e->deadline = NO_DEADLINE;
	e->exits++;
	vm->exit_counts[e->reason < 20 ? e->reason : 20]++;
	if (vm->stopped) {
		e->action = ACTION_STOP;
		e->stop_reason = vm->stop_reason;
		e->stop_code = vm->stop_code;
		return;
	}
	vm->now = tsc_read() + (uint64_t)vm->tsc_offset;
	if (vm->now >= vm->next_deadline) {
		/* The local APIC's TSC-deadline timer is the one timer modelled. */
		struct ref_lapic *l = &vm->lapic;
		l->tsc_deadline = 0;
		vm->next_deadline = NO_DEADLINE_TSC;
		if (!(l->lvt_timer & LVT_MASKED))
			lapic_accept(l, l->lvt_timer & 0xff, false);
	}
	struct ref_lapic *l = &vm->lapic;
	if (e->cr8 != ((l->tpr >> 4) & 0xf))   /* the guest may have moved CR8 (V_TPR) */
		l->tpr = (e->cr8 & 0xf) << 4;

	switch (e->reason) {
	case EXIT_CPUID: {
		uint32_t r[4];
		guest_cpuid(vm, e, (uint32_t)e->gpr[RAX], (uint32_t)e->gpr[RCX], r);
		e->gpr[RAX] = r[EAX];
		e->gpr[RBX] = r[EBX];
		e->gpr[RCX] = r[ECX];
		e->gpr[RDX] = r[EDX];
		e->advance = length_or(e, 2);
		break;
	}
	case EXIT_IO:
		handle_io(vm, e);
		break;
	case EXIT_MSR_READ: {
		uint64_t value;
		if (!msr_read(vm, e, e->msr, &value)) {
			inject_exception(e, VECTOR_GP, true, 0);
			break;
		}
		e->gpr[RAX] = value & 0xffffffff;
		e->gpr[RDX] = value >> 32;
		e->advance = length_or(e, 2);
		break;
	}
	case EXIT_HLT:
		if (!(e->rflags & RFLAGS_IF)) {   /* one vCPU: nothing can end it */
			stop(vm, e, STOP_HALTED, 0, "halted with interrupts disabled");
			break;
		}
		handle_wake(vm, e);
		break;
	case EXIT_WAKE:
		handle_wake(vm, e);
		break;
	case EXIT_NESTED_PAGE_FAULT:
		handle_npf(vm, e);
		break;
	case EXIT_EXTERNAL_INTERRUPT:
	case EXIT_INTERRUPT_WINDOW:
		break;   /* nothing for the guest: resume it */
	default:
		stop(vm, e, STOP_UNSUPPORTED, 0, "an exit the reference does not handle");
		break;
	}

	if (e->action == ACTION_STOP)
		return;
	deliver_events(vm, e);
	uint32_t tpr = (l->tpr >> 4) & 0xf;
	if (tpr != e->cr8) {
		e->cr8 = tpr;
		e->dirty |= DIRTY_CR8;
	}
	e->deadline = vm->next_deadline == NO_DEADLINE_TSC ? NO_DEADLINE : vm->next_deadline - (uint64_t)vm->tsc_offset;
}

/* --- the machine at power-on --------------------------------------------------------*/

struct ref_vm *ref_vm_create(uint8_t *ram, uint64_t ram_bytes, const char *name)
{
	struct ref_vm *vm = calloc(1, sizeof *vm);
	if (!vm)
		return NULL;
	vm->ram = ram;
	vm->ram_bytes = ram_bytes;
	vm->next_deadline = NO_DEADLINE_TSC;
	vm->run_state = RUN_RUNNABLE;
	vm->msr[SLOT_PAT] = PAT_DEFAULT;
	/* vCPU 0, the bootstrap processor, as the firmware leaves it. */
	struct ref_lapic *l = &vm->lapic;
	l->apic_base = APIC_BASE_ADDRESS | APIC_BASE_ENABLE | APIC_BASE_BSP;
	l->dfr = 0xffffffff;
	l->svr = 0xff | SVR_ENABLE;
	l->lvt_timer = l->lvt_thermal = l->lvt_perf = l->lvt_error = LVT_MASKED;
	l->lvt_lint0 = LVT_EXTINT;
	l->lvt_lint1 = LVT_NMI;
	/* The 8259 pair as a PC BIOS leaves it: vectors 0x08 and 0x70, cascade
	 * on IR2, every input masked but the cascade. */
	vm->pic[0] = (struct ref_pic){ .imr = 0xfb, .vector_base = 0x08, .icw3 = 4 };
	vm->pic[1] = (struct ref_pic){ .imr = 0xff, .vector_base = 0x70, .icw3 = 2 };
	for (unsigned pin = 0; pin < 24; pin++)
		vm->ioapic.entry[pin] = IOAPIC_ENTRY_MASKED;
	vm->uart.dll = 12;
	size_t n = strlen(name);
	if (n > NAME_PREFIX_BYTES)
		n = NAME_PREFIX_BYTES;
	memcpy(vm->name, name, n);
	vm->console.line[0] = '[';
	for (size_t i = 0; i < n; i++)
		vm->console.line[1 + i] = name[i] >= 0x20 && name[i] < 0x7f ? name[i] : '.';
	vm->console.line[1 + n] = ']';
	vm->console.line[2 + n] = ' ';
	vm->console.prefix = vm->console.length = (uint32_t)n + 3;
	vm->console.budget = CONSOLE_BURST_BYTES;
	vm->console.ticks_per_byte = tsc_hz() / CONSOLE_BYTES_PER_SECOND;
	if (!vm->console.ticks_per_byte)
		vm->console.ticks_per_byte = 1;
	cpuid_setup(vm);
	return vm;
}

void ref_vm_destroy(struct ref_vm *vm)
{
	free(vm);
}
