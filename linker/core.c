/*
 * Entering the core. Each call into a Wasm module runs inside a trap frame
 * (wasm_rt_try): a trap in a guest VMM instance returns here as a value and
 * that instance is dropped; a trap in the supervisor is a hypervisor bug and
 * panics, since the supervisor holds every guest's page tables.
 */
#include "hv.h"
#include "core.h"
#include "percpu.h"
#include "exit_record.h"

/* `stop <name>` at the prompt (supervisor/monitor.ts): a byte per guest in
 * the supervisor's memory, read here without its lock. */
static const uint8_t *stop_requests;
static const uint8_t *supervisor_bytes(uint32_t pointer, uint32_t length);

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

/* A linear memory's backing: boot/vmem.c zeroes each page on its first
 * touch through the window, so it is not zeroed here. */
void *wasm_rt_platform_alloc_memory(size_t bytes)
{
	return pmm_alloc_unzeroed((bytes + PAGE_SIZE - 1) / PAGE_SIZE, 65536);
}

void wasm_rt_platform_free(void *base, size_t bytes)
{
	pmm_free(base, (bytes + PAGE_SIZE - 1) / PAGE_SIZE);
}


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
	uint32_t requests = 0;
	trap = CORE_CALL(&frame, requests = w2c_supervisor_stopRequests(&core_supervisor));
	if (trap || !supervisor_bytes(requests, CORE_MAX_GUESTS))
		panic("the supervisor has no stop requests");
	stop_requests = supervisor_bytes(requests, CORE_MAX_GUESTS);
	return guests;
}

bool core_guest_stop_requested(unsigned g)
{
	return g < CORE_MAX_GUESTS && stop_requests && __atomic_load_n(&stop_requests[g], __ATOMIC_RELAXED);
}

bool core_config_failed(void)
{
	wasm_rt_jmp_buf frame;
	uint32_t errors = 0;
	if (CORE_CALL(&frame, errors = w2c_supervisor_configErrors(&core_supervisor)))
		panic("the supervisor trapped in configErrors");
	return errors != 0;
}

uint64_t core_guest_instance_bytes(void)
{
	return core_guests[0].live ? core_guests[0].instance.w2c_memory.max_pages * 65536ull : 0;
}

/* A fresh guest VMM instance in `slot` (its imports reach what the slot's
 * ram/kernel/initrd fields name, set by the caller). */
static wasm_rt_trap_t instantiate_guest(unsigned slot)
{
	struct guest_vmm *g = &core_guests[slot];
	wasm_rt_jmp_buf frame;
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
	return WASM_RT_TRAP_NONE;
}

static uint32_t exit_record_offset[CORE_MAX_GUESTS][CORE_MAX_VCPUS];
static uint32_t initial_state_offset[CORE_MAX_GUESTS][CORE_MAX_VCPUS];
static uint32_t vcpu_count[CORE_MAX_GUESTS];

/* Offsets the guest VMM exports must leave room for what the stub writes. */
static bool instance_range(struct guest_vmm *vm, uint32_t offset, uint32_t length)
{
	return (uint64_t)offset + length <= vm->instance.w2c_memory.size;
}

/* Each vCPU's record and first state, where the instance says, checked. */
static wasm_rt_trap_t guest_offsets(unsigned g, uint32_t vcpus)
{
	struct guest_vmm *vm = &core_guests[g];
	wasm_rt_jmp_buf frame;
	wasm_rt_trap_t trap = WASM_RT_TRAP_NONE;
	vcpu_count[g] = vcpus;
	for (uint32_t v = 0; v < vcpus && !trap; v++) {
		trap = CORE_CALL(&frame, (exit_record_offset[g][v] = w2c_guest_exitRecord(&vm->instance, v),
					  initial_state_offset[g][v] = w2c_guest_vcpuInitialState(&vm->instance, v)));
		if (!trap && (!exit_record_offset[g][v] || !initial_state_offset[g][v] ||
			      !instance_range(vm, exit_record_offset[g][v], sizeof(struct exit_record)) ||
			      !instance_range(vm, initial_state_offset[g][v], sizeof(struct vcpu_state)) ||
			      (exit_record_offset[g][v] & 7) || (initial_state_offset[g][v] & 7)))
			trap = WASM_RT_TRAP_BAD_IMPORT_ARGUMENT;
	}
	return trap;
}

