/*
 * The physical page allocator: a sorted list of free extents [base, end)
 * in a static array. Allocation is first fit with alignment; freeing merges
 * with both neighbours, so any sequence of allocations freed again gives
 * back exactly the list it started from (no leak, no fragmentation).
 *
 * Only RAM in [1 MiB, 4 GiB) is handed out:
 *  - below 1 MiB live the BIOS data, EBDA, option ROMs and, later, the
 *    real-mode trampoline for starting the other CPUs;
 *  - entry.S identity-maps exactly 0..4 GiB, and pmm_alloc promises that a
 *    pointer it returns is also the physical address (hv.h). RAM above
 *    4 GiB needs a larger map first.
 */
#include "boot.h"
#include "percpu.h"

#define LOW_LIMIT  0x100000ull          /* 1 MiB */
#define HIGH_LIMIT 0x100000000ull       /* 4 GiB */
#define MAX_EXTENTS 1024

struct extent {
	uint64_t base, end;
};

static struct extent free_list[MAX_EXTENTS];
static unsigned free_count;
/* The free list right after boot: every block pmm_alloc ever returns lies
 * inside one of these, which pmm_free checks. */
static struct extent managed[MAX_EXTENTS];
static unsigned managed_count;
static uint64_t free_bytes, total_bytes;

static uint64_t align_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) & ~(a - 1);
}

static uint64_t align_down(uint64_t x, uint64_t a)
{
	return x & ~(a - 1);
}

static void remove_at(unsigned i)
{
	memmove(&free_list[i], &free_list[i + 1], (free_count - i - 1) * sizeof(free_list[0]));
	free_count--;
}

static void insert_at(unsigned i, uint64_t base, uint64_t end)
{
	if (free_count == MAX_EXTENTS)
		panic("pmm: more than %u free extents", MAX_EXTENTS);
	memmove(&free_list[i + 1], &free_list[i], (free_count - i) * sizeof(free_list[0]));
	free_list[i] = (struct extent){ base, end };
	free_count++;
}

/* Boot only: adds [base, end), merging with anything it overlaps or touches
 * (firmware memory maps may repeat or overlap ranges). */
static void add_usable(uint64_t base, uint64_t end)
{
	unsigned i = 0;
	while (i < free_count && free_list[i].end < base)
		i++;
	while (i < free_count && free_list[i].base <= end) {
		if (free_list[i].base < base)
			base = free_list[i].base;
		if (free_list[i].end > end)
			end = free_list[i].end;
		remove_at(i);
	}
	insert_at(i, base, end);
}

/* Boot only: takes [base, end) out of the free list wherever it is. */
static void reserve(uint64_t base, uint64_t end)
{
	base = align_down(base, PAGE_SIZE);
	end = align_up(end, PAGE_SIZE);
	for (unsigned i = 0; i < free_count; i++) {
		struct extent *e = &free_list[i];
		if (e->end <= base || e->base >= end)
			continue;
		if (e->base < base && e->end > end) {       /* split in two */
			insert_at(i + 1, end, e->end);
			free_list[i].end = base;
			return;
		}
		if (e->base < base) {
			e->end = base;
		} else if (e->end > end) {
			e->base = end;
		} else {
			remove_at(i);
			i--;
		}
	}
}

void pmm_init(void)
{
	for (unsigned i = 0; i < multiboot2_memory_count(); i++) {
		const struct memory_range *r = multiboot2_memory(i);
		if (r->type != MB2_MEMORY_AVAILABLE)
			continue;
		uint64_t base = align_up(r->base < LOW_LIMIT ? LOW_LIMIT : r->base, PAGE_SIZE);
		uint64_t end = r->base + r->length;
		end = align_down(end > HIGH_LIMIT ? HIGH_LIMIT : end, PAGE_SIZE);
		if (end > base)
			add_usable(base, end);
	}
	/* Where an available range overlaps a reserved one, reserved wins. */
	for (unsigned i = 0; i < multiboot2_memory_count(); i++) {
		const struct memory_range *r = multiboot2_memory(i);
		if (r->type != MB2_MEMORY_AVAILABLE)
			reserve(r->base, r->base + r->length);
	}
	reserve((uintptr_t)__kernel_phys_start, (uintptr_t)__kernel_phys_end);
	for (unsigned i = 0; i < multiboot2_reserved_count(); i++) {
		uint64_t base, end;
		multiboot2_reserved(i, &base, &end);
		reserve(base, end);
	}

	for (unsigned i = 0; i < free_count; i++)
		free_bytes += free_list[i].end - free_list[i].base;
	total_bytes = free_bytes;
	memcpy(managed, free_list, free_count * sizeof(free_list[0]));
	managed_count = free_count;
	if (!free_bytes)
		panic("pmm: no usable memory between 1 MiB and 4 GiB");
}

