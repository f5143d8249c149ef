/*
 * The IDT: the 32 exception vectors, each fatal. The stub runs with
 * interrupts off until the run loop exists, so an exception is a bug in
 * the stub or the core's C: say where it happened and power off. One is
 * not: a page fault in a Wasm memory window is that instance's trap.
 */
#include "boot.h"
#include "wasm-rt.h"

/* Frame built by boot/isr.S under the CPU's own (Intel SDM vol. 3A 7.14.4,
 * figure 7-9: in 64-bit mode SS:RSP is always pushed). */
struct exception_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error_code;
	uint64_t rip, cs, rflags, rsp, ss;
};

/* 64-bit interrupt gate: Intel SDM vol. 3A 7.14.1, figure 7-8. */
struct idt_gate {
	uint16_t offset_low;
	uint16_t selector;
	uint8_t ist;
	uint8_t type_attributes;
	uint16_t offset_middle;
	uint32_t offset_high;
	uint32_t reserved;
} __attribute__((packed));

#define GATE_INTERRUPT_PRESENT 0x8e   /* P, DPL0, type 0xE: interrupt gate */
#define VECTOR_NMI 2
#define VECTOR_DOUBLE_FAULT 8
#define VECTOR_PAGE_FAULT 14
#define VECTOR_MACHINE_CHECK 18

extern const uint64_t isr_table[32];

/* All 256 vectors are inside the limit, so a stray interrupt is reported as
 * #NP on its vector instead of a #GP on the IDT. */
static struct idt_gate idt[256] __attribute__((aligned(16)));

/* Intel SDM vol. 3A 7.3, table 7-1; #VC and #SX from AMD APM vol. 2 8.2. */
static const char *const exception_names[32] = {
	"divide error", "debug", "NMI", "breakpoint", "overflow",
	"BOUND range exceeded", "invalid opcode", "device not available",
	"double fault", "coprocessor segment overrun", "invalid TSS",
	"segment not present", "stack-segment fault", "general protection",
	"page fault", "reserved", "x87 floating-point error", "alignment check",
	"machine check", "SIMD floating-point error", "virtualization exception",
	"control protection", "reserved", "reserved", "reserved", "reserved",
	"reserved", "reserved", "hypervisor injection", "VMM communication",
	"security exception", "reserved",
};

/* A host interrupt (no IST: they arrive only where the host stack is fine). */
static void idt_set_interrupt(unsigned vector, uint64_t handler)
{
	struct idt_gate *g = &idt[vector];
	g->offset_low = handler & 0xffff;
	g->offset_middle = (handler >> 16) & 0xffff;
	g->offset_high = handler >> 32;
	g->selector = HV_CS;
	g->type_attributes = GATE_INTERRUPT_PRESENT;
	g->ist = 0;
}

void idt_init(void)
{
	for (unsigned v = 0; v < 32; v++) {
		uint64_t handler = isr_table[v];
		struct idt_gate *g = &idt[v];
		g->offset_low = handler & 0xffff;
		g->offset_middle = (handler >> 16) & 0xffff;
		g->offset_high = handler >> 32;
		g->selector = HV_CS;
		g->type_attributes = GATE_INTERRUPT_PRESENT;
		g->ist = v == VECTOR_DOUBLE_FAULT ? IST_DOUBLE_FAULT
		       : v == VECTOR_NMI ? IST_NMI
		       : v == VECTOR_MACHINE_CHECK ? IST_MACHINE_CHECK : 0;
	}
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) pointer = { sizeof(idt) - 1, (uint64_t)idt };
	idt_set_interrupt(VECTOR_TIMER, (uint64_t)isr_timer);
	idt_set_interrupt(VECTOR_SPURIOUS, (uint64_t)isr_spurious);
	/* NMIs are counted and dismissed (still on their IST stack). */
	idt_set_interrupt(VECTOR_NMI, (uint64_t)isr_nmi);
	idt[VECTOR_NMI].ist = IST_NMI;
	__asm__ volatile("lidt %0" :: "m"(pointer));
}

void idt_load(void)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) pointer = { sizeof(idt) - 1, (uint64_t)idt };
	__asm__ volatile("lidt %0" :: "m"(pointer));
}

void exception_handler(struct exception_frame *f);

void exception_handler(struct exception_frame *f)
{
	/* The first touch of a Wasm memory's page: zeroed now, run again.
	 * Past its end, in a protected call: the trap of that instance
	 * (boot/vmem.c). */
	if (f->vector == VECTOR_PAGE_FAULT && vmem_fault(read_cr2()))
		return;
	if (f->vector == VECTOR_PAGE_FAULT && vmem_contains(read_cr2()) && wasm_rt_current_frame)
		wasm_rt_trap(WASM_RT_TRAP_OOB);
	static int depth;
	/* An exception while reporting one: stop talking, just power off. */
	if (++depth > 1) {
		if (depth == 2)
			power_off(false);
		for (;;)
			__asm__ volatile("cli; hlt");
	}

	const char *name = f->vector < 32 ? exception_names[f->vector] : "unknown";
	kprintf("[hv] exception %s (#%lu) at RIP 0x%016lx error code 0x%lx\n",
		name, f->vector, f->rip, f->error_code);
	if (f->vector == VECTOR_PAGE_FAULT)
		kprintf("[hv]   CR2 0x%016lx\n", read_cr2());
	kprintf("[hv]   RAX %016lx RBX %016lx RCX %016lx RDX %016lx\n", f->rax, f->rbx, f->rcx, f->rdx);
	kprintf("[hv]   RSI %016lx RDI %016lx RBP %016lx RSP %016lx\n", f->rsi, f->rdi, f->rbp, f->rsp);
	kprintf("[hv]   R8  %016lx R9  %016lx R10 %016lx R11 %016lx\n", f->r8, f->r9, f->r10, f->r11);
	kprintf("[hv]   R12 %016lx R13 %016lx R14 %016lx R15 %016lx\n", f->r12, f->r13, f->r14, f->r15);
	kprintf("[hv]   CS %04lx SS %04lx RFLAGS %08lx\n", f->cs, f->ss, f->rflags);
	panic("unhandled exception %s (#%lu)", name, f->vector);
}
