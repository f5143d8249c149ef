/*
 * Entering the core. Each call into a Wasm module runs inside a trap frame
 * (wasm_rt_try): a trap in a guest VMM instance returns here as a value and
 * that instance is dropped; a trap in the supervisor is a hypervisor bug and
 * panics, since the supervisor holds every guest's page tables.
 */
#include "hv.h"
#include "core.h"

w2c_supervisor core_supervisor;
static struct w2c_env supervisor_env = { .memory = &core_supervisor.w2c_memory, .guest = -1 };
struct guest_vmm core_guests[CORE_MAX_GUESTS];
/* Set while the self-test makes instances abort on purpose. */
bool core_abort_quiet;

void hv_assert_failed(const char *expr, const char *file, int line)
{
	panic("assertion failed: %s (%s:%d)", expr, file, line);
}

void abort(void)
{
	panic("abort() called in the core's C code");
}

void wasm_rt_platform_unprotected_trap(wasm_rt_trap_t trap)
{
	panic("Wasm trap outside a protected call: %s", wasm_rt_strerror(trap));
}

/* Linear memories are physically contiguous and 64 KiB aligned, so offsets
 * keep their page alignment in host-physical terms. */
void *wasm_rt_platform_alloc(size_t bytes)
{
	return pmm_alloc((bytes + PAGE_SIZE - 1) / PAGE_SIZE, 65536);
}

void wasm_rt_platform_free(void *base, size_t bytes)
{
	pmm_free(base, (bytes + PAGE_SIZE - 1) / PAGE_SIZE);
}

/* Runs `call` inside a trap frame; evaluates to the trap (NONE if it
 * returned normally). */
#define CORE_CALL(frame, call) \
	({ wasm_rt_trap_t trap_ = WASM_RT_TRAP_NONE; \
	   if (!(trap_ = wasm_rt_try(frame))) { call; } \
	   wasm_rt_end_try(frame); trap_; })

unsigned core_init(void)
{
	wasm_rt_jmp_buf frame;
	uint32_t guests = 0;
	wasm_rt_init();
	wasm_rt_trap_t trap = CORE_CALL(&frame, wasm2c_supervisor_instantiate(&core_supervisor, &supervisor_env));
	if (trap)
		panic("cannot instantiate the supervisor: %s", wasm_rt_strerror(trap));
	trap = CORE_CALL(&frame, guests = w2c_supervisor_init(&core_supervisor));
	if (trap)
		panic("the supervisor trapped in init: %s", wasm_rt_strerror(trap));
	return guests;
}

uint64_t core_guest_instance_bytes(void)
{
	return core_guests[0].live ? core_guests[0].instance.w2c_memory.max_pages * 65536ull : 0;
}

wasm_rt_trap_t core_guest_create(unsigned slot, uint32_t guest_id, uint64_t memory_bytes)
{
	if (slot >= CORE_MAX_GUESTS || core_guests[slot].live)
		return WASM_RT_TRAP_BAD_IMPORT_ARGUMENT;
	struct guest_vmm *g = &core_guests[slot];
	wasm_rt_jmp_buf frame;
	uint32_t status = 0;
	memset(&g->instance, 0, sizeof(g->instance));
	g->env.memory = &g->instance.w2c_memory;
	g->env.guest = (int)slot;
	wasm_rt_trap_t trap = CORE_CALL(&frame, wasm2c_guest_instantiate(&g->instance, &g->env));
	if (trap) {
		/* Instantiation may have trapped after the memory was allocated. */
		wasm2c_guest_free(&g->instance);
		return trap;
	}
	g->live = true;
	trap = CORE_CALL(&frame, status = w2c_guest_create(&g->instance, guest_id, memory_bytes));
	if (trap || status) {
		core_guest_destroy(slot);
		return trap ? trap : WASM_RT_TRAP_UNREACHABLE;
	}
	return WASM_RT_TRAP_NONE;
}

void core_guest_destroy(unsigned slot)
{
	if (slot >= CORE_MAX_GUESTS || !core_guests[slot].live)
		return;
	wasm2c_guest_free(&core_guests[slot].instance);
	core_guests[slot].live = false;
}

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
	uint64_t free_before = pmm_free_bytes();
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
	uint64_t free_after = pmm_free_bytes();
	uint64_t cycles = tsc_read() - t0;
	uint64_t us = tsc_hz() ? cycles / (tsc_hz() / 1000000 ? tsc_hz() / 1000000 : 1) : 0;
	kprintf("[hv] selftest: %u guest VMM instances created and destroyed (%u made to trap), "
		"%llu us, %llu KiB leaked\n", made, traps_caught, (unsigned long long)us,
		(unsigned long long)((free_before - free_after) / 1024));
	return free_before == free_after;
}
