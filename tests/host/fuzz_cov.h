/* Coverage feedback for make fuzz (fuzz_cov.c): edges of the generated core,
 * AFL-style, in a bitmap. Without FUZZ_COVERAGE (the plain hvhost) nothing
 * records and every answer is "nothing new". */
#ifndef FUZZ_COV_H
#define FUZZ_COV_H
#include <stdbool.h>
#include <stdint.h>

/* Whether this build records coverage (hvhost-cov). */
extern const bool fuzz_cov_built;
/* Before each input: the trace map cleared, the previous edge forgotten. */
void fuzz_cov_begin(void);
/* After it: true if it reached an edge, or a hit-count bucket of one, not
 * seen before (the seen map is updated). */
bool fuzz_cov_end(void);
/* Edges seen so far: the "coverage points" make fuzz prints. */
unsigned fuzz_cov_points(void);
/* The edges (up to max) the last input reached first of all inputs. */
unsigned fuzz_cov_new_edges(uint32_t *out, unsigned max);
/* How many inputs have reached an edge: the rarer, the more a corpus entry
 * that found it is worth keeping as a regression case. */
uint32_t fuzz_cov_hits(uint32_t edge);
#endif
