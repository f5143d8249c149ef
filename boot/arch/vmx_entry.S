/*
 * One round trip into a VT-x guest (Intel SDM vol. 3C, 26 "VM Entries",
 * 28 "VM Exits").
 *   int vmx_enter(uint64_t gpr[16], uint64_t *cr2, int launched)
 * Returns 0 after a VM exit (the exit reason says what happened, also for a
 * VM entry that failed while loading guest state, SDM 27.8), 1 when
 * VMLAUNCH/VMRESUME failed with VMfailInvalid (CF: no current VMCS) and 2
 * with VMfailValid (ZF: the VM-instruction error field says why, SDM 31.4).
 *
 * VM entry loads RSP, RIP, RFLAGS, the control and segment registers from
 * the current VMCS; the other general registers are left alone, so they
 * are loaded from and stored to gpr[] here (x86 encoding order, gpr[RSP]
 * unused: the VMCS holds it). CR2 is not switched at all (SDM 28.5 lists
 * what a VM exit loads): the guest's is loaded before the entry and read
 * back before anything in the host can fault. A VM exit continues at
 * vmx_exit (HOST_RIP) on the stack pointer written to HOST_RSP just before
 * the entry, with RFLAGS 0x2: interrupts stay off, DF is clear.
 */
#include "arch/fill_rsb.h"

#define GPR(n) (8 * (n))
#define RAX 0
#define RCX 1
#define RDX 2
#define RBX 3
#define RBP 5
#define RSI 6
#define RDI 7
#define VMCS_HOST_RSP 0x6C14        /* SDM vol. 3D, appendix B.4.4 */

	.section .text.exit_path, "ax", @progbits   /* beside the rest of the exit path (EXIT_PATH, boot/hv.h) */
	.globl vmx_enter
	.type vmx_enter, @function
vmx_enter:
	push %rbp
	push %rbx
	push %r12
	push %r13
	push %r14
	push %r15
	push %rsi                 /* 8(%rsp): &cr2 */
	push %rdi                 /* 0(%rsp): gpr[] */

	mov $VMCS_HOST_RSP, %eax
	vmwrite %rsp, %rax        /* where vmx_exit finds gpr[] and &cr2 */

	mov (%rsi), %rax
	mov %rax, %cr2

	test %edx, %edx           /* launched? (mov leaves the flags alone) */
	mov GPR(RAX)(%rdi), %rax
	mov GPR(RCX)(%rdi), %rcx
	mov GPR(RDX)(%rdi), %rdx
	mov GPR(RBX)(%rdi), %rbx
	mov GPR(RBP)(%rdi), %rbp
	mov GPR(RSI)(%rdi), %rsi
	mov GPR(8)(%rdi), %r8
	mov GPR(9)(%rdi), %r9
	mov GPR(10)(%rdi), %r10
	mov GPR(11)(%rdi), %r11
	mov GPR(12)(%rdi), %r12
	mov GPR(13)(%rdi), %r13
	mov GPR(14)(%rdi), %r14
	mov GPR(15)(%rdi), %r15
	mov GPR(RDI)(%rdi), %rdi
	jnz 1f
	vmlaunch
	jmp 2f
1:	vmresume
2:
	/* Still here: the entry did not happen. CF (VMfailInvalid) or ZF
	 * (VMfailValid); the guest's registers are in ours, nothing to save. */
	mov $1, %eax
	jc 3f
	mov $2, %eax
	jmp 3f

	.globl vmx_exit
	.type vmx_exit, @function
vmx_exit:
	push %rax
	mov 8(%rsp), %rax         /* gpr[] */
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
	popq GPR(RAX)(%rax)       /* the guest's RAX */

	mov %cr2, %rcx
	mov 8(%rsp), %rdx
	mov %rcx, (%rdx)
	FILL_RSB                  /* before the host's first RET (mitigations.c) */
	xor %eax, %eax

3:	add $16, %rsp
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbx
	pop %rbp
	ret
	.size vmx_enter, . - vmx_enter

	.section .note.GNU-stack, "", @progbits
