/*
 * make fuzz's targets, each an input format, its seeds, its structure-aware
 * mutator and how one input runs through the core:
 *   config   TOML text through the supervisor's init (module
 *            tests/configs/hv.toml, so the real configs' paths resolve)
 *   decoder  a list of MMIO exits, instruction bytes at RIP (fuzz_exits.c)
 *   loaders  a kernel image (multiboot ELF, bzImage) through load()
 *   devices  a list of port, MMIO, MSR and timer exits to the device models
 *            (fuzz_exits.c)
 * The guest VMM targets start each input from the same freshly created
 * instance: its globals and linear memory saved once and put back (128 KiB,
 * far cheaper than a new instance), so an input replays alone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hv.h"
#include "core.h"
#include "exit_record.h"
#include "fuzz_targets.h"

#define next fuzz_next
void host_add_module(const char *name, const uint8_t *data, uint32_t size);

const char *fuzz_trap_name(wasm_rt_trap_t trap)
{
	return wasm_rt_strerror(trap);
}

/* --- the saved fresh instance ------------------------------------------- */

static w2c_guest fresh_instance;
static uint8_t *fresh_memory;
static uint64_t fresh_bytes;

void fuzz_make_fresh(uint8_t *ram, uint64_t ram_bytes)
{
	if (core_guest_create(0, 0, ram_bytes)) {
		fprintf(stderr, "hvhost: fuzz: cannot create a guest VMM instance\n");
		exit(2);
	}
	core_guests[0].ram = ram;
	core_guests[0].ram_bytes = ram_bytes;
	fresh_instance = core_guests[0].instance;
	fresh_bytes = fresh_instance.w2c_memory.size;
	fresh_memory = malloc(fresh_bytes);
	memcpy(fresh_memory, fresh_instance.w2c_memory.data, fresh_bytes);
}

void fuzz_back_to_fresh(void)
{
	/* The memory's place and size never change (no memory.grow). */
	memcpy(core_guests[0].instance.w2c_memory.data, fresh_memory, fresh_bytes);
	core_guests[0].instance = fresh_instance;
	core_guests[0].kernel = core_guests[0].initrd = NULL;
}

/* --- config -------------------------------------------------------------- */

static const char base_config[] =
	"[hypervisor]\ntimeslice_ms = 10\n\n"
	"[[guest]]\nname = \"web\"\nkernel = \"k.elf\"\ninitrd = \"i.cpio\"\ncmdline = \"console=ttyS0 a=\\\"b\\\"\"\n"
	"memory = \"256M\"\nvcpus = 2\ncpus = [0, 1]\non_crash = \"restart\"\nmax_restarts = 3\nstop_after_ms = 100\n\n"
	"[[guest]]\nname = \"db\"\nkernel = \"k.elf\"\nmemory = \"8M\"\n";

static struct boot_module *config_module;

static void config_setup(void)
{
	static const uint8_t image[] = "not a kernel";
	/* The config's folder is tests/configs, as the real ones'. */
	static const char *const names[] = {
		"tests/configs/k.elf", "tests/configs/i.cpio", "tests/configs/images/tiny.elf",
		"tests/configs/images/tiny.cpio", "build/linux/vmlinuz", "build/linux/initrd.gz",
		"build/guests/hello.elf", "build/guests/memtest.elf", "build/guests/power.elf",
		"build/guests/idle.elf", "build/guests/longmode.elf", "build/guests/echo.elf",
	};
	host_add_module("tests/configs/hv.toml", (const uint8_t *)"", 0);
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		host_add_module(names[i], image, sizeof image);
	config_module = (struct boot_module *)boot_module_get(0);
	core_init();   /* the supervisor, once; init() again for each input */
}

static void config_seed(struct fuzz_corpus *c)
{
	fuzz_corpus_add(c, (const uint8_t *)base_config, sizeof base_config - 1);
	fuzz_corpus_add_files(c, "tests/configs/*.toml", 8192);
}

/* Bytes flipped, inserted or removed, mostly in the first `hot` bytes
 * (the mutator make fuzz had before coverage, kept). */
