/*
 * The first instructions: GRUB (multiboot2) jumps here in 32-bit protected
 * mode with paging off. We build the boot page tables, enter long mode and
 * call boot_main() in the high half.
 *
 * Machine state on entry: Multiboot2 spec 3.3 ("I386 machine state"):
 * EAX = 0x36d76289, EBX = physical address of the boot information, flat
 * 4 GiB CS/DS, A20 on, interrupts off, no valid stack, no valid GDT.
 *
 * This file's first two sections (.multiboot2 and .boot32) are linked at
 * their physical address (VMA == LMA, see linker/kernel.ld); everything else
 * lives at KERNEL_VMA + physical, so 32-bit code reaches it through PHYS().
 */
#include "layout.h"

#define PHYS(x) ((x) - KERNEL_VMA)

#define MB2_HEADER_MAGIC     0xE85250D6
#define MB2_BOOTLOADER_MAGIC 0x36d76289
#define MB2_ARCH_I386        0

#define COM1 0x3f8

/* Page-table entry bits: Intel SDM vol. 3A 4.5, tables 4-15 .. 4-18. */
#define PTE_P   0x001
#define PTE_RW  0x002
#define PTE_PS  0x080   /* 2 MiB page in a page directory */

#define CR0_PE  (1 << 0)
#define CR0_WP  (1 << 16)
#define CR0_NW  (1 << 29)
#define CR0_CD  (1 << 30)
#define CR0_PG  (1 << 31)
#define CR4_PAE (1 << 5)
#define MSR_EFER 0xc0000080
#define EFER_LME (1 << 8)
#define EFER_NXE (1 << 11)

/* --- multiboot2 header: Multiboot2 spec 3.1.1; must be 8-byte aligned and
 *     in the first 32 KiB of the file (kernel.ld puts it first). ---------*/
	.section .multiboot2, "a"
	.balign 8
mb2_header:
	.long MB2_HEADER_MAGIC
	.long MB2_ARCH_I386
	.long mb2_header_end - mb2_header
	.long -(MB2_HEADER_MAGIC + MB2_ARCH_I386 + (mb2_header_end - mb2_header))
	/* Module alignment tag (3.1.10): modules start on a page boundary, so
	 * guest images can be handed out page by page without copying. */
	.balign 8
	.short 6, 0
	.long 8
	/* Framebuffer tag (3.1.10), optional, no preferred mode: without it
	 * GRUB on UEFI hands over no screen at all ("no console will be
	 * available to OS"); with it we get the GOP framebuffer. On BIOS,
	 * scripts/iso's grub.cfg asks for VGA text mode instead. */
	.balign 8
	.short 5, 1
	.long 20
	.long 0, 0, 0
	/* End tag. */
	.balign 8
	.short 0, 0
	.long 8
mb2_header_end:

/* --- 32-bit entry --------------------------------------------------------*/
	.section .boot32, "ax"
	.code32
	.globl _start32
_start32:
	cli
	cld
	/* EAX/EBX are GRUB's; keep them in EDI/ESI until boot_main. */
	movl %eax, %edi
	movl %ebx, %esi
	/* The TSC at the multiboot entry, for the time to the first guest
	 * instruction (boot/exit_loop.c); in .data, since .bss is zeroed below. */
	rdtsc
	movl %eax, PHYS(boot_entry_tsc)
	movl %edx, PHYS(boot_entry_tsc) + 4
	movl $PHYS(boot_stack_top), %esp

	cmpl $MB2_BOOTLOADER_MAGIC, %edi
	jne .Lbad_magic

	/* Long mode and its NX bit: CPUID 0x80000001 EDX bits 29 and 20
	 * (Intel SDM vol. 2A, CPUID). */
	movl $0x80000000, %eax
	cpuid
	cmpl $0x80000001, %eax
	jb .Lno_long_mode
	movl $0x80000001, %eax
	cpuid
	btl $29, %edx
	jnc .Lno_long_mode
	movl %edx, %ebp                 /* remember bit 20 (NX) */

	/* Zero the PML4 and the two PDPTs: whatever loaded us, only the
	 * entries below may be present. (.bss is zeroed in 64-bit mode, eight
	 * bytes a step; the page directories are written whole.) */
	movl $PHYS(boot_pml4), %edi
	movl $(3 * 4096 / 4), %ecx
	xorl %eax, %eax
	rep stosl
	movl $MB2_BOOTLOADER_MAGIC, %edi /* was clobbered; the check passed */

	/* Four page directories of 2 MiB pages map physical 0..4 GiB, four
	 * entries a step (Bochs counts each instruction; the loop's 2,048
	 * entries took 12k of them one by one). Not 1 GiB pages, though
	 * CPUID may offer them: one that spans RAM and MMIO the MTRRs type
	 * differently (the 4th GiB) is undefined behaviour (SDM vol. 3A
	 * 11.11.9, "Large Page Size Considerations"). */
	movl $PHYS(boot_pd), %ebx
	movl $(PTE_P | PTE_RW | PTE_PS), %eax
	xorl %edx, %edx
	movl $(4 * 512 / 4), %ecx
