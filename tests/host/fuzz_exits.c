/*
 * make fuzz's decoder and devices targets: an input is a list of exits
 * (struct fuzz_exit, 40 bytes each), run one after the other on the same
 * freshly created guest VMM instance (fuzz_targets.c keeps it). The decoder
 * sees instruction bytes at RIP in real, protected, paged and long mode;
 * the devices see port, MMIO, MSR and timer exits, as drivers make them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hv.h"
#include "core.h"
#include "exit_record.h"
#include "fuzz_targets.h"

#define next fuzz_next

/* One exit of a decoder or devices input, 40 bytes. */
struct fuzz_exit {
	uint8_t kind;      /* devices: 0 port I/O, 1 MMIO, 2 MSR, 3 HLT/window/wake/interrupt */
	uint8_t which;     /* the device page, port, MSR or exit, modulo its table */
	uint16_t offset;   /* into the page (mod 4 KiB), past the port (mod 8), the x2APIC MSR */
	uint8_t flags;     /* bit 0 write / IN, bits 1-2 I/O size, bits 3-4 CPU mode, bit 5 PAE */
	uint8_t io;        /* bit 0 string I/O, bit 1 REP */
	uint8_t pad[2];
	uint8_t code[16];  /* the instruction at RIP */
	uint64_t value[2]; /* the even and the odd general registers */
};
#define EXIT_BYTES FUZZ_EXIT_BYTES
#define MAX_EXITS (FUZZ_EXITS_CAPACITY / FUZZ_EXIT_BYTES)
_Static_assert(sizeof(struct fuzz_exit) == 40, "fuzz_exit is 40 bytes");

static uint8_t exit_ram[4 << 20] __attribute__((aligned(4096)));
#define CODE_GPA   0x1000ull
#define TABLES_GPA 0x10000ull   /* long mode: PML4, PDPT, PD for 0-1 GiB, PD for 3-4 GiB */
#define HOSTILE_CR3 0x100000ull

static const uint64_t mmio_bases[] = { 0xFEE00000ull, 0xFEC00000ull, 0xF0000000ull, 0xFED00000ull };
static const uint16_t ports[] = { 0x20, 0x21, 0x40, 0x43, 0x60, 0x61, 0x64, 0x70, 0x71, 0x80, 0x92,
				  0xa0, 0xa1, 0xcf8, 0xcfc, 0x3f8, 0x3fd, 0x600, 0x604, 0x608, 0xf4, 0x4d0, 0xed };
static const uint32_t msrs[] = { 0x1b, 0x6e0, 0x277, 0xc0000080, 0x10, 0x3a, 0x48, 0x49, 0x10a,
				 0xc0000103, 0x4b564d00, 0x4b564d01, 0x40000000 };

static struct exit_record *record0(void)
{
	uint32_t offset = w2c_guest_exitRecord(&core_guests[0].instance, 0);
	return (struct exit_record *)(core_guests[0].instance.w2c_memory.data + offset);
}

void fuzz_exits_setup(void)
{
	fuzz_make_fresh(exit_ram, sizeof exit_ram);
}

static void segment(struct exit_segment *s, uint16_t attributes, uint32_t limit)
{
	s->selector = 0x10;
	s->attributes = attributes;
	s->limit = limit;
	s->base = 0;
}

/* The CPU state of one exit: mode 0 flat 32-bit, paging off; 1 paging on
 * over a table of the input's own bytes; 2 long mode over identity
 * tables; 3 real mode. */
