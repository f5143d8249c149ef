/*
 * tshv's own wasm-rt.h: the runtime interface that wasm2c's generated C
 * (wabt 1.0.39, pinned in package-lock.json) expects, for a freestanding
 * kernel. The same header serves the host harness (tests/host/), which
 * builds the same generated C as a Linux program.
 *
 * What is deliberately missing: SIMD, threads, exceptions, tail calls,
 * memory64, shared memory, segue. The core is built without them; a
 * generated file that needed them would fail to compile here, loudly.
 */
#ifndef WASM_RT_H_
#define WASM_RT_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef __has_builtin
#define __has_builtin(x) 0
#endif

#define WASM_RT_NO_RETURN __attribute__((noreturn))
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
/* wasm2c copies every load and store through wasm_rt_memcpy. As a plain
 * memcpy a store may alias anything, the instance's memory base included,
 * so GCC reloads instance->w2c_memory.data after each store. A 2-, 4- or
 * 8-byte store into linear memory (a uint8_t * destination with a typed
 * source: wasm2c's DEFINE_STORE, and nothing else has that pair) goes
 * instead through a union of those integer types. Its alias set covers
 * every integer width the linear memory is stored with, so stores stay
 * ordered among themselves and loads (still memcpy, which alias all) stay
 * ordered after them, but it excludes pointers: the base stays in a
 * register. 1-byte stores keep memcpy (the source type alone cannot tell
 * them from 1-byte loads). */
typedef union __attribute__((packed)) {
	uint16_t h;
	uint32_t w;
	uint64_t d;
} wasm_rt_word_t;
static inline void wasm_rt_copy(void *dest, const void *src, size_t n) { __builtin_memcpy(dest, src, n); }
static inline void wasm_rt_store16(uint8_t *dest, const uint16_t *src, size_t n) { ((wasm_rt_word_t *)dest)->h = *src; }
static inline void wasm_rt_store32(uint8_t *dest, const uint32_t *src, size_t n) { ((wasm_rt_word_t *)dest)->w = *src; }
static inline void wasm_rt_store64(uint8_t *dest, const uint64_t *src, size_t n) { ((wasm_rt_word_t *)dest)->d = *src; }
#define wasm_rt_memcpy(dest, src, n)                                                        \
	_Generic((dest), uint8_t *: _Generic((src), uint16_t *: wasm_rt_store16,              \
					     uint32_t *: wasm_rt_store32,                     \
					     uint64_t *: wasm_rt_store64,                     \
					     default: wasm_rt_copy),                          \
		 default: wasm_rt_copy)(dest, src, n)

/* No bounds check per access: every linear memory sits at the start of a
 * 16 GiB window with nothing mapped after it (boot/vmem.c; tests/host's
 * platform.c for the host build), so an access past its end faults and
 * the fault becomes a trap of that instance. Bulk operations (memory.fill,
 * memory.copy, data segments) still check their ranges. */
#define WASM_RT_MEMCHECK_GUARD_PAGES 1
#define WASM_RT_MEMCHECK_BOUNDS_CHECK 0
#define WASM_RT_USE_SEGUE 0
#define WASM_RT_SANITY_CHECKS 0
#define WASM_RT_NONCONFORMING_UNCHECKED_STACK_EXHAUSTION 0
/* Runaway recursion in a guest's VMM traps that instance instead of
 * overflowing the host stack. wasm2c's way is to count calls: every
 * function starts with `if (++wasm_rt_call_stack_depth >
 * WASM_RT_MAX_CALL_STACK_DEPTH) TRAP(EXHAUSTION);` and ends with
 * `--wasm_rt_call_stack_depth`, a load, add, store and compare per call
 * and a decrement per return (6% of the core's instructions per exit,
 * make bench P1). What that protects, the stack, is checked directly
 * instead: the "depth" is a fresh zero each time it is named (a compound
 * literal the compiler folds away, so the decrement is dead code) and the
 * "maximum" is 0 when the stack pointer is below this CPU's limit, 1
 * otherwise. The prologue becomes one compare and branch; the epilogue
 * nothing but an empty volatile asm (no instruction), which keeps GCC from
 * turning a recursive call followed by an addition into a loop (its
 * tail-recursion elimination) that would spin forever where the Wasm
 * traps; the decrement did that before. Functions outside every call
 * cycle have neither (scripts/prune-stack-checks.mjs). The limit leaves
 * WASM_RT_STACK_MARGIN below it for the stub's own code an import runs
 * (wasm2c's frames here are at most ~300 bytes). */
#define WASM_RT_STACK_DEPTH_COUNT 1
#define WASM_RT_USE_STACK_DEPTH_COUNT 1
static inline uint32_t wasm_rt_barrier(void)
{
	__asm__ volatile("");
	return 0;
}
#define wasm_rt_call_stack_depth (*(uint32_t[1]){ wasm_rt_barrier() })
#define WASM_RT_MAX_CALL_STACK_DEPTH (wasm_rt_stack_low() ? 0u : 1u)
#define WASM_RT_STACK_MARGIN (32 * 1024)
#define WABT_BIG_ENDIAN 0

typedef enum {
	WASM_RT_TRAP_NONE,
	WASM_RT_TRAP_OOB,                 /* out-of-bounds memory access */
	WASM_RT_TRAP_INT_OVERFLOW,
	WASM_RT_TRAP_DIV_BY_ZERO,
	WASM_RT_TRAP_INVALID_CONVERSION,
	WASM_RT_TRAP_UNREACHABLE,
	WASM_RT_TRAP_CALL_INDIRECT,
	WASM_RT_TRAP_UNCAUGHT_EXCEPTION,
	WASM_RT_TRAP_UNALIGNED,
	WASM_RT_TRAP_EXHAUSTION,          /* call stack too deep */
	WASM_RT_TRAP_NULL_REF,
	WASM_RT_TRAP_OOM,                 /* (ours) no memory for an instance */
	WASM_RT_TRAP_BAD_IMPORT_ARGUMENT, /* (ours) an import got a bad pointer */
} wasm_rt_trap_t;

