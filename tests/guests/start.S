/* Multiboot v1 header and entry shared by the test guests. The loader
 * enters in 32-bit protected mode, paging off, EAX=0x2BADB002, EBX=info
 * (Multiboot spec 0.6.96, 3.2). */
#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00000003 /* page-align modules, want memory info */
	.section .multiboot, "a"
	.align 4
	.long MB_MAGIC
	.long MB_FLAGS
	.long -(MB_MAGIC + MB_FLAGS)

	.text
	.globl _start
_start:
	mov $stack_top, %esp
	push %ebx
	push %eax
	call guest_main
	/* guest_main returned: exit with its value. */
	mov %eax, %ebx
1:	mov $0xf4, %dx
	mov %ebx, %eax
	out %eax, %dx
	cli
	hlt
	jmp 1b

	.bss
	.align 16
	.space 16384
stack_top:

	.section .note.GNU-stack, "", @progbits