1:	movl %eax, (%ebx)
	movl %edx, 4(%ebx)              /* bits 63:32 */
	addl $0x200000, %eax
	movl %eax, 8(%ebx)
	movl %edx, 12(%ebx)
	addl $0x200000, %eax
	movl %eax, 16(%ebx)
	movl %edx, 20(%ebx)
	addl $0x200000, %eax
	movl %eax, 24(%ebx)
	movl %edx, 28(%ebx)
	addl $0x200000, %eax
	addl $32, %ebx
	decl %ecx
	jnz 1b

	/* Low PDPT: entries 0..3 -> the four page directories (identity). */
	movl $PHYS(boot_pdpt_low), %ebx
	movl $PHYS(boot_pd), %eax
	orl $(PTE_P | PTE_RW), %eax
	xorl %ecx, %ecx
2:	movl %eax, (%ebx, %ecx, 8)
	addl $4096, %eax
	incl %ecx
	cmpl $4, %ecx
	jb 2b

	/* High PDPT: entry 510 (0xffffffff80000000) -> physical 0..1 GiB, the
	 * same first page directory: the kernel runs at -2 GiB for
	 * -mcmodel=kernel. */
	movl $PHYS(boot_pdpt_high), %ebx
	movl $PHYS(boot_pd), %eax
	orl $(PTE_P | PTE_RW), %eax
	movl %eax, 510 * 8(%ebx)

	/* PML4: entry 0 -> low PDPT, entry 511 -> high PDPT. */
	movl $PHYS(boot_pml4), %ebx
	movl $PHYS(boot_pdpt_low), %eax
	orl $(PTE_P | PTE_RW), %eax
	movl %eax, (%ebx)
	movl $PHYS(boot_pdpt_high), %eax
	orl $(PTE_P | PTE_RW), %eax
	movl %eax, 511 * 8(%ebx)

	/* Enter IA-32e mode: Intel SDM vol. 3A 10.8.5 ("Initializing IA-32e
	 * Mode"): PAE, CR3, EFER.LME, then CR0.PG. */
	movl %cr4, %eax
	orl $CR4_PAE, %eax
	movl %eax, %cr4
	movl $PHYS(boot_pml4), %eax
	movl %eax, %cr3
	movl $MSR_EFER, %ecx
	rdmsr
	orl $EFER_LME, %eax
	btl $20, %ebp
	jnc 3f
	orl $EFER_NXE, %eax
3:	wrmsr
	movl %cr0, %eax
	orl $(CR0_PG | CR0_WP | CR0_PE), %eax
	/* Caches on: some firmware (Bochs's BIOS) leaves CR0.CD and NW set,
	 * and nothing else ever clears them (SDM vol. 3A 13.5.1). */
	andl $~(CR0_CD | CR0_NW), %eax
	movl %eax, %cr0

	/* Now in compatibility mode; a far jump to a 64-bit code segment
	 * enters 64-bit mode (Intel SDM vol. 3A 10.8.5, step 5). */
	lgdt boot_gdt_pointer
	ljmp $0x08, $_start64_low

