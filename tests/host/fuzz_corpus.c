/*
 * make fuzz's corpus: inputs that reached new coverage (fuzz_cov.c) kept
 * in memory, per target, and mutated again; and the generic byte-level
 * mutators (AFL's havoc stage, in small).
 */
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fuzz_corpus.h"

#define next fuzz_next

int fuzz_corpus_add(struct fuzz_corpus *c, const uint8_t *data, size_t size)
{
	if (c->count >= c->limit)
		return 0;
	if (c->count == c->capacity) {
		c->capacity = c->capacity ? c->capacity * 2 : 256;
		c->entries = realloc(c->entries, c->capacity * sizeof *c->entries);
		if (!c->entries)
			abort();
	}
	struct fuzz_entry *e = &c->entries[c->count];
	e->data = malloc(size ? size : 1);
	if (!e->data)
		abort();
	memcpy(e->data, data, size);
	e->size = size;
	e->picked = 0;
	c->count++;
	return 1;
}

struct fuzz_entry *fuzz_corpus_pick(struct fuzz_corpus *c)
{
	if (!c->count)
		return NULL;
	/* Half the time one of the newest 16 (what just found coverage is the
	 * likeliest way further), else the less-picked of two at random. */
	unsigned i;
	if (next() & 1) {
		unsigned recent = c->count < 16 ? c->count : 16;
		i = c->count - 1 - (unsigned)(next() % recent);
	} else {
		unsigned a = (unsigned)(next() % c->count), b = (unsigned)(next() % c->count);
		i = c->entries[a].picked <= c->entries[b].picked ? a : b;
	}
	c->entries[i].picked++;
	return &c->entries[i];
}

uint8_t *fuzz_read_file(const char *path, size_t *size)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *data = malloc(n > 0 ? (size_t)n : 1);
	if (!data || n < 0 || fread(data, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		free(data);
		return NULL;
	}
	fclose(f);
	*size = (size_t)n;
	return data;
}

unsigned fuzz_corpus_add_files(struct fuzz_corpus *c, const char *pattern, size_t max_size)
{
	glob_t g;
	unsigned added = 0;
	if (glob(pattern, 0, NULL, &g))
		return 0;
	for (size_t i = 0; i < g.gl_pathc; i++) {
		size_t size;
		uint8_t *data = fuzz_read_file(g.gl_pathv[i], &size);
		if (data && size <= max_size)
			added += fuzz_corpus_add(c, data, size);
		free(data);
	}
	globfree(&g);
	return added;
}

static const int32_t interesting[] = {
	0, 1, -1, 2, 7, 8, 16, 32, 64, 100, 127, -128, 128, 255, 256, 512, 1000, 1024, 4096,
	0x7fff, -32768, 0xffff, 0x10000, 0x7fffffff, (int32_t)0x80000000, 0x100000, 0x200000,
};
#define INTERESTING (sizeof interesting / sizeof interesting[0])

size_t fuzz_havoc(uint8_t *buf, size_t size, size_t capacity, const struct fuzz_entry *other, size_t unit)
{
	if (unit < 1)
		unit = 1;
	unsigned rounds = 1u << (next() % 4);   /* 1, 2, 4 or 8 changes stacked */
	for (unsigned r = 0; r < rounds; r++) {
		if (!size)
			break;
		size_t at = next() % size;
		switch (next() % 12) {
		case 0: buf[at] ^= (uint8_t)(1u << (next() % 8)); break;
		case 1: buf[at] = (uint8_t)next(); break;
		case 2: buf[at] = (uint8_t)interesting[next() % INTERESTING]; break;
		case 3: case 4: {   /* a 16- or 32-bit interesting value, either byte order */
			size_t n = next() & 1 ? 2 : 4;
			if (at + n > size)
				break;
			uint32_t v = (uint32_t)interesting[next() % INTERESTING];
			if (next() & 1)
				v = n == 2 ? (uint32_t)__builtin_bswap16((uint16_t)v) : __builtin_bswap32(v);
			memcpy(buf + at, &v, n);
			break;
		}
		case 5: buf[at] += (uint8_t)(1 + next() % 35) * (next() & 1 ? 1 : -1); break;
		case 6: {   /* copy a block of itself elsewhere */
			size_t n = 1 + next() % (size < 64 ? size : 64), from = next() % size;
			if (from + n > size) n = size - from;
			if (at + n > size) n = size - at;
			memmove(buf + at, buf + from, n);
			break;
		}
		case 7: case 8: {   /* insert a block: random, or a copy of a part */
			size_t n = unit > 1 ? unit : 1 + next() % 32;
			if (unit > 1) at -= at % unit;
			if (size + n > capacity) break;
			memmove(buf + at + n, buf + at, size - at);
			if (next() & 1) {
				for (size_t k = 0; k < n; k++) buf[at + k] = (uint8_t)next();
			} else {
				size_t from = next() % size;
				for (size_t k = 0; k < n; k++) buf[at + k] = buf[(from + k) % size];
			}
			size += n;
			break;
		}
		case 9: case 10: {   /* delete a block */
			size_t n = unit > 1 ? unit : 1 + next() % 32;
			if (unit > 1) at -= at % unit;
			if (n >= size) break;
			if (at + n > size) n = size - at;
			memmove(buf + at, buf + at + n, size - at - n);
			size -= n;
			break;
		}
		case 11: {   /* splice: a block of another entry over ours (overwrite, keeps the size) */
			if (!other || !other->size) break;
			size_t n = 1 + next() % (other->size < 256 ? other->size : 256);
			size_t from = next() % other->size;
			if (unit > 1) { at -= at % unit; from -= from % unit; n = unit * (1 + next() % 4); }
			if (from + n > other->size) n = other->size - from;
			if (at + n > size) n = size - at;
			memcpy(buf + at, other->data + from, n);
			break;
		}
		}
	}
	return size;
}
