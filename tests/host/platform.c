/*
 * The stub's services (boot/hv.h) on Linux, so the real glue (linker/core.c,
 * linker/imports.c, linker/wasm-rt.c) and the real generated core run as an
 * ordinary program: for tests, fuzzing and callgrind instruction counts.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <signal.h>
#include <sys/mman.h>
#include "hv.h"
#include "wasm-rt.h"

void console_init(void) {}
void console_write(const char *s, size_t len) { fwrite(s, 1, len, stdout); }
void console_putc(char c) { putchar(c); }
/* Not measured here: the supervisor gives the unmeasured share. */
uint64_t console_bytes_per_second(void) { return 0; }
unsigned cpu_count = 1;

int kprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vprintf(fmt, ap);
	va_end(ap);
	return n;
}

int ksnprintf(char *buffer, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buffer, size, fmt, ap);
	va_end(ap);
	/* As the kernel's: the characters stored, never more than size - 1. */
	if (n < 0)
		return 0;
	return size == 0 ? 0 : (size_t)n >= size ? (int)size - 1 : n;
}

void panic(const char *fmt, ...)
{
	va_list ap;
	printf("[hv] panic: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	exit(70);
}

/* Boot modules: files named on the command line. */
#define MAX_MODULES 256
static struct boot_module modules[MAX_MODULES];
static unsigned module_count;

void host_add_module(const char *name, const uint8_t *data, uint32_t size)
{
	if (module_count == MAX_MODULES)
		panic("too many modules");
	modules[module_count++] = (struct boot_module){ name, data, size };
}

unsigned boot_module_count(void) { return module_count; }
const struct boot_module *boot_module_get(unsigned i) { return i < module_count ? &modules[i] : NULL; }
const char *boot_cmdline(void) { return ""; }

/* Physical memory: a fixed budget so leaks show as a shrinking free count. */
static uint64_t budget = 1ull << 30, in_use;

void *pmm_alloc(size_t pages, size_t align)
{
	size_t bytes = pages * PAGE_SIZE;
	if (in_use + bytes > budget)
		return NULL;
	void *p = aligned_alloc(align, bytes);
	if (!p)
		return NULL;
	memset(p, 0, bytes);
	in_use += bytes;
	return p;
}

/* Unzeroed, as the kernel's: filled with a pattern so a read before the
 * lazy zeroing (linker/guest_ram.c) would show. */
void *pmm_alloc_unzeroed(size_t pages, size_t align)
{
	void *p = pmm_alloc(pages, align);
	if (p)
		memset(p, 0xa5, pages * PAGE_SIZE);
	return p;
}

void pmm_free(void *base, size_t pages)
{
	free(base);
	in_use -= pages * PAGE_SIZE;
}

uint64_t pmm_free_bytes(void) { return budget - in_use; }
uint64_t pmm_total_bytes(void) { return budget; }

/* Nonzero: the harness's own clock, which it moves per synthetic exit, so a
 * run under callgrind sees the guest time a real exit rate would give. */
uint64_t host_virtual_tsc;

uint64_t tsc_read(void)
{
	if (host_virtual_tsc)
		return host_virtual_tsc;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
uint64_t tsc_hz(void) { return 1000000000ull; }
uint64_t tsc_hz_settled(void) { return tsc_hz(); }
void rtc_init(void) {}
uint64_t rtc_epoch_seconds(void) { return (uint64_t)time(NULL); }

void power_off(bool success) { fflush(stdout); exit(success ? 0 : 1); }

/* Windows for Wasm memories, as boot/vmem.c gives the kernel: 16 GiB of
 * address space each, the memory at its start readable and writable, the
 * rest inaccessible; a fault there inside a protected call is the
 * instance's trap. The window is fresh zeroed memory; `memory` (from
 * pmm_alloc) stays the instance's accounting and its "physical" base. */
#define WINDOW_BYTES (16ull << 30)

static void window_fault(int sig, siginfo_t *info, void *context)
{
	(void)context;
	if (vmem_contains((uint64_t)(uintptr_t)info->si_addr) && wasm_rt_current_frame)
		wasm_rt_trap(WASM_RT_TRAP_OOB);
	signal(sig, SIG_DFL);   /* anything else: die as without the handler */
	raise(sig);
}

static struct { uint8_t *base; } windows[1024];

void *vmem_map(void *memory, uint64_t bytes)
{
	static bool handler;
	if (!handler) {
		struct sigaction action = { 0 };
		action.sa_sigaction = window_fault;
		action.sa_flags = SA_SIGINFO | SA_NODEFER;   /* we leave by longjmp */
		sigaction(SIGSEGV, &action, NULL);
		sigaction(SIGBUS, &action, NULL);
		handler = true;
	}
	(void)memory;
	uint8_t *base = mmap(NULL, WINDOW_BYTES, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED)
		return NULL;
	if (mprotect(base, bytes, PROT_READ | PROT_WRITE)) {
		munmap(base, WINDOW_BYTES);
		return NULL;
	}
	for (unsigned i = 0; i < sizeof windows / sizeof windows[0]; i++)
		if (!windows[i].base) {
			windows[i].base = base;
			return base;
		}
	munmap(base, WINDOW_BYTES);
	return NULL;
}

void vmem_unmap(void *window, uint64_t bytes)
{
	(void)bytes;
	for (unsigned i = 0; i < sizeof windows / sizeof windows[0]; i++)
		if (windows[i].base == window) {
			munmap(window, WINDOW_BYTES);
			windows[i].base = NULL;
		}
}

bool vmem_contains(uint64_t address)
{
	for (unsigned i = 0; i < sizeof windows / sizeof windows[0]; i++)
		if (windows[i].base && address - (uint64_t)(uintptr_t)windows[i].base < WINDOW_BYTES)
			return true;
	return false;
}

uint64_t vmem_table_bytes(void) { return 0; }

/* The supervisor's output: the kernel holds it while the supervisor's
 * lock is (linker/console_glue.c); one thread here, so straight out. */
void core_supervisor_locked(bool locked) { (void)locked; }
void core_supervisor_flush(void) {}
void core_supervisor_write(const char *text, uint32_t length) { console_write(text, length); }