wasm_rt_trap_t core_guest_create(unsigned slot, uint32_t guest_id, uint64_t memory_bytes)
{
	if (slot >= CORE_MAX_GUESTS || core_guests[slot].live)
		return WASM_RT_TRAP_BAD_IMPORT_ARGUMENT;
	struct guest_vmm *g = &core_guests[slot];
	wasm_rt_jmp_buf frame;
	uint32_t status = 0;
	wasm_rt_trap_t trap = instantiate_guest(slot);
	if (trap)
		return trap;
	trap = CORE_CALL(&frame, status = w2c_guest_create(&g->instance, guest_id, memory_bytes, 1, 0, 0));
	if (trap || status) {
		core_guest_destroy(slot);
		return trap ? trap : WASM_RT_TRAP_UNREACHABLE;
	}
	return guest_offsets(slot, 1);
}

void core_guest_destroy(unsigned slot)
{
	if (slot >= CORE_MAX_GUESTS || !core_guests[slot].live)
		return;
	wasm2c_guest_free(&core_guests[slot].instance);
	core_guests[slot].live = false;
}

/* --- running guests ----------------------------------------------------------*/

#include "arch/vcpu.h"
#include "exit_record.h"

spinlock_t core_supervisor_lock;
uint64_t core_supervisor_entries;   /* under the lock */


void core_set_vendor(unsigned vendor)
{
	SUPERVISOR(w2c_supervisor_setHostLayout(&core_supervisor,
		(uint64_t)(uintptr_t)core_supervisor.w2c_memory.backing, vendor));
}

/* A (pointer, length) the supervisor returned, checked like any other. */
static const uint8_t *supervisor_bytes(uint32_t pointer, uint32_t length)
{
	if ((uint64_t)pointer + length > core_supervisor.w2c_memory.size)
		panic("the supervisor returned a bad string (%#x, %u)", pointer, length);
	return core_supervisor.w2c_memory.data + pointer;
}

const char *core_guest_name(unsigned g)
{
	struct guest_vmm *vm = &core_guests[g];
	if (!vm->name[0]) {
		uint32_t p = 0, n = 0;
		SUPERVISOR((p = w2c_supervisor_guestNamePointer(&core_supervisor, g),
			    n = w2c_supervisor_guestNameLength(&core_supervisor, g)));
		if (n >= sizeof vm->name)
			n = sizeof vm->name - 1;
		memcpy(vm->name, supervisor_bytes(p, n), n);
		vm->name[n] = 0;
	}
	return vm->name;
}

