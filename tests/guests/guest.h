/* What every test guest shares: COM1 output and the exit port. */
#ifndef GUEST_H
#define GUEST_H
#include <stdint.h>
static inline void outb(uint16_t p, uint8_t v) { __asm__ volatile("outb %0, %1" :: "a"(v), "Nd"(p)); }
static inline void outl(uint16_t p, uint32_t v) { __asm__ volatile("outl %0, %1" :: "a"(v), "Nd"(p)); }
static inline uint8_t inb(uint16_t p) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(p)); return v; }
static inline uint32_t inl(uint16_t p) { uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(p)); return v; }

#define COM1 0x3f8
static inline void putc(char c)
{
	while (!(inb(COM1 + 5) & 0x20)) {}
	outb(COM1, (uint8_t)c);
}
static inline void puts(const char *s) { while (*s) putc(*s++); }
static inline void puthex(uint32_t v)
{
	puts("0x");
	for (int i = 28; i >= 0; i -= 4) putc("0123456789abcdef"[(v >> i) & 15]);
}
static inline void putdec(uint32_t v)
{
	char b[11]; int n = 0;
	do { b[n++] = (char)('0' + v % 10); v /= 10; } while (v);
	while (n) putc(b[--n]);
}
/* Ends the guest with status v (the isa-debug-exit convention). */
static inline void guest_exit(uint32_t v) { outl(0xf4, v); for (;;) __asm__ volatile("cli; hlt"); }


/* The first fields of the multiboot information (Multiboot spec 3.3). */
struct multiboot_info { uint32_t flags, mem_lower, mem_upper, boot_device, cmdline; };
/* lib.c: the number after `key` in the command line, or `fallback`. */
uint32_t guest_option(const struct multiboot_info *info, const char *key, uint32_t fallback);

/* lib.c: traps that resume at a recovery label. */
extern volatile uint32_t last_vector, last_error, recover_eip;
void guest_setup_traps(void);
/* Runs the instruction(s) in `insn`; evaluates to the exception vector it
 * raised, or 0xFFFFFFFF if none. */
#define TRAP_OF(insn, ...) ({ \
	last_vector = 0xFFFFFFFF; \
	__asm__ volatile("movl $1f, recover_eip\n" insn "\n1:" ::: "memory", "eax", "ecx", "edx"); \
	last_vector; })
#endif
