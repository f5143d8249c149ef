/*
 * hvhost: the core, compiled through wasm2c exactly as in the kernel, as a
 * Linux program.
 *   hvhost instances N            create, exercise, trap and drop N guest VMMs
 *   hvhost config FILE [MODULE]…  run the supervisor's init on a config
 *                                 (modules are named as given)
 *   hvhost exits N KIND           N synthetic exits of one kind through one
 *                                 guest VMM: cpuid, io, msr, eoi, hlt, window
 *   hvhost ref-exits N KIND       the same exits through the reference VMM
 *                                 (reference.c), in the same loop
 *   hvhost fill-exits N KIND      the same loop filling the records only: the
 *                                 harness's share of both counts
 *   hvhost ref-check              each kind (and CPUID leaf by leaf) through
 *                                 both, answers compared field by field
 *   hvhost fuzz-exits N SEED      N random exit records; none may trap
 *   hvhost fuzz-load KERNEL N SEED   N mutated kernel images; none may trap
 * Exit status: 0 on success, 1 on failure.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hv.h"
#include "core.h"
#include "exit_record.h"
#include "reference.h"

void host_add_module(const char *name, const uint8_t *data, uint32_t size);

static void add_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "hvhost: cannot open %s\n", path);
		exit(2);
	}
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *data = malloc(n ? n : 1);
	if (fread(data, 1, n, f) != (size_t)n)
		exit(2);
	fclose(f);
	host_add_module(path, data, (uint32_t)n);
}

/* A guest VMM instance in slot 0 whose guest RAM is `ram`; NULL (and a
 * message) if it cannot be made. */
static struct guest_vmm *make_guest(uint8_t *ram, uint64_t bytes)
{
	wasm_rt_trap_t trap = core_guest_create(0, 0, bytes);
	if (trap) {
		fprintf(stderr, "hvhost: create: %s\n", wasm_rt_strerror(trap));
		return NULL;
	}
	core_guests[0].ram = ram;
	core_guests[0].ram_bytes = bytes;
	return &core_guests[0];
}

/* --- synthetic exits, for the core and for the reference ---------------------
 * One record setup serves `exits` (the core), `ref-exits` (the reference,
 * reference.c) and `ref-check` (both, compared), so both count the same
 * harness work around the same records. The guest is a 64-bit kernel with
 * paging on, at CPL 0, interrupts enabled, as a Linux guest is at its exits.
 */
enum exit_kind { KIND_CPUID, KIND_IO, KIND_MSR, KIND_EOI, KIND_HLT, KIND_WINDOW, KINDS };
static const char *const kind_names[KINDS] = { "cpuid", "io", "msr", "eoi", "hlt", "window" };
#define KIND_LIST "cpuid, io, msr, eoi, hlt, window"

#define GUEST_RAM_BYTES (4u << 20)
static uint8_t guest_ram[GUEST_RAM_BYTES] __attribute__((aligned(4096)));
#define GUEST_CR3   0x1000ull            /* PML4; the PDPT at 0x2000, the PD at 0x3000 */
#define GUEST_RIP   0x100000ull          /* the exiting instruction, mapped by a 2 MiB page */
#define LAPIC_EOI   0xfee000b0ull
/* What the guest writes to the UART, a byte per io exit: a line of text. */
static const char console_text[] = "hvhost: one byte per exit to the UART's THR, a line of guest console output\n";

/* platform.c's clock, when set (drive_exits). */
extern uint64_t host_virtual_tsc;

static int kind_of(const char *name)
{
	for (int k = 0; k < KINDS; k++)
		if (!strcmp(name, kind_names[k]))
			return k;
	fprintf(stderr, "hvhost: unknown exit kind %s (%s)\n", name, KIND_LIST);
	return -1;
}

/* The guest's RAM as its kernel left it: identity-mapped by 4-level paging
 * (2 MiB pages, accessed and dirty already, as after the kernel's first
 * touch), and `mov [rax], ecx` (89 08) at RIP: the write of ECX to the
 * local APIC's EOI register an eoi exit stopped. */
