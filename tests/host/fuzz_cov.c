/*
 * Edge coverage of the generated core for make fuzz. hvhost-cov builds
 * build/core/{supervisor,guest}.c with -fsanitize-coverage=trace-pc, so GCC
 * calls __sanitizer_cov_trace_pc at every basic block; the edge is the
 * block's return address hashed with the previous block's (AFL's
 * cur ^ prev >> 1, so A->B and B->A differ). This file itself is built
 * without the flag, or it would trace itself.
 */
#include <string.h>
#include "fuzz_cov.h"

#define MAP_BITS 16
#define MAP_SIZE (1u << MAP_BITS)

static uint8_t trace[MAP_SIZE] __attribute__((aligned(64)));   /* this input's hit counts */
static uint8_t seen[MAP_SIZE] __attribute__((aligned(64)));    /* buckets ever seen, per edge */
static uint32_t hits[MAP_SIZE];                                /* inputs that reached each edge */
static uint32_t previous;
static unsigned points;
/* The edges the last input was first to reach (fuzz_cov_new_edges). */
#define NEW_AT_MOST 16
static uint32_t new_edges[NEW_AT_MOST];
static unsigned new_count;

#ifdef FUZZ_COVERAGE
const bool fuzz_cov_built = true;

void __sanitizer_cov_trace_pc(void)
{
	uintptr_t pc = (uintptr_t)__builtin_return_address(0);
	/* Code addresses differ in their low bits; mix them into 16. */
	uint32_t here = (uint32_t)((pc ^ (pc >> 17)) * 0x9E3779B1u) >> (32 - MAP_BITS);
	trace[here ^ previous]++;
	previous = here >> 1;
}
#else
const bool fuzz_cov_built = false;
#endif

void fuzz_cov_begin(void)
{
	memset(trace, 0, sizeof trace);
	previous = 0;
}

/* AFL's hit-count buckets: 1, 2, 3, 4-7, 8-15, 16-31, 32-127, 128+, so a
 * loop that runs more often counts as new once per order of magnitude. */
static uint8_t bucket(uint8_t count)
{
	if (count <= 3) return (uint8_t)(1u << (count - 1));
	if (count <= 7) return 8;
	if (count <= 15) return 16;
	if (count <= 31) return 32;
	if (count <= 127) return 64;
	return 128;
}

bool fuzz_cov_end(void)
{
	bool fresh = false;
	new_count = 0;
	const uint64_t *words = (const uint64_t *)trace;
	/* Most of the map is zero: skip it eight bytes at a time. */
	for (unsigned w = 0; w < MAP_SIZE / 8; w++) {
		if (!words[w])
			continue;
		for (unsigned i = w * 8; i < w * 8 + 8; i++) {
			if (!trace[i])
				continue;
			if (hits[i] != UINT32_MAX)
				hits[i]++;
			uint8_t b = bucket(trace[i]);
			if (seen[i] & b)
				continue;
			if (!seen[i]) {
				points++;
				if (new_count < NEW_AT_MOST)
					new_edges[new_count++] = i;
			}
			seen[i] |= b;
			fresh = true;
		}
	}
	return fresh;
}

unsigned fuzz_cov_points(void)
{
	return points;
}

unsigned fuzz_cov_new_edges(uint32_t *out, unsigned max)
{
	unsigned n = new_count < max ? new_count : max;
	memcpy(out, new_edges, n * sizeof *out);
	return n;
}

uint32_t fuzz_cov_hits(uint32_t edge)
{
	return hits[edge % MAP_SIZE];
}
