/*
 * make fuzz: generated and mutated inputs against the core as compiled for
 * the kernel (issue 11), one target at a time (fuzz_targets.c):
 *   hvhost fuzz config  N SEED   mutated configs through the supervisor's init
 *   hvhost fuzz decoder N SEED   MMIO exits with random instruction bytes
 *   hvhost fuzz loaders N SEED   mutated multiboot ELF and bzImage images
 *   hvhost fuzz devices N SEED   port, MMIO and MSR accesses to every device model
 *   hvhost fuzz-replay TARGET FILE|DIR...   each file once; fails on a trap
 * Each fuzz run prints "fuzz <target>: <N> inputs, <T> traps, <E> errors,
 * <C> coverage points, <K> corpus": errors are clean rejections (a config
 * error, a refused image, a guest the core stopped); traps must be 0.
 *
 * Coverage feedback (hvhost-cov, fuzz_cov.c): the corpus starts with the
 * target's seeds (generated inputs and the real files); an input that
 * reaches an edge (or hit-count bucket) not seen before joins it, and later
 * inputs are mutations of corpus entries: the target's structure-aware
 * mutator or byte-level havoc (fuzz_corpus.c), a few fresh generated ones.
 * FUZZ_FEEDBACK=0 keeps the corpus at its seeds (to measure what feedback
 * brings); the plain hvhost has no coverage and never adds. All from one
 * xorshift generator: a run repeats for its seed.
 *
 * A trapping input is written to build/fuzz/<target>-<seed>-<i>.bin and
 * the line to keep it printed. Regression cases: every file in
 * tests/host/fuzz-cases/<target>/ is replayed by make test-host; to add
 * one, copy the input there (any name, the raw bytes the target reads).
 * FUZZ_CORPUS_OUT=DIR writes the entries feedback added, to pick cases from.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "hv.h"
#include "core.h"
#include "fuzz_cov.h"
#include "fuzz_corpus.h"
#include "fuzz_targets.h"

extern uint64_t fuzz_state;
#define next fuzz_next

#define KEEP_AT_MOST 10   /* trapping inputs written per run */

static FILE *report;

/* The core's console (guests' output, config errors) goes to /dev/null:
 * a million inputs print a million lines. FUZZ_VERBOSE=1 keeps it. */
static void quiet(void)
{
	fflush(stdout);
	report = stdout;
	const char *verbose = getenv("FUZZ_VERBOSE");
	if (verbose && *verbose && strcmp(verbose, "0"))
		return;
	int fd = dup(1);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f || !freopen("/dev/null", "w", stdout))
		return;
	setvbuf(f, NULL, _IOLBF, 0);
	report = f;
}

static const struct fuzz_target *find_target(const char *name)
{
	for (unsigned t = 0; t < fuzz_target_count; t++)
		if (!strcmp(fuzz_targets[t].name, name))
			return &fuzz_targets[t];
	fprintf(stderr, "hvhost: fuzz targets: config, decoder, loaders, devices\n");
	return NULL;
}

static void keep(const struct fuzz_target *t, uint64_t seed, unsigned i, const char *trap,
		 const uint8_t *data, size_t size)
{
	char path[256];
	snprintf(path, sizeof path, "build/fuzz/%s-%llu-%u.bin", t->name, (unsigned long long)seed, i);
	mkdir("build/fuzz", 0777);
	FILE *f = fopen(path, "wb");
	if (f) {
		fwrite(data, 1, size, f);
		fclose(f);
	}
	fprintf(report, "fuzz %s: input %u trapped (%s), kept in %s; keep it as a regression case:\n"
		"  cp %s tests/host/fuzz-cases/%s/ && build/host/hvhost fuzz-replay %s tests/host/fuzz-cases/%s\n",
		t->name, i, trap, path, path, t->name, t->name, t->name);
}

/* The first edges each corpus entry was first to reach (for FUZZ_CORPUS_OUT). */
#define EDGES_KEPT 4
struct found { unsigned count; uint32_t edges[EDGES_KEPT]; };

/* Entries feedback added as DIR/<target>-<rarity>-<size>-<n>.bin: rarity,
 * the fewest inputs that reached an edge the entry found first; small and
 * rare make good regression cases. */
static void write_corpus(const struct fuzz_target *t, const struct fuzz_corpus *c, unsigned from,
			 const struct found *found, const char *dir)
{
	mkdir(dir, 0777);
	for (unsigned i = from; i < c->count; i++) {
		char path[512];
		uint32_t rarity = UINT32_MAX;
		for (unsigned k = 0; k < found[i - from].count; k++)
			if (fuzz_cov_hits(found[i - from].edges[k]) < rarity)
				rarity = fuzz_cov_hits(found[i - from].edges[k]);
		snprintf(path, sizeof path, "%s/%s-%010u-%06zu-%05u.bin", dir, t->name, rarity, c->entries[i].size, i - from);
		FILE *f = fopen(path, "wb");
		if (f) {
			fwrite(c->entries[i].data, 1, c->entries[i].size, f);
			fclose(f);
		}
	}
}

/* The next input into buf: a mutation of a corpus entry (structure-aware,
 * havoc, or both), now and then a fresh one. */