static void setup_guest_ram(void)
{
	const uint64_t table = 0x1 | 0x2 | 0x20;            /* P, RW, A */
	const uint64_t large = 0x1 | 0x2 | 0x20 | 0x40 | 0x80; /* P, RW, A, D, PS */
	uint64_t pml4 = 0x2000 | table, pdpt = 0x3000 | table;
	memset(guest_ram, 0, 0x4000);
	memcpy(guest_ram + GUEST_CR3, &pml4, 8);
	memcpy(guest_ram + 0x2000, &pdpt, 8);
	for (uint64_t i = 0; i < GUEST_RAM_BYTES >> 21; i++) {
		uint64_t pde = (i << 21) | large;
		memcpy(guest_ram + 0x3000 + 8 * i, &pde, 8);
	}
	static const uint8_t code[] = { 0x89, 0x08, 0xf4 };   /* mov [rax], ecx; hlt */
	memcpy(guest_ram + GUEST_RIP, code, sizeof code);
}

static void flat_segment(struct exit_segment *s, uint16_t selector, uint16_t attributes)
{
	s->selector = selector;
	s->attributes = attributes;
	s->limit = 0xffffffff;
	s->base = 0;
}

/* Exit `i` of `kind`, as the stub fills the record (boot/arch/svm.c). */
static void fill_exit(struct exit_record *e, enum exit_kind kind, unsigned i)
{
	memset(e, 0, sizeof *e);
	e->rip = GUEST_RIP;
	e->rflags = 0x202;                       /* IF */
	e->cr0 = 0x80050033;                     /* PG, AM, WP, NE, ET, MP, PE */
	e->cr3 = GUEST_CR3;
	e->cr4 = 0x406a0;                        /* OSXSAVE, OSXMMEXCPT, OSFXSR, PGE, PAE */
	e->efer = 0xd01;                         /* NXE, LMA, LME, SCE */
	e->xcr0 = 0x3;                           /* x87, SSE */
	e->gpr[RSP] = 0x200000 - 0x100;
	flat_segment(&e->cs, 0x10, 0xa9b);       /* 64-bit code, DPL 0 */
	flat_segment(&e->ss, 0x18, 0xc93);
	switch (kind) {
	case KIND_CPUID:
		e->reason = EXIT_CPUID;
		e->gpr[RAX] = i & 1 ? 1 : 0x80000001;
		e->instruction_length = 2;
		break;
	case KIND_IO:   /* OUT DX, AL of a byte to COM1's THR: the guest's console */
		e->reason = EXIT_IO;
		e->port = 0x3f8;
		e->io_size = 1;
		e->gpr[RDX] = 0x3f8;
		e->gpr[RAX] = (uint8_t)console_text[i % (sizeof console_text - 1)];
		e->instruction_length = 1;
		break;
	case KIND_MSR:  /* RDMSR of IA32_PAT */
		e->reason = EXIT_MSR_READ;
		e->msr = 0x277;
		e->gpr[RCX] = 0x277;
		e->instruction_length = 2;
		break;
	case KIND_EOI:  /* mov [rax], ecx to the xAPIC's EOI register: a nested page fault */
		e->reason = EXIT_NESTED_PAGE_FAULT;
		e->gpa = LAPIC_EOI;
		e->access = EXIT_ACCESS_WRITE;
		e->gpr[RAX] = LAPIC_EOI;
		e->gpr[RCX] = 0;
		flat_segment(&e->ds, 0x18, 0xc93);
		flat_segment(&e->es, 0x18, 0xc93);
		flat_segment(&e->fs, 0, 0);
		flat_segment(&e->gs, 0, 0);
		break;
	case KIND_HLT:  /* HLT with interrupts on and none pending: the vCPU waits */
		e->reason = EXIT_HLT;
		e->instruction_length = 1;
		break;
	case KIND_WINDOW:
		e->reason = EXIT_INTERRUPT_WINDOW;
		break;
	default:
		break;
	}
}

/* What the core answers these exits: HLT with nothing pending waits, the
 * rest resume past their instruction, nothing injected. Anything else (a
 * stop above all, or a fault injected) is a failure. */