typedef enum {
	WASM_RT_I32, WASM_RT_I64, WASM_RT_F32, WASM_RT_F64, WASM_RT_V128,
	WASM_RT_FUNCREF, WASM_RT_EXTERNREF,
} wasm_rt_type_t;

typedef void (*wasm_rt_function_ptr_t)(void);
struct wasm_rt_tailcallee_t;
typedef void (*wasm_rt_tailcallee_fn_t)(void **, struct wasm_rt_tailcallee_t *, void *);
typedef struct wasm_rt_tailcallee_t { wasm_rt_tailcallee_fn_t fn; } wasm_rt_tailcallee_t;
typedef const char *wasm_rt_func_type_t;

typedef struct {
	wasm_rt_func_type_t func_type;
	wasm_rt_function_ptr_t func;
	wasm_rt_tailcallee_t func_tailcallee;
	void *module_instance;
} wasm_rt_funcref_t;
#define wasm_rt_funcref_null_value ((wasm_rt_funcref_t){NULL, NULL, {NULL}, NULL})

typedef void *wasm_rt_externref_t;
#define wasm_rt_externref_null_value ((wasm_rt_externref_t){NULL})

typedef struct {
	uint8_t *data;       /* the window it is mapped at (boot/vmem.c) */
	uint8_t *backing;    /* the memory itself: physically contiguous, identity-mapped */
	uint64_t pages;      /* current size in Wasm pages */
	uint64_t max_pages;
	uint64_t size;       /* bytes */
	bool is64;
} wasm_rt_memory_t;

typedef struct { wasm_rt_funcref_t *data; uint32_t max_size; uint32_t size; } wasm_rt_funcref_table_t;
typedef struct { wasm_rt_externref_t *data; uint32_t max_size; uint32_t size; } wasm_rt_externref_table_t;

#ifdef HV_KERNEL
/* Per host CPU, through %gs (boot/percpu.h: struct cpu): each CPU runs its
 * own guests' instances, with its own trap frames and stack limit. */
typedef struct wasm_rt_jmp_buf *wasm_rt_frame_pointer;
#define wasm_rt_current_frame (*(__seg_gs wasm_rt_frame_pointer *)8)
static inline bool wasm_rt_stack_low(void)
{
	bool low;
	__asm__ volatile("cmpq %%gs:16, %%rsp" : "=@ccb"(low));
	return low;
}
#else
/* The host harness: one thread, its limit set by the first wasm_rt_init(). */
extern uintptr_t wasm_rt_stack_limit;
static inline bool wasm_rt_stack_low(void)
{
	bool low;
	__asm__ volatile("cmpq %1, %%rsp" : "=@ccb"(low) : "m"(wasm_rt_stack_limit));
	return low;
}
#endif

void wasm_rt_init(void);
bool wasm_rt_is_initialized(void);
void wasm_rt_free(void);
WASM_RT_NO_RETURN void wasm_rt_trap(wasm_rt_trap_t trap);
const char *wasm_rt_strerror(wasm_rt_trap_t trap);

void wasm_rt_allocate_memory(wasm_rt_memory_t *, uint64_t initial_pages, uint64_t max_pages, bool is64, uint32_t page_size);
uint64_t wasm_rt_grow_memory(wasm_rt_memory_t *, uint64_t pages);
void wasm_rt_free_memory(wasm_rt_memory_t *);
void wasm_rt_allocate_funcref_table(wasm_rt_funcref_table_t *, uint32_t elements, uint32_t max_elements);
void wasm_rt_free_funcref_table(wasm_rt_funcref_table_t *);
void wasm_rt_allocate_externref_table(wasm_rt_externref_table_t *, uint32_t elements, uint32_t max_elements);
void wasm_rt_free_externref_table(wasm_rt_externref_table_t *);

/*
 * Trap handling. A call into a module runs inside wasm_rt_try(): a trap
 * anywhere below it (generated code, the runtime, an import that rejects
 * its arguments) unwinds to it and the call returns the trap code, without
 * touching any other instance. Frames are nested, innermost wins.
 * __builtin_setjmp/longjmp save only what the ABI needs (no FPU state,
 * which -mgeneral-regs-only code never has).
 */
typedef struct wasm_rt_jmp_buf {
	void *regs[5];
	struct wasm_rt_jmp_buf *outer;
	volatile wasm_rt_trap_t trap;
} wasm_rt_jmp_buf;
#ifndef HV_KERNEL
extern wasm_rt_jmp_buf *wasm_rt_current_frame;
#endif

#define wasm_rt_try(frame) \
	((frame)->outer = wasm_rt_current_frame, (frame)->trap = WASM_RT_TRAP_NONE, wasm_rt_current_frame = (frame), \
	 __builtin_setjmp((frame)->regs) ? ((frame)->trap) : WASM_RT_TRAP_NONE)
/* Must be called on both paths once the protected call is over. */
static inline void wasm_rt_end_try(wasm_rt_jmp_buf *frame)
{
	wasm_rt_current_frame = frame->outer;
}

/* Where the platform gets and returns the pages of a linear memory: the
 * kernel's physical allocator, or aligned_alloc in the host harness. */
void *wasm_rt_platform_alloc(size_t bytes);
void *wasm_rt_platform_alloc_memory(size_t bytes);  /* unzeroed: the window zeroes on first touch */
void wasm_rt_platform_free(void *base, size_t bytes);

#endif