wasm_rt_trap_t core_guest_start(unsigned g, char *why, unsigned why_size)
{
	struct guest_vmm *vm = &core_guests[g];
	wasm_rt_jmp_buf frame;
	uint64_t bytes = 0;
	uint32_t kernel = 0, initrd = 0, status = 0, vcpus = 0;
	why[0] = 0;
	core_guest_name(g);
	SUPERVISOR((bytes = w2c_supervisor_guestMemoryBytes(&core_supervisor, g),
		    vcpus = w2c_supervisor_guestVcpus(&core_supervisor, g),
		    kernel = w2c_supervisor_guestKernelModule(&core_supervisor, g),
		    initrd = w2c_supervisor_guestInitrdModule(&core_supervisor, g)));

	if (vcpus == 0 || vcpus > CORE_MAX_VCPUS) {
		ksnprintf(why, why_size, "%u vCPUs asked for, at most %u", vcpus, CORE_MAX_VCPUS);
		return WASM_RT_TRAP_BAD_IMPORT_ARGUMENT;
	}
	/* RAM: one contiguous 2 MiB-aligned block, so the nested tables can
	 * use 2 MiB pages throughout. */
	/* Zeroed on first touch, 2 MiB at a time (guest_ram.c). */
	uint8_t *ram = pmm_alloc_unzeroed(bytes / PAGE_SIZE, 2ull << 20);
	if (!ram) {
		ksnprintf(why, why_size, "not enough host memory for %llu MiB of RAM (%llu MiB free)",
			  (unsigned long long)(bytes >> 20), (unsigned long long)(pmm_free_bytes() >> 20));
		return WASM_RT_TRAP_OOM;
	}
	vm->ram = ram;
	vm->ram_bytes = bytes;
	if (!guest_ram_init(g)) {
		ksnprintf(why, why_size, "not enough host memory for its RAM's bookkeeping");
		core_guest_release(g);
		return WASM_RT_TRAP_OOM;
	}
	SUPERVISOR(status = w2c_supervisor_buildLazyGuestTables(&core_supervisor, g, (uint64_t)(uintptr_t)ram, bytes));
	if (status) {
		ksnprintf(why, why_size, "no room for its nested page tables (error %u)", status);
		core_guest_release(g);
		return WASM_RT_TRAP_OOM;
	}

	/* A fresh instance for this guest. */
	vm->kernel = boot_module_get(kernel);
	vm->initrd = boot_module_get(initrd);
	vm->input_trap = WASM_RT_TRAP_NONE;
	wasm_rt_trap_t trap = instantiate_guest(g);
	if (trap)
		goto fail;

	/* Name and command line go into the instance's setup area. */
	uint32_t name_p = 0, name_n = 0, cmd_p = 0, cmd_n = 0, setup = 0, setup_n = 0;
	SUPERVISOR((name_p = w2c_supervisor_guestNamePointer(&core_supervisor, g),
		    name_n = w2c_supervisor_guestNameLength(&core_supervisor, g),
		    cmd_p = w2c_supervisor_guestCmdlinePointer(&core_supervisor, g),
		    cmd_n = w2c_supervisor_guestCmdlineLength(&core_supervisor, g)));
	trap = CORE_CALL(&frame, (setup = w2c_guest_setupArea(&vm->instance),
				  setup_n = w2c_guest_setupAreaBytes(&vm->instance)));
	if (trap)
		goto fail;
	if ((uint64_t)name_n + cmd_n > setup_n || !instance_range(vm, setup, setup_n)) {
		trap = WASM_RT_TRAP_BAD_IMPORT_ARGUMENT;
		goto fail;
	}
	uint8_t *area = vm->instance.w2c_memory.data + setup;
	memcpy(area, supervisor_bytes(name_p, name_n), name_n);
	memcpy(area + name_n, supervisor_bytes(cmd_p, cmd_n), cmd_n);
	trap = CORE_CALL(&frame, status = w2c_guest_create(&vm->instance, g, bytes, vcpus, name_n, cmd_n));
	if (!trap && status)
		trap = WASM_RT_TRAP_UNREACHABLE;
	if (trap)
		goto fail;
	/* Its share of the host console: the supervisor decides from what the
	 * port has carried so far. */
	uint32_t share = 0;
	uint64_t carried = console_bytes_per_second();
	SUPERVISOR(share = w2c_supervisor_guestConsoleBytesPerSecond(&core_supervisor, g, carried, cpu_count));
	trap = CORE_CALL(&frame, w2c_guest_setConsoleRate(&vm->instance, share));
	if (trap)
		goto fail;
	trap = guest_offsets(g, vcpus);
	if (trap)
		goto fail;
	trap = CORE_CALL(&frame, status = w2c_guest_load(&vm->instance));
	if (!trap && status) {
		core_guest_release(g);   /* the core printed why */
		return WASM_RT_TRAP_UNREACHABLE;
	}
	if (trap)
		goto fail;
	return WASM_RT_TRAP_NONE;
fail:
	ksnprintf(why, why_size, "its guest VMM trapped while starting: %s", wasm_rt_strerror(trap));
	core_guest_release(g);
	return trap;
}

void core_guest_tables(unsigned g, struct arch_guest_tables *t)
{
	SUPERVISOR((t->nested_root = w2c_supervisor_guestNestedRoot(&core_supervisor, g),
		    t->io_bitmap = w2c_supervisor_guestIoBitmap(&core_supervisor, g),
		    t->msr_bitmap = w2c_supervisor_guestMsrBitmap(&core_supervisor, g)));
}

unsigned core_guest_stop_after_ms(unsigned g)
{
	uint32_t ms = 0;
	SUPERVISOR(ms = w2c_supervisor_guestStopAfterMs(&core_supervisor, g));
	return ms;
}

unsigned core_guest_vcpus(unsigned g)
{
	return vcpu_count[g];
}

const struct vcpu_state *core_guest_initial_state(unsigned g, unsigned v)
{
	return (const struct vcpu_state *)(core_guests[g].instance.w2c_memory.data + initial_state_offset[g][v]);
}

struct exit_record *core_guest_exit_record(unsigned g, unsigned v)
{
	return (struct exit_record *)(core_guests[g].instance.w2c_memory.data + exit_record_offset[g][v]);
}

wasm_rt_trap_t core_guest_handle_exit(unsigned g, unsigned v)
{
	wasm_rt_jmp_buf frame;
	struct guest_vmm *vm = &core_guests[g];
	wasm_rt_trap_t trap = CORE_CALL(&frame, w2c_guest_handleExit(&vm->instance, v));
	core_sanitize_answer(core_guest_exit_record(g, v));
	return trap;
}

