/*
 * The freestanding wasm2c runtime: linear memories, traps, tables.
 * Shared by the kernel and the host harness; only wasm_rt_platform_*()
 * differ between the two.
 */
#include "wasm-rt.h"
#include "hv.h"

#ifndef HV_KERNEL
uintptr_t wasm_rt_stack_limit;
wasm_rt_jmp_buf *wasm_rt_current_frame;
/* The harness's calls into the core start near the top of its stack; 1 MiB
 * below the first wasm_rt_init() is the core's (Linux gives 8 MiB). */
#define HOST_CORE_STACK (1024 * 1024)
#endif
static bool initialized;

void wasm_rt_init(void)
{
#ifndef HV_KERNEL
	if (!wasm_rt_stack_limit)
		wasm_rt_stack_limit = (uintptr_t)__builtin_frame_address(0) - HOST_CORE_STACK + WASM_RT_STACK_MARGIN;
#endif
	initialized = true;
}
bool wasm_rt_is_initialized(void) { return initialized; }
void wasm_rt_free(void) { initialized = false; }

const char *wasm_rt_strerror(wasm_rt_trap_t trap)
{
	switch (trap) {
	case WASM_RT_TRAP_NONE: return "no trap";
	case WASM_RT_TRAP_OOB: return "out-of-bounds memory access";
	case WASM_RT_TRAP_INT_OVERFLOW: return "integer overflow";
	case WASM_RT_TRAP_DIV_BY_ZERO: return "integer divide by zero";
	case WASM_RT_TRAP_INVALID_CONVERSION: return "invalid conversion";
	case WASM_RT_TRAP_UNREACHABLE: return "unreachable executed (abort)";
	case WASM_RT_TRAP_CALL_INDIRECT: return "bad indirect call";
	case WASM_RT_TRAP_UNCAUGHT_EXCEPTION: return "uncaught exception";
	case WASM_RT_TRAP_UNALIGNED: return "unaligned atomic access";
	case WASM_RT_TRAP_EXHAUSTION: return "call stack exhausted";
	case WASM_RT_TRAP_NULL_REF: return "null reference";
	case WASM_RT_TRAP_OOM: return "out of memory for the instance";
	case WASM_RT_TRAP_BAD_IMPORT_ARGUMENT: return "bad argument to a host import";
	}
	return "unknown trap";
}

void wasm_rt_trap(wasm_rt_trap_t trap)
{
	wasm_rt_jmp_buf *frame = wasm_rt_current_frame;
	if (!frame) {
		/* A trap outside any protected call is a bug in the glue. */
		extern WASM_RT_NO_RETURN void wasm_rt_platform_unprotected_trap(wasm_rt_trap_t);
		wasm_rt_platform_unprotected_trap(trap);
	}
	frame->trap = trap;
	__builtin_longjmp(frame->regs, 1);
}

#define WASM_PAGE 65536ull

/* Fixed-size memories: the whole maximum is allocated up front, so the
 * region is physically contiguous and never moves (tables the supervisor
 * builds in it can be handed to the hardware). */
void wasm_rt_allocate_memory(wasm_rt_memory_t *memory, uint64_t initial_pages,
			     uint64_t max_pages, bool is64, uint32_t page_size)
{
	memory->data = 0;
	memory->pages = memory->max_pages = memory->size = 0;
	memory->is64 = is64;
	if (is64 || page_size != WASM_PAGE || max_pages > 16384)
		wasm_rt_trap(WASM_RT_TRAP_OOM);
	uint8_t *backing = wasm_rt_platform_alloc_memory(max_pages * WASM_PAGE);
	if (!backing)
		wasm_rt_trap(WASM_RT_TRAP_OOM);
	uint8_t *data = vmem_map(backing, max_pages * WASM_PAGE);
	if (!data) {
		wasm_rt_platform_free(backing, max_pages * WASM_PAGE);
		wasm_rt_trap(WASM_RT_TRAP_OOM);
	}
	memory->data = data;
	memory->backing = backing;
	memory->pages = initial_pages;
	memory->max_pages = max_pages;
	memory->size = initial_pages * WASM_PAGE;
}

uint64_t wasm_rt_grow_memory(wasm_rt_memory_t *memory, uint64_t delta)
{
	uint64_t old = memory->pages;
	if (delta > memory->max_pages - old)
		return (uint64_t)-1;
	/* The pages are already there and zeroed (allocate_memory took max). */
	memory->pages = old + delta;
	memory->size = memory->pages * WASM_PAGE;
	return old;
}

void wasm_rt_free_memory(wasm_rt_memory_t *memory)
{
	if (memory->data) {
		vmem_unmap(memory->data, memory->max_pages * WASM_PAGE);
		wasm_rt_platform_free(memory->backing, memory->max_pages * WASM_PAGE);
	}
	memory->data = memory->backing = 0;
	memory->pages = memory->size = memory->max_pages = 0;
}

/* The core uses no tables beyond AssemblyScript's empty function table, and
 * no externrefs; tables are tiny and live in the instance's memory budget. */
void wasm_rt_allocate_funcref_table(wasm_rt_funcref_table_t *table, uint32_t elements, uint32_t max_elements)
{
	table->size = elements;
	table->max_size = max_elements;
	table->data = 0;
	if (elements) {
		table->data = wasm_rt_platform_alloc((elements * sizeof(wasm_rt_funcref_t) + 4095) & ~4095ull);
		if (!table->data)
			wasm_rt_trap(WASM_RT_TRAP_OOM);
	}
}

void wasm_rt_free_funcref_table(wasm_rt_funcref_table_t *table)
{
	if (table->data)
		wasm_rt_platform_free(table->data, (table->size * sizeof(wasm_rt_funcref_t) + 4095) & ~4095ull);
	table->data = 0;
	table->size = 0;
}

void wasm_rt_allocate_externref_table(wasm_rt_externref_table_t *table, uint32_t elements, uint32_t max_elements)
{
	table->size = elements;
	table->max_size = max_elements;
	table->data = 0;
	if (elements) {
		table->data = wasm_rt_platform_alloc((elements * sizeof(wasm_rt_externref_t) + 4095) & ~4095ull);
		if (!table->data)
			wasm_rt_trap(WASM_RT_TRAP_OOM);
	}
}

void wasm_rt_free_externref_table(wasm_rt_externref_table_t *table)
{
	if (table->data)
		wasm_rt_platform_free(table->data, (table->size * sizeof(wasm_rt_externref_t) + 4095) & ~4095ull);
	table->data = 0;
	table->size = 0;
}
