/*
 * One round trip into an AMD-V guest (AMD APM vol. 2, 15.5 "VMRUN").
 *   void svm_enter(uint64_t vmcb_pa, uint64_t gpr[16], uint64_t host_save_pa)
 * VMRUN switches RAX, RSP, RIP, RFLAGS, the control registers and the
 * segment registers itself; it leaves the other general registers alone, so
 * they are loaded from and stored to gpr[] here (x86 encoding order). The
 * hidden state VMRUN does not switch (FS/GS/TR/LDTR with their bases,
 * KernelGsBase, STAR/LSTAR/CSTAR/SFMASK, SYSENTER_*) is switched with
 * VMSAVE/VMLOAD: the guest's in its VMCB, the host's loaded back from
 * host_save_pa after each exit (saved there once, by svm_cpu_enable: the
 * host never changes it) (APM vol. 2, 15.5.2 "VMSAVE and VMLOAD").
 */
#include "arch/fill_rsb.h"

#define GPR(n) (8 * (n))
#define RCX 1
#define RDX 2
#define RBX 3
#define RBP 5
#define RSI 6
#define RDI 7

	.section .text.exit_path, "ax", @progbits   /* beside the rest of the exit path (EXIT_PATH, boot/hv.h) */
	.globl svm_enter
	.type svm_enter, @function
svm_enter:
	push %rbp
	push %rbx
	push %r12
	push %r13
	push %r14
	push %r15
	push %rdx                 /* 16(%rsp): host save area */
	push %rsi                 /*  8(%rsp): gpr[] */
	push %rdi                 /*  0(%rsp): VMCB */

	clgi                      /* no interrupt between here and stgi */
	sti                       /* V_INTR_MASKING: the host's IF at VMRUN decides whether a
	                             physical interrupt makes the guest exit (APM vol. 2, 15.21.1) */

	mov GPR(RCX)(%rsi), %rcx
	mov GPR(RDX)(%rsi), %rdx
	mov GPR(RBX)(%rsi), %rbx
	mov GPR(RBP)(%rsi), %rbp
	mov GPR(RDI)(%rsi), %rdi
	mov GPR(8)(%rsi), %r8
	mov GPR(9)(%rsi), %r9
	mov GPR(10)(%rsi), %r10
	mov GPR(11)(%rsi), %r11
	mov GPR(12)(%rsi), %r12
	mov GPR(13)(%rsi), %r13
	mov GPR(14)(%rsi), %r14
	mov GPR(15)(%rsi), %r15
	mov GPR(RSI)(%rsi), %rsi

	mov 0(%rsp), %rax
	vmload
	vmrun
	vmsave                    /* RAX is the VMCB again after #VMEXIT */

	mov 8(%rsp), %rax
	mov %rcx, GPR(RCX)(%rax)
	mov %rdx, GPR(RDX)(%rax)
	mov %rbx, GPR(RBX)(%rax)
	mov %rbp, GPR(RBP)(%rax)
	mov %rsi, GPR(RSI)(%rax)
	mov %rdi, GPR(RDI)(%rax)
	mov %r8, GPR(8)(%rax)
	mov %r9, GPR(9)(%rax)
	mov %r10, GPR(10)(%rax)
	mov %r11, GPR(11)(%rax)
	mov %r12, GPR(12)(%rax)
	mov %r13, GPR(13)(%rax)
	mov %r14, GPR(14)(%rax)
	mov %r15, GPR(15)(%rax)
	FILL_RSB                  /* before the host's first RET (mitigations.c) */

	mov 16(%rsp), %rax
	vmload                    /* the host's hidden state back (TR for the IST stacks) */
	cli
	stgi                      /* a host interrupt stays pending: the run loop takes it */

	add $24, %rsp
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbx
	pop %rbp
	ret
	.size svm_enter, . - svm_enter

	.section .note.GNU-stack, "", @progbits