static void cpu_mode(struct exit_record *e, const struct fuzz_exit *x)
{
	e->rip = CODE_GPA;
	e->rflags = 0x202;
	unsigned mode = (x->flags >> 3) & 3;
	uint16_t data = 0xc93, code = 0xc9b;
	uint32_t limit = 0xffffffff;
	e->cr0 = 0x11;
	if (mode == 1) {
		e->cr0 = 0x80000011;
		e->cr3 = HOSTILE_CR3;
		e->cr4 = x->flags & 0x20 ? 0x20 : 0x10;   /* PAE, else PSE */
		memset(exit_ram + HOSTILE_CR3, 0, 64);
		memcpy(exit_ram + HOSTILE_CR3, x->value, 16);
		memcpy(exit_ram + HOSTILE_CR3 + 24, x->code, 16);   /* PDPTE 3 / PDE 3 */
	} else if (mode == 2) {
		/* 2 MiB pages over 0-1 GiB and 3-4 GiB (the devices), written
		 * each time: a string IN may have landed on them. */
		uint64_t *t = (uint64_t *)(exit_ram + TABLES_GPA);
		memset(t, 0, 0x2000);
		t[0] = (TABLES_GPA + 0x1000) | 0x23;
		t[512] = (TABLES_GPA + 0x2000) | 0x23;
		t[512 + 3] = (TABLES_GPA + 0x3000) | 0x23;
		for (uint64_t i = 0; i < 512; i++) {
			t[1024 + i] = (i << 21) | 0xe3;
			t[1536 + i] = (0xC0000000ull + (i << 21)) | 0xe3;
		}
		e->cr0 = 0x80050033;
		e->cr3 = TABLES_GPA;
		e->cr4 = 0x6a0;
		e->efer = 0xd01;
		code = 0xa9b;
	} else if (mode == 3) {
		e->cr0 = 0x10;
		data = 0x93, code = 0x9b, limit = 0xffff;
	}
	segment(&e->cs, code, limit);
	segment(&e->ss, data, limit);
	segment(&e->ds, data, limit);
	segment(&e->es, data, limit);
	segment(&e->fs, data, limit);
	segment(&e->gs, data, limit);
}

/* Writes exit x into the record; `decoder`: always an MMIO exit. */
static void fill(struct exit_record *e, const struct fuzz_exit *x, bool decoder)
{
	memset(e, 0, offsetof(struct exit_record, action));
	cpu_mode(e, x);
	for (int r = 0; r < 16; r++)
		e->gpr[r] = x->value[r & 1];
	unsigned kind = decoder ? 1 : x->kind % 4;
	memcpy(exit_ram + CODE_GPA, x->code, 16);
	switch (kind) {
	case 0:
		e->reason = EXIT_IO;
		e->port = (uint16_t)(ports[x->which % COUNT(ports)] + x->offset % 8);
		e->io_size = (uint8_t)(1u << ((x->flags >> 1) % 3));
		e->io_flags = (x->flags & 1 ? EXIT_IO_IN : 0) | (x->io & 1 ? EXIT_IO_STRING : 0) |
			      (x->io & 2 ? EXIT_IO_REP : 0);
		e->instruction_length = 1 + (x->io & 1);
		break;
	case 1:
		e->reason = EXIT_NESTED_PAGE_FAULT;
		e->gpa = mmio_bases[x->which % COUNT(mmio_bases)] + x->offset % 0x1000;
		e->access = x->flags & 1 ? EXIT_ACCESS_WRITE : EXIT_ACCESS_READ;
		if (!decoder) {   /* a MOV between a register and the device, as drivers do */
			exit_ram[CODE_GPA] = (uint8_t)(0x88 + x->code[0] % 4);
			exit_ram[CODE_GPA + 1] = x->code[1] & 0x3f;
		}
		break;
	case 2:
		e->reason = x->flags & 1 ? EXIT_MSR_WRITE : EXIT_MSR_READ;
		e->msr = x->which & 1 ? 0x800 + x->offset % 0x100 : msrs[(x->which >> 1) % COUNT(msrs)];
		e->gpr[RCX] = e->msr;
		e->instruction_length = 2;
		break;
	default: {
		static const uint32_t reasons[] = { EXIT_HLT, EXIT_INTERRUPT_WINDOW, EXIT_WAKE, EXIT_EXTERNAL_INTERRUPT };
		e->reason = reasons[x->which % 4];
		e->instruction_length = 1;
		break;
	}
	}
}

static enum fuzz_outcome exits_run(bool decoder, const uint8_t *in, size_t size, const char **trap_out)
{
	fuzz_back_to_fresh();
	size_t n = size / EXIT_BYTES;
	for (size_t i = 0; i < n && i < MAX_EXITS; i++) {
		struct fuzz_exit x;
		memcpy(&x, in + i * EXIT_BYTES, EXIT_BYTES);
		struct exit_record *e = record0();
		fill(e, &x, decoder);
		wasm_rt_trap_t trap = core_guest_handle_exit(0, 0);
		if (trap) {
			*trap_out = fuzz_trap_name(trap);
			return FUZZ_TRAP;
		}
		if (record0()->action == ACTION_STOP)
			return FUZZ_ERROR;   /* the core stopped the guest: a clean refusal */
	}
	return FUZZ_OK;
}

