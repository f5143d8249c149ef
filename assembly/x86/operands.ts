// The decoder's parts below the opcode: the byte cursor, the prefixes, the
// ModRM/SIB memory operand with its displacement, immediates, and register
// operands (SDM vol. 2A, 2.1-2.2; tables 2-1 to 2-3 for ModRM/SIB,
// 2.2.1 for REX). decoder.ts decides, by opcode, what to read.

import { Instruction, Rep } from "./decoder";

// Segment registers in x86 encoding order (SDM vol. 2A, 3.1.1.3 Sreg).
export const enum Segment { ES = 0, CS = 1, SS = 2, DS = 3, FS = 4, GS = 5 }
export const NO_SEGMENT: u32 = 0xff;
export const NO_REGISTER: u32 = 0xff;
// `base` of a RIP-relative operand: the address of the next instruction.
export const RIP_REGISTER: u32 = 16;
// decodeMemoryOperand's answer for ModRM.mod = 3 (a register, no memory).
export const REGISTER_FORM: u32 = 0xffff;

export const REG_RAX: u32 = 0;
export const REG_RCX: u32 = 1;
export const REG_RSP: u32 = 4;
export const REG_RBP: u32 = 5;
export const REG_RSI: u32 = 6;
export const REG_RDI: u32 = 7;

// The prefixes in effect for the opcode that follows them.
@unmanaged
export class Prefixes {
  codeSize: u32;
  segment: u32;       // override (Segment) or NO_SEGMENT
  rep: u32;           // Rep: the last of F2/F3
  rex: u32;           // the REX byte right before the opcode (64-bit mode), else 0
  operandSizePrefix: bool;
  addressSizePrefix: bool;
  lock: bool;
}

// --- the byte cursor -------------------------------------------------------------
// Bytes past `available` read as 0 and still count: the caller compares
// how many were read with how many there were.

let cursor: usize = 0;
let available: u32 = 0;
let position: u32 = 0;

export function beginDecode(bytes: usize, count: u32, codeSize: u32, out: Instruction, prefixes: Prefixes): void {
  cursor = bytes;
  available = count;
  position = 0;
  prefixes.codeSize = codeSize;
  prefixes.segment = NO_SEGMENT;
  prefixes.rep = Rep.None;
  prefixes.rex = 0;
  prefixes.operandSizePrefix = false;
  prefixes.addressSizePrefix = false;
  prefixes.lock = false;
  out.length = 0;
  out.operation = 0;
  out.form = 0;
  out.operandSize = 0;
  out.memorySize = 0;
  out.addressSize = 0;
  out.segment = NO_SEGMENT;
  out.register = NO_REGISTER;
  out.highByte = false;
  out.lock = false;
  out.rep = Rep.None;
  out.base = NO_REGISTER;
  out.index = NO_REGISTER;
  out.scale = 1;
  out.displacement = 0;
  out.immediate = 0;
  out.opcode = 0;
}

export function nextByte(): u32 {
  let at = position;
  // Past 64 reads the decode is long over; stop counting to stay in range.
  if (position < 64) position++;
  return at < available ? <u32>load<u8>(cursor + <usize>at) : 0;
}

@inline export function bytesRead(): u32 {
  return position;
}

@inline export function bytesAvailable(): u32 {
  return available;
}

// --- prefixes ----------------------------------------------------------------------

// Reads the prefixes; answers the opcode byte after them. A REX counts only
// as the last prefix (a legacy prefix after it cancels it), and only in
// 64-bit mode, where 40-4F are not INC/DEC. In 64-bit mode the ES, CS, SS
// and DS overrides are read and ignored.
export function readPrefixes(prefixes: Prefixes): u32 {
  let sixtyFour = prefixes.codeSize == 8;
  while (true) {
    let b = nextByte();
    if (sixtyFour && (b & 0xf0) == 0x40) {
      prefixes.rex = b;
      continue;
    }
    switch (b) {
      case 0x66: { prefixes.operandSizePrefix = true; break; }
      case 0x67: { prefixes.addressSizePrefix = true; break; }
      case 0x26: { prefixes.segment = Segment.ES; break; }
      case 0x2e: { prefixes.segment = Segment.CS; break; }
      case 0x36: { prefixes.segment = Segment.SS; break; }
      case 0x3e: { prefixes.segment = Segment.DS; break; }
      case 0x64: { prefixes.segment = Segment.FS; break; }
      case 0x65: { prefixes.segment = Segment.GS; break; }
      case 0xf0: { prefixes.lock = true; break; }
      case 0xf2: { prefixes.rep = Rep.RepNe; break; }
      case 0xf3: { prefixes.rep = Rep.Rep; break; }
      default: return b;
    }
    prefixes.rex = 0;
  }
  return 0;
}

@inline function rexBit(prefixes: Prefixes, bit: u32): u32 {
  return (prefixes.rex >> bit) & 1;
}

// Operand size in bytes: REX.W, then 66 (SDM vol. 1, 3.6.1; table 3-4).
export function operandSizeOf(codeSize: u32, prefixes: Prefixes): u32 {
  if (codeSize == 8 && rexBit(prefixes, 3) != 0) return 8;
  if (codeSize == 2) return prefixes.operandSizePrefix ? 4 : 2;
  return prefixes.operandSizePrefix ? 2 : 4;
}