static uint32_t expected_action(enum exit_kind kind)
{
	return kind == KIND_HLT ? ACTION_WAIT : ACTION_RESUME;
}

static uint32_t expected_advance(enum exit_kind kind)
{
	static const uint32_t advance[KINDS] = { [KIND_CPUID] = 2, [KIND_IO] = 1, [KIND_MSR] = 2, [KIND_EOI] = 2 };
	return advance[kind];
}

static struct exit_record *core_record(void)
{
	struct guest_vmm *vm = make_guest(guest_ram, GUEST_RAM_BYTES);
	if (!vm)
		return NULL;
	uint32_t offset = w2c_guest_exitRecord(&vm->instance, 0);
	return (struct exit_record *)(vm->instance.w2c_memory.data + offset);
}

static struct exit_record ref_record __attribute__((aligned(64)));

/* Who answers the exits of drive_exits. FILL: nobody, the loop alone (the
 * harness's share of both figures). */
enum driver { DRIVE_CORE, DRIVE_REFERENCE, DRIVE_FILL };

/* drive_exits' loop: 1 when an answer is not the one wanted. */
__attribute__((noinline))
static int drive_loop(unsigned count, const char *name, int kind, enum driver driver, struct exit_record *e,
		      struct ref_vm *ref, uint32_t want, uint32_t advance)
{
	for (unsigned i = 0; i < count; i++) {
		fill_exit(e, kind, i);
		host_virtual_tsc += 200000;
		if (driver == DRIVE_CORE)
			core_guest_answer_exit(0, 0, e);
		else if (driver == DRIVE_REFERENCE)
			ref_handle_exit(ref, e);
		if (e->action != want || e->advance != advance || e->inject) {
			fprintf(stderr, "hvhost: %s exit %u: action %u advance %u inject %#x (wanted %u, %u, 0)%s\n",
				name, i, e->action, e->advance, e->inject, want, advance,
				e->action == ACTION_STOP ? ": the guest stopped" : "");
			return 1;
		}
	}
	return 0;
}

/* Drives `count` synthetic exits of one kind through one guest VMM instance
 * (the core), or through the reference, in the same loop: for callgrind,
 * instructions per exit (scripts/bench-core.mjs). */
static int drive_exits(unsigned count, const char *name, enum driver driver)
{
	int kind = kind_of(name);
	if (kind < 0)
		return 2;
	/* Guest time moves 200 us an exit (5,000 exits/s), as a console at its
	 * 5,760 bytes/s share would see: its budget never runs out, as it would
	 * not for a guest writing a line now and then. */
	host_virtual_tsc = 1000000000ull;
	setup_guest_ram();
	struct ref_vm *ref = NULL;
	struct exit_record *e;
	if (driver == DRIVE_CORE) {
		e = core_record();
	} else {
		ref = ref_vm_create(guest_ram, GUEST_RAM_BYTES, "");
		e = ref ? &ref_record : NULL;
	}
	if (!e)
		return 1;
	uint32_t want = driver == DRIVE_FILL ? ACTION_RESUME : expected_action(kind);
	uint32_t advance = driver == DRIVE_FILL ? 0 : expected_advance(kind);
	/* One trap frame around all the exits, as boot/exit_loop.c holds one per
	 * time slice (core_guest_answer_exit); the loop in a function of its
	 * own, so the frame's setjmp does not change its code. */
	wasm_rt_jmp_buf frame;
	wasm_rt_trap_t trapped = wasm_rt_try(&frame);
	int status = trapped ? 1 : drive_loop(count, name, kind, driver, e, ref, want, advance);
	wasm_rt_end_try(&frame);
	if (trapped) {
		fprintf(stderr, "hvhost: %s exits: trap %s\n", name, wasm_rt_strerror(trapped));
		return 1;
	}
	if (status)
		return status;
	static const char *const done[] = { "exits handled", "exits handled by the reference",
					     "exit records filled, none handled" };
	printf("hvhost: %u %s %s\n", count, name, done[driver]);
	return 0;
}

