#!/bin/bash
# Host-harness tests: the real generated core and glue as a Linux program.
set -u
HVHOST=$(realpath "$1")
pass=0 fail=0
check() { # name, expected exit, command...
  local name=$1 want=$2; shift 2
  local out; out=$("$@" 2>&1); local rc=$?
  if [ "$rc" = "$want" ]; then pass=$((pass+1)); echo "ok   $name"
  else fail=$((fail+1)); echo "FAIL $name (exit $rc, wanted $want)"; echo "$out" | tail -5; fi
  LAST_OUT=$out
}
expect_line() { # name, regex
  if grep -qE "$2" <<<"$LAST_OUT"; then pass=$((pass+1)); echo "ok   $1"
  else fail=$((fail+1)); echo "FAIL $1: no line matching /$2/"; echo "$LAST_OUT" | tail -5; fi
}

check "10000 guest VMM instances made, trapped and dropped" 0 "$HVHOST" instances 10000
expect_line "no memory leaked over 10000 instances" '^\[hv\] selftest: 10000 guest VMM instances created and destroyed \(2500 made to trap\), [0-9]+ us, 0 KiB leaked$'

for kind in cpuid io msr eoi hlt window; do
  check "100000 synthetic $kind exits through one guest VMM instance" 0 "$HVHOST" exits 100000 $kind
  check "100000 synthetic $kind exits through the reference VMM" 0 "$HVHOST" ref-exits 100000 $kind
done
# The reference (reference.c), the yardstick of scripts/bench --core, answers
# every kind, and every CPUID leaf, exactly as the core does.
check "the reference VMM answers each exit kind and CPUID leaf as the core does" 0 "$HVHOST" ref-check
expect_line "ref-check compared all six kinds" '^hvhost: ref-check: [0-9]+ exits of 6 kinds and [0-9]+ CPUID questions: the reference answers as the core does$'

# What the stub lets a guest instance print (linker/imports.c): its word at
# a time path gives what the byte rule gives.
check "the console cleaner keeps printable ASCII and newlines, and nothing else" 0 "$HVHOST" console-clean
expect_line "console-clean compared its texts" '^hvhost: console-clean: [0-9]+ texts cleaned as byte by byte$'

# How the stub zeroes a guest's RAM before the guest sees it (linker/
# guest_ram.c): only pages that are not zero are written, and all are zero.
check "guest RAM zeroing leaves every range zero and the rest alone" 0 "$HVHOST" ram-zero
expect_line "ram-zero tried its ranges" '^hvhost: ram-zero: [0-9]+ ranges zeroed, nothing else touched$'

cd "$(dirname "$0")/../.."
check "the supervisor's init on the demo config" 0 "$HVHOST" config tests/configs/demo.toml build/guests/hello.elf
expect_line "the demo plan names its guests" '^\[hv\] guest [a-z0-9-]+: '

# Hostile input to a guest VMM: random exit records, mutated kernel images.
# Deterministic seeds, so a failure repeats; any trap fails the test.
for seed in 1 2 3; do
  check "50000 random exit records (seed $seed) never trap the guest VMM" 0 "$HVHOST" fuzz-exits 50000 $seed
done
for kernel in hello longmode memtest; do
  check "3000 mutated $kernel.elf images never trap the loader" 0 "$HVHOST" fuzz-load build/guests/$kernel.elf 3000 11
done
# make fuzz's four targets, briefly (make fuzz runs 1,000,000 inputs each).
mkdir -p build/fuzz
for target in config decoder loaders devices; do
  check "fuzz $target: 10000 inputs, no trap" 0 "$HVHOST" fuzz $target 10000 7
  expect_line "fuzz $target printed its counts" \
    "^fuzz $target: 10000 inputs, 0 traps, [0-9]+ errors, (no coverage \(plain build\)|[0-9]+ coverage points), [0-9]+ corpus$"
done
# Regression cases: every input kept in tests/host/fuzz-cases/<target>/
# (inputs that once trapped, and small ones that reached rare coverage)
# goes through its target again; none may trap.
for dir in tests/host/fuzz-cases/*/; do
  target=$(basename "$dir")
  check "fuzz-replay $target: the kept cases do not trap" 0 "$HVHOST" fuzz-replay "$target" "$dir"
  expect_line "fuzz-replay $target replayed its cases" "^fuzz-replay $target: [1-9][0-9]* cases, 0 traps$"
done

echo "host: $pass passed, $fail failed"
[ "$fail" = 0 ]
