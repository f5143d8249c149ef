/*
 * Where an application processor starts: the startup IPI puts it in real
 * mode at AP_BASE (Intel SDM vol. 3A 9.4.4). This code is copied there by
 * boot/smp.c, which also fills the data words at its end; it goes to
 * protected mode, then long mode with the boot CPU's page tables (SDM vol.
 * 3A 10.8.5), and jumps to ap_main(cpu index) on the stack it was given.
 * Position: everything is addressed as AP_BASE + (label - start).
 */
#define AP_BASE 0x8000
#define AT(label) (AP_BASE + (label) - ap_trampoline_start)

	.section .rodata
	.balign 16
	.globl ap_trampoline_start, ap_trampoline_end
	.globl ap_data_cr3, ap_data_stack, ap_data_entry, ap_data_cpu, ap_data_efer
ap_trampoline_start:
	.code16
	cli
	cld
	xorw %ax, %ax
	movw %ax, %ds
	lgdtl AT(ap_gdt_pointer)
	movl %cr0, %eax
	orl $1, %eax                     /* PE */
	movl %eax, %cr0
	ljmpl $0x08, $AT(ap_protected)

	.code32
ap_protected:
	movw $0x10, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movl %cr4, %eax
	orl $0x20, %eax                  /* PAE */
	movl %eax, %cr4
	movl AT(ap_data_cr3), %eax
	movl %eax, %cr3
	movl $0xC0000080, %ecx           /* EFER: LME (+ NXE as on the boot CPU) */
	rdmsr
	orl AT(ap_data_efer), %eax
	wrmsr
	movl %cr0, %eax
	orl $0x80010001, %eax            /* PG, WP, PE */
	andl $0x9fffffff, %eax           /* caches on: CD and NW clear, as on the boot CPU */
	movl %eax, %cr0
	ljmp $0x18, $AT(ap_long)

	.code64
ap_long:
	movq AT(ap_data_stack), %rsp
	movq AT(ap_data_cpu), %rdi
	movq AT(ap_data_entry), %rax
	xorl %ebp, %ebp
	pushq $0                         /* as if called: the ABI's stack alignment */
	jmp *%rax

	.balign 8
ap_gdt:
	.quad 0
	.quad 0x00cf9a000000ffff         /* 0x08: 32-bit code */
	.quad 0x00cf92000000ffff         /* 0x10: data */
	.quad 0x00af9a000000ffff         /* 0x18: 64-bit code */
ap_gdt_pointer:
	.short ap_gdt_pointer - ap_gdt - 1
	.long AT(ap_gdt)
	.balign 8
ap_data_cr3:   .quad 0
ap_data_stack: .quad 0
ap_data_entry: .quad 0
ap_data_cpu:   .quad 0
ap_data_efer:  .quad 0
ap_trampoline_end:

	.section .note.GNU-stack, "", @progbits
