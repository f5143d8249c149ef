/*
 * hvhost: the core, compiled through wasm2c exactly as in the kernel, as a
 * Linux program.
 *   hvhost instances N            create, exercise, trap and drop N guest VMMs
 *   hvhost config FILE [MODULE]…  run the supervisor's init on a config
 *                                 (modules are named as given)
 *   hvhost exits N cpuid|io|msr   N synthetic exits through one guest VMM
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

/* Drives one guest VMM instance with `count` synthetic exits of one kind,
 * as the stub would (for callgrind: instructions per exit in the core). */
static int drive_exits(unsigned count, const char *kind)
{
	static uint8_t ram[4 << 20] __attribute__((aligned(4096)));
	wasm_rt_trap_t trap = core_guest_create(0, 0, sizeof ram);
	if (trap) {
		fprintf(stderr, "hvhost: create: %s\n", wasm_rt_strerror(trap));
		return 1;
	}
	struct guest_vmm *vm = &core_guests[0];
	vm->ram = ram;
	vm->ram_bytes = sizeof ram;
	uint32_t offset = w2c_guest_exitRecord(&vm->instance);
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
		trap = core_guest_handle_exit(0);
		if (trap || e->action != ACTION_RESUME) {
			fprintf(stderr, "hvhost: exit %u: trap %s, action %u\n", i, wasm_rt_strerror(trap), e->action);
			return 1;
		}
	}
	printf("hvhost: %u %s exits handled\n", count, kind);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
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
