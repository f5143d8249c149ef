/* Hostile guest: the #DB loop (issue 11, "Prove it"; CVE-2015-8104, Xen
 * XSA-156). In long mode its #DB handler runs on an IST stack, so every
 * #DB pushes its frame at the same address; DR0 is a 4-byte data write
 * breakpoint (R/W0 = 01, LEN0 = 11, L0 and GE) on that frame's first
 * slot (SS, at the IST stack's top - 8). A single step (RFLAGS.TF) then
 * raises a #DB whose delivery writes the frame, which hits DR0, which
 * raises a #DB whose delivery writes the frame, ... before the handler's
 * first instruction: on a CPU that does not exit on #DB this loops inside
 * the CPU forever, with no interrupt window (a hung host CPU). The
 * hypervisor intercepts #DB (vector 1) on both backends and injects it
 * again, so each turn of the loop is a VM exit: the guest stays stuck,
 * its host CPU still runs its neighbours, and its stop_after_ms ends it.
 *
 * Lines: first whether a data breakpoint fires at all on a plain write
 * (with the same handler, stack and DR7), then the arming line, and then
 * nothing more -- unless the handler is ever entered, which happens only
 * if the CPU (an emulator) did not fire the breakpoint during the #DB's
 * own delivery: then it prints how many times its handler ran, DR6 as
 * the handler saw it and whether B0 (the frame breakpoint) was in it, and
 * "db-loop: handler returned, no loop", and exits 0. Any other exception
 * exits with 0x100 + its vector. tests/boot/hostile.mjs tells which. */
#include "guest.h"

#define CR0_PG (1u << 31)
#define CR4_PAE (1u << 5)
#define MSR_EFER 0xC0000080
#define EFER_LME (1u << 8)

/* L0, GE, the reserved bit 10, R/W0 = 01 (data writes), LEN0 = 11 (4 bytes). */
#define DR7_ARM 0x000D0601u

/* Identity map of the first 1 GiB in 2 MiB pages. */

/* null, 32-bit code (0x08), data (0x10), 64-bit code (0x18), 64-bit TSS (0x20, 16 bytes) */
static uint64_t gdt[6] = { 0, 0x00CF9A000000FFFFull, 0x00CF92000000FFFFull, 0x00AF9A000000FFFFull, 0, 0 };
/* The 64-bit TSS: IST1 (offset 0x24) is the #DB handler's stack. */
static uint32_t tss[26] __attribute__((aligned(16)));
uint8_t db_stack[4096] __attribute__((aligned(16)));
/* 64-bit gates for vectors 0-31: #DB (1) on IST1, the others on IST1 too. */
static struct { uint16_t off_lo, sel; uint8_t ist, type; uint16_t off_mid; uint32_t off_hi, zero; } __attribute__((packed)) idt64[32];
struct { uint16_t limit; uint64_t base; } __attribute__((packed)) idtr64;

/* What the 64-bit code and its handler found. */
volatile uint32_t mode;             /* 0: probe (plain write), 1: the loop */
volatile uint32_t db_entries;       /* times the #DB handler ran */
volatile uint32_t db_dr6;           /* DR6 as the handler first saw it */
volatile uint32_t probe;            /* the plain write's target */
volatile uint32_t loop_broke;       /* the code after the single step ran */

extern char db_handler[], other_stubs[];
/* The #DB handler (64-bit): counts, keeps DR6, disarms DR7 (so a loop
 * that broke stays broken), clears TF in the frame and returns. Frame:
 * [rax][rip][cs][rflags][rsp][ss]. The other vectors exit. */
__asm__(
	".code64\n.text\n.align 16\n"
	"db_handler:\n"
	"  push %rax\n"
	"  cmpl $0, db_entries(%rip)\n"
	"  jne 1f\n"
	"  mov %dr6, %rax\n"
	"  mov %eax, db_dr6(%rip)\n"
	"1: incl db_entries(%rip)\n"
	"  xor %eax, %eax\n"
	"  mov %rax, %dr7\n"
	"  mov $0xffff0ff0, %eax\n"
	"  mov %rax, %dr6\n"
	"  andq $~0x100, 24(%rsp)\n"
	"  pop %rax\n"
	"  iretq\n"
	".align 16\n"
	"other_stubs:\n"
	".set v, 0\n"
	".rept 32\n.align 16\n"
	"  mov $(0x100 + v), %eax\n  jmp other_exit\n"
	".set v, v + 1\n"
	".endr\n"
	"other_exit:\n"
	"  mov $0xf4, %dx\n"
	"  out %eax, %dx\n"
	"  cli\n"
	"  hlt\n"
	"  jmp other_exit\n"
	".code32\n");

/* Far-jumps to 64-bit code: loads the 64-bit IDT and TR (in mode 0), arms DR0
 * and DR7 and either writes `probe` (mode 0) or single-steps a NOP (mode
 * 1), then disarms DR7 and far-returns to 32-bit compatibility mode. */
