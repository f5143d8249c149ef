/*
 * The instance self-test (selftest=instances:N on the hypervisor's command
 * line, make test's host tests): guest VMM instances can be made, trapped
 * and dropped at will, without touching each other or leaking a page.
 */
#include "hv.h"
#include "core.h"

/*
 * Proof that instances are independent and disposable: fill every slot,
 * check each fresh instance starts zeroed, stamp a per-instance pattern,
 * make some trap in each of the ways a guest could drive them to (and check
 * the neighbours are untouched), drop all, repeat; at the end the physical
 * allocator must have every page back.
 */
bool core_selftest_instances(unsigned count)
{
	if (!wasm_rt_is_initialized())
		wasm_rt_init();
	/* Page-table pages that map instance windows stay once made. */
	uint64_t free_before = pmm_free_bytes(), tables_before = vmem_table_bytes();
	uint64_t sums[CORE_MAX_GUESTS];
	unsigned made = 0, traps_caught = 0, rounds = 0;
	wasm_rt_jmp_buf frame;
	uint64_t t0 = tsc_read();

	while (made < count) {
		unsigned width = count - made < CORE_MAX_GUESTS ? count - made : CORE_MAX_GUESTS;
		for (unsigned s = 0; s < width; s++) {
			wasm_rt_trap_t trap = core_guest_create(s, made + s, 0);
			if (trap) {
				kprintf("[hv] selftest: instance %u: create failed: %s\n", made + s, wasm_rt_strerror(trap));
				return false;
			}
			bool zero = false;
			struct guest_vmm *g = &core_guests[s];
			if (CORE_CALL(&frame, zero = w2c_guest_scratchIsZero(&g->instance)) || !zero) {
				kprintf("[hv] selftest: instance %u did not start from zeroed memory\n", made + s);
				return false;
			}
			if (CORE_CALL(&frame, sums[s] = w2c_guest_scratchFill(&g->instance, made + s)))
				return false;
		}
		/* Every fourth instance is made to trap; each kind in turn. */
		core_abort_quiet = true;
		for (unsigned s = 0; s < width; s += 4) {
			uint32_t kind = (rounds + s / 4) % 4;
			wasm_rt_trap_t trap = CORE_CALL(&frame, w2c_guest_crashForTest(&core_guests[s].instance, kind));
			if (!trap) {
				core_abort_quiet = false;
				kprintf("[hv] selftest: crash kind %u did not trap\n", kind);
				return false;
			}
			traps_caught++;
			core_guest_destroy(s);
		}
		core_abort_quiet = false;
		/* The others still hold exactly what they were given. */
		for (unsigned s = 0; s < width; s++) {
			if (!core_guests[s].live)
				continue;
			uint64_t sum = 0;
			uint32_t id = 0;
			struct guest_vmm *g = &core_guests[s];
			if (CORE_CALL(&frame, (id = w2c_guest_guestId(&g->instance), sum = w2c_guest_scratchSum(&g->instance)))
			    || id != made + s || sum != sums[s]) {
				kprintf("[hv] selftest: instance %u lost its state after a neighbour trapped\n", made + s);
				return false;
			}
		}
		for (unsigned s = 0; s < width; s++)
			core_guest_destroy(s);
		made += width;
		rounds++;
	}
	uint64_t free_after = pmm_free_bytes() + (vmem_table_bytes() - tables_before);
	uint64_t cycles = tsc_read() - t0;
	uint64_t us = tsc_hz() ? cycles / (tsc_hz() / 1000000 ? tsc_hz() / 1000000 : 1) : 0;
	kprintf("[hv] selftest: %u guest VMM instances created and destroyed (%u made to trap), "
		"%llu us, %llu KiB leaked\n", made, traps_caught, (unsigned long long)us,
		(unsigned long long)((free_before - free_after) / 1024));
	return free_before == free_after;
}
