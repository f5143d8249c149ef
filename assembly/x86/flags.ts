// RFLAGS status flags of the ALU instructions the MMIO emulation performs,
// as the SDM defines them (vol. 1, 3.4.3.1 and appendix A; each
// instruction's "Flags Affected" in vol. 2): CF PF AF ZF SF OF for
// ADD ADC SUB SBB CMP AND OR XOR TEST at 8, 16, 32 and 64 bits, and CF for
// BT BTS BTR BTC.
//
// Where the SDM leaves a flag undefined the emulation picks a value:
// AND/OR/XOR/TEST leave AF 0; BT* leave OF SF AF PF unchanged (ZF is
// defined as unaffected).

export const FLAG_CF: u64 = 1 << 0;
export const FLAG_PF: u64 = 1 << 2;
export const FLAG_AF: u64 = 1 << 4;
export const FLAG_ZF: u64 = 1 << 6;
export const FLAG_SF: u64 = 1 << 7;
export const FLAG_DF: u64 = 1 << 10;
export const FLAG_OF: u64 = 1 << 11;
export const STATUS_FLAGS: u64 = FLAG_CF | FLAG_PF | FLAG_AF | FLAG_ZF | FLAG_SF | FLAG_OF;

// The ALU operations, in the order of group 1's ModRM.reg (decoder.ts
// Operation.Add..Cmp minus Operation.Add), then TEST.
export const enum AluOperation { Add = 0, Or = 1, Adc = 2, Sbb = 3, And = 4, Sub = 5, Xor = 6, Cmp = 7, Test = 8 }

// All ones of `size` bytes (1, 2, 4, 8).
export function sizeMask(size: u32): u64 {
  return size >= 8 ? 0xFFFF_FFFF_FFFF_FFFF : (<u64>1 << (<u64>size * 8)) - 1;
}

@inline function signBit(size: u32): u64 {
  return <u64>1 << (<u64>size * 8 - 1);
}

// PF, ZF, SF of a result (masked to `size`).
function resultFlags(result: u64, size: u32): u64 {
  let flags: u64 = 0;
  // PF: an even number of ones in the low byte.
  if ((popcnt<u32>(<u32>result & 0xff) & 1) == 0) flags |= FLAG_PF;
  if (result == 0) flags |= FLAG_ZF;
  if ((result & signBit(size)) != 0) flags |= FLAG_SF;
  return flags;
}

// The status flags of a + b + carry (ADD, ADC), operands masked to `size`.
export function addFlags(a: u64, b: u64, carry: u64, size: u32): u64 {
  let mask = sizeMask(size);
  a &= mask;
  b &= mask;
  let result = (a + b + carry) & mask;
  let flags = resultFlags(result, size);
  if (result < a || (carry != 0 && result == a)) flags |= FLAG_CF;
  if (((a ^ b ^ result) & 0x10) != 0) flags |= FLAG_AF;
  if (((a ^ result) & (b ^ result) & signBit(size)) != 0) flags |= FLAG_OF;
  return flags;
}

// The status flags of a - b - borrow (SUB, SBB, CMP).
export function subFlags(a: u64, b: u64, borrow: u64, size: u32): u64 {
  let mask = sizeMask(size);
  a &= mask;
  b &= mask;
  let result = (a - b - borrow) & mask;
  let flags = resultFlags(result, size);
  if (a < b || (borrow != 0 && a == b)) flags |= FLAG_CF;
  if (((a ^ b ^ result) & 0x10) != 0) flags |= FLAG_AF;
  if (((a ^ b) & (a ^ result) & signBit(size)) != 0) flags |= FLAG_OF;
  return flags;
}

// The status flags of a logic result (AND, OR, XOR, TEST): CF and OF
// cleared, AF left 0 (undefined).
export function logicFlags(result: u64, size: u32): u64 {
  return resultFlags(result & sizeMask(size), size);
}

// The result of `operation` on a and b (CMP and TEST: the value they
// compute and discard), with CF of `rflags` as the carry of ADC and SBB.
export function aluResult(operation: AluOperation, a: u64, b: u64, rflags: u64, size: u32): u64 {
  let carry = rflags & FLAG_CF;
  let value: u64;
  switch (operation) {
    case AluOperation.Add: { value = a + b; break; }
    case AluOperation.Or: { value = a | b; break; }
    case AluOperation.Adc: { value = a + b + carry; break; }
    case AluOperation.Sbb: { value = a - b - carry; break; }
    case AluOperation.And:
    case AluOperation.Test: { value = a & b; break; }
    case AluOperation.Sub:
    case AluOperation.Cmp: { value = a - b; break; }
    default: { value = a ^ b; break; }
  }
  return value & sizeMask(size);
}

// RFLAGS after `operation` on a and b: the six status flags replaced,
// every other bit kept.
export function aluRflags(operation: AluOperation, a: u64, b: u64, rflags: u64, size: u32): u64 {
  let carry = rflags & FLAG_CF;
  let flags: u64;
  switch (operation) {
    case AluOperation.Add: { flags = addFlags(a, b, 0, size); break; }
    case AluOperation.Adc: { flags = addFlags(a, b, carry, size); break; }
    case AluOperation.Sbb: { flags = subFlags(a, b, carry, size); break; }
    case AluOperation.Sub:
    case AluOperation.Cmp: { flags = subFlags(a, b, 0, size); break; }
    default: { flags = logicFlags(aluResult(operation, a, b, rflags, size), size); break; }
  }
  return (rflags & ~STATUS_FLAGS) | flags;
}

// RFLAGS after BT/BTS/BTR/BTC: CF is the bit tested, nothing else changes.
export function bitTestRflags(rflags: u64, bit: bool): u64 {
  return bit ? rflags | FLAG_CF : rflags & ~FLAG_CF;
}