/* The record's fields, to say which differ. */
#define FIELD(f) { #f, offsetof(struct exit_record, f), sizeof(((struct exit_record *)0)->f) }
static const struct { const char *name; size_t offset, size; } record_fields[] = {
	FIELD(reason), FIELD(instruction_length),
	FIELD(gpr[0]), FIELD(gpr[1]), FIELD(gpr[2]), FIELD(gpr[3]), FIELD(gpr[4]), FIELD(gpr[5]), FIELD(gpr[6]),
	FIELD(gpr[7]), FIELD(gpr[8]), FIELD(gpr[9]), FIELD(gpr[10]), FIELD(gpr[11]), FIELD(gpr[12]),
	FIELD(gpr[13]), FIELD(gpr[14]), FIELD(gpr[15]),
	FIELD(rip), FIELD(rflags), FIELD(cr0), FIELD(cr2), FIELD(cr3), FIELD(cr4), FIELD(efer), FIELD(gpa),
	FIELD(access), FIELD(msr), FIELD(port), FIELD(io_size), FIELD(io_flags), FIELD(exception_vector),
	FIELD(exception_error_code), FIELD(raw_reason), FIELD(cpl), FIELD(detail), FIELD(xcr0),
	FIELD(cs), FIELD(ss), FIELD(es), FIELD(ds), FIELD(fs), FIELD(gs),
	FIELD(interruptibility), FIELD(pending_event), FIELD(pending_error_code), FIELD(cr8),
	FIELD(action), FIELD(advance), FIELD(inject), FIELD(inject_error_code), FIELD(dirty),
	FIELD(stop_reason), FIELD(stop_code), FIELD(exits), FIELD(request), FIELD(reserved), FIELD(deadline),
};

static uint64_t field_value(const struct exit_record *e, size_t offset, size_t size)
{
	uint64_t v = 0;
	memcpy(&v, (const uint8_t *)e + offset, size < 8 ? size : 8);
	return v;
}

/* 0 when the two answers are the same record, byte for byte; else each
 * field that differs, printed. */
static unsigned compare_records(const char *what, const struct exit_record *core, const struct exit_record *ref)
{
	if (!memcmp(core, ref, sizeof *core))
		return 0;
	unsigned differ = 0;
	for (size_t f = 0; f < sizeof record_fields / sizeof record_fields[0]; f++) {
		size_t o = record_fields[f].offset, n = record_fields[f].size;
		if (!memcmp((const uint8_t *)core + o, (const uint8_t *)ref + o, n))
			continue;
		differ++;
		printf("hvhost: ref-check: %s: %s: core %#llx, reference %#llx\n", what, record_fields[f].name,
		       (unsigned long long)field_value(core, o, n), (unsigned long long)field_value(ref, o, n));
	}
	return differ ? differ : 1;
}

/* Each kind's exits through the core and through the reference, the
 * answers compared field by field; then CPUID leaf by leaf, the whole
 * policy (vcpu/cpuid.ts). Exit 1 on any difference. */
