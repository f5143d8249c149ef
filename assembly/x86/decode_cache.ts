// The decoded forms of the last few instructions that touched MMIO. A
// guest's MMIO comes from a handful of instructions (Linux's xAPIC EOI
// write, its I/O APIC accessors), run again and again, and decoding is a
// pure function of the fetched bytes and the code size: an entry answers
// when both are the same, so the bytes are still fetched each time (the
// guest may have rewritten its code) and only the decode is skipped.
//
// Four entries, picked by the first bytes; an entry is the fetched bytes
// (zero past the count), the count and code size, the decoder's answer,
// and the Instruction it wrote.

import { Instruction, INSTRUCTION_BYTES, decodeInstruction } from "./decoder";

const ENTRIES: u32 = 4;
const KEY_BYTES: u32 = 24;      // bytes 0-7, 8-15, then count | codeSize << 8 | 1 << 16 (kept)
const ENTRY_BYTES: u32 = KEY_BYTES + 8 + INSTRUCTION_BYTES;  // key, answer (+pad), Instruction
const CACHE: usize = memory.data(ENTRIES * ENTRY_BYTES, 16);

// The low `count` bytes of the 8 at `at`.
// @ts-ignore: decorator
@inline function bytesUpTo(at: usize, count: u32): u64 {
  let value = load<u64>(at);
  return count >= 8 ? value : value & ((<u64>1 << (<u64>count << 3)) - 1);
}

// decodeInstruction(bytes, count, codeSize) into an entry's Instruction,
// unless these bytes were decoded in this code size before: answers that
// entry's Instruction either way, and cachedAnswer() of it is what the
// decoder answered. It is read in place, not copied out (make bench P1,
// eoi), so only the decoder writes it; it holds until the next call.
// `bytes` holds 16.
export function decodeCached(bytes: usize, count: u32, codeSize: u32): Instruction {
  let low = bytesUpTo(bytes, count);
  let high = count > 8 ? bytesUpTo(bytes + 8, count - 8) : 0;
  let shape = <u64>(count | (codeSize << 8) | (1 << 16));
  // The opcode is rarely the first byte alone (prefixes, REX): mix in two.
  let entry = CACHE + <usize>((<u32>(low ^ (low >> 8) ^ (low >> 16)) & (ENTRIES - 1)) * ENTRY_BYTES);
  let kept = changetype<Instruction>(entry + KEY_BYTES + 8);
  if (load<u64>(entry) == low && load<u64>(entry, 8) == high && load<u64>(entry, 16) == shape) return kept;
  let result = decodeInstruction(bytes, count, codeSize, kept);
  store<u64>(entry, low);
  store<u64>(entry, high, 8);
  store<u64>(entry, shape, 16);
  store<u32>(entry, result, KEY_BYTES);
  return kept;
}

// The decoder's answer (DecodeResult) for an Instruction decodeCached gave.
// @ts-ignore: decorator
@inline export function cachedAnswer(instruction: Instruction): u32 {
  return load<u32>(changetype<usize>(instruction) - 8);
}
