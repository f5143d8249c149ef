/*
 * make fuzz: generated and mutated inputs against the core as compiled for
 * the kernel (issue 11), one target at a time:
 *   hvhost fuzz config  N SEED   mutated configs through the supervisor's init
 *   hvhost fuzz decoder N SEED   MMIO exits with random instruction bytes
 *   hvhost fuzz loaders N SEED   mutated multiboot ELF and bzImage headers
 *   hvhost fuzz devices N SEED   port and MMIO accesses to every device model
 * Each prints "fuzz <target>: <N> inputs, <T> traps, <E> errors": errors
 * are clean rejections (a config error, a refused image, a guest the core
 * stopped); traps must be 0. A trapping input is written to
 * build/fuzz/<target>-<seed>-<i>.bin so it can be kept as a regression
 * case. No coverage feedback: a xorshift generator, so runs repeat.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hv.h"
#include "core.h"
#include "exit_record.h"

void host_add_module(const char *name, const uint8_t *data, uint32_t size);

/* The harness's xorshift generator (harness.c). */
extern uint64_t fuzz_state;
uint64_t fuzz_next(void);
#define next fuzz_next

static void keep(const char *target, uint64_t seed, unsigned i, const void *data, size_t size)
{
	char path[256];
	snprintf(path, sizeof path, "build/fuzz/%s-%llu-%u.bin", target, (unsigned long long)seed, i);
	FILE *f = fopen(path, "wb");
	if (f) {
		fwrite(data, 1, size, f);
		fclose(f);
	}
}

/* Bytes flipped, inserted or removed, mostly in the first `hot` bytes. */
static size_t mutate(uint8_t *out, const uint8_t *in, size_t size, size_t capacity, size_t hot)
{
	memcpy(out, in, size);
	unsigned changes = 1 + next() % 8;
	for (unsigned c = 0; c < changes && size > 0; c++) {
		size_t at = next() & 1 ? next() % (size < hot ? size : hot) : next() % size;
		switch (next() % 4) {
		case 0: case 1: out[at] = (uint8_t)next(); break;
		case 2: if (size < capacity) { memmove(out + at + 1, out + at, size - at); out[at] = (uint8_t)next(); size++; } break;
		case 3: memmove(out + at, out + at + 1, size - at - 1); size--; break;
		}
	}
	return size;
}

static const char base_config[] =
	"[hypervisor]\ntimeslice_ms = 10\n\n"
	"[[guest]]\nname = \"web\"\nkernel = \"k.elf\"\ninitrd = \"i.cpio\"\ncmdline = \"console=ttyS0 a=\\\"b\\\"\"\n"
	"memory = \"256M\"\nvcpus = 2\ncpus = [0, 1]\non_crash = \"restart\"\nmax_restarts = 3\nstop_after_ms = 100\n\n"
	"[[guest]]\nname = \"db\"\nkernel = \"k.elf\"\nmemory = \"8M\"\n";

static unsigned fuzz_config(unsigned count, uint64_t seed, unsigned *traps)
{
	static uint8_t text[8192];
	static const uint8_t elf[] = "not a kernel";
	host_add_module("hv.toml", text, 0);
	host_add_module("k.elf", elf, sizeof elf);
	host_add_module("i.cpio", elf, sizeof elf);
	const struct boot_module *config = boot_module_get(0);
	unsigned errors = 0;
	core_init();   /* the supervisor, once; init() again for each input */
	for (unsigned i = 0; i < count; i++) {
		size_t size = mutate(text, (const uint8_t *)base_config, sizeof base_config - 1, sizeof text, 256);
		((struct boot_module *)config)->size = (uint32_t)size;
		wasm_rt_jmp_buf frame;
		uint32_t bad = 0;
		wasm_rt_trap_t trap = CORE_CALL(&frame, (w2c_supervisor_init(&core_supervisor),
							  bad = w2c_supervisor_configErrors(&core_supervisor)));
		if (trap) {
			(*traps)++;
			keep("config", seed, i, text, size);
			return errors;
		}
		errors += bad != 0;
	}
	return errors;
}

static struct exit_record *record0(void)
{
	uint32_t offset = w2c_guest_exitRecord(&core_guests[0].instance, 0);
	return (struct exit_record *)(core_guests[0].instance.w2c_memory.data + offset);
}

/* One exit through a fresh-enough instance: re-created after a stop. */
static bool exit_once(uint8_t *ram, uint64_t ram_bytes, unsigned *stops, wasm_rt_trap_t *trap)
{
	*trap = core_guest_handle_exit(0, 0);
	if (*trap)
		return false;
	struct exit_record *e = record0();
	if (e->action == ACTION_STOP) {
		(*stops)++;
		core_guest_destroy(0);
		if (core_guest_create(0, 0, ram_bytes))
			return false;
		core_guests[0].ram = ram;
		core_guests[0].ram_bytes = ram_bytes;
	}
	return true;
}

static void base_record(struct exit_record *e)
{
	memset(e, 0, offsetof(struct exit_record, action));
	e->rip = 0x1000;
	e->rflags = 0x202;
	e->cr0 = 0x11;                 /* protected mode, paging off */
	e->cs.attributes = 0xc9b;
	e->cs.limit = 0xffffffff;
	e->ss.attributes = e->ds.attributes = e->es.attributes = 0xc93;
	e->ss.limit = e->ds.limit = e->es.limit = 0xffffffff;
}

static const uint64_t mmio_bases[] = { 0xFEE00000ull, 0xFEC00000ull, 0xF0000000ull, 0xFED00000ull };
static const uint16_t ports[] = { 0x20, 0x21, 0x40, 0x43, 0x60, 0x61, 0x64, 0x70, 0x71, 0x80, 0x92,
				  0xa0, 0xa1, 0xcf8, 0xcfc, 0x3f8, 0x3fd, 0x600, 0x604, 0x608, 0xf4 };

