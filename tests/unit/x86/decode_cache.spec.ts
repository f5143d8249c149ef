import { FIXTURES } from "./fixtures";
import { decodeInstruction, Instruction, INSTRUCTION_BYTES, DecodeResult } from "../../../assembly/x86/decoder";
import { decodeCached, cachedAnswer } from "../../../assembly/x86/decode_cache";
import { putHex } from "./helpers";

const BYTES: usize = memory.data(64, 16);
const EXPECTED: usize = memory.data(INSTRUCTION_BYTES, 16);

// Puts `hex` at BYTES with `fill` after it; its byte count.
function put(hex: string, fill: u8 = 0xcc): u32 {
  memory.fill(BYTES, fill, 64);
  return putHex(BYTES, hex);
}

// Every field of two Instructions (not the padding after the bools).
function sameFields(a: Instruction, b: Instruction): bool {
  return a.length == b.length && a.operation == b.operation && a.form == b.form && a.operandSize == b.operandSize &&
    a.memorySize == b.memorySize && a.addressSize == b.addressSize && a.segment == b.segment &&
    a.register == b.register && a.highByte == b.highByte && a.lock == b.lock && a.rep == b.rep &&
    a.base == b.base && a.index == b.index && a.scale == b.scale && a.displacement == b.displacement &&
    a.immediate == b.immediate && a.opcode == b.opcode;
}

// True when decodeCached answers as decodeInstruction: the result and
// every field of the Instruction, each written over a different fill.
function agrees(mode: u32, count: u32): bool {
  memory.fill(EXPECTED, 0x11, INSTRUCTION_BYTES);
  let expected = decodeInstruction(BYTES, count, mode / 8, changetype<Instruction>(EXPECTED));
  let instruction = decodeCached(BYTES, count, mode / 8);
  return cachedAnswer(instruction) == expected && sameFields(instruction, changetype<Instruction>(EXPECTED));
}

describe("the decode cache", () => {
  it("answers every decoder fixture as the decoder does, the first time and again", () => {
    for (let pass = 0; pass < 2; pass++) {
      for (let i = 0; i < FIXTURES.length; i++) {
        let f = FIXTURES[pass == 0 ? i : FIXTURES.length - 1 - i];
        let count = put(f.bytes);
        expect(agrees(f.mode, count)).toBe(true, f.text + " (miss)");
        expect(agrees(f.mode, count)).toBe(true, f.text + " (hit)");
      }
    }
  });

  it("ignores the bytes past the count, and keys on the count", () => {
    let count = put("89 08", 0xcc);                   // mov [rax], ecx
    expect(agrees(64, count)).toBe(true);
    put("89 08", 0x66);
    expect(agrees(64, count)).toBe(true);
    expect(cachedAnswer(decodeCached(BYTES, count, 8))).toBe(DecodeResult.Ok);
    expect(cachedAnswer(decodeCached(BYTES, 1, 8))).toBe(DecodeResult.Truncated);
    expect(cachedAnswer(decodeCached(BYTES, count, 8))).toBe(DecodeResult.Ok);
  });

  it("keys on the code size: 48 is REX.W in 64-bit code and DEC EAX in 32-bit", () => {
    let count = put("48 89 08");
    expect(agrees(64, count)).toBe(true);
    expect(decodeCached(BYTES, count, 8).operandSize).toBe(8);
    expect(agrees(32, count)).toBe(true);
    expect(cachedAnswer(decodeCached(BYTES, count, 4))).not.toBe(DecodeResult.Ok);
    expect(agrees(64, count)).toBe(true);
  });

  it("keys on bytes 8 to 15: two instructions that differ only in their last displacement byte", () => {
    let a = put("c7 80 44 33 22 11 78 56 34 12");     // mov dword [rax+0x11223344], 0x12345678
    expect(agrees(64, a)).toBe(true);
    let b = put("c7 80 44 33 22 11 78 56 34 13");
    expect(agrees(64, b)).toBe(true);
    expect(decodeCached(BYTES, b, 8).immediate).toBe(0x13345678);
  });
});
