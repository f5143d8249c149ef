/*
 * Guest RAM zeroed on first touch. A guest's RAM comes from the allocator
 * unzeroed and its nested tables map each whole 2 MiB block absent
 * (supervisor buildLazyGuestTables); the first access to a block, by the
 * guest (a nested page fault / EPT violation) or by its guest VMM's
 * imports (the loader, the paravirtual clock, instruction emulation),
 * zeroes it and has the supervisor make it present. No guest ever sees
 * what the memory held before, and a guest that touches little of its RAM
 * starts without zeroing all of it (make bench, P4 and P6). The first
 * block goes 16 KiB at a time (the supervisor maps it in 4 KiB pages): its
 * loader writes a few pages there, and its guest probes a few more.
 *
 * Only the guest's own CPU touches its blocks, so the bitmap takes no lock.
 * Not-present to present needs no TLB flush: neither NPT nor EPT caches a
 * translation that faulted (APM vol. 2, 15.25.10; SDM vol. 3C, 29.4.3).
 */
#include "hv.h"
#include "core.h"

#define BLOCK_SHIFT GUEST_RAM_BLOCK_SHIFT
#define BLOCK_BYTES (1ull << BLOCK_SHIFT)

/* True when the n bytes at p (8-byte aligned, n a multiple of 64) are 0. */
static bool all_zero(const uint8_t *p, uint64_t n)
{
	const uint64_t *q = (const uint64_t *)p;
	for (uint64_t i = 0; i < n / 8; i += 8)
		if (q[i] | q[i + 1] | q[i + 2] | q[i + 3] | q[i + 4] | q[i + 5] | q[i + 6] | q[i + 7])
			return false;
	return true;
}

/* Makes [p, p + n) zero, writing only the 4 KiB pages of it that are not
 * zero already (ragged ends are written). Memory nobody wrote since the
 * machine started reads as zero, and under an emulator reading it costs
 * the host nothing, where writing it makes the host allocate and clear a
 * page of its own: a Linux guest's first touches of 80 blocks of 2 MiB
 * took 396 ms of its boot under QEMU TCG, about 5 ms a block, against
 * the 0.5 ms the stores alone take (make bench P3). On hardware a page
 * that holds data (a guest's before) is read until its first non-zero
 * word, then written: a little more than the write alone. Tested by
 * tests/host's ram-zero. */
void guest_ram_zero(uint8_t *p, uint64_t n)
{
	uint8_t *end = p + n;
	while (p < end) {
		uint64_t chunk = PAGE_SIZE - ((uintptr_t)p & (PAGE_SIZE - 1));
		if (chunk > (uint64_t)(end - p))
			chunk = (uint64_t)(end - p);
		if (chunk != PAGE_SIZE || !all_zero(p, chunk))
			memset(p, 0, chunk);
		p += chunk;
	}
}

/* Zeroes [start, end) of the RAM but what of it lies in [keep, keep_end):
 * bytes the caller overwrites at once (guest_ram_prepare's `overwrite`). */
static void zero_except(struct guest_vmm *vm, uint64_t start, uint64_t end, uint64_t keep, uint64_t keep_end)
{
	if (keep >= end || keep_end <= start) {
		guest_ram_zero(vm->ram + start, end - start);
		return;
	}
	if (keep > start)
		guest_ram_zero(vm->ram + start, keep - start);
	if (keep_end < end)
		guest_ram_zero(vm->ram + keep_end, end - keep_end);
}

/* Has the supervisor make [gpa, gpa + its block or run) present, zeroed. */
static void populate(unsigned g, uint64_t gpa)
{
	uint32_t done = 0;
	SUPERVISOR(done = w2c_supervisor_populateGuestRam(&core_supervisor, g, gpa));
	if (!done)
		panic("guest %u: its RAM at %#llx would not map", g, (unsigned long long)gpa);
}

static void clean_block(unsigned g, struct guest_vmm *vm, uint64_t block, uint64_t keep, uint64_t keep_end)
{
	zero_except(vm, block << BLOCK_SHIFT, (block + 1) << BLOCK_SHIFT, keep, keep_end);
	vm->ram_clean[block / 64] |= 1ull << (block % 64);
	populate(g, block << BLOCK_SHIFT);
}