static void visit_64bit_mode(void)
{
	__asm__ volatile(
		"push %%ebx\n"
		"push %%esi\n"
		"push %%edi\n"
		"push %%ebp\n"
		"ljmp $0x18, $1f\n"
		".code64\n"
		"1: mov %%esp, %%esp\n"             /* RSP[63:32] are undefined after the switch */
		"lidt idtr64(%%rip)\n"
		"cmpl $0, mode(%%rip)\n"
		"jne 3f\n"
		"mov $0x20, %%ax\n"
		"ltr %%ax\n"
		"3: mov $0xffff0ff0, %%eax\n"
		"mov %%rax, %%dr6\n"
		"mov $%c0, %%eax\n"
		"cmpl $0, mode(%%rip)\n"
		"jne 4f\n"
		"lea probe(%%rip), %%rcx\n"
		"mov %%rcx, %%dr0\n"
		"mov %%rax, %%dr7\n"
		"movl $1, probe(%%rip)\n"           /* a #DB trap after it: B0 */
		"nop\n"
		"jmp 5f\n"
		"4: lea db_stack+4096-8(%%rip), %%rcx\n"   /* the frame's SS slot on IST1 */
		"mov %%rcx, %%dr0\n"
		"mov %%rax, %%dr7\n"
		"pushfq\n"
		"orq $0x100, (%%rsp)\n"
		"popfq\n"
		"nop\n"                             /* single-step #DB after it */
		"movl $1, loop_broke(%%rip)\n"
		"5: xor %%eax, %%eax\n"
		"mov %%rax, %%dr7\n"
		"pushq $0x08\n"
		"lea 2f(%%rip), %%rax\n"
		"pushq %%rax\n"
		"lretq\n"
		".code32\n"
		"2: pop %%ebp\n"
		"pop %%edi\n"
		"pop %%esi\n"
		"pop %%ebx\n"
		:: "i"(DR7_ARM) : "eax", "ecx", "edx", "memory", "cc");
}

static void set_gate(int v, uint32_t h)
{
	idt64[v].off_lo = (uint16_t)h;
	idt64[v].sel = 0x18;
	idt64[v].ist = 1;
	idt64[v].type = 0x8E;              /* present, DPL 0, 64-bit interrupt gate */
	idt64[v].off_mid = (uint16_t)(h >> 16);
	idt64[v].off_hi = 0;
	idt64[v].zero = 0;
}

uint32_t guest_main(uint32_t magic, const struct multiboot_info *info)
{
	__asm__ volatile("cli");
	guest_setup_traps();
	struct { uint16_t limit; uint32_t base; } __attribute__((packed)) g = { sizeof gdt - 1, (uint32_t)gdt };
	uint32_t t = (uint32_t)tss;
	gdt[4] = (sizeof tss - 1) | (uint64_t)(t & 0xFFFFFF) << 16 | 0x89ull << 40 | (uint64_t)(t >> 24) << 56;
	gdt[5] = 0;                            /* base 63:32 */
	__asm__ volatile("lgdt %0" :: "m"(g));
	uint32_t ist_top = (uint32_t)db_stack + sizeof db_stack;
	tss[9] = ist_top;                      /* IST1, offset 0x24 */
	tss[10] = 0;
	tss[25] = sizeof tss << 16;            /* I/O map base beyond the limit: no bitmap */
	for (int v = 0; v < 32; v++)
		set_gate(v, v == 1 ? (uint32_t)db_handler : (uint32_t)(other_stubs + 16 * v));
	idtr64.limit = sizeof idt64 - 1;
	idtr64.base = (uint32_t)idt64;

	guest_long_mode_tables();
	write_cr0(read_cr0() | CR0_PG);

	/* Do data breakpoints fire here at all? */
	mode = 0;
	db_entries = 0;
	db_dr6 = 0;
	visit_64bit_mode();
	puts("db-loop: a data breakpoint on a plain write: ");
	puts(db_entries && (db_dr6 & 1) ? "fired" : "did not fire");
	puts(" (handler ran ");
	putdec(db_entries);
	puts(" time(s), DR6 ");
	puthex(db_dr6);
	puts(")\n");

	mode = 1;
	db_entries = 0;
	db_dr6 = 0;
	puts("db-loop: arming DR0 at ");
	puthex(ist_top - 8);
	puts(" on the #DB frame (IST1 stack top ");
	puthex(ist_top);
	puts("), DR7 ");
	puthex(DR7_ARM);
	puts(", then a single step\n");
	visit_64bit_mode();
	/* Only if the loop broke (the breakpoint did not fire, or fired
	 * without a #DB of its own, during the #DB's delivery). */
	puts("db-loop: handler ran ");
	putdec(db_entries);
	puts(" time(s), DR6 ");
	puthex(db_dr6);
	puts(", the breakpoint on the frame ");
	puts(db_dr6 & 1 ? "fired (B0)" : "did not fire (no B0)");
	puts(", single step ");
	puts(db_dr6 & 0x4000 ? "(BS)" : "not seen (no BS)");
	puts("\n");
	puts(loop_broke ? "db-loop: handler returned, no loop\n" : "db-loop: the code after the step did not run\n");
	return 0;
}
