/*
 * Where the stub lives, shared by entry.S and C (kernel.ld repeats
 * KERNEL_VMA and KERNEL_LMA: ld scripts do not go through cpp here).
 */
#ifndef LAYOUT_H
#define LAYOUT_H

/* The kernel runs at -2 GiB, the only place -mcmodel=kernel code can be
 * (GCC manual, x86 options); PML4[511]/PDPT[510] map it to physical 0. */
#define KERNEL_VMA 0xffffffff80000000
/* Loaded at 1 MiB: the lowest address above the BIOS/real-mode area. */
#define KERNEL_LMA 0x100000

/* The boot stack is also the stack the core runs on: wasm2c code keeps Wasm
 * locals and calls on it, so it is generous. */
#define BOOT_STACK_SIZE (128 * 1024)

#endif