enum fuzz_outcome fuzz_decoder_run(const uint8_t *in, size_t size, const char **trap)
{
	return exits_run(true, in, size, trap);
}

enum fuzz_outcome fuzz_devices_run(const uint8_t *in, size_t size, const char **trap)
{
	return exits_run(false, in, size, trap);
}

static void random_exit(struct fuzz_exit *x)
{
	uint8_t *b = (uint8_t *)x;
	for (size_t i = 0; i < EXIT_BYTES; i++)
		b[i] = (uint8_t)next();
	/* Half the register values small: addresses and counts in RAM. */
	for (int k = 0; k < 2; k++)
		if (next() & 1)
			x->value[k] %= 0x2000;
	x->io &= next() & 1 ? 3 : 0;
}

size_t fuzz_exits_generate(uint8_t *out, size_t capacity)
{
	size_t n = 1 + next() % 8;
	if (n * EXIT_BYTES > capacity)
		n = capacity / EXIT_BYTES;
	for (size_t i = 0; i < n; i++)
		random_exit((struct fuzz_exit *)(out + i * EXIT_BYTES));
	return n * EXIT_BYTES;
}

/* One exit changed field by field, or exits added, removed, repeated. */
size_t fuzz_exits_mutate(uint8_t *out, size_t size, size_t capacity)
{
	size_t n = size / EXIT_BYTES;
	if (!n)
		return fuzz_exits_generate(out, capacity);
	struct fuzz_exit *x = (struct fuzz_exit *)(out + (next() % n) * EXIT_BYTES);
	switch (next() % 9) {
	case 0: x->kind = (uint8_t)next(); break;
	case 1: x->which = (uint8_t)next(); break;
	case 2: x->offset = next() & 1 ? (uint16_t)next() : (uint16_t)(x->offset + (next() % 9) - 4); break;
	case 3: x->flags ^= (uint8_t)(1u << (next() % 6)); x->io = (uint8_t)next(); break;
	case 4: x->code[next() % 16] = (uint8_t)next(); break;
	case 5: {
		static const uint64_t values[] = { 0, 1, 0xff, 0xffff, 0xffffffff, ~0ull, 0x80, 0x8000, 0x80000000,
						   0x80000000ull << 32, 0x1000, 0xfee00000, 0xfec00000 };
		uint64_t *v = &x->value[next() & 1];
		*v = next() & 1 ? values[next() % COUNT(values)] : *v ^ (1ull << (next() % 64));
		break;
	}
	case 6: random_exit(x); break;
	case 7:   /* the same exit again (a register written twice, a read after a write) */
		if (size + EXIT_BYTES <= capacity) {
			memmove(out + size, x, EXIT_BYTES);
			size += EXIT_BYTES;
		}
		break;
	case 8:
		if (size + EXIT_BYTES <= capacity) {
			random_exit((struct fuzz_exit *)(out + size));
			size += EXIT_BYTES;
		} else if (n > 1) {
			size -= EXIT_BYTES;
		}
		break;
	}
	return size;
}

/* Each instruction of the decoder's unit-test fixtures
 * (tests/unit/x86/fixtures.ts: 'new Fixture(64, "88 08", ...'), as one
 * MMIO exit in its mode. */
static unsigned seed_fixtures(struct fuzz_corpus *c)
{
	size_t size;
	char *text = (char *)fuzz_read_file("tests/unit/x86/fixtures.ts", &size);
	unsigned added = 0;
	if (!text)
		return 0;
	text = realloc(text, size + 1);
	text[size] = 0;
	for (char *p = text; (p = strstr(p, "new Fixture(")); p++) {
		unsigned mode;
		char hex[128];
		if (sscanf(p, "new Fixture(%u, \"%127[0-9a-f ]\"", &mode, hex) != 2)
			continue;
		struct fuzz_exit x;
		memset(&x, 0, sizeof x);
		unsigned k = 0, byte;
		for (char *h = strtok(hex, " "); h && k < 16; h = strtok(NULL, " "))
			if (sscanf(h, "%x", &byte) == 1)
				x.code[k++] = (uint8_t)byte;
		x.kind = 1;
		x.which = (uint8_t)(added % 4);
		x.offset = 0xb0;
		x.flags = (uint8_t)((added & 1) | ((mode == 64 ? 2 : mode == 16 ? 3 : 0) << 3));
		x.value[0] = 0xfee000b0 - (added & 0xff);
		x.value[1] = 0x10;
		added += fuzz_corpus_add(c, (const uint8_t *)&x, sizeof x);
	}
	free(text);
	return added;
}