/* Guests start and restart on their own CPUs: one allocator, one lock. */
static spinlock_t pmm_lock;
static void *pmm_alloc_locked(size_t pages, size_t align_bytes);
static void pmm_free_locked(void *pointer, size_t pages);

void *pmm_alloc(size_t pages, size_t align_bytes)
{
	spin_lock(&pmm_lock);
	void *p = pmm_alloc_locked(pages, align_bytes);
	spin_unlock(&pmm_lock);
	/* Zeroed outside the lock: the run is ours alone now. */
	if (p)
		memset(p, 0, pages * PAGE_SIZE);
	return p;
}

/* The same without zeroing, for memory the caller zeroes itself before
 * anything reads it (guest RAM: linker/guest_ram.c, on first touch). */
void *pmm_alloc_unzeroed(size_t pages, size_t align_bytes)
{
	spin_lock(&pmm_lock);
	void *p = pmm_alloc_locked(pages, align_bytes);
	spin_unlock(&pmm_lock);
	return p;
}

void pmm_free(void *pointer, size_t pages)
{
	spin_lock(&pmm_lock);
	pmm_free_locked(pointer, pages);
	spin_unlock(&pmm_lock);
}

static void *pmm_alloc_locked(size_t pages, size_t align_bytes)
{
	if (align_bytes < PAGE_SIZE)
		align_bytes = PAGE_SIZE;
	if (!pages || (align_bytes & (align_bytes - 1)) || pages > HIGH_LIMIT / PAGE_SIZE)
		return NULL;
	uint64_t size = pages * PAGE_SIZE;
	for (unsigned i = 0; i < free_count; i++) {
		struct extent *e = &free_list[i];
		uint64_t start = align_up(e->base, align_bytes);
		if (start + size > e->end)
			continue;
		bool head = start > e->base, tail = start + size < e->end;
		if (head && tail) {
			if (free_count == MAX_EXTENTS)
				continue;   /* a split needs a slot; try elsewhere */
			insert_at(i + 1, start + size, e->end);
			free_list[i].end = start;
		} else if (head) {
			e->end = start;
		} else if (tail) {
			e->base = start + size;
		} else {
			remove_at(i);
		}
		free_bytes -= size;
		return (void *)(uintptr_t)start;   /* identity map: virt == phys */
	}
	return NULL;
}

static void pmm_free_locked(void *pointer, size_t pages)
{
	if (!pointer || !pages)
		return;
	uint64_t base = (uintptr_t)pointer;
	uint64_t end = base + pages * PAGE_SIZE;
	bool inside = false;
	for (unsigned i = 0; i < managed_count && !inside; i++)
		inside = base >= managed[i].base && end <= managed[i].end;
	if ((base & (PAGE_SIZE - 1)) || end <= base || !inside)
		panic("pmm_free(%p, %zu): not memory pmm handed out", pointer, pages);

	unsigned i = 0;
	while (i < free_count && free_list[i].base < base)
		i++;
	if ((i > 0 && free_list[i - 1].end > base) || (i < free_count && free_list[i].base < end))
		panic("pmm_free(%p, %zu): already free", pointer, pages);

	bool merge_previous = i > 0 && free_list[i - 1].end == base;
	bool merge_next = i < free_count && free_list[i].base == end;
	if (merge_previous && merge_next) {
		free_list[i - 1].end = free_list[i].end;
		remove_at(i);
	} else if (merge_previous) {
		free_list[i - 1].end = end;
	} else if (merge_next) {
		free_list[i].base = base;
	} else {
		insert_at(i, base, end);
	}
	free_bytes += end - base;
}

uint64_t pmm_free_bytes(void)
{
	return free_bytes;
}

uint64_t pmm_total_bytes(void)
{
	return total_bytes;
}
