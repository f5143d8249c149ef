/*
 * The glue between the stub and the Wasm modules of the core (the
 * supervisor, the guest VMM, each CPU's scheduler: linker/scheduler.c). The stub
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
#include "percpu.h"
#include "exit_record.h"

/* Runs `call` inside a trap frame; evaluates to the trap (NONE if it
 * returned normally). */
#define CORE_CALL(frame, call) \
	({ wasm_rt_trap_t trap_ = WASM_RT_TRAP_NONE; \
	   if (!(trap_ = wasm_rt_try(frame))) { call; } \
	   wasm_rt_end_try(frame); trap_; })

/* A call into the supervisor: one CPU at a time (it is one instance, and
 * off the exit path); a trap there is a hypervisor bug. */
extern spinlock_t core_supervisor_lock;
/* What it prints meanwhile waits in this CPU's buffer and goes to the
 * console after the lock is released (core_supervisor_flush), so no CPU
 * waits for the console while it holds the supervisor. */
/* Entries are counted: the run's last line says how often the lock was
 * taken, so a test can show that halts and slices do not take it. */
extern uint64_t core_supervisor_entries;
#define SUPERVISOR(call) \
	({ wasm_rt_jmp_buf frame_; spin_lock(&core_supervisor_lock); core_supervisor_locked(true); \
	   core_supervisor_entries++; \
	   wasm_rt_trap_t t_ = CORE_CALL(&frame_, call); \
	   core_supervisor_locked(false); spin_unlock(&core_supervisor_lock); core_supervisor_flush(); \
	   if (t_) panic("the supervisor trapped: %s (in %s)", wasm_rt_strerror(t_), #call); })
void core_supervisor_locked(bool locked);
void core_supervisor_flush(void);
/* The supervisor's console output: buffered while it is locked. */
void core_supervisor_write(const char *text, uint32_t length);
/* A guest instance's console text as the host may print it (linker/imports.c):
 * printable ASCII and '\n' kept, every other byte '?'. */
void console_clean(char *clean, const uint8_t *text, uint32_t n);

#define CORE_MAX_GUESTS 256   /* the config's MAX_GUESTS (assembly/config/guest_config.ts) */
/* vCPUs per guest: the guest VMM's MAX_VCPUS (assembly/guest/machine.ts). */
#define CORE_MAX_VCPUS 8

/* What each instance's imports are allowed to touch. One per instance; the
 * generated code hands it back to every import as its first argument. */
struct w2c_env {
	wasm_rt_memory_t *memory;   /* this instance's linear memory */
	int guest;                  /* -1 for the supervisor, else the guest slot */
};

struct guest_vmm {
	bool live;                  /* the instance exists */
	w2c_guest instance;
	struct w2c_env env;
	/* What this guest's imports may reach, and nothing else. */
	uint8_t *ram;               /* host address == host-physical */
	uint64_t ram_bytes;
	/* RAM is zeroed on first touch, 2 MiB at a time (linker/guest_ram.c):
	 * bit n set once block n is zeroed and mapped; NULL: all of it is.
	 * Block 0 goes 16 KiB at a time: bit n of first_block_clean per run,
	 * and its bit in ram_clean once all 128 are. */
	uint64_t *ram_clean;
	uint32_t ram_blocks, ram_clean_pages;
	uint64_t first_block_clean[2];
	uint32_t first_block_runs;       /* how many of them are */
	/* The instance trapped taking console input (core_console_receive):
	 * the run loop stops the guest as for any other trap. */
	wasm_rt_trap_t input_trap;
	const struct boot_module *kernel, *initrd;
	char name[40];
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

struct arch_guest_tables;
struct exit_record;
struct vcpu_state;

/* --- guest RAM zeroed on first touch (linker/guest_ram.c) --------------------*/
#define GUEST_RAM_BLOCK_SHIFT 21    /* 2 MiB blocks: one nested large page each */
/* Takes fresh, unzeroed RAM for guest g: the 4 KiB tail zeroed now, the
 * 2 MiB blocks as they are first touched. False when out of memory. */
bool guest_ram_init(unsigned g);
/* The operator asked for guest g to stop (`stop <name>` at the prompt). */
bool core_guest_stop_requested(unsigned g);
/* The trap guest g's instance took in console input delivery (NONE: none). */
wasm_rt_trap_t core_guest_input_trap(unsigned g);
/* Makes [gpa, gpa+length) of g's RAM (inside it) zeroed and mapped; with
 * `overwrite`, the caller writes all of the range next (a copy into it),
 * so only the rest of the blocks it touches is zeroed. */
void guest_ram_prepare(unsigned g, uint64_t gpa, uint64_t length, bool overwrite);
/* True when [gpa, gpa+length) (inside the RAM) needs nothing of
 * guest_ram_prepare: it lies in one block zeroed already, or in the tail
 * below a whole block (zeroed at init). Most accesses: no call. */
static inline bool guest_ram_block_clean(const struct guest_vmm *vm, uint64_t block)
{
	return (vm->ram_clean[block / 64] >> (block % 64)) & 1;
}
static inline bool guest_ram_ready(const struct guest_vmm *vm, uint64_t gpa, uint64_t length)
{
	uint64_t block = gpa >> GUEST_RAM_BLOCK_SHIFT;
	if (!vm->ram_clean || length == 0)
		return true;
	if (block != (gpa + length - 1) >> GUEST_RAM_BLOCK_SHIFT)
		return false;
	return block >= vm->ram_blocks || guest_ram_block_clean(vm, block);
}
/* A nested page fault at gpa: true when it was the first touch of a
 * block, now zeroed and mapped (re-enter the guest as it was). */
bool guest_ram_fault(unsigned g, uint64_t gpa);
/* Makes [p, p+n) zero, writing only the pages of it that are not. */
void guest_ram_zero(uint8_t *p, uint64_t n);
void guest_ram_release(unsigned g);

/* --- running guests (boot/run.c) -------------------------------------------*/
/* The supervisor builds tables in the format of this vendor (enum arch_vendor). */
void core_set_vendor(unsigned vendor);
const char *core_guest_name(unsigned guest);
/* RAM, nested tables, a fresh guest VMM instance, the kernel loaded. On
 * failure `why` says why, or is empty when the core already printed it. */
wasm_rt_trap_t core_guest_start(unsigned guest, char *why, unsigned why_size);
void core_guest_tables(unsigned guest, struct arch_guest_tables *out);
/* How many vCPUs the started guest has (1..CORE_MAX_VCPUS). */
unsigned core_guest_vcpus(unsigned guest);
/* The config's stop_after_ms for the guest (0: never). */
unsigned core_guest_stop_after_ms(unsigned guest);
/* vCPU v's first state: vCPU 0's from the loader, another's once a
 * STARTUP IPI started it (core_guest_next_vcpu says when). */
const struct vcpu_state *core_guest_initial_state(unsigned guest, unsigned vcpu);
struct exit_record *core_guest_exit_record(unsigned guest, unsigned vcpu);
/* What the instance answered is guest-controlled data: keep it to what
 * can only hurt this guest. */
static inline void core_sanitize_answer(struct exit_record *e)
{
	if (e->advance > 15)
		e->advance = 0;
	if (e->action > ACTION_SWITCH)
		e->action = ACTION_STOP;
}
wasm_rt_trap_t core_guest_handle_exit(unsigned guest, unsigned vcpu);
/* The same inside a trap frame the caller holds (wasm_rt_try) around
 * many exits, one time slice's: a trap of the instance unwinds to that
 * frame. Without one the call is made protected, as above. `exit` is
 * core_guest_exit_record(guest, vcpu), which the caller filled: inline,
 * with the record in hand, it costs the exit path no call of its own
 * (make bench, P1). */
static inline wasm_rt_trap_t core_guest_answer_exit(unsigned guest, unsigned vcpu, struct exit_record *exit)
{
	if (__builtin_expect(!wasm_rt_current_frame, 0))
		return core_guest_handle_exit(guest, vcpu);
	w2c_guest_handleExit(&core_guests[guest].instance, vcpu);
	core_sanitize_answer(exit);
	return WASM_RT_TRAP_NONE;
}
/* Which of the guest's vCPUs runs after `last` (-1: the first pick):
 * *next is the vCPU in bits 0-7 with the flags below, or NONE when all of
 * them are halted or not started (the guest waits until
 * core_guest_deadline or console input). */
#define CORE_NEXT_VCPU_NONE  (-1)
#define CORE_NEXT_VCPU_LOAD  0x100  /* started by a STARTUP IPI: load its first state */
#define CORE_NEXT_VCPU_APPLY 0x200  /* its HLT ended: apply its record's answer */
wasm_rt_trap_t core_guest_next_vcpu(unsigned guest, int last, int *next);
uint64_t core_guest_deadline(unsigned guest);
/* Drops the instance, the tables and the RAM. */
void core_guest_release(unsigned guest);
/* The guest's 128 bytes of CMOS RAM, copied out of (save) or into its
 * instance: kept across a reboot, as a PC's battery keeps them. False when
 * the instance does not say where they are. */
#define CORE_CMOS_BYTES 128
bool core_guest_cmos(unsigned guest, uint8_t *bytes, bool save);
/* A guest the stub stops itself, printed as the core prints its own stops:
 * its last console words (before the stop line), its exits by reason (after). */
void core_guest_flush_console(unsigned guest);
void core_guest_print_stop_stats(unsigned guest);
/* What the core keeps for a running guest beyond its RAM: the guest VMM's
 * linear memory, nested tables and permission bitmaps. */
uint64_t core_guest_overhead_bytes(unsigned guest);
/* [hypervisor] timeslice_ms */
unsigned core_timeslice_ms(void);
/* The crash policy: true when the guest, stopped for `stop_reason`, is to
 * be restarted (the supervisor printed "restarted (n of N)"). */
bool core_guest_should_restart(unsigned guest, uint32_t stop_reason);
void core_schedule_reset(unsigned count);
/* Places every guest on a host CPU (by its `cpus` key, else spread). */
void core_assign_cpus(unsigned cpu_count);
unsigned core_guest_cpu(unsigned guest);

/* This CPU's scheduler (linker/scheduler.c), no lock: made by the CPU
 * before its guests start, with the guests of the other CPUs left out. */
void core_cpu_scheduler_start(unsigned count, const unsigned *guest_cpu);
/* The next guest here: SCHEDULE_NONE when none is left, SCHEDULE_IDLE
 * when all that are left wait (ACTION_WAIT). */
#define SCHEDULE_NONE (-1)
#define SCHEDULE_IDLE (-2)
int core_schedule_next_on(int current, unsigned action);
/* A waiting guest's wait is over (its deadline passed, or input came). */
void core_schedule_wake(unsigned guest);
/* Stopped for good: out of this CPU's queue, and the supervisor told. */
void core_schedule_stopped(unsigned guest);

/* Runs the instance self-test: create, exercise, trap and drop `count`
 * instances, checking isolation and that no memory leaks. */
bool core_selftest_instances(unsigned count);

#endif