static void exits_seed_random(struct fuzz_corpus *c, unsigned count)
{
	uint8_t buf[8 * EXIT_BYTES];
	for (unsigned i = 0; i < count; i++)
		fuzz_corpus_add(c, buf, fuzz_exits_generate(buf, sizeof buf));
}

void fuzz_decoder_seed(struct fuzz_corpus *c)
{
	seed_fixtures(c);
	exits_seed_random(c, 64);
}

/* A few conversations drivers have with the devices, as seeds. */
void fuzz_devices_seed(struct fuzz_corpus *c)
{
	static const struct { uint8_t kind, which; uint16_t offset; uint8_t flags; uint64_t value; } talks[][4] = {
		/* PIT: channel 0, lobyte/hibyte, rate generator; then the count */
		{ { 0, 3, 0, 0, 0x34 }, { 0, 2, 0, 0, 0x9c }, { 0, 2, 0, 0, 0x2e }, { 0, 2, 0, 1, 0 } },
		/* PCI: the host bridge's ID, then a BAR */
		{ { 0, 13, 0, 4, 0x80000000 }, { 0, 14, 0, 5, 0 }, { 0, 13, 0, 4, 0x80000010 }, { 0, 14, 0, 5, 0 } },
		/* RTC: status A, then the seconds */
		{ { 0, 7, 0, 0, 0x0a }, { 0, 8, 0, 1, 0 }, { 0, 7, 0, 0, 0x00 }, { 0, 8, 0, 1, 0 } },
		/* 8259: ICW1-4 on the master */
		{ { 0, 0, 0, 0, 0x11 }, { 0, 1, 0, 0, 0x20 }, { 0, 1, 0, 0, 0x04 }, { 0, 1, 0, 0, 0x01 } },
		/* I/O APIC: select a redirection entry, write it (MMIO) */
		{ { 1, 1, 0, 1, 0x10 }, { 1, 1, 0x10, 1, 0x30 }, { 1, 1, 0, 1, 0x11 }, { 1, 1, 0x10, 0, 0 } },
		/* local APIC: timer LVT, divide, initial count, then HLT */
		{ { 1, 0, 0x320, 1, 0x20030 }, { 1, 0, 0x3e0, 1, 0xb }, { 1, 0, 0x380, 1, 1000 }, { 3, 0, 0, 0, 0 } },
		/* x2APIC: enable it through APIC_BASE, then the TPR and an ICR */
		{ { 2, 0, 0, 1, 0xfee00c00 }, { 2, 1, 0x08, 1, 0 }, { 2, 1, 0x30, 1, 0x4030 }, { 2, 1, 0x30, 0, 0 } },
		/* UART: interrupts on, a byte out, the line status */
		{ { 0, 15, 1, 0, 0x0f }, { 0, 15, 0, 0, 'A' }, { 0, 16, 0, 1, 0 }, { 0, 15, 2, 1, 0 } },
	};
	for (size_t t = 0; t < COUNT(talks); t++) {
		struct fuzz_exit xs[4];
		memset(xs, 0, sizeof xs);
		for (int i = 0; i < 4; i++) {
			xs[i].kind = talks[t][i].kind;
			xs[i].which = talks[t][i].which;
			xs[i].offset = talks[t][i].offset;
			xs[i].flags = talks[t][i].flags;
			xs[i].value[0] = xs[i].value[1] = talks[t][i].value;
			xs[i].code[0] = 1;      /* 0x89: mov [reg], reg32 */
			xs[i].code[1] = 0x08;   /* [rax], ecx */
		}
		fuzz_corpus_add(c, (const uint8_t *)xs, sizeof xs);
	}
	exits_seed_random(c, 64);
}