// Address size in bytes: 67 toggles 16/32, or 64/32 in 64-bit mode.
export function addressSizeOf(codeSize: u32, prefixes: Prefixes): u32 {
  if (codeSize == 8) return prefixes.addressSizePrefix ? 4 : 8;
  if (codeSize == 4) return prefixes.addressSizePrefix ? 2 : 4;
  return prefixes.addressSizePrefix ? 4 : 2;
}

// The override, where it counts: in 64-bit mode only FS and GS do.
export function applySegmentOverride(out: Instruction, codeSize: u32, prefixes: Prefixes): void {
  let segment = prefixes.segment;
  if (segment == NO_SEGMENT) return;
  if (codeSize == 8 && segment != Segment.FS && segment != Segment.GS) return;
  out.segment = segment;
}

// --- the memory operand ------------------------------------------------------------

// Reads ModRM (and SIB and displacement) into out's base, index, scale,
// displacement and segment (the default, then the override). Answers ModRM.reg extended by
// REX.R, or REGISTER_FORM when ModRM.mod is 3.
export function decodeMemoryOperand(out: Instruction, prefixes: Prefixes): u32 {
  let modrm = nextByte();
  let mod = modrm >> 6;
  let reg = ((modrm >> 3) & 7) | (rexBit(prefixes, 2) << 3);
  let rm = modrm & 7;
  if (mod == 3) return REGISTER_FORM;
  out.segment = Segment.DS;
  if (out.addressSize == 2) {
    decodeMemory16(out, mod, rm);
  } else {
    decodeMemory32(out, prefixes, mod, rm);
  }
  applySegmentOverride(out, prefixes.codeSize, prefixes);
  return reg;
}

// 16-bit addressing (SDM vol. 2A, table 2-1): BX+SI, BX+DI, BP+SI, BP+DI,
// SI, DI, BP (disp16 alone when mod is 0), BX; BP-based forms use SS.
function decodeMemory16(out: Instruction, mod: u32, rm: u32): void {
  switch (rm) {
    case 0: { out.base = 3; out.index = REG_RSI; break; }
    case 1: { out.base = 3; out.index = REG_RDI; break; }
    case 2: { out.base = REG_RBP; out.index = REG_RSI; break; }
    case 3: { out.base = REG_RBP; out.index = REG_RDI; break; }
    case 4: { out.base = REG_RSI; break; }
    case 5: { out.base = REG_RDI; break; }
    case 6: { out.base = mod == 0 ? NO_REGISTER : REG_RBP; break; }
    default: { out.base = 3; break; }
  }
  if (out.base == REG_RBP) out.segment = Segment.SS;
  if (mod == 0 && rm == 6) out.displacement = readSignedImmediate(2);
  else if (mod == 1) out.displacement = readSignedImmediate(1);
  else if (mod == 2) out.displacement = readSignedImmediate(2);
}

// 32- and 64-bit addressing (SDM vol. 2A, tables 2-2, 2-3; 2.2.1.6 for
// RIP-relative). The SIB and "no base" encodings look at the 3-bit fields,
// before REX extends them: rm 4 is always a SIB, rm 5 with mod 0 always
// disp32 (RIP-relative in 64-bit mode), index 4 without REX.X no index.
// A base of rSP or rBP (not R12, R13) defaults to SS.
function decodeMemory32(out: Instruction, prefixes: Prefixes, mod: u32, rm: u32): void {
  let disp32 = false;
  if (rm == 4) {
    let sib = nextByte();
    let index = ((sib >> 3) & 7) | (rexBit(prefixes, 1) << 3);
    let base = sib & 7;
    if (index != REG_RSP) {
      out.index = index;
      out.scale = <u32>1 << (sib >> 6);
    }
    if (base == 5 && mod == 0) {
      disp32 = true;
    } else {
      out.base = base | (rexBit(prefixes, 0) << 3);
    }
  } else if (rm == 5 && mod == 0) {
    disp32 = true;
    if (prefixes.codeSize == 8) out.base = RIP_REGISTER;
  } else {
    out.base = rm | (rexBit(prefixes, 0) << 3);
  }
  if (out.base == REG_RSP || out.base == REG_RBP) out.segment = Segment.SS;
  if (disp32 || mod == 2) out.displacement = readSignedImmediate(4);
  else if (mod == 1) out.displacement = readSignedImmediate(1);
}

// --- immediates and registers --------------------------------------------------------

// `bytes` (1, 2, 4, 8) little-endian, zero-extended.
export function readImmediate(bytes: u32): u64 {
  let value: u64 = 0;
  for (let i: u32 = 0; i < bytes; i++) value |= <u64>nextByte() << (<u64>i * 8);
  return value;
}

// `bytes` (1, 2, 4) little-endian, sign-extended to 64 bits.
export function readSignedImmediate(bytes: u32): u64 {
  let value = readImmediate(bytes);
  let shift = 64 - <u64>bytes * 8;
  return <u64>((<i64>(value << shift)) >> shift);
}

// The register operand `reg` (ModRM.reg with REX.R) of `size` bytes. Byte
// registers 4-7 are AH, CH, DH, BH without a REX, SPL, BPL, SIL, DIL with
// one (SDM vol. 2A, 3.1.1.1 table 3-1).
export function setRegisterOperand(out: Instruction, reg: u32, size: u32, prefixes: Prefixes): void {
  out.register = reg;
  out.highByte = false;
  if (size == 1 && prefixes.rex == 0 && reg >= 4 && reg < 8) {
    out.register = reg - 4;
    out.highByte = true;
  }
}
