/*
 * hvhost: the core, compiled through wasm2c exactly as in the kernel, as a
 * Linux program.
 *   hvhost instances N            create, exercise, trap and drop N guest VMMs
 *   hvhost config FILE [MODULE]…  run the supervisor's init on a config
 *                                 (modules are named as given)
 *   hvhost exits N cpuid|io|msr   N synthetic exits through one guest VMM
 *   hvhost fuzz-exits N SEED      N random exit records; none may trap
 *   hvhost fuzz-load KERNEL N SEED   N mutated kernel images; none may trap
 * Exit status: 0 on success, 1 on failure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hv.h"
#include "core.h"
#include "exit_record.h"

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

/* Drives one guest VMM instance with `count` synthetic exits of one kind,
 * as the stub would (for callgrind: instructions per exit in the core). */
static int drive_exits(unsigned count, const char *kind)
{
	static uint8_t ram[4 << 20] __attribute__((aligned(4096)));
	struct guest_vmm *vm = make_guest(ram, sizeof ram);
	if (!vm)
		return 1;
	wasm_rt_trap_t trap;
	uint32_t offset = w2c_guest_exitRecord(&vm->instance, 0);
	struct exit_record *e = (struct exit_record *)(vm->instance.w2c_memory.data + offset);
	for (unsigned i = 0; i < count; i++) {
		memset(e, 0, sizeof *e);
		e->rip = 0x100000;
		e->rflags = 0x202;
		e->cr0 = 0x11;
		if (!strcmp(kind, "cpuid")) {
			e->reason = EXIT_CPUID;
			e->gpr[RAX] = i & 1 ? 1 : 0x80000001;
			e->instruction_length = 2;
		} else if (!strcmp(kind, "io")) {   /* a byte to the UART's scratch register */
			e->reason = EXIT_IO;
			e->port = 0x3ff;
			e->io_size = 1;
			e->gpr[RAX] = i & 0xff;
			e->instruction_length = 1;
		} else if (!strcmp(kind, "msr")) {  /* read IA32_PAT */
			e->reason = EXIT_MSR_READ;
			e->msr = 0x277;
			e->gpr[RCX] = 0x277;
			e->instruction_length = 2;
		} else {
			fprintf(stderr, "hvhost: unknown exit kind %s (cpuid, io, msr)\n", kind);
			return 2;
		}
		trap = core_guest_handle_exit(0, 0);
		if (trap || e->action != ACTION_RESUME) {
			fprintf(stderr, "hvhost: exit %u: trap %s, action %u\n", i, wasm_rt_strerror(trap), e->action);
			return 1;
		}
	}
	printf("hvhost: %u %s exits handled\n", count, kind);
	return 0;
}

/* A small deterministic PRNG (xorshift64*): fuzz runs repeat exactly. */
static uint64_t fuzz_state;
static uint64_t fuzz_next(void)
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

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 4 && !strcmp(argv[1], "fuzz-exits")) {
		wasm_rt_init();
		core_abort_quiet = true;
		return fuzz_exits((unsigned)atoi(argv[2]), strtoull(argv[3], NULL, 0));
	}
	if (argc == 5 && !strcmp(argv[1], "fuzz-load")) {
		wasm_rt_init();
		return fuzz_load(argv[2], (unsigned)atoi(argv[3]), strtoull(argv[4], NULL, 0));
	}
	if (argc == 4 && !strcmp(argv[1], "exits")) {
		wasm_rt_init();
		return drive_exits((unsigned)atoi(argv[2]), argv[3]);
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
	fprintf(stderr, "usage: hvhost instances N | hvhost config FILE [MODULE]...\n");
	return 2;
}
