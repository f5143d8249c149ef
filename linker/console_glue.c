/*
 * Console input's calls into the core, for boot/console_input.c: the
 * supervisor decides where a typed byte goes
 * (assembly/supervisor/console_focus.ts); a guest's VMM instance takes it
 * into its UART (assembly/devices/uart16550.ts). Each call runs inside a
 * trap frame, as in linker/core.c: a trap in the supervisor is a
 * hypervisor bug and panics; a trap in a guest VMM instance is that
 * guest's alone.
 */
#include "hv.h"
#include "core.h"
#include "percpu.h"
#include "console_glue.h"

/* SUPERVISOR() (core.h) takes core_supervisor_lock: one CPU in the
 * supervisor at a time, whichever calls it. */

int core_console_input(uint8_t byte, unsigned *released_ctrl_a)
{
	uint32_t target = 0, released = 0;
	SUPERVISOR((target = w2c_supervisor_consoleInput(&core_supervisor, byte),
		    released = w2c_supervisor_consoleInputReleased(&core_supervisor)));
	int guest = (int32_t)target;
	if (guest < 0 || guest >= CORE_MAX_GUESTS)
		return -1;
	*released_ctrl_a = released <= 2 ? released : 2;
	return guest;
}

int core_console_focus(void)
{
	uint32_t focus = 0;
	SUPERVISOR(focus = w2c_supervisor_consoleFocus(&core_supervisor));
	return (int32_t)focus;
}

wasm_rt_trap_t core_guest_input_trap(unsigned g)
{
	return g < CORE_MAX_GUESTS ? core_guests[g].input_trap : WASM_RT_TRAP_NONE;
}

int core_console_receive(unsigned guest, uint8_t byte)
{
	if (guest >= CORE_MAX_GUESTS || !core_guests[guest].live || core_guests[guest].input_trap)
		return -1;
	struct guest_vmm *vm = &core_guests[guest];
	wasm_rt_jmp_buf frame;
	uint32_t taken = 0;
	wasm_rt_trap_t trap = CORE_CALL(&frame, taken = w2c_guest_consoleReceive(&vm->instance, byte));
	if (trap) {
		vm->input_trap = trap;   /* exit_loop.c stops the guest at once */
		return -1;
	}
	return taken ? 1 : 0;
}

/* --- the supervisor's output, held while its lock is -------------------------*/

#define HELD_BYTES 8192

static struct held_output {
	bool locked;
	uint32_t length;
} held[MAX_CPUS];
/* Read only where written, so not zeroed at boot (kernel.ld's .noinit):
 * 128 KiB fewer for entry.S to clear. */
static char held_bytes[MAX_CPUS][HELD_BYTES] __attribute__((section(".noinit.held_bytes")));

/* This CPU's index, or MAX_CPUS when it has no held output. */
static unsigned held_cpu(void)
{
	unsigned cpu = this_cpu()->index;
	return cpu < MAX_CPUS ? cpu : MAX_CPUS;
}

static void held_flush(unsigned cpu)
{
	if (cpu < MAX_CPUS && held[cpu].length) {
		console_write(held_bytes[cpu], held[cpu].length);
		held[cpu].length = 0;
	}
}

void core_supervisor_locked(bool locked)
{
	unsigned cpu = held_cpu();
	if (cpu < MAX_CPUS)
		held[cpu].locked = locked;
}

void core_supervisor_write(const char *text, uint32_t length)
{
	unsigned cpu = held_cpu();
	if (cpu >= MAX_CPUS || !held[cpu].locked || length > HELD_BYTES - held[cpu].length) {
		/* Not under the lock (init), or more than the buffer holds:
		 * straight to the console, after what is held. */
		held_flush(cpu);
		console_write(text, length);
		return;
	}
	memcpy(held_bytes[cpu] + held[cpu].length, text, length);
	held[cpu].length += length;
}

void core_supervisor_flush(void)
{
	held_flush(held_cpu());
}
