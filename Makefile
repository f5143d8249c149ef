# tshv: the whole chain, TypeScript core -> Wasm -> wasm2c -> C -> boot stub -> ISO.
# `make run` and `make test` install what is missing first (scripts/deps).

SHELL   := /bin/bash
BUILD   := build
BIN     := node_modules/.bin
CONFIG  ?= tests/configs/demo.toml
ISO     ?= $(BUILD)/hypervisor.iso
VERSION := $(shell node -p "require('./package.json').version" 2>/dev/null || echo 0.0.0)

# The asc options of the three modules (supervisor, guest VMM, per-CPU
# scheduler) live in asconfig.json, one target each:
# entry, output, runtime, linear memory (fixed: initial = maximum, since the
# stub hands each instance one contiguous region and memory.grow fails),
# optimisation and the abort hook. asc 0.28 reads `entries` only at the top
# level of a config, so each target's is passed here.
ASC_ENTRY = $(shell node -p "require('./asconfig.json').targets['$(1)'].entries.join(' ')")
WASM_FEATURES := --enable-bulk-memory --enable-sign-ext --enable-mutable-globals
WASM_OPT_FLAGS := -O3 $(WASM_FEATURES)

CC      := gcc
LD      := ld
GCC_INC := $(shell $(CC) -print-file-name=include)
include linker/core_cflags.mk
CFLAGS  := -std=gnu11 -ffreestanding -nostdinc -isystem $(GCC_INC) -Ilinker/include -Ilinker -Iboot -I$(BUILD)/core \
           $(KERNEL_CODEGEN_FLAGS) -mcmodel=kernel -fno-pic -fno-pie \
           -fno-stack-protector -fno-asynchronous-unwind-tables \
           -O2 -g -Wall -Wextra -Wno-unused-parameter -DHV_KERNEL -DHV_VERSION='"$(VERSION)"'
CORE_CFLAGS := $(filter-out -Wextra,$(CFLAGS)) $(CORE_OPT_FLAGS) -Wno-unused-function -Wno-unused-variable -Wno-unused-but-set-variable -Wno-unused-value
LDFLAGS := -nostdlib -static -z max-page-size=0x1000 -T linker/kernel.ld