static size_t mutate_bytes(uint8_t *out, size_t size, size_t capacity, size_t hot)
{
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

/* What a value in hv.toml can be, and lines a config can have. */
static const char *const toml_values[] = {
	"0", "1", "-1", "2", "64", "65", "255", "4096", "9223372036854775807", "9223372036854775808",
	"18446744073709551616", "0x10", "0o7", "0b1", "1_000", "1e3", "+1", "true", "false", "\"\"",
	"\"a\"", "\"4G\"", "\"0M\"", "\"1K\"", "\"16T\"", "\"256M\"", "\"restart\"", "\"stop\"", "\"halt\"",
	"[]", "[0]", "[0, 1, 2, 3, 4, 5, 6, 7, 8]", "[1, 1]", "[\"a\"]", "{}", "'lit'", "\"\\u0000\"",
	"\"\\\"\"", "\"a\\tb\"", "\"\"\"x\"\"\"", "\"../../build/guests/hello.elf\"", "\"/abs\"",
};
static const char *const toml_lines[] = {
	"[hypervisor]\n", "[[guest]]\n", "[guest]\n", "name = \"x\"\n", "kernel = \"k.elf\"\n",
	"initrd = \"i.cpio\"\n", "memory = \"1M\"\n", "vcpus = 8\n", "cpus = [0]\n", "console = \"com1\"\n",
	"on_crash = \"restart\"\n", "max_restarts = 0\n", "stop_after_ms = 1\n", "timeslice_ms = 1\n",
	"cmdline = \"\"\n", "# comment\n", "\n", "\r\n", "a.b = 1\n", "= 1\n", "x =\n", "[\n",
};

/* Line-wise: a value replaced, a line inserted, duplicated or deleted. */
static size_t config_mutate(uint8_t *out, size_t size, size_t capacity)
{
	if (next() % 3 == 0)
		return mutate_bytes(out, size, capacity, 256);
	/* Line starts, to pick one. */
	size_t starts[512], lines = 0;
	for (size_t i = 0; i < size && lines < 512; i++)
		if (i == 0 || out[i - 1] == '\n')
			starts[lines++] = i;
	if (!lines)
		starts[lines++] = 0;
	size_t l = next() % lines, at = starts[l];
	size_t end = l + 1 < lines ? starts[l + 1] : size;
	const char *insert = NULL;
	size_t drop = 0, from = at;
	switch (next() % 4) {
	case 0: {   /* the value after '=' */
		const uint8_t *eq = memchr(out + at, '=', end - at);
		if (!eq)
			return mutate_bytes(out, size, capacity, 256);
		from = (size_t)(eq - out) + 2 > end ? end : (size_t)(eq - out) + 2;
		drop = end - from;
		if (drop && out[end - 1] == '\n')
			drop--;
		insert = toml_values[next() % (sizeof toml_values / sizeof toml_values[0])];
		break;
	}
	case 1: insert = toml_lines[next() % (sizeof toml_lines / sizeof toml_lines[0])]; break;
	case 2: drop = end - at; break;
	case 3: {   /* the line twice */
		size_t n = end - at;
		if (size + n > capacity)
			return size;
		memmove(out + end + n, out + end, size - end);
		memcpy(out + end, out + at, n);
		return size + n;
	}
	}
	size_t n = insert ? strlen(insert) : 0;
	if (size - drop + n > capacity)
		return size;
	memmove(out + from + n, out + from + drop, size - from - drop);
	if (n)
		memcpy(out + from, insert, n);
	return size - drop + n;
}

static enum fuzz_outcome config_run(const uint8_t *in, size_t size, const char **trap_out)
{
	config_module->data = in;
	config_module->size = (uint32_t)size;
	wasm_rt_jmp_buf frame;
	uint32_t bad = 0;
	wasm_rt_trap_t trap = CORE_CALL(&frame, (w2c_supervisor_init(&core_supervisor),
						  bad = w2c_supervisor_configErrors(&core_supervisor)));
	if (trap) {
		*trap_out = fuzz_trap_name(trap);
		return FUZZ_TRAP;
	}
	return bad ? FUZZ_ERROR : FUZZ_OK;
}

/* --- loaders -------------------------------------------------------------- */

static uint8_t loader_ram[16 << 20] __attribute__((aligned(4096)));

static void loaders_setup(void)
{
	fuzz_make_fresh(loader_ram, sizeof loader_ram);
}

/* The Debian 12 kernel's setup header, from tests/unit/guest/loaders/
 * bzimage.spec.ts (DEBIAN_HEADER, bytes 0x1F1-0x26F), in an image of
 * `size` bytes; 0 if the spec is not there. */
static size_t debian_header(uint8_t *image, size_t size)
{
	size_t text_size;
	char *text = (char *)fuzz_read_file("tests/unit/guest/loaders/bzimage.spec.ts", &text_size);
	if (!text)
		return 0;
	text = realloc(text, text_size + 1);
	text[text_size] = 0;
	char *p = strstr(text, "const DEBIAN_HEADER: u8[] = [");
	size_t n = 0;
	memset(image, 0, size);
	if (p) {
		p = strchr(p, '[') + 1;
		p = strchr(p, '[') + 1;
		unsigned byte;
		int used;
		while (0x1f1 + n < size && sscanf(p, " 0x%x ,%n", &byte, &used) == 1) {
			image[0x1f1 + n++] = (uint8_t)byte;
			p += used;
		}
	}
	free(text);
	return n ? size : 0;
}

static void loaders_seed(struct fuzz_corpus *c)
{
	static uint8_t bz[64 << 10];
	fuzz_corpus_add_files(c, "build/guests/*.elf", 1 << 20);
	fuzz_corpus_add_files(c, "tests/configs/images/*.elf", 1 << 20);
	/* A bzImage header (the Linux boot protocol, as bzimage.spec builds it). */
	memset(bz, 0, 0x4000);
	bz[0x1f1] = 4; bz[0x1fe] = 0x55; bz[0x1ff] = 0xaa; bz[0x200] = 0xeb; bz[0x201] = 0x6a;
	memcpy(bz + 0x202, "HdrS", 4); bz[0x206] = 0x0f; bz[0x207] = 0x02; bz[0x211] = 1;
	bz[0x22c] = 0xff; bz[0x22d] = 0xff; bz[0x22e] = 0xff; bz[0x22f] = 0x7f; bz[0x232] = 0x20; bz[0x234] = 1;
	bz[0x236] = 0x7f; bz[0x238] = 0xff; bz[0x239] = 0x07; bz[0x25a] = 0x00; bz[0x25b] = 0x01; bz[0x262] = 0x40;
	fuzz_corpus_add(c, bz, 0x4000);
	/* Debian's header as shipped (its image cut short: refused), and with
	 * syssize and init_size shrunk to fit 64 KiB and this guest's 16 MiB. */
	if (debian_header(bz, 0x4000)) {
		fuzz_corpus_add(c, bz, 0x4000);
		debian_header(bz, sizeof bz);
		uint32_t kernel_at = (bz[0x1f1] + 1) * 512, syssize = (uint32_t)(sizeof bz - kernel_at) / 16;
		uint32_t init_size = 0x800000;
		memcpy(bz + 0x1f4, &syssize, 4);
		memcpy(bz + 0x260, &init_size, 4);
		fuzz_corpus_add(c, bz, sizeof bz);
	}
}

/* Header fields, (offset, width), that a loader reads. */
struct field { uint16_t offset; uint8_t width; };
static const struct field bz_fields[] = {
	{ 0x1f1, 1 }, { 0x1f4, 4 }, { 0x1fe, 2 }, { 0x202, 4 }, { 0x206, 2 }, { 0x210, 1 }, { 0x211, 1 },
	{ 0x214, 4 }, { 0x218, 4 }, { 0x21c, 4 }, { 0x224, 2 }, { 0x228, 4 }, { 0x22c, 4 }, { 0x230, 4 },
	{ 0x234, 1 }, { 0x235, 1 }, { 0x236, 2 }, { 0x238, 4 }, { 0x248, 4 }, { 0x24c, 4 }, { 0x250, 8 },
	{ 0x258, 8 }, { 0x260, 4 }, { 0x264, 4 }, { 0x268, 4 },
};
static const struct field elf64_fields[] = {
	{ 4, 1 }, { 5, 1 }, { 16, 2 }, { 18, 2 }, { 20, 4 }, { 24, 8 }, { 32, 8 }, { 40, 8 }, { 52, 2 },
	{ 54, 2 }, { 56, 2 }, { 58, 2 }, { 60, 2 }, { 62, 2 },
};
static const struct field elf32_fields[] = {
	{ 4, 1 }, { 5, 1 }, { 16, 2 }, { 18, 2 }, { 24, 4 }, { 28, 4 }, { 32, 4 }, { 40, 2 }, { 42, 2 },
	{ 44, 2 }, { 46, 2 }, { 48, 2 },
};
static const struct field phdr64_fields[] = { { 0, 4 }, { 4, 4 }, { 8, 8 }, { 16, 8 }, { 24, 8 }, { 32, 8 }, { 40, 8 }, { 48, 8 } };
static const struct field phdr32_fields[] = { { 0, 4 }, { 4, 4 }, { 8, 4 }, { 12, 4 }, { 16, 4 }, { 20, 4 }, { 24, 4 }, { 28, 4 } };
static const struct field multiboot_fields[] = { { 4, 4 }, { 8, 4 }, { 12, 4 }, { 16, 4 }, { 20, 4 }, { 24, 4 }, { 28, 4 } };

static uint64_t field_get(const uint8_t *p, unsigned width)
{
	uint64_t v = 0;
	memcpy(&v, p, width);
	return v;
}

/* A value a field could be given: a boundary, near the RAM's or the
 * image's size, or near what it was. */
static uint64_t field_value(uint64_t old, size_t image_size)
{
	static const uint64_t values[] = { 0, 1, 2, 0xff, 0x100, 0xfff, 0x1000, 0xffff, 0x10000, 0x100000,
					   0x200000, 0xffffff, 0x1000000, 0x1000001, 0x7fffffff, 0x80000000,
					   0xffffffff, 0x100000000ull, 0x7fffffffffffffffull, ~0ull };
	switch (next() % 4) {
	case 0: return values[next() % COUNT(values)];
	case 1: return image_size + (next() % 17) - 8;
	case 2: return old + (next() % 33) - 16;
	default: return old ^ (1ull << (next() % 64));
	}
}

static void set_field(uint8_t *image, size_t size, size_t base, const struct field *fields, size_t count)
{
	const struct field *f = &fields[next() % count];
	if (base + f->offset + f->width > size)
		return;
	uint64_t v = field_value(field_get(image + base + f->offset, f->width), size);
	memcpy(image + base + f->offset, &v, f->width);
}

/* A header field given a value, else the old byte mutator (mostly in the
 * headers). A multiboot header keeps its checksum right most times, so
 * the loader looks past it. */
static size_t loaders_mutate(uint8_t *out, size_t size, size_t capacity)
{
	bool bz = size > 0x206 && !memcmp(out + 0x202, "HdrS", 4);
	bool elf = size > 64 && !memcmp(out, "\177ELF", 4);
	if (next() % 3 == 0 || (!bz && !elf))
		return mutate_bytes(out, size, capacity, bz ? 0x300 : 8192);
	if (bz) {
		set_field(out, size, 0, bz_fields, COUNT(bz_fields));
		return size;
	}
	bool is64 = out[4] == 2;
	unsigned pick = (unsigned)(next() % 3);
	if (pick == 0) {
		set_field(out, size, 0, is64 ? elf64_fields : elf32_fields, is64 ? COUNT(elf64_fields) : COUNT(elf32_fields));
	} else if (pick == 1) {
		uint64_t phoff = is64 ? field_get(out + 32, 8) : field_get(out + 28, 4);
		unsigned phnum = (unsigned)field_get(out + (is64 ? 56 : 44), 2);
		unsigned phentsize = (unsigned)field_get(out + (is64 ? 54 : 42), 2);
		if (phnum && phoff < size)
			set_field(out, size, phoff + (next() % phnum) * phentsize, is64 ? phdr64_fields : phdr32_fields, 8);
	} else {
		for (size_t at = 0; at + 32 <= size && at < 8192; at += 4) {
			if (field_get(out + at, 4) != 0x1BADB002)
				continue;
			set_field(out, size, at, multiboot_fields, COUNT(multiboot_fields));
			if (next() % 4) {
				uint32_t checksum = -(uint32_t)(0x1BADB002u + (uint32_t)field_get(out + at + 4, 4));
				memcpy(out + at + 8, &checksum, 4);
			}
			break;
		}
	}
	return size;
}

static enum fuzz_outcome loaders_run(const uint8_t *in, size_t size, const char **trap_out)
{
	static struct boot_module module = { "fuzz", NULL, 0 };
	fuzz_back_to_fresh();
	module.data = in;
	module.size = (uint32_t)size;
	core_guests[0].kernel = &module;
	wasm_rt_jmp_buf frame;
	uint32_t status = 0;
	wasm_rt_trap_t trap = CORE_CALL(&frame, status = w2c_guest_load(&core_guests[0].instance));
	core_guests[0].kernel = NULL;
	if (trap) {
		*trap_out = fuzz_trap_name(trap);
		return FUZZ_TRAP;
	}
	return status ? FUZZ_ERROR : FUZZ_OK;
}

const struct fuzz_target fuzz_targets[] = {
	{ "config", 8192, 1, 20000, config_setup, config_seed, NULL, config_mutate, config_run },
	{ "decoder", 4 * FUZZ_EXIT_BYTES, FUZZ_EXIT_BYTES, 20000, fuzz_exits_setup, fuzz_decoder_seed,
	  fuzz_exits_generate, fuzz_exits_mutate, fuzz_decoder_run },
	{ "loaders", (1 << 20) + 64, 1, 3000, loaders_setup, loaders_seed, NULL, loaders_mutate, loaders_run },
	{ "devices", 8 * FUZZ_EXIT_BYTES, FUZZ_EXIT_BYTES, 20000, fuzz_exits_setup, fuzz_devices_seed,
	  fuzz_exits_generate, fuzz_exits_mutate, fuzz_devices_run },
};
const unsigned fuzz_target_count = COUNT(fuzz_targets);
