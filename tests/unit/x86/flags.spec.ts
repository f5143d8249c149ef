import {
  addFlags, subFlags, logicFlags, aluResult, aluRflags, bitTestRflags, AluOperation, sizeMask,
  FLAG_CF, FLAG_PF, FLAG_AF, FLAG_ZF, FLAG_SF, FLAG_OF, FLAG_DF, STATUS_FLAGS,
} from "../../../assembly/x86/flags";

// A second opinion, from the SDM's definitions computed in wider integers:
// CF an unsigned result out of range, OF a signed one, AF a carry or borrow
// out of bit 3, PF counted bit by bit.
function parityEven(value: u64): bool {
  let ones = 0;
  for (let i = 0; i < 8; i++) if (((value >> <u64>i) & 1) != 0) ones++;
  return (ones & 1) == 0;
}

function signed(value: u64, bits: u32): i64 {
  let shift = 64 - <u64>bits;
  return (<i64>(value << shift)) >> shift;
}

function reference(subtract: bool, a: u64, b: u64, c: u64, bits: u32): u64 {
  let mask = sizeMask(bits / 8);
  let min = -(<i64>1 << <i64>(bits - 1));
  let max = (<i64>1 << <i64>(bits - 1)) - 1;
  let flags: u64 = 0;
  let result: u64;
  if (!subtract) {
    let wide = a + b + c;
    result = wide & mask;
    if (wide > mask) flags |= FLAG_CF;
    let s = signed(a, bits) + signed(b, bits) + <i64>c;
    if (s < min || s > max) flags |= FLAG_OF;
    if ((a & 0xf) + (b & 0xf) + c > 0xf) flags |= FLAG_AF;
  } else {
    result = (a - b - c) & mask;
    if (a < b + c) flags |= FLAG_CF;
    let s = signed(a, bits) - signed(b, bits) - <i64>c;
    if (s < min || s > max) flags |= FLAG_OF;
    if ((a & 0xf) < (b & 0xf) + c) flags |= FLAG_AF;
  }
  if (result == 0) flags |= FLAG_ZF;
  if (((result >> <u64>(bits - 1)) & 1) != 0) flags |= FLAG_SF;
  if (parityEven(result)) flags |= FLAG_PF;
  return flags;
}