AS_SRCS   := $(shell find assembly -name '*.ts')
BOOT_C    := $(wildcard boot/*.c boot/arch/*.c)
BOOT_S    := $(wildcard boot/*.S boot/arch/*.S)
LINK_C    := $(wildcard linker/*.c)
BOOT_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(BOOT_C) $(LINK_C)) $(patsubst %.S,$(BUILD)/obj/%.o,$(BOOT_S))
CORE_OBJS := $(BUILD)/obj/core/supervisor.o $(BUILD)/obj/core/guest.o $(BUILD)/obj/core/scheduler.o
HEADERS   := $(wildcard boot/*.h boot/arch/*.h linker/*.h linker/include/*.h)

# Keep the unoptimised Wasm: it is what a reader compares against.
.SECONDARY:

.PHONY: all deps core elf guests iso run test test-unit test-host test-boot test-slow bench fuzz soak clean check-config
all: iso

deps:
	@scripts/deps

# --- the core: AssemblyScript -> Wasm -> wasm-opt -> wasm2c -------------------
$(BUILD)/%.raw.wasm: $(AS_SRCS) package.json asconfig.json
	@mkdir -p $(dir $@)
	$(BIN)/asc $(call ASC_ENTRY,$*) --config asconfig.json --target $* -o $@
	@# No floating point in the core: the C it becomes must build with -mgeneral-regs-only.
	@if $(BIN)/wasm2wat $@ | grep -qE '\bf(32|64)\b'; then \
	  echo "error: $@ uses floating point (f32/f64); the core must not" >&2; exit 1; fi

# Each module's start (its top-level statements, exported as _start by
# asconfig.json) is run here by wasm-ctor-eval, which leaves the memory and
# globals it made as the module's initial state: an instance starts from
# that image instead of running the code, once per guest, cold (make bench,
# P4). It must succeed whole: a start that calls an import cannot be
# evaluated, and the build says so instead of shipping a module whose start
# nobody runs. The second wasm-opt then sees the globals the start set
# (the machine, the platform) as never written again and makes each a
# constant: a field of the machine becomes a load at a fixed address
# instead of one through a pointer passed down (14-18 instructions per
# exit in make bench, P1).
$(BUILD)/%.wasm: $(BUILD)/%.raw.wasm scripts/merge-data-segments.mjs
	$(BIN)/wasm-opt $(WASM_OPT_FLAGS) $< -o $@.opt
	$(BIN)/wasm-ctor-eval $@.opt --ctors=_start $(WASM_FEATURES) -o $@.eval > $@.ctor-eval 2>&1 || { cat $@.ctor-eval >&2; exit 1; }
	@if $(BIN)/wasm2wat $@.eval | grep -q '(export "_start"'; then cat $@.ctor-eval >&2; \
	  echo "error: $@: wasm-ctor-eval could not run its start at build time" >&2; exit 1; fi
	$(BIN)/wasm-opt $(WASM_OPT_FLAGS) $@.eval -o $@
	@rm -f $@.opt $@.eval $@.ctor-eval
	node scripts/merge-data-segments.mjs $@

# A function outside every call cycle cannot run away: it keeps no stack
# check (scripts/prune-stack-checks.mjs says why that is enough).
$(BUILD)/core/%.c: $(BUILD)/%.wasm scripts/prune-stack-checks.mjs
	@mkdir -p $(dir $@)
	$(BIN)/wasm2c $< -n $* --disable-simd -o $@
	node scripts/prune-stack-checks.mjs $@ $*

core: $(BUILD)/supervisor.wasm $(BUILD)/guest.wasm $(BUILD)/scheduler.wasm \
      $(BUILD)/core/supervisor.c $(BUILD)/core/guest.c $(BUILD)/core/scheduler.c

# --- the stub and the link ----------------------------------------------------
$(BUILD)/obj/core/%.o: $(BUILD)/core/%.c linker/wasm-rt.h linker/core_cflags.mk
	@mkdir -p $(dir $@)
	$(CC) $(CORE_CFLAGS) -c $< -o $@

# The screen console's font: GRUB's 8x16 ASCII bitmaps (grub-common).
GRUB_FONT := /usr/share/grub/ascii.h
$(BUILD)/core/font.h: $(GRUB_FONT)
	@mkdir -p $(dir $@)
	{ echo '/* Generated from $(GRUB_FONT) (GRUB, grub-common): 128 glyphs, 8x16. */'; \
	  sed 's/^unsigned char ascii_bitmaps/static const unsigned char ascii_bitmaps/' $<; } > $@

$(BUILD)/obj/boot/screen.o: $(BUILD)/core/font.h

$(BUILD)/obj/%.o: %.c $(HEADERS) $(BUILD)/core/supervisor.c $(BUILD)/core/guest.c $(BUILD)/core/scheduler.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/obj/%.o: %.S $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -D__ASSEMBLY__ -c $< -o $@

$(BUILD)/hypervisor.elf: $(BOOT_OBJS) $(CORE_OBJS) linker/kernel.ld
	$(LD) $(LDFLAGS) -o $@ $(BOOT_OBJS) $(CORE_OBJS)
	@grub-file --is-x86-multiboot2 $@ || { echo "error: $@ is not multiboot2" >&2; exit 1; }

elf: $(BUILD)/hypervisor.elf

# The bench's bypass build (make bench, P2): the same stub and core, but the
# stub answers the exit-loop guest's CPUID and port exits itself
# (boot/bench_bypass.c). Only exit_loop.c and bench_bypass.c differ.
BYPASS_SRCS := boot/exit_loop.c boot/bench_bypass.c
BYPASS_OBJS := $(patsubst %.c,$(BUILD)/obj-bypass/%.o,$(BYPASS_SRCS))
$(BUILD)/obj-bypass/%.o: %.c $(HEADERS) $(BUILD)/core/supervisor.c $(BUILD)/core/guest.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DHV_BENCH_BYPASS -c $< -o $@

$(BUILD)/hypervisor-bypass.elf: $(filter-out $(patsubst %.c,$(BUILD)/obj/%.o,$(BYPASS_SRCS)),$(BOOT_OBJS)) $(BYPASS_OBJS) $(CORE_OBJS) linker/kernel.ld
	$(LD) $(LDFLAGS) -o $@ $(filter %.o,$^)

# --- the ISO: validate the config with the core itself, then grub-mkrescue ----
guests:
	@$(MAKE) -s -C tests/guests

iso: $(BUILD)/hypervisor.elf $(BUILD)/supervisor.wasm guests
	scripts/iso --config $(CONFIG) --out $(ISO) $(if $(HV_CMDLINE),--cmdline "$(HV_CMDLINE)")

check-config: $(BUILD)/supervisor.wasm $(BUILD)/guest.wasm
	node scripts/check-config.mjs --load $(CONFIG)

# --- running and testing -------------------------------------------------------
run: deps
	$(MAKE) iso
	scripts/run --emu $(or $(EMU),auto) $(ISO)

test: deps
	$(MAKE) test-unit
	$(MAKE) test-host
	$(MAKE) test-boot

test-unit: core
	$(BIN)/asp --config as-pect.config.js
	node --test tests/unit/*.test.mjs

test-host: core guests
	$(MAKE) -C tests/host

test-boot: elf $(BUILD)/supervisor.wasm guests
	node --test --test-concurrency=1 tests/boot/*.test.mjs

# Longer than CI's budget allows in `make test`: Debian's own kernel
# (scripts/linux-guest fetches it from Debian's packages).
test-slow: deps elf $(BUILD)/supervisor.wasm guests
	node --test --test-concurrency=1 tests/boot/*.slow.mjs

# Issue 11's fuzzing of the core as compiled for the kernel (tests/host/fuzz.c):
# config, decoder, loaders, devices, FUZZ_N inputs each (default 1,000,000),
# one line per target: "fuzz <target>: N inputs, T traps, E errors".
FUZZ_N ?= 1000000
FUZZ_SEED ?= 1
fuzz: deps core guests
	@mkdir -p $(BUILD)/fuzz
	@# With coverage feedback (hvhost-cov, tests/host/fuzz_cov.c) where it builds, else without.
	@hv=$(BUILD)/host/hvhost-cov; $(MAKE) -s -C tests/host ../../build/host/hvhost-cov || { \
	  echo "make fuzz: no coverage build: fuzzing without feedback"; hv=$(BUILD)/host/hvhost; \
	  $(MAKE) -s -C tests/host ../../build/host/hvhost; }; \
	set -o pipefail; status=0; for target in config decoder loaders devices; do \
	  $$hv fuzz $$target $(FUZZ_N) $(FUZZ_SEED) | grep -E '^(fuzz|hvhost|  cp)' || status=1; done; exit $$status

# Issue 11's long run: several guests, Linux among them, for SOAK_MINUTES
# (default 10) under QEMU; every console line whole, in order, exactly once,
# and no guest stalled for more than two time slices (scripts/soak.mjs).
SOAK_MINUTES ?= 10
soak: deps elf $(BUILD)/supervisor.wasm guests
	node scripts/soak.mjs --minutes $(SOAK_MINUTES)

# Issue 10's figures P1-P6, each side of a ratio measured in this run:
# one line per figure, a markdown table, build/bench.json.
bench: deps elf $(BUILD)/hypervisor-bypass.elf $(BUILD)/supervisor.wasm guests
	node scripts/bench.mjs $(if $(RUNS),--runs $(RUNS)) $(if $(ONLY),--only $(ONLY))

clean:
	rm -rf $(BUILD)
