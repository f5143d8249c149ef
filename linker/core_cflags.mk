# GCC options for the C that wasm2c makes of the core (the kernel's
# Makefile and tests/host's both use them, so P1 counts the code that
# boots). wasm2c's C computes every linear-memory address as base +
# (u64)addr + offset; GCC's partial redundancy elimination and code
# hoisting then keep many such sums alive across the exit handler's large
# functions, and spill them, which costs more than adding again inside the
# addressing mode: make bench P1 counted 4-7% fewer instructions per exit
# without both (with linker/wasm-rt.h's typed stores). The functions are
# large (the exit handler is one, with its handlers inline) and GCC's
# regional register allocation splits them badly: one region
# (-fira-region=one) and scheduling before allocation that watches the
# pressure (-fsched-pressure -fschedule-insns) took another 7-27
# instructions off every exit (P1); the C reference built with the same
# two moved by at most 5, either way.
CORE_OPT_FLAGS := -fno-tree-pre -fno-code-hoisting -fira-region=one -fsched-pressure -fschedule-insns

# What all C in the kernel is built with that changes its code: no red
# zone (an interrupt on the same stack would overwrite it) and no SSE
# registers (the guest's are live while the stub runs: boot/fpu.c). The
# frame pointer is omitted, as GCC's -O2 does: nothing walks frames, and
# keeping it cost the core 14-30 instructions per exit. tests/host builds
# the core, its glue and the C reference with these too, so make bench P1
# counts the code that boots, on both sides.
KERNEL_CODEGEN_FLAGS := -mno-red-zone -mgeneral-regs-only