.Lbad_magic:
	movl $msg_bad_magic, %ebx
	jmp .Lfail32
.Lno_long_mode:
	movl $msg_no_long_mode, %ebx
.Lfail32:
	/* Polled COM1; GRUB has set the line up when serial output was on. */
	movb (%ebx), %al
	testb %al, %al
	jz 5f
	movl %eax, %ecx
	movw $(COM1 + 5), %dx
4:	inb %dx, %al
	testb $0x20, %al                /* LSR.THRE */
	jz 4b
	movl %ecx, %eax
	movw $COM1, %dx
	outb %al, %dx
	incl %ebx
	jmp .Lfail32
5:	/* Stop the emulator with a failure status, as boot/power.c does. */
	movb $0x11, %al                 /* QEMU isa-debug-exit: failure */
	outb %al, $0xf4
	xchgw %bx, %bx                  /* Bochs magic breakpoint */
6:	hlt
	jmp 6b

/* --- 64-bit, still at the physical address: jump to the high half --------*/
	.code64
_start64_low:
	movl $0x10, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	xorl %eax, %eax
	movl %eax, %fs
	movl %eax, %gs
	movabsq $_start64, %rax
	jmp *%rax

/* A temporary GDT: null, 64-bit code 0x08, data 0x10. boot/gdt.c loads the
 * real one (with the TSS) from C. Intel SDM vol. 3A 3.4.5 and 5.2.1. */
	.balign 16
boot_gdt:
	.quad 0
	.quad 0x00af9a000000ffff         /* code: P, DPL0, L=1 */
	.quad 0x00cf92000000ffff         /* data: P, DPL0, writable */
boot_gdt_end:
boot_gdt_pointer:
	.short boot_gdt_end - boot_gdt - 1
	.quad boot_gdt

msg_bad_magic:
	.asciz "[hv] panic: not loaded by a multiboot2 boot loader (bad magic in EAX)\r\n[hv] power off: failure\r\n"
msg_no_long_mode:
	.asciz "[hv] panic: this CPU has no 64-bit long mode\r\n[hv] power off: failure\r\n"

/* --- 64-bit, high half ----------------------------------------------------*/
	.text
	.globl _start64
_start64:
	movabsq $boot_stack_top, %rsp
	xorl %ebp, %ebp
	/* Zero .bss, eight bytes a step (REP STOSL in 32-bit mode took twice
	 * the iterations, each an instruction to Bochs). GRUB zeroes memsz
	 * beyond filesz already (grub-core/loader/multiboot_elfxx.c); other
	 * loaders need not. The page tables and the stack are in .noinit. */
	movl %edi, %r8d
	movl %esi, %r9d
	movabsq $__bss_start, %rdi
	movabsq $__bss_end, %rcx
	subq %rdi, %rcx
	shrq $3, %rcx
	xorl %eax, %eax
	rep stosq
	movl %r8d, %edi
	movl %r9d, %esi
	/* boot_main(uint32_t magic, uint64_t mb_info_phys): SysV ABI, EDI/RSI.
	 * The 32-bit writes above zero-extended ESI into RSI. */
	movl %esi, %esi
	call boot_main
7:	cli
	hlt
	jmp 7b

	.section .data
	.balign 8
	.globl boot_entry_tsc
boot_entry_tsc: .quad 0

/* --- boot page tables (written above) and stack ---------------------------*/
	/* Not .bss: .bss is zeroed once they are in use. */
	.section .noinit.boot_tables, "aw", @nobits
	.balign 4096
	.globl boot_pml4
boot_pml4:      .skip 4096
boot_pdpt_low:  .skip 4096
boot_pdpt_high: .skip 4096
boot_pd:        .skip 4 * 4096
	/* Zeroing it would cost the boot 16k REP STOSQ iterations, which an
	 * emulator counting instructions (Bochs) charges one by one. */
	.section .noinit.boot_stack, "aw", @nobits
	.balign 16
boot_stack:     .skip BOOT_STACK_SIZE
	.globl boot_stack_top
boot_stack_top:

	/* No executable stack (silences ld; the stub has no such notion). */
	.section .note.GNU-stack, "", @progbits
