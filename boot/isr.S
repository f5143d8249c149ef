/*
 * Entry stubs for the 32 exception vectors. Each pushes the same frame
 * (a 0 where the CPU pushes no error code, then the vector) so one C
 * handler can print any of them. Which vectors push an error code: Intel
 * SDM vol. 3A 7.15 (exception reference) and AMD APM vol. 2 8.2 (#VC, #SX).
 */
	.text

.macro ISR_NO_ERROR vector
isr\vector:
	pushq $0
	pushq $\vector
	jmp isr_common
.endm

.macro ISR_ERROR vector
isr\vector:
	pushq $\vector
	jmp isr_common
.endm

ISR_NO_ERROR 0
ISR_NO_ERROR 1
ISR_NO_ERROR 2
ISR_NO_ERROR 3
ISR_NO_ERROR 4
ISR_NO_ERROR 5
ISR_NO_ERROR 6
ISR_NO_ERROR 7
ISR_ERROR    8
ISR_NO_ERROR 9
ISR_ERROR    10
ISR_ERROR    11
ISR_ERROR    12
ISR_ERROR    13
ISR_ERROR    14
ISR_NO_ERROR 15
ISR_NO_ERROR 16
ISR_ERROR    17
ISR_NO_ERROR 18
ISR_NO_ERROR 19
ISR_NO_ERROR 20
ISR_ERROR    21
ISR_NO_ERROR 22
ISR_NO_ERROR 23
ISR_NO_ERROR 24
ISR_NO_ERROR 25
ISR_NO_ERROR 26
ISR_NO_ERROR 27
ISR_NO_ERROR 28
ISR_ERROR    29
ISR_ERROR    30
ISR_NO_ERROR 31

/* Saves the general registers below the vector so the frame reads as
 * struct exception_frame (boot/idt.c), and calls exception_handler(frame).
 * It returns only for a fault it resolved (a Wasm memory page's first
 * touch, boot/vmem.c): the registers come back and the access runs again. */
isr_common:
	cld
	pushq %rax
	pushq %rbx
	pushq %rcx
	pushq %rdx
	pushq %rsi
	pushq %rdi
	pushq %rbp
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, %rdi
	movq %rsp, %rbx          /* callee-saved: the frame, across the call */
	andq $-16, %rsp
	call exception_handler
	movq %rbx, %rsp
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rbp
	popq %rdi
	popq %rsi
	popq %rdx
	popq %rcx
	popq %rbx
	popq %rax
	addq $16, %rsp           /* the vector and the error code */
	iretq

/* The host timer (boot/lapic.c): count the tick, EOI, back. It only ever
 * interrupts the run loop between guest runs, so it saves just what the
 * C handler may clobber. */
	.globl isr_timer
isr_timer:
	pushq %rax
	pushq %rcx
	pushq %rdx
	pushq %rsi
	pushq %rdi
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	cld
	call lapic_timer_interrupt
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rdi
	popq %rsi
	popq %rdx
	popq %rcx
	popq %rax
	iretq

/* A host NMI (a watchdog, a performance counter; SVM and VT-x make one
 * that arrives during a guest exit and deliver it here): counted, nothing
 * else. Printing could deadlock on the console lock it interrupted. */
	.globl isr_nmi
isr_nmi:
	lock incq host_nmi_count(%rip)
	iretq

	.bss
	.balign 8
	.globl host_nmi_count
host_nmi_count:
	.quad 0
	.text

/* Spurious LAPIC interrupts need no EOI (Intel SDM vol. 3A 12.9). */
	.globl isr_spurious
isr_spurious:
	iretq

	.section .rodata
	.balign 8
	.globl isr_table
isr_table:
.irp vector, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.quad isr\vector
.endr

	/* No executable stack (silences ld; the stub has no such notion). */
	.section .note.GNU-stack, "", @progbits