/* The first block's runs (supervisor/tables.ts FIRST_BLOCK_RUN_BYTES). */
#define RUN_SHIFT 14
#define FIRST_BLOCK_RUNS (BLOCK_BYTES >> RUN_SHIFT)

/* False when the run was zeroed and present already. */
static bool clean_first_block_run(unsigned g, struct guest_vmm *vm, uint64_t run, uint64_t keep, uint64_t keep_end)
{
	uint64_t bit = 1ull << (run % 64);
	if (vm->first_block_clean[run / 64] & bit)
		return false;
	zero_except(vm, run << RUN_SHIFT, (run + 1) << RUN_SHIFT, keep, keep_end);
	vm->first_block_clean[run / 64] |= bit;
	populate(g, run << RUN_SHIFT);
	if (++vm->first_block_runs == FIRST_BLOCK_RUNS)
		vm->ram_clean[0] |= 1;     /* all of block 0: the fast path may skip it */
	return true;
}

/* [gpa, end) of block 0, run by run. */
static void prepare_first_block(unsigned g, struct guest_vmm *vm, uint64_t gpa, uint64_t end,
				uint64_t keep, uint64_t keep_end)
{
	if (end > BLOCK_BYTES)
		end = BLOCK_BYTES;
	for (uint64_t run = gpa >> RUN_SHIFT; run < (end + (1ull << RUN_SHIFT) - 1) >> RUN_SHIFT; run++)
		clean_first_block_run(g, vm, run, keep, keep_end);
}

bool guest_ram_init(unsigned g)
{
	struct guest_vmm *vm = &core_guests[g];
	vm->ram_blocks = (uint32_t)(vm->ram_bytes >> BLOCK_SHIFT);
	uint64_t bitmap_bytes = (vm->ram_blocks / 64 + 1) * 8;
	vm->ram_clean_pages = (uint32_t)((bitmap_bytes + PAGE_SIZE - 1) / PAGE_SIZE);
	vm->ram_clean = pmm_alloc_unzeroed(vm->ram_clean_pages, PAGE_SIZE);
	if (!vm->ram_clean)
		return false;
	memset(vm->ram_clean, 0, bitmap_bytes);   /* the bits it uses */
	vm->first_block_clean[0] = vm->first_block_clean[1] = 0;
	vm->first_block_runs = 0;
	/* The tail below a whole block is mapped in 4 KiB pages: zero it now. */
	uint64_t whole = (uint64_t)vm->ram_blocks << BLOCK_SHIFT;
	guest_ram_zero(vm->ram + whole, vm->ram_bytes - whole);
	return true;
}

void guest_ram_prepare(unsigned g, uint64_t gpa, uint64_t length, bool overwrite)
{
	struct guest_vmm *vm = &core_guests[g];
	if (!vm->ram_clean || length == 0)
		return;
	/* What the caller overwrites need not be zeroed first: no one reads
	 * the guest's RAM in between (only its own CPU touches it). */
	uint64_t keep = overwrite ? gpa : 0, keep_end = overwrite ? gpa + length : 0;
	uint64_t last = (gpa + length - 1) >> BLOCK_SHIFT;
	for (uint64_t block = gpa >> BLOCK_SHIFT; block <= last && block < vm->ram_blocks; block++) {
		if (guest_ram_block_clean(vm, block))
			continue;
		if (block == 0)
			prepare_first_block(g, vm, gpa, gpa + length, keep, keep_end);
		else
			clean_block(g, vm, block, keep, keep_end);
	}
}

bool guest_ram_fault(unsigned g, uint64_t gpa)
{
	struct guest_vmm *vm = &core_guests[g];
	uint64_t block = gpa >> BLOCK_SHIFT;
	if (!vm->ram_clean || gpa >= vm->ram_bytes || block >= vm->ram_blocks || guest_ram_block_clean(vm, block))
		return false;
	if (block == 0)      /* false: present already, not a first touch */
		return clean_first_block_run(g, vm, gpa >> RUN_SHIFT, 0, 0);
	clean_block(g, vm, block, 0, 0);
	return true;
}

void guest_ram_release(unsigned g)
{
	struct guest_vmm *vm = &core_guests[g];
	if (vm->ram_clean)
		pmm_free(vm->ram_clean, vm->ram_clean_pages);
	vm->ram_clean = NULL;
	vm->ram_blocks = vm->ram_clean_pages = 0;
}