static int ref_check(void)
{
	/* One CPU for both: a leaf's host answer is the same on each. */
	cpu_set_t cpus;
	CPU_ZERO(&cpus);
	CPU_SET(sched_getcpu() >= 0 ? sched_getcpu() : 0, &cpus);
	sched_setaffinity(0, sizeof cpus, &cpus);
	setup_guest_ram();
	struct exit_record *core = core_record();
	struct ref_vm *ref = ref_vm_create(guest_ram, GUEST_RAM_BYTES, "");
	struct exit_record *mine = &ref_record;
	if (!core || !ref)
		return 1;
	unsigned differ = 0, exits = 0, leaves = 0;
	char what[64];
	for (int kind = 0; kind < KINDS; kind++) {
		for (unsigned i = 0; i < 4; i++) {
			fill_exit(core, kind, i);
			fill_exit(mine, kind, i);
			wasm_rt_trap_t trap = core_guest_handle_exit(0, 0);
			ref_handle_exit(ref, mine);
			snprintf(what, sizeof what, "%s exit %u", kind_names[kind], i);
			if (trap) {
				printf("hvhost: ref-check: %s: the core trapped: %s\n", what, wasm_rt_strerror(trap));
				return 1;
			}
			if (core->action != expected_action(kind) || core->advance != expected_advance(kind) || core->inject) {
				printf("hvhost: ref-check: %s: the core answered action %u, advance %u, inject %#x\n", what,
				       core->action, core->advance, core->inject);
				differ++;
			}
			differ += compare_records(what, core, mine) != 0;
			exits++;
		}
	}
	static const struct { uint32_t leaf, subleaves; } sweep[] = {
		{ 0, 1 }, { 1, 1 }, { 2, 1 }, { 4, 5 }, { 5, 1 }, { 6, 1 }, { 7, 3 }, { 0xa, 1 }, { 0xb, 3 },
		{ 0xd, 4 }, { 0x14, 1 }, { 0x15, 1 }, { 0x16, 1 }, { 0x1f, 3 },
		{ 0x40000000, 1 }, { 0x40000001, 1 }, { 0x40000010, 1 }, { 0x400000ff, 1 },
		{ 0x40000100, 1 }, { 0x40000101, 1 }, { 0x40000102, 1 },
		{ 0x80000000, 1 }, { 0x80000001, 1 }, { 0x80000002, 1 }, { 0x80000005, 1 }, { 0x80000006, 1 },
		{ 0x80000007, 1 }, { 0x80000008, 1 }, { 0x8000000a, 1 }, { 0x8000001e, 1 }, { 0x8000001f, 1 },
	};
	for (size_t s = 0; s < sizeof sweep / sizeof sweep[0]; s++) {
		for (uint32_t sub = 0; sub < sweep[s].subleaves; sub++) {
			for (int osxsave = 0; osxsave < 2; osxsave++) {
				fill_exit(core, KIND_CPUID, 0);
				core->gpr[RAX] = sweep[s].leaf;
				core->gpr[RCX] = sub;
				core->xcr0 = osxsave ? 0x7 : 0x3;
				if (!osxsave)
					core->cr4 &= ~(1ull << 18);
				memcpy(mine, core, sizeof *mine);
				wasm_rt_trap_t trap = core_guest_handle_exit(0, 0);
				ref_handle_exit(ref, mine);
				snprintf(what, sizeof what, "CPUID %#x.%u (CR4.OSXSAVE %d)", sweep[s].leaf, sub, osxsave);
				if (trap) {
					printf("hvhost: ref-check: %s: the core trapped: %s\n", what, wasm_rt_strerror(trap));
					return 1;
				}
				differ += compare_records(what, core, mine) != 0;
				leaves++;
			}
		}
	}
	printf("hvhost: ref-check: %u exits of %d kinds and %u CPUID questions: %s\n", exits, KINDS, leaves,
	       differ ? "the reference and the core answer differently" : "the reference answers as the core does");
	return differ ? 1 : 0;
}

/* A small deterministic PRNG (xorshift64*): fuzz runs repeat exactly. */
/* (fuzz.c draws from it too.) */
uint64_t fuzz_state;
uint64_t fuzz_next(void)
{
	fuzz_state ^= fuzz_state >> 12;
	fuzz_state ^= fuzz_state << 25;
	fuzz_state ^= fuzz_state >> 27;
	return fuzz_state * 0x2545F4914F6CDD1Dull;
}

/* The first port of every device on the guest's port bus (pc_layout.ts). */
static const uint16_t device_ports[] = {
	0x20, 0xA0, 0x4D0, 0x40, 0x61, 0x60, 0x64, 0x70, 0x80, 0xED, 0x92, 0x3F8,
	0xCF8, 0xCFC, 0x600, 0x604, 0x608,
};

/* Hostile exits: every field of the record random (reason biased to the
 * real ones), fed to one guest VMM instance. No trap is acceptable: a trap
 * is a bug a guest could drive. The instance is re-created when the guest
 * is stopped, so stop paths are exercised too. */
