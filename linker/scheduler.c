/*
 * Each host CPU's scheduler: its own instance of the scheduler module
 * (assembly/sched/index.ts) holding the run queue of that CPU's guests, so
 * the decisions at a slice's end, a halt or a wake take no lock (issue 11:
 * an `sti; hlt` loop would otherwise take the supervisor's lock at its exit
 * rate). The supervisor, behind its lock, still places the guests, keeps
 * who stopped and decides restarts: that happens when a guest starts or
 * stops, not per decision. A guest is only ever scheduled by its own CPU,
 * and each instance is used only by the CPU that made it.
 */
#include "hv.h"
#include "core.h"
#include "percpu.h"
#include "scheduler.h"

static struct cpu_scheduler {
	bool live;
	w2c_scheduler instance;   /* no imports: it only decides */
} schedulers[MAX_CPUS];

/* Enters this CPU's instance; a trap there is a hypervisor bug. */
#define SCHEDULER(s, call) \
	({ wasm_rt_jmp_buf frame_; wasm_rt_trap_t t_ = CORE_CALL(&frame_, call); \
	   if (t_) panic("the scheduler trapped: %s (in %s)", wasm_rt_strerror(t_), #call); })

static struct cpu_scheduler *here(void)
{
	unsigned cpu = this_cpu()->index;
	if (cpu >= MAX_CPUS || !schedulers[cpu].live)
		panic("CPU %u has no scheduler", cpu);
	return &schedulers[cpu];
}

void core_cpu_scheduler_start(unsigned count, const unsigned *guest_cpu)
{
	unsigned cpu = this_cpu()->index;
	if (cpu >= MAX_CPUS)
		panic("CPU %u: no room for its scheduler", cpu);
	struct cpu_scheduler *s = &schedulers[cpu];
	memset(&s->instance, 0, sizeof s->instance);
	SCHEDULER(s, wasm2c_scheduler_instantiate(&s->instance));
	s->live = true;
	SCHEDULER(s, w2c_scheduler_reset(&s->instance, count));
	for (unsigned g = 0; g < count; g++)
		if (guest_cpu[g] != cpu)
			SCHEDULER(s, w2c_scheduler_leave(&s->instance, g));
}

int core_schedule_next_on(int current, unsigned action)
{
	struct cpu_scheduler *s = here();
	uint32_t next = 0;
	SCHEDULER(s, next = w2c_scheduler_next(&s->instance, (uint32_t)current, action));
	return (int32_t)next;
}

void core_schedule_wake(unsigned g)
{
	struct cpu_scheduler *s = here();
	SCHEDULER(s, w2c_scheduler_wake(&s->instance, g));
}

/* Stopped for good (a restart keeps its place): out of this CPU's queue,
 * and the supervisor knows (the console focus moves on, the monitor's
 * list says so). */
void core_schedule_stopped(unsigned g)
{
	struct cpu_scheduler *s = here();
	SCHEDULER(s, w2c_scheduler_leave(&s->instance, g));
	SUPERVISOR(w2c_supervisor_guestMarkStopped(&core_supervisor, g));
}