wasm_rt_trap_t core_guest_next_vcpu(unsigned g, int last, int *next)
{
	wasm_rt_jmp_buf frame;
	uint32_t answer = 0;
	struct guest_vmm *vm = &core_guests[g];
	wasm_rt_trap_t trap = CORE_CALL(&frame, answer = w2c_guest_nextVcpu(&vm->instance, (uint32_t)last));
	*next = CORE_NEXT_VCPU_NONE;
	if (trap || (int32_t)answer < 0)
		return trap;
	/* A vCPU the guest does not have, or unknown flags: a broken instance. */
	if ((answer & 0xff) >= vcpu_count[g] || (answer & ~(0xffu | CORE_NEXT_VCPU_LOAD | CORE_NEXT_VCPU_APPLY)))
		return WASM_RT_TRAP_UNREACHABLE;
	if (answer & CORE_NEXT_VCPU_APPLY)
		core_sanitize_answer(core_guest_exit_record(g, answer & 0xff));
	*next = (int)answer;
	return WASM_RT_TRAP_NONE;
}

uint64_t core_guest_deadline(unsigned g)
{
	wasm_rt_jmp_buf frame;
	uint64_t deadline = NO_DEADLINE;
	if (CORE_CALL(&frame, deadline = w2c_guest_deadline(&core_guests[g].instance)))
		return NO_DEADLINE;
	return deadline;
}

bool core_guest_cmos(unsigned g, uint8_t *bytes, bool save)
{
	struct guest_vmm *vm = &core_guests[g];
	wasm_rt_jmp_buf frame;
	uint32_t offset = 0, length = 0;
	wasm_rt_trap_t trap = CORE_CALL(&frame, (offset = w2c_guest_cmosRam(&vm->instance),
						 length = w2c_guest_cmosRamBytes(&vm->instance)));
	if (trap || length != CORE_CMOS_BYTES || !instance_range(vm, offset, length))
		return false;
	uint8_t *ram = vm->instance.w2c_memory.data + offset;
	if (save)
		memcpy(bytes, ram, CORE_CMOS_BYTES);
	else
		memcpy(ram, bytes, CORE_CMOS_BYTES);
	return true;
}

void core_guest_flush_console(unsigned g)
{
	wasm_rt_jmp_buf frame;
	if (CORE_CALL(&frame, w2c_guest_flushConsole(&core_guests[g].instance)))
		kprintf("[hv] guest %s: its console flush trapped\n", core_guest_name(g));
}

void core_guest_print_stop_stats(unsigned g)
{
	wasm_rt_jmp_buf frame;
	if (CORE_CALL(&frame, w2c_guest_printStopStats(&core_guests[g].instance)))
		kprintf("[hv] guest %s: its exit statistics trapped\n", core_guest_name(g));
}

void core_guest_release(unsigned g)
{
	struct guest_vmm *vm = &core_guests[g];
	core_guest_destroy(g);
	SUPERVISOR(w2c_supervisor_releaseGuestTables(&core_supervisor, g));
	guest_ram_release(g);
	if (vm->ram) {
		pmm_free(vm->ram, vm->ram_bytes / PAGE_SIZE);
		vm->ram = NULL;
		vm->ram_bytes = 0;
	}
	vm->kernel = vm->initrd = NULL;
}

uint64_t core_guest_overhead_bytes(unsigned g)
{
	uint32_t tables = 0;
	SUPERVISOR(tables = w2c_supervisor_guestTableBytes(&core_supervisor, g));
	return core_guests[g].instance.w2c_memory.max_pages * 65536ull + tables;
}

unsigned core_timeslice_ms(void)
{
	uint32_t ms = 0;
	SUPERVISOR(ms = w2c_supervisor_hypervisorTimesliceMs(&core_supervisor));
	return ms ? ms : 10;
}

bool core_guest_should_restart(unsigned g, uint32_t stop_reason)
{
	uint32_t restart = 0;
	SUPERVISOR(restart = w2c_supervisor_guestStopped(&core_supervisor, g, stop_reason));
	return restart != 0;
}

void core_schedule_reset(unsigned count) { SUPERVISOR(w2c_supervisor_schedulerReset(&core_supervisor, count)); }

void core_assign_cpus(unsigned cpu_count)
{
	SUPERVISOR(w2c_supervisor_assignCpus(&core_supervisor, cpu_count));
}

unsigned core_guest_cpu(unsigned g)
{
	uint32_t cpu = 0;
	SUPERVISOR(cpu = w2c_supervisor_guestCpu(&core_supervisor, g));
	return cpu;
}

