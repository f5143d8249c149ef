/* make fuzz's four targets (fuzz_targets.c), driven by fuzz.c. An input is
 * a byte string, so the same bytes replay (hvhost fuzz-replay). */
#ifndef FUZZ_TARGETS_H
#define FUZZ_TARGETS_H
#include <stddef.h>
#include <stdint.h>
#include "fuzz_corpus.h"
#include "wasm-rt.h"

enum fuzz_outcome { FUZZ_OK, FUZZ_ERROR, FUZZ_TRAP };

struct fuzz_target {
	const char *name;
	size_t capacity;   /* largest input */
	size_t unit;       /* inputs are whole records of this many bytes (1: any) */
	unsigned limit;    /* corpus entries kept at most */
	void (*setup)(void);
	/* The corpus's first entries: generated inputs and real files. */
	void (*seed)(struct fuzz_corpus *corpus);
	/* A fresh input from nothing (NULL: the target has none). */
	size_t (*generate)(uint8_t *out, size_t capacity);
	/* Structure-aware changes to out[0..size) in place; answers the new size. */
	size_t (*mutate)(uint8_t *out, size_t size, size_t capacity);
	/* Runs one input; on a trap, *trap says which. */
	enum fuzz_outcome (*run)(const uint8_t *in, size_t size, const char **trap);
};

extern const struct fuzz_target fuzz_targets[];
extern const unsigned fuzz_target_count;

/* Shared by the targets (fuzz_targets.c, fuzz_exits.c). */
#define COUNT(a) (sizeof a / sizeof a[0])
#define FUZZ_EXIT_BYTES 40
/* Exits per input at most (the targets keep to 4 and 8): the
 * decoder's exits can loop long in the core (REP string MMIO), and the
 * coverage build pays for every block. */
#define FUZZ_EXITS_CAPACITY (32 * FUZZ_EXIT_BYTES)
const char *fuzz_trap_name(wasm_rt_trap_t trap);
/* Slot 0 holds a fresh guest VMM instance over `ram`, saved; put back
 * before each input. */
void fuzz_make_fresh(uint8_t *ram, uint64_t ram_bytes);
void fuzz_back_to_fresh(void);
void fuzz_exits_setup(void);
void fuzz_decoder_seed(struct fuzz_corpus *c);
void fuzz_devices_seed(struct fuzz_corpus *c);
size_t fuzz_exits_generate(uint8_t *out, size_t capacity);
size_t fuzz_exits_mutate(uint8_t *out, size_t size, size_t capacity);
enum fuzz_outcome fuzz_decoder_run(const uint8_t *in, size_t size, const char **trap);
enum fuzz_outcome fuzz_devices_run(const uint8_t *in, size_t size, const char **trap);
#endif
