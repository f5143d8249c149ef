/*
 * Per-CPU data: one struct cpu per host CPU, reached through GS (its base
 * is the struct's address, set once per CPU), so the exit path takes no
 * global lock and touches no other CPU's data. The first fields are at
 * fixed offsets: the wasm2c runtime reaches them with %gs-relative loads
 * (linker/wasm-rt.h).
 */
#ifndef PERCPU_H
#define PERCPU_H

#include <stdint.h>
#include <stdbool.h>

#define MAX_CPUS 16
#define MSR_GS_BASE 0xC0000101

struct cpu {
	struct cpu *self;            /* %gs:0 */
	void *wasm_frame;            /* %gs:8  wasm_rt_current_frame */
	uintptr_t wasm_stack_limit;  /* %gs:16 the core traps below it (wasm-rt.h) */
	uint32_t index;              /* 0 = the boot CPU */
	uint32_t apic_id;
	volatile uint32_t online;    /* set by the CPU itself once it runs C */
	volatile uint64_t ticks;     /* host timer interrupts on this CPU */
	volatile uint64_t timer_deadline; /* TSC the one-shot timer is armed for, 0 none */
	void *arch_host_save;        /* SVM: VM_HSAVE_PA page; VMX: VMXON region */
	void *arch_host_state;       /* SVM: the host's VMSAVE area */
	void *arch_current;          /* VMX: the VMCS loaded on this CPU */
	struct guest_fpu *fpu_owner; /* the vCPU FPU state the CPU holds, NULL */
	struct guest_debug *debug_owner; /* whose DR0-DR3/DR6 it holds (debug_regs.c) */
	uint8_t *stack_top;
};
_Static_assert(__builtin_offsetof(struct cpu, wasm_frame) == 8, "wasm-rt.h relies on it");
_Static_assert(__builtin_offsetof(struct cpu, wasm_stack_limit) == 16, "wasm-rt.h relies on it");

extern struct cpu cpus[MAX_CPUS];
extern unsigned cpu_count;       /* CPUs online */

static inline struct cpu *this_cpu(void)
{
	struct cpu *c;
	__asm__ volatile("mov %%gs:0, %0" : "=r"(c));
	return c;
}

/* Points GS at cpus[index] on the calling CPU, whose stack is the boot
 * stack (index 0) or cpus[index].stack_top's. */
void percpu_init(unsigned index);

/* Spinlocks for the few shared things off the exit path (console, physical
 * allocator, the supervisor instance). Host interrupts only come in at
 * known points (the run loop's interrupt window), never while a lock is
 * held, so no interrupt masking is needed. */
typedef struct { volatile uint32_t locked; } spinlock_t;

static inline void spin_lock(spinlock_t *l)
{
	while (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(&l->locked, __ATOMIC_RELAXED))
			__asm__ volatile("pause");
}

static inline bool spin_trylock(spinlock_t *l)
{
	return !__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE);
}

static inline void spin_unlock(spinlock_t *l)
{
	__atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
}

#endif
