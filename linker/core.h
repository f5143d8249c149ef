/*
 * The glue between the stub and the two Wasm modules of the core. The stub
 * calls these; they enter the core inside a trap frame, so a trap in a guest
 * VMM instance comes back here as an error instead of taking the host down.
 */
#ifndef CORE_H
#define CORE_H

#include <stdint.h>
#include <stdbool.h>
#include "wasm-rt.h"
#include "supervisor.h"
#include "guest.h"

#define CORE_MAX_GUESTS 64

/* What each instance's imports are allowed to touch. One per instance; the
 * generated code hands it back to every import as its first argument. */
struct w2c_env {
	wasm_rt_memory_t *memory;   /* this instance's linear memory */
	int guest;                  /* -1 for the supervisor, else the guest slot */
};

struct guest_vmm {
	bool live;
	w2c_guest instance;
	struct w2c_env env;
};

extern w2c_supervisor core_supervisor;
extern struct guest_vmm core_guests[CORE_MAX_GUESTS];
extern bool core_abort_quiet;

/* Creates a fresh guest VMM instance in `slot` and gives it guest `guest_id`.
 * Returns WASM_RT_TRAP_NONE or why it failed (the slot is then empty). */
wasm_rt_trap_t core_guest_create(unsigned slot, uint32_t guest_id, uint64_t memory_bytes);
void core_guest_destroy(unsigned slot);
/* Bytes of physical memory one guest VMM instance takes (its linear memory). */
uint64_t core_guest_instance_bytes(void);

/* Runs the instance self-test: create, exercise, trap and drop `count`
 * instances, checking isolation and that no memory leaks. */
bool core_selftest_instances(unsigned count);

#endif