static int fuzz_exits(unsigned count, uint64_t seed)
{
	static uint8_t ram[2 << 20] __attribute__((aligned(4096)));
	fuzz_state = seed | 1;
	unsigned stops = 0;
	for (unsigned i = 0; i < count; i++) {
		if (!core_guests[0].live && !make_guest(ram, sizeof ram))
			return 1;
		struct guest_vmm *vm = &core_guests[0];
		uint32_t offset = w2c_guest_exitRecord(&vm->instance, 0);
		uint8_t *bytes = vm->instance.w2c_memory.data + offset;
		for (unsigned b = 0; b < sizeof(struct exit_record); b += 8) {
			uint64_t r = fuzz_next();
			memcpy(bytes + b, &r, 8);
		}
		struct exit_record *e = (struct exit_record *)bytes;
		e->reason = (uint32_t)(fuzz_next() % 20);
		/* Mostly the platform's own ports and MSRs, so every device model
		 * sees hostile register writes and reads. */
		if (fuzz_next() & 1)
			e->port = device_ports[fuzz_next() % (sizeof device_ports / sizeof device_ports[0])] +
				  (uint16_t)(fuzz_next() % 8);
		if (fuzz_next() & 1) {
			uint64_t pick = fuzz_next() % 4;
			e->msr = pick == 0 ? 0xC0000080 : pick == 1 ? 0x277 : pick == 2 ? 0x1B : 0x6E0;
			if (fuzz_next() & 1)
				e->msr = (uint32_t)(0x800 + fuzz_next() % 0x100);   /* x2APIC */
		}
		/* Half the nested page faults aim at the APICs or unclaimed space
		 * with random instruction bytes at a RIP in RAM, flat 32-bit code:
		 * the decoder, the emulation and the MMIO devices see them. */
		if (e->reason == EXIT_NESTED_PAGE_FAULT && (fuzz_next() & 1)) {
			uint64_t pick = fuzz_next() % 3;
			e->gpa = (pick == 0 ? 0xFEE00000ull : pick == 1 ? 0xFEC00000ull : 0xF0000000ull) + fuzz_next() % 0x1000;
			e->rip = 0x1000 + fuzz_next() % 0x1000;
			e->cs.base = 0;
			e->cs.attributes = 0xC9B;
			e->cs.limit = 0xFFFFFFFF;
			e->cr0 = 0x11;
			e->access &= ~(uint64_t)EXIT_ACCESS_EXECUTE;
			for (unsigned k = 0; k < 16; k++)
				ram[e->rip + k] = (uint8_t)fuzz_next();
			if (fuzz_next() & 1)
				ram[e->rip] = (uint8_t)(0x88 + fuzz_next() % 4);   /* a MOV, often */
		}
		/* The exit handler reads ECX for an MSR; keep it the same MSR. */
		if (e->reason == EXIT_MSR_READ || e->reason == EXIT_MSR_WRITE)
			e->gpr[RCX] = e->msr;
		e->io_size = (uint8_t)(1u << (fuzz_next() % 3));
		e->io_flags &= ~(uint8_t)(fuzz_next() & 1 ? EXIT_IO_STRING : 0);
		/* The hypercall that asks for a trap is the one allowed trap. */
		if (e->reason == EXIT_HYPERCALL && (uint32_t)e->gpr[RAX] == 0x50415254)
			e->gpr[RAX] = 0;
		wasm_rt_trap_t trap = core_guest_handle_exit(0, 0);
		if (trap) {
			fprintf(stderr, "hvhost: fuzz exit %u (seed %llu, reason %u) trapped: %s\n", i,
				(unsigned long long)seed, e->reason, wasm_rt_strerror(trap));
			return 1;
		}
		if (e->action == ACTION_STOP) {
			core_guest_destroy(0);
			stops++;
		}
	}
	core_guest_destroy(0);
	printf("hvhost: %u random exits, %u guest stops, no trap\n", count, stops);
	return 0;
}

/* Hostile kernel images: a valid multiboot kernel with random bytes
 * changed (often in its headers), loaded into a fresh instance each time.
 * load() may refuse; it may not trap. */