static unsigned fuzz_decoder_or_devices(bool decoder, unsigned count, uint64_t seed, unsigned *traps)
{
	static uint8_t ram[4 << 20] __attribute__((aligned(4096)));
	if (core_guest_create(0, 0, sizeof ram))
		return 0;
	core_guests[0].ram = ram;
	core_guests[0].ram_bytes = sizeof ram;
	unsigned stops = 0;
	for (unsigned i = 0; i < count; i++) {
		struct exit_record *e = record0();
		base_record(e);
		for (int r = 0; r < 16; r++)
			e->gpr[r] = next() & 1 ? next() : next() % 0x2000;
		if (decoder || next() & 1) {
			/* An MMIO exit: a device page (or no device), random bytes at RIP. */
			e->reason = EXIT_NESTED_PAGE_FAULT;
			e->gpa = mmio_bases[next() % 4] + next() % 0x1000;
			e->access = next() & 1 ? EXIT_ACCESS_WRITE : EXIT_ACCESS_READ;
			for (unsigned k = 0; k < 16; k++)
				ram[e->rip + k] = (uint8_t)next();
			if (!decoder)
				ram[e->rip] = (uint8_t)(0x88 + next() % 4), ram[e->rip + 1] = (uint8_t)(next() & 0x3f);
			if (next() & 1)
				e->cr0 = 0x80000011, e->cr3 = 0x100000, e->cr4 = next() & 0x20;   /* paging on: tables of random bytes */
		} else {
			e->reason = EXIT_IO;
			e->port = (uint16_t)(ports[next() % (sizeof ports / sizeof ports[0])] + next() % 4);
			e->io_size = (uint8_t)(1u << (next() % 3));
			e->io_flags = next() & 1 ? EXIT_IO_IN : 0;
			e->instruction_length = 1;
		}
		wasm_rt_trap_t trap;
		if (!exit_once(ram, sizeof ram, &stops, &trap)) {
			if (trap) {
				(*traps)++;
				keep(decoder ? "decoder" : "devices", seed, i, e, sizeof *e);
			}
			break;
		}
	}
	core_guest_destroy(0);
	return stops;
}

static unsigned fuzz_loaders(unsigned count, uint64_t seed, unsigned *traps)
{
	static uint8_t ram[16 << 20] __attribute__((aligned(4096)));
	static uint8_t images[2][1 << 20], mutated[(1 << 20) + 64];
	size_t sizes[2] = { 0, 0 };
	FILE *f = fopen("build/guests/hello.elf", "rb");
	if (f) {
		sizes[0] = fread(images[0], 1, sizeof images[0], f);
		fclose(f);
	}
	/* A bzImage header (the Linux boot protocol, as bzimage.spec builds it). */
	uint8_t *bz = images[1];
	sizes[1] = 0x4000;
	bz[0x1f1] = 4; bz[0x1fe] = 0x55; bz[0x1ff] = 0xaa; bz[0x200] = 0xeb; bz[0x201] = 0x6a;
	memcpy(bz + 0x202, "HdrS", 4); bz[0x206] = 0x0f; bz[0x207] = 0x02; bz[0x211] = 1;
	bz[0x22c] = 0xff; bz[0x22d] = 0xff; bz[0x22e] = 0xff; bz[0x22f] = 0x7f; bz[0x232] = 0x20; bz[0x234] = 1;
	bz[0x236] = 0x7f; bz[0x238] = 0xff; bz[0x239] = 0x07; bz[0x25a] = 0x00; bz[0x25b] = 0x01; bz[0x262] = 0x40;
	struct boot_module module = { "fuzz", mutated, 0 };
	unsigned refused = 0;
	for (unsigned i = 0; i < count; i++) {
		unsigned which = sizes[0] ? (unsigned)(next() & 1) : 1;
		module.size = (uint32_t)mutate(mutated, images[which], sizes[which], sizeof mutated, which ? 0x300 : 8192);
		if (core_guest_create(0, 0, sizeof ram))
			return refused;
		core_guests[0].ram = ram;
		core_guests[0].ram_bytes = sizeof ram;
		core_guests[0].kernel = &module;
		wasm_rt_jmp_buf frame;
		uint32_t status = 0;
		wasm_rt_trap_t trap = CORE_CALL(&frame, status = w2c_guest_load(&core_guests[0].instance));
		core_guests[0].kernel = NULL;
		core_guest_destroy(0);
		if (trap) {
			(*traps)++;
			keep("loaders", seed, i, mutated, module.size);
			break;
		}
		refused += status != 0;
	}
	return refused;
}

int fuzz_main(const char *target, unsigned count, uint64_t seed)
{
	fuzz_state = seed | 1;
	unsigned traps = 0, errors;
	core_abort_quiet = true;
	if (!strcmp(target, "config"))
		errors = fuzz_config(count, seed, &traps);
	else if (!strcmp(target, "decoder"))
		errors = fuzz_decoder_or_devices(true, count, seed, &traps);
	else if (!strcmp(target, "devices"))
		errors = fuzz_decoder_or_devices(false, count, seed, &traps);
	else if (!strcmp(target, "loaders"))
		errors = fuzz_loaders(count, seed, &traps);
	else {
		fprintf(stderr, "hvhost: fuzz targets: config, decoder, loaders, devices\n");
		return 2;
	}
	printf("fuzz %s: %u inputs, %u traps, %u errors\n", target, count, traps, errors);
	return traps ? 1 : 0;
}
