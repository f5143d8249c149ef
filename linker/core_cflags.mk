# GCC options for the C that wasm2c makes of the core (the kernel's
# Makefile and tests/host's both use them, so P1 counts the code that
# boots). wasm2c's C computes every linear-memory address as base +
# (u64)addr + offset; GCC's partial redundancy elimination and code
# hoisting then keep many such sums alive across the exit handler's large
# functions, and spill them, which costs more than adding again inside the
# addressing mode: make bench P1 counted 4-7% fewer instructions per exit
# without both (with linker/wasm-rt.h's typed stores).
CORE_OPT_FLAGS := -fno-tree-pre -fno-code-hoisting
