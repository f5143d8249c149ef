// The guest VMM: one instance per guest, each with its own linear memory.
// Everything a guest can steer (its exits, its devices, the bytes of its
// kernel) is handled here, so a bug a hostile guest drives corrupts only
// this instance. The stub creates, destroys and re-creates instances at
// will; state lives in this module's globals and static memory, laid out at
// instantiation, and nothing is allocated afterwards.

import "../lib/abort";
import { GuestState } from "./state";

const state = changetype<GuestState>(memory.data(offsetof<GuestState>(), 16));

// Called once, right after instantiation. Returns 0, or 1 if this instance
// was already given a guest (an instance serves one guest for its life).
export function create(guestId: u32, memoryBytes: u64): u32 {
  if (state.created) return 1;
  state.created = true;
  state.guestId = guestId;
  state.memoryBytes = memoryBytes;
  return 0;
}

export function guestId(): u32 {
  return state.guestId;
}

// --- self-test hooks, used by the stub's instance test (selftest=instances) --
// A fresh instance must start from zeroed state, whatever earlier instances
// wrote: these let the stub prove it without reaching into linear memory.

const SCRATCH_BYTES: u32 = 64 * 1024;
const scratch = memory.data(SCRATCH_BYTES, 16);

// True when the scratch area is all zeros (as in a fresh instance).
export function scratchIsZero(): bool {
  for (let i: u32 = 0; i < SCRATCH_BYTES; i += 8) {
    if (load<u64>(scratch + i) != 0) return false;
  }
  return true;
}

// Fills the scratch area with a pattern derived from `seed`; returns a sum.
export function scratchFill(seed: u32): u64 {
  let sum: u64 = 0;
  let x: u64 = <u64>seed * 0x9E3779B97F4A7C15 | 1;
  for (let i: u32 = 0; i < SCRATCH_BYTES; i += 8) {
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    store<u64>(scratch + i, x);
    sum += x;
  }
  return sum;
}

// The sum scratchFill returned, recomputed without writing: proves the area
// still holds exactly what this instance wrote.
export function scratchSum(): u64 {
  let sum: u64 = 0;
  for (let i: u32 = 0; i < SCRATCH_BYTES; i += 8) sum += load<u64>(scratch + i);
  return sum;
}

// Deliberate faults, so the test can prove a trap stops only this instance.
export function crashForTest(kind: u32): u32 {
  if (kind == 0) unreachable();
  if (kind == 1) return load<u32>(0xFFFFFFF0); // beyond linear memory
  if (kind == 2) return crashForTest(2) + 1;   // unbounded recursion
  assert(kind != 3, "crashForTest: assertion");
  return kind;
}