static int fuzz_load(const char *kernel_path, unsigned count, uint64_t seed)
{
	static uint8_t ram[4 << 20] __attribute__((aligned(4096)));
	FILE *f = fopen(kernel_path, "rb");
	if (!f) {
		fprintf(stderr, "hvhost: cannot open %s\n", kernel_path);
		return 2;
	}
	static uint8_t image[1 << 20], mutated[1 << 20];
	size_t size = fread(image, 1, sizeof image, f);
	fclose(f);
	struct boot_module module = { "fuzz", mutated, (uint32_t)size };
	fuzz_state = seed | 1;
	unsigned refused = 0;
	for (unsigned i = 0; i < count; i++) {
		memcpy(mutated, image, size);
		unsigned changes = 1 + fuzz_next() % 8;
		for (unsigned c = 0; c < changes; c++) {
			/* Mostly the first 8 KiB: ELF and multiboot headers. */
			size_t at = fuzz_next() & 1 ? fuzz_next() % (size < 8192 ? size : 8192) : fuzz_next() % size;
			mutated[at] = (uint8_t)fuzz_next();
		}
		memset(ram, 0, sizeof ram);
		struct guest_vmm *vm = make_guest(ram, sizeof ram);
		if (!vm)
			return 1;
		vm->kernel = &module;
		wasm_rt_jmp_buf frame;
		uint32_t status = 0;
		wasm_rt_trap_t trap = CORE_CALL(&frame, status = w2c_guest_load(&vm->instance));
		if (trap) {
			fprintf(stderr, "hvhost: fuzz image %u (seed %llu) trapped the loader: %s\n", i,
				(unsigned long long)seed, wasm_rt_strerror(trap));
			return 1;
		}
		refused += status != 0;
		vm->kernel = NULL;
		core_guest_destroy(0);
	}
	printf("hvhost: %u mutated kernel images, %u refused, no trap\n", count, refused);
	return 0;
}

/* linker/imports.c's console_clean against the byte rule: every byte
 * value at every place of a word and after it, in text of every length up
 * to 24, and every pair of bytes from around the edges (0x1f/0x20,
 * 0x7e/0x7f, 0x80) in one word, where a borrow could hide one. */
static int console_clean_check(void)
{
	static const uint8_t edges[] = { 0x00, 0x09, 0x0a, 0x0d, 0x1b, 0x1f, 0x20, 0x21, 0x41, 0x7e, 0x7f, 0x80, 0x81, 0xfe, 0xff };
	uint8_t text[24];
	char got[24];
	unsigned cases = 0;
	for (unsigned length = 0; length <= sizeof text; length++)
		for (unsigned at = 0; at < length; at++)
			for (unsigned v = 0; v < 256; v++)
				for (unsigned e = 0; e < sizeof edges; e++)
					for (unsigned at2 = at - at % 8; at2 < at - at % 8 + 8 && at2 < length; at2++) {
						memset(text, 'x', sizeof text);
						text[at2] = edges[e];
						text[at] = (uint8_t)v;
						console_clean(got, text, length);
						cases++;
						for (unsigned i = 0; i < length; i++) {
							uint8_t b = text[i];
							char want = (b >= 0x20 && b < 0x7f) || b == '\n' ? (char)b : '?';
							if (got[i] != want) {
								fprintf(stderr, "hvhost: console-clean: length %u, byte %#x at %u, %#x at %u: "
									"place %u gave %#x, not %#x\n", length, v, at, edges[e], at2, i,
									(uint8_t)got[i], (uint8_t)want);
								return 1;
							}
						}
					}
	printf("hvhost: console-clean: %u texts cleaned as byte by byte\n", cases);
	return 0;
}

/* linker/guest_ram.c's guest_ram_zero: every range (page-aligned or not,
 * ragged ends) of a 5-page buffer comes out zero, whatever was in it (no
 * page, one dirty word at any of a page's 8-word groups, all dirty), and
 * nothing outside the range changes. */
