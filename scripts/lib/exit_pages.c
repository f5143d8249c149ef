/*
 * A QEMU TCG plugin (QEMU 7.2, plugin API version 1) that counts what each
 * VM exit round trip touches, host side and guest side apart: distinct
 * 4 KiB pages of code and of data, distinct translation blocks, blocks run
 * and instructions. QEMU's SVM empties its soft TLB and TB jump cache at
 * every VMRUN and #VMEXIT, so each distinct page is a TLB fill and each
 * distinct block a hash lookup, on every exit: these counts are what an
 * exit costs under TCG beyond its instructions, and unlike wall time on a
 * shared host they repeat exactly. A round trip starts at VMRUN (0F 01 D8)
 * and the host side ends at it; the guest side ends at the host's next
 * VMSAVE (0F 01 DB, right after VMRUN in svm_entry.S).
 *
 *   scripts/exit-pages [--skip N] ISO     (builds this, runs the ISO)
 *
 * Plugin arguments: skip=N (round trips not counted: the boot), out=FILE.
 * The API is declared here, not included: Debian ships no qemu-plugin.h.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef uint64_t qemu_plugin_id_t;
typedef uint32_t qemu_plugin_meminfo_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
typedef struct qemu_info_t qemu_info_t;
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_CB_R_REGS, QEMU_PLUGIN_CB_RW_REGS };
enum qemu_plugin_mem_rw { QEMU_PLUGIN_MEM_R = 1, QEMU_PLUGIN_MEM_W, QEMU_PLUGIN_MEM_RW };
typedef void (*exec_cb)(unsigned int vcpu, void *data);
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t, void (*)(qemu_plugin_id_t, struct qemu_plugin_tb *));
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *, exec_cb, enum qemu_plugin_cb_flags, void *);
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *, exec_cb, enum qemu_plugin_cb_flags, void *);
void qemu_plugin_register_vcpu_mem_cb(struct qemu_plugin_insn *,
				      void (*)(unsigned int, qemu_plugin_meminfo_t, uint64_t, void *),
				      enum qemu_plugin_cb_flags, enum qemu_plugin_mem_rw, void *);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *);
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *, size_t);
const void *qemu_plugin_insn_data(const struct qemu_plugin_insn *);
size_t qemu_plugin_insn_size(const struct qemu_plugin_insn *);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t, void (*)(qemu_plugin_id_t, void *), void *);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

/* A set of 64-bit keys emptied in O(1) by a generation count. */
#define SET_BITS 16
#define SET_SIZE (1u << SET_BITS)
struct set {
	uint64_t key[SET_SIZE];
	uint32_t gen[SET_SIZE];
	uint32_t now, n;
};

static bool set_add(struct set *s, uint64_t k)
{
	if (s->n >= SET_SIZE / 2)
		return false;   /* a segment this large is the boot: not counted anyway */
	uint32_t h = (uint32_t)((k * 0x9E3779B97F4A7C15ull) >> (64 - SET_BITS));
	for (;; h = (h + 1) & (SET_SIZE - 1)) {
		if (s->gen[h] != s->now) {
			s->gen[h] = s->now;
			s->key[h] = k;
			s->n++;
			return true;
		}
		if (s->key[h] == k)
			return false;
	}
}

static void set_clear(struct set *s)
{
	s->now++;
	s->n = 0;
}

enum { HOST, GUEST, SIDES };
static const char *const side_name[SIDES] = { "host", "guest" };
struct side {
	struct set code, data, blocks;
	uint64_t run, insns;                                  /* this segment */
	uint64_t sum_code, sum_data, sum_blocks, sum_run, sum_insns, segments;
};
static struct side sides[SIDES];
static int side = HOST;
static uint64_t rounds, skip = 1000;
static const char *out_path;

static void end_segment(struct side *s)
{
	if (rounds > skip) {
		s->sum_code += s->code.n;
		s->sum_data += s->data.n;
		s->sum_blocks += s->blocks.n;
		s->sum_run += s->run;
		s->sum_insns += s->insns;
		s->segments++;
	}
	set_clear(&s->code);
	set_clear(&s->data);
	set_clear(&s->blocks);
	s->run = s->insns = 0;
}

static void on_vmrun(unsigned int vcpu, void *data)
{
	(void)vcpu; (void)data;
	if (side == HOST) {
		end_segment(&sides[HOST]);
		side = GUEST;
		rounds++;
	}
}

