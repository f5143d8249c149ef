/* make fuzz's four targets (fuzz_targets.c), driven by fuzz.c. An input is
 * a byte string, so the same bytes replay (hvhost fuzz-replay). */
#ifndef FUZZ_TARGETS_H
#define FUZZ_TARGETS_H
#include <stddef.h>
#include <stdint.h>
#include "fuzz_corpus.h"

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
#endif