static int ram_zero_check(void)
{
	enum { PAGES = 5, BYTES = PAGES * 4096 };
	static uint8_t buffer[BYTES + 4096] __attribute__((aligned(4096)));
	static const uint32_t edges[] = { 0, 1, 7, 8, 63, 64, 4032, 4095, 4096, 4097, 8191, 8192, 12288, 16384, 20479, 20480 };
	unsigned cases = 0;
	for (unsigned dirt = 0; dirt < 4; dirt++)
		for (unsigned s = 0; s < sizeof edges / sizeof edges[0]; s++)
			for (unsigned e = s; e < sizeof edges / sizeof edges[0]; e++)
				for (unsigned word = 0; word < 512; word += dirt == 1 ? 1 : 512) {
					uint32_t start = edges[s], end = edges[e];
					memset(buffer, 0, sizeof buffer);
					if (dirt == 1)
						for (unsigned p = 0; p < PAGES; p++)
							buffer[p * 4096 + word * 8 + word % 8] = 0x5a;
					else if (dirt == 2)
						memset(buffer, 0xa5, BYTES);
					else if (dirt == 3)
						buffer[BYTES - 1] = buffer[4096] = 1;
					uint8_t before[BYTES];
					memcpy(before, buffer, BYTES);
					guest_ram_zero(buffer + start, end - start);
					cases++;
					for (uint32_t i = 0; i < BYTES; i++) {
						uint8_t want = i >= start && i < end ? 0 : before[i];
						if (buffer[i] != want) {
							fprintf(stderr, "hvhost: ram-zero: [%u, %u) dirt %u word %u: byte %u is %#x, not %#x\n",
								start, end, dirt, word, i, buffer[i], want);
							return 1;
						}
					}
				}
	printf("hvhost: ram-zero: %u ranges zeroed, nothing else touched\n", cases);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 4 && !strcmp(argv[1], "fuzz-exits")) {
		wasm_rt_init();
		core_abort_quiet = true;
		return fuzz_exits((unsigned)atoi(argv[2]), strtoull(argv[3], NULL, 0));
	}
	if (argc == 5 && !strcmp(argv[1], "fuzz")) {
		extern int fuzz_main(const char *target, unsigned count, uint64_t seed);
		wasm_rt_init();
		return fuzz_main(argv[2], (unsigned)atoi(argv[3]), strtoull(argv[4], NULL, 0));
	}
	if (argc == 5 && !strcmp(argv[1], "fuzz-load")) {
		wasm_rt_init();
		return fuzz_load(argv[2], (unsigned)atoi(argv[3]), strtoull(argv[4], NULL, 0));
	}
	if (argc == 4 && !strcmp(argv[1], "exits")) {
		wasm_rt_init();
		return drive_exits((unsigned)atoi(argv[2]), argv[3], DRIVE_CORE);
	}
	if (argc == 4 && !strcmp(argv[1], "ref-exits"))
		return drive_exits((unsigned)atoi(argv[2]), argv[3], DRIVE_REFERENCE);
	if (argc == 4 && !strcmp(argv[1], "fill-exits"))
		return drive_exits((unsigned)atoi(argv[2]), argv[3], DRIVE_FILL);
	if (argc == 2 && !strcmp(argv[1], "ram-zero"))
		return ram_zero_check();
	if (argc == 2 && !strcmp(argv[1], "console-clean"))
		return console_clean_check();
	if (argc == 2 && !strcmp(argv[1], "ref-check")) {
		wasm_rt_init();
		return ref_check();
	}
	if (argc == 3 && !strcmp(argv[1], "instances"))
		return core_selftest_instances((unsigned)atoi(argv[2])) ? 0 : 1;
	if (argc >= 3 && !strcmp(argv[1], "config")) {
		for (int i = 2; i < argc; i++)
			add_file(argv[i]);
		unsigned guests = core_init();
		printf("hvhost: init returned %u\n", guests);
		return 0;
	}
	fprintf(stderr, "usage: hvhost instances N | config FILE [MODULE]... | exits N KIND | ref-exits N KIND |\n"
		"       fill-exits N KIND | ref-check | fuzz-exits N SEED | fuzz-load KERNEL N SEED\n"
		"       (KIND: " KIND_LIST ")\n");
	return 2;
}