describe("flags of ADD, ADC, SUB, SBB, CMP", () => {
  it("match the SDM's definitions for every 8-bit a, b and carry", () => {
    let wrong = 0;
    for (let a: u64 = 0; a < 256; a++) {
      for (let b: u64 = 0; b < 256; b++) {
        for (let c: u64 = 0; c < 2; c++) {
          if (addFlags(a, b, c, 1) != reference(false, a, b, c, 8)) wrong++;
          if (subFlags(a, b, c, 1) != reference(true, a, b, c, 8)) wrong++;
        }
      }
    }
    expect(wrong).toBe(0);
  });

  it("match them at 16 and 32 bits around the edges", () => {
    let edges: u64[] = [0, 1, 2, 0xf, 0x10, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0x8001, 0xffff, 0x10000,
      0x7fffffff, 0x80000000, 0x80000001, 0xfffffffe, 0xffffffff];
    let wrong = 0;
    for (let size: u32 = 2; size <= 4; size += 2) {
      let mask = sizeMask(size);
      for (let i = 0; i < edges.length; i++) {
        for (let j = 0; j < edges.length; j++) {
          let a = edges[i] & mask;
          let b = edges[j] & mask;
          for (let c: u64 = 0; c < 2; c++) {
            if (addFlags(a, b, c, size) != reference(false, a, b, c, size * 8)) wrong++;
            if (subFlags(a, b, c, size) != reference(true, a, b, c, size * 8)) wrong++;
          }
        }
      }
    }
    expect(wrong).toBe(0);
  });

  it("are right at 64 bits", () => {
    expect(addFlags(0x7fffffffffffffff, 1, 0, 8)).toBe(FLAG_OF | FLAG_SF | FLAG_AF | FLAG_PF);
    expect(addFlags(0xffffffffffffffff, 1, 0, 8)).toBe(FLAG_CF | FLAG_ZF | FLAG_AF | FLAG_PF);
    expect(addFlags(0xffffffffffffffff, 0, 1, 8)).toBe(FLAG_CF | FLAG_ZF | FLAG_AF | FLAG_PF);
    expect(addFlags(0x8000000000000000, 0x8000000000000000, 0, 8)).toBe(FLAG_CF | FLAG_OF | FLAG_ZF | FLAG_PF);
    expect(addFlags(5, 0xffffffffffffffff, 1, 8)).toBe(FLAG_CF | FLAG_AF | FLAG_PF);
    expect(subFlags(0, 1, 0, 8)).toBe(FLAG_CF | FLAG_SF | FLAG_AF | FLAG_PF);
    expect(subFlags(0x8000000000000000, 1, 0, 8)).toBe(FLAG_OF | FLAG_AF | FLAG_PF);
    expect(subFlags(5, 5, 0, 8)).toBe(FLAG_ZF | FLAG_PF);
    expect(subFlags(5, 5, 1, 8)).toBe(FLAG_CF | FLAG_SF | FLAG_AF | FLAG_PF);
    expect(subFlags(0, 0xffffffffffffffff, 1, 8)).toBe(FLAG_CF | FLAG_ZF | FLAG_AF | FLAG_PF);
  });

  it("use CF of RFLAGS as the carry of ADC and SBB only", () => {
    expect(aluResult(AluOperation.Adc, 1, 1, FLAG_CF, 4)).toBe(3);
    expect(aluResult(AluOperation.Add, 1, 1, FLAG_CF, 4)).toBe(2);
    expect(aluResult(AluOperation.Sbb, 1, 1, FLAG_CF, 2)).toBe(0xffff);
    expect(aluResult(AluOperation.Sub, 1, 1, FLAG_CF, 2)).toBe(0);
    expect(aluRflags(AluOperation.Sbb, 1, 1, FLAG_CF, 2) & STATUS_FLAGS).toBe(FLAG_CF | FLAG_SF | FLAG_AF | FLAG_PF);
  });
});

describe("flags of AND, OR, XOR, TEST", () => {
  it("clear CF and OF, leave AF 0 (undefined), set PF ZF SF by the result", () => {
    let all = STATUS_FLAGS | FLAG_DF | 2;
    expect(aluRflags(AluOperation.And, 0xf0, 0x0f, all, 1)).toBe(FLAG_DF | 2 | FLAG_ZF | FLAG_PF);
    expect(aluRflags(AluOperation.Or, 0x80, 0x01, all, 1)).toBe(FLAG_DF | 2 | FLAG_SF | FLAG_PF);
    expect(aluRflags(AluOperation.Xor, 0xffffffff, 0x7fffffff, 0, 4)).toBe(FLAG_SF | FLAG_PF);
    expect(aluRflags(AluOperation.Test, 0x8000000000000000, 0xffffffffffffffff, FLAG_CF, 8)).toBe(FLAG_SF | FLAG_PF);
    expect(logicFlags(0x3, 2)).toBe(FLAG_PF);
    expect(logicFlags(0x10000, 2)).toBe(FLAG_ZF | FLAG_PF);
  });

  it("compute without writing for CMP and TEST", () => {
    expect(aluResult(AluOperation.Cmp, 7, 9, 0, 1)).toBe(0xfe);
    expect(aluResult(AluOperation.Test, 6, 3, 0, 1)).toBe(2);
  });
});

describe("flags of BT, BTS, BTR, BTC", () => {
  it("set CF to the bit and change nothing else", () => {
    expect(bitTestRflags(FLAG_ZF | FLAG_OF, true)).toBe(FLAG_ZF | FLAG_OF | FLAG_CF);
    expect(bitTestRflags(FLAG_ZF | FLAG_CF, false)).toBe(FLAG_ZF);
  });
});
