/*
 * What the boot stub offers the rest of the hypervisor (linker/ glue and
 * the arch backends). Vendor-neutral; one header so the contract is on one
 * screen. Physical memory is identity-mapped (virtual == physical) for all
 * RAM the allocator hands out, so a pointer from pmm_alloc is also the
 * host-physical address the hardware wants.
 */
#ifndef HV_H
#define HV_H

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>

/* The functions every VM exit runs, kept together in .text.exit_path
 * (linker/kernel.ld), so an exit touches few pages of code: under QEMU
 * TCG each world switch empties the soft TLB, and each page an exit's code
 * spans is a TLB fill again, on every exit (the stub's part spanned 10
 * pages, now 2). */
#define EXIT_PATH __attribute__((section(".text.exit_path")))
/* The variables they read on every exit, on one page for the same reason
 * (their 5 pages were 3). Zero-initialized ones only: .bss.exit_path. */
#define EXIT_PATH_DATA __attribute__((section(".bss.exit_path")))

#define PAGE_SIZE 4096ull

/* --- console (boot/console.c): COM1 16550, polled --------------------------*/
void console_init(void);
void console_write(const char *s, size_t len);   /* raw bytes, no prefix */
void console_putc(char c);
uint64_t console_bytes_per_second(void);   /* what it carries; 0: unknown */
/* Output waits in a ring for the UART (console.c): what is pending goes out
 * when a CPU polls, which it does after exits and when idle, and by the
 * host timer: console_poll_deadline() answers `deadline`, or sooner while
 * bytes wait. */
void console_poll_output(void);
uint64_t console_poll_deadline(uint64_t deadline);
/* A byte typed on COM1, or -1 when none is waiting. Never blocks. */
int console_read_byte(void);
/* Console input (boot/console_input.c): what is typed on COM1 goes to
 * the guest with the input focus (Ctrl-A three times switches; the
 * supervisor decides). Poll reads COM1 and queues each byte for its
 * guest; any CPU may call it (one polls at a time, others return).
 * Deliver hands a guest's queued bytes to its UART (answers how many); the
 * CPU that runs the guest calls it right before entering it. Pending: the
 * guest has bytes queued (a waiting guest is woken for them). */
void console_input_poll(void);
unsigned console_input_deliver(unsigned guest);
bool console_input_pending(unsigned guest);
/* printf subset: %s %c %d %i %u %x %lx %llx %lu %llu %ld %p %%, with width
 * and zero padding (%08x, %16llx). */
int kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same into buffer[size], always NUL-terminated. Returns the characters
 * stored (not counting the NUL), never more than size - 1 (unlike
 * snprintf), so `used += ksnprintf(buf + used, size - used, ...)` is safe. */
int ksnprintf(char *buffer, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prints "[hv] panic: ..." with the message and powers off with failure. */
void panic(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

/* --- boot modules (boot/multiboot2.c) -------------------------------------*/
struct boot_module {
	const char *name;        /* the multiboot2 module string, NUL-terminated */
	const uint8_t *data;     /* identity-mapped */
	uint32_t size;
};
unsigned boot_module_count(void);
const struct boot_module *boot_module_get(unsigned index); /* NULL if out of range */
const char *boot_cmdline(void);  /* the hypervisor's own command line, "" if none */

/* --- physical memory (boot/pmm.c) ----------------------------------------*/
/* Contiguous, zeroed pages aligned to align_bytes (a power of two >= 4096).
 * Returns NULL when no such run is free. */
void *pmm_alloc(size_t pages, size_t align_bytes);
void *pmm_alloc_unzeroed(size_t pages, size_t align_bytes);

/* Windows for Wasm linear memories (boot/vmem.c): `memory` mapped at the
 * start of a 16 GiB window with nothing after it; NULL when none is left. */
void *vmem_map(void *memory, uint64_t bytes);
void vmem_unmap(void *window, uint64_t bytes);
bool vmem_contains(uint64_t address);
bool vmem_fault(uint64_t address);  /* a window page's first touch: zeroed and mapped */
uint64_t vmem_table_bytes(void);   /* page-table pages made for windows */
void pmm_free(void *base, size_t pages);
uint64_t pmm_free_bytes(void);
uint64_t pmm_total_bytes(void);

/* --- time (boot/tsc.c) -----------------------------------------------------*/
#ifdef HV_KERNEL
static inline uint64_t tsc_read(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}
#else
uint64_t tsc_read(void);   /* the host harness's clock (tests/host/platform.c) */
#endif
/* The TSC's rate: from 1 ms of the PIT at first, from 10 ms once settled,
 * which comes while the first guests run. The host's own timing takes
 * either; what a guest is given is the settled one (tsc_hz_settled waits
 * for it). The run loop bounds its waits by tsc_settle_deadline() and
 * calls tsc_settle_poll(), so the PIT's window is read while it lasts. */
uint64_t tsc_hz(void);
uint64_t tsc_hz_settled(void);
uint64_t tsc_settle_deadline(uint64_t deadline);
void tsc_settle_poll(void);
/* The host's wall clock (boot/rtc.c): the CMOS RTC read at boot, carried on
 * with the TSC; seconds since 1970-01-01 00:00 UTC (0 without an RTC). */
void rtc_init(void);
uint64_t rtc_epoch_seconds(void);

/* --- power (boot/power.c) --------------------------------------------------*/
/* Clean power-off. success=false reports failure where the machine can carry
 * a status (QEMU isa-debug-exit), otherwise it is the same power-off. */
void power_off(bool success) __attribute__((noreturn));

/* --- CPU tables (boot/gdt.c) ----------------------------------------------*/
/* The host's selectors, for the VMCS/VMCB host state. */
#define HV_CS  0x08
#define HV_DS  0x10
#define HV_TSS 0x18

/* --- misc (boot/lib.c) -----------------------------------------------------*/
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
void *memset(void *d, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" :: "a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" :: "a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" :: "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint16_t inw(uint16_t port) { uint16_t v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint32_t inl(uint16_t port) { uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }

/* --- the core (linker/core.c): the VMM core behind its Wasm boundary --------*/
/* Instantiates the supervisor and runs its init(): parse and validate the
 * config module, print the plan. Returns the number of guests to run, 0 when
 * there are none or the config is broken (the core printed why). */
unsigned core_init(void);
/* True when init found errors in the config (it printed them). */
bool core_config_failed(void);

/* --- running guests (boot/run.c) -----------------------------------------*/
/* Picks the backend and turns it on for the boot CPU: once, before the
 * boot's first line. */
void run_prepare_boot_cpu(void);
/* Runs the configured guests until every one has stopped. */
void run_guests(unsigned count);

#endif