static size_t next_input(const struct fuzz_target *t, struct fuzz_corpus *c, uint8_t *buf)
{
	if (t->generate && next() % 16 == 0)
		return t->generate(buf, t->capacity);
	const struct fuzz_entry *e = fuzz_corpus_pick(c);
	size_t size = e->size < t->capacity ? e->size : t->capacity;
	memcpy(buf, e->data, size);
	unsigned how = (unsigned)(next() % 4);   /* 0, 1: structure-aware; 2: havoc; 3: both */
	if (how != 2 && t->mutate)
		size = t->mutate(buf, size, t->capacity);
	if (how >= 2 || !t->mutate) {
		const struct fuzz_entry *other = &c->entries[next() % c->count];
		size = fuzz_havoc(buf, size, t->capacity, other, t->unit);
	}
	return size;
}

int fuzz_main(const char *name, unsigned count, uint64_t seed)
{
	const struct fuzz_target *t = find_target(name);
	if (!t)
		return 2;
	quiet();
	fuzz_state = seed | 1;
	core_abort_quiet = true;
	const char *feedback_env = getenv("FUZZ_FEEDBACK");
	bool feedback = fuzz_cov_built && !(feedback_env && !strcmp(feedback_env, "0"));
	struct fuzz_corpus corpus = { .limit = t->limit };
	t->setup();
	t->seed(&corpus);
	if (!corpus.count) {
		fprintf(stderr, "hvhost: fuzz %s: no seed inputs\n", t->name);
		return 2;
	}
	unsigned seeds = corpus.count, traps = 0, errors = 0, i;
	uint8_t *buf = malloc(t->capacity);
	struct found *found = calloc(t->limit, sizeof *found);
	for (i = 0; i < count; i++) {
		size_t size;
		if (i < seeds) {   /* each seed once as it is */
			size = corpus.entries[i].size < t->capacity ? corpus.entries[i].size : t->capacity;
			memcpy(buf, corpus.entries[i].data, size);
		} else {
			size = next_input(t, &corpus, buf);
		}
		const char *trap = NULL;
		fuzz_cov_begin();
		enum fuzz_outcome outcome = t->run(buf, size, &trap);
		bool fresh = fuzz_cov_end();
		if (outcome == FUZZ_TRAP) {
			if (traps++ < KEEP_AT_MOST)
				keep(t, seed, i, trap, buf, size);
			/* A trap in the supervisor leaves it unusable: stop there. */
			if (!strcmp(t->name, "config")) {
				i++;
				break;
			}
			continue;
		}
		errors += outcome == FUZZ_ERROR;
		if (fresh && feedback && i >= seeds && fuzz_corpus_add(&corpus, buf, size)) {
			struct found *mine = &found[corpus.count - 1 - seeds];
			mine->count = fuzz_cov_new_edges(mine->edges, EDGES_KEPT);
		}
	}
	if (fuzz_cov_built)
		fprintf(report, "fuzz %s: %u inputs, %u traps, %u errors, %u coverage points, %u corpus\n", t->name, i,
			traps, errors, fuzz_cov_points(), corpus.count);
	else
		fprintf(report, "fuzz %s: %u inputs, %u traps, %u errors, no coverage (plain build), %u corpus\n",
			t->name, i, traps, errors, corpus.count);
	const char *out = getenv("FUZZ_CORPUS_OUT");
	if (out && *out)
		write_corpus(t, &corpus, seeds, found, out);
	return traps ? 1 : 0;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Files named, and the files in directories named, sorted per directory. */
static unsigned gather(char **paths, int n, char ***out)
{
	unsigned count = 0, capacity = 64;
	char **list = malloc(capacity * sizeof *list);
	for (int p = 0; p < n; p++) {
		struct stat st;
		if (stat(paths[p], &st) == 0 && S_ISDIR(st.st_mode)) {
			DIR *d = opendir(paths[p]);
			unsigned first = count;
			for (struct dirent *de; d && (de = readdir(d));) {
				if (de->d_name[0] == '.' || de->d_type == DT_DIR || !strcmp(de->d_name, "README"))
					continue;
				if (count == capacity)
					list = realloc(list, (capacity *= 2) * sizeof *list);
				size_t len = strlen(paths[p]) + strlen(de->d_name) + 2;
				list[count] = malloc(len);
				snprintf(list[count++], len, "%s/%s", paths[p], de->d_name);
			}
			if (d)
				closedir(d);
			qsort(list + first, count - first, sizeof *list, compare_names);
		} else {
			if (count == capacity)
				list = realloc(list, (capacity *= 2) * sizeof *list);
			list[count++] = strdup(paths[p]);
		}
	}
	*out = list;
	return count;
}

int fuzz_replay(const char *name, int n, char **paths)
{
	const struct fuzz_target *t = find_target(name);
	if (!t)
		return 2;
	quiet();
	core_abort_quiet = true;
	t->setup();
	char **files;
	unsigned count = gather(paths, n, &files), traps = 0, missing = 0;
	for (unsigned f = 0; f < count; f++) {
		size_t size;
		uint8_t *data = fuzz_read_file(files[f], &size);
		if (!data) {
			fprintf(report, "fuzz-replay %s: cannot read %s\n", t->name, files[f]);
			missing++;
			continue;
		}
		if (size > t->capacity)
			size = t->capacity;
		const char *trap = NULL;
		if (t->run(data, size, &trap) == FUZZ_TRAP) {
			fprintf(report, "fuzz-replay %s: %s trapped: %s\n", t->name, files[f], trap);
			traps++;
		}
		free(data);
	}
	fprintf(report, "fuzz-replay %s: %u cases, %u traps\n", t->name, count - missing, traps);
	return traps || missing ? 1 : 0;
}