static void on_vmsave(unsigned int vcpu, void *data)
{
	(void)vcpu; (void)data;
	if (side == GUEST) {
		end_segment(&sides[GUEST]);
		side = HOST;
	}
}

/* A block's data: its address, its instruction count, and whether it ends
 * on the next page. */
struct block {
	uint64_t vaddr;
	uint32_t insns;
	bool two_pages;
};

static void on_block(unsigned int vcpu, void *data)
{
	(void)vcpu;
	const struct block *b = data;
	struct side *s = &sides[side];
	s->run++;
	s->insns += b->insns;
	set_add(&s->blocks, b->vaddr);
	set_add(&s->code, b->vaddr >> 12);
	if (b->two_pages)
		set_add(&s->code, (b->vaddr >> 12) + 1);
}

static void on_access(unsigned int vcpu, qemu_plugin_meminfo_t info, uint64_t vaddr, void *data)
{
	(void)vcpu; (void)info; (void)data;
	set_add(&sides[side].data, vaddr >> 12);
}

static bool is_insn(const struct qemu_plugin_insn *insn, uint8_t modrm)
{
	const uint8_t *b = qemu_plugin_insn_data(insn);
	return qemu_plugin_insn_size(insn) == 3 && b[0] == 0x0f && b[1] == 0x01 && b[2] == modrm;
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	(void)id;
	size_t n = qemu_plugin_tb_n_insns(tb);
	struct qemu_plugin_insn *last = qemu_plugin_tb_get_insn(tb, n - 1);
	struct block *b = malloc(sizeof *b);   /* lives as long as the block may run */
	if (!b)
		abort();
	b->vaddr = qemu_plugin_tb_vaddr(tb);
	b->insns = (uint32_t)n;
	b->two_pages = (qemu_plugin_insn_vaddr(last) + qemu_plugin_insn_size(last) - 1) >> 12 != b->vaddr >> 12;
	qemu_plugin_register_vcpu_tb_exec_cb(tb, on_block, QEMU_PLUGIN_CB_NO_REGS, b);
	for (size_t i = 0; i < n; i++) {
		struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
		if (is_insn(insn, 0xd8))
			qemu_plugin_register_vcpu_insn_exec_cb(insn, on_vmrun, QEMU_PLUGIN_CB_NO_REGS, NULL);
		else if (is_insn(insn, 0xdb))
			qemu_plugin_register_vcpu_insn_exec_cb(insn, on_vmsave, QEMU_PLUGIN_CB_NO_REGS, NULL);
		qemu_plugin_register_vcpu_mem_cb(insn, on_access, QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_MEM_RW, NULL);
	}
}

static void at_exit(qemu_plugin_id_t id, void *data)
{
	(void)id; (void)data;
	FILE *f = out_path ? fopen(out_path, "w") : stderr;
	if (!f)
		f = stderr;
	fprintf(f, "round trips: %llu, the first %llu not counted\n", (unsigned long long)rounds,
		(unsigned long long)skip);
	for (int i = 0; i < SIDES; i++) {
		const struct side *s = &sides[i];
		uint64_t n = s->segments ? s->segments : 1;
		fprintf(f, "%s, per round trip: code pages %.2f, data pages %.2f, distinct blocks %.2f, "
			"blocks run %.2f, instructions %.2f\n", side_name[i], (double)s->sum_code / n,
			(double)s->sum_data / n, (double)s->sum_blocks / n, (double)s->sum_run / n,
			(double)s->sum_insns / n);
	}
	if (f != stderr)
		fclose(f);
}

__attribute__((visibility("default"))) int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
							      int argc, char **argv)
{
	(void)info;
	for (int i = 0; i < argc; i++) {
		if (!strncmp(argv[i], "skip=", 5))
			skip = strtoull(argv[i] + 5, NULL, 10);
		else if (!strncmp(argv[i], "out=", 4))
			out_path = argv[i] + 4;
		else {
			fprintf(stderr, "exit_pages: unknown argument %s (skip=N, out=FILE)\n", argv[i]);
			return -1;
		}
	}
	for (int i = 0; i < SIDES; i++) {
		sides[i].code.now = sides[i].data.now = sides[i].blocks.now = 1;
	}
	qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
	qemu_plugin_register_atexit_cb(id, at_exit, NULL);
	return 0;
}
