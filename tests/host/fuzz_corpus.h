/* make fuzz's in-memory corpus and its byte-level mutators (fuzz_corpus.c). */
#ifndef FUZZ_CORPUS_H
#define FUZZ_CORPUS_H
#include <stddef.h>
#include <stdint.h>

struct fuzz_entry {
	uint8_t *data;
	size_t size;
	unsigned picked;   /* times mutated: fresh entries are picked more */
};

struct fuzz_corpus {
	struct fuzz_entry *entries;
	unsigned count, capacity, limit;
};

uint64_t fuzz_next(void);   /* harness.c's xorshift generator */

/* A copy of data[0..size) as a new entry; 0 (nothing added) once `limit`
 * entries are held. */
int fuzz_corpus_add(struct fuzz_corpus *c, const uint8_t *data, size_t size);
/* An entry to mutate: recent ones and rarely picked ones first. */
struct fuzz_entry *fuzz_corpus_pick(struct fuzz_corpus *c);
/* A whole file, malloc'd (NULL if it cannot be read); *size its length. */
uint8_t *fuzz_read_file(const char *path, size_t *size);
/* Adds every file matching the glob pattern; answers how many. */
unsigned fuzz_corpus_add_files(struct fuzz_corpus *c, const char *pattern, size_t max_size);

/* AFL-style havoc on buf[0..size) (capacity bytes there): bit flips, byte
 * sets, interesting 8/16/32-bit values, arithmetic, block insert, delete,
 * copy and splice from `other` (may be NULL). `unit` > 1 keeps the size a
 * multiple of it (records). Answers the new size. */
size_t fuzz_havoc(uint8_t *buf, size_t size, size_t capacity, const struct fuzz_entry *other, size_t unit);
#endif
