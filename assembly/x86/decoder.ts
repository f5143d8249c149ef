// The x86 decoder for what can touch MMIO: the instruction a nested page
// fault interrupted, or a string port I/O instruction. It knows exactly
// the instructions the emulations do, and says "unknown" for every other
// opcode rather than guess (SDM vol. 2, chapter 2 and the opcode map of
// appendix A; AMD APM vol. 3, chapter 1):
//
//   MOV 88 89 8A 8B, C6 /0, C7 /0, A0-A3 (moffs)
//   MOVZX 0F B6, 0F B7; MOVSX 0F BE, 0F BF; MOVSXD 63 (64-bit mode)
//   ADD OR ADC SBB AND SUB XOR CMP: 00-3B (r/m,r and r,r/m), 80 81 83
//   TEST 84 85, F6 /0, F7 /0; XCHG 86 87
//   BT BTS BTR BTC: 0F A3 AB B3 BB, 0F BA /4-/7
//   STOS AA AB; MOVS A4 A5 (decodeInstruction); INS 6C 6D, OUTS 6E 6F
//   (decodeStringIo)
//
// with the legacy prefixes (66, 67, 26 2E 36 3E 64 65, F0, F2, F3) and REX
// (64-bit mode only, and only as the last prefix), in 16-, 32- and 64-bit
// code. Forms without a memory operand (ModRM.mod = 3) are unknown too:
// they cannot have touched MMIO. So are F6 /1 and F7 /1 (an undocumented
// alias of TEST) and 66 63 without REX.W (MOVSXD r16: the SDM says r/m16,
// binutils a dword; no guess).
//
// Bytes past `count` read as missing: the answer is Truncated when the
// decode needed them, so the caller can raise the fetch's page fault.
// Never a trap, whatever the bytes.

import { MAX_INSTRUCTION_BYTES } from "./fetch";
import {
  Segment, Prefixes, beginDecode, readPrefixes, nextByte,
  decodeMemoryOperand, REGISTER_FORM, setRegisterOperand, readImmediate, readSignedImmediate,
  operandSizeOf, addressSizeOf, applySegmentOverride, bytesRead, bytesAvailable, REG_RAX, REG_RSI, REG_RDI,
} from "./operands";

export { Segment, NO_REGISTER, RIP_REGISTER } from "./operands";

export const enum DecodeResult { Ok = 0, Unknown = 1, Truncated = 2 }

// What the instruction does. Add..Cmp are in the order of their ModRM.reg
// number in group 1 (and of bits 5:3 of opcodes 00-3B).
export const enum Operation {
  None = 0,
  Add = 1, Or = 2, Adc = 3, Sbb = 4, And = 5, Sub = 6, Xor = 7, Cmp = 8,
  Mov = 9, Movzx = 10, Movsx = 11, Movsxd = 12,
  Test = 13, Xchg = 14,
  Bt = 15, Bts = 16, Btr = 17, Btc = 18,
  Stos = 19, Movs = 20, Ins = 21, Outs = 22,
}

// Where the operands are.
export const enum Form {
  None = 0,
  MemoryRegister = 1,   // memory first (the destination), register second
  RegisterMemory = 2,   // register first (the destination), memory second
  MemoryImmediate = 3,  // memory first, immediate second
  String = 4,           // implicit rSI/rDI operands (MOVS, STOS, INS, OUTS)
}

// The repeat prefix, the last of F2/F3 (for MOVS and STOS both repeat;
// on other instructions they are hints the emulation ignores).
export const enum Rep { None = 0, Rep = 1, RepNe = 2 }

// One decoded instruction.
@unmanaged
export class Instruction {
  length: u32;         // bytes, prefixes included
  operation: u32;      // Operation
  form: u32;           // Form
  operandSize: u32;    // 1, 2, 4, 8: register, immediate and result width
  memorySize: u32;     // bytes of the memory access (MOVZX/MOVSX/MOVSXD: the source's)
  addressSize: u32;    // 2, 4, 8
  segment: u32;        // Segment of the memory operand (MOVS: of the source; its destination is ES)
  register: u32;       // the register operand (0-15, x86 order), or NO_REGISTER
  highByte: bool;      // register is AH, CH, DH or BH (register 0-3, bits 15:8)
  lock: bool;          // F0
  rep: u32;            // Rep
  base: u32;           // register number, RIP_REGISTER or NO_REGISTER
  index: u32;          // register number or NO_REGISTER
  scale: u32;          // 1, 2, 4, 8
  displacement: u64;   // sign-extended (moffs: zero-extended)
  immediate: u64;      // sign-extended to 64 bits (BT imm8: zero-extended)
  opcode: u32;         // the opcode byte; 0x0Fxx for two-byte opcodes
}

export const INSTRUCTION_BYTES: u32 = 80;

const PREFIXES: usize = memory.data(32, 8);

// Decodes the MMIO instruction in the `count` bytes at `bytes` as code of
// `codeSize` bytes (2, 4, 8; fetch.ts codeSize).
export function decodeInstruction(bytes: usize, count: u32, codeSize: u32, out: Instruction): u32 {
  let prefixes = changetype<Prefixes>(PREFIXES);
  beginDecode(bytes, count, codeSize, out, prefixes);
  let opcode = readPrefixes(prefixes);
  return finish(decodeOpcode(opcode, codeSize, prefixes, out), out);
}

// Decodes INS/OUTS (6C-6F) with its prefixes: the string I/O exit needs
// the address size, the segment and the length. Other opcodes: Unknown.
export function decodeStringIo(bytes: usize, count: u32, codeSize: u32, out: Instruction): u32 {
  let prefixes = changetype<Prefixes>(PREFIXES);
  beginDecode(bytes, count, codeSize, out, prefixes);
  let opcode = readPrefixes(prefixes);
  out.opcode = opcode;
  out.lock = prefixes.lock;
  out.rep = prefixes.rep;
  if (opcode < 0x6c || opcode > 0x6f) return finish(DecodeResult.Unknown, out);
  let output = opcode >= 0x6e;
  out.operation = output ? Operation.Outs : Operation.Ins;
  out.form = Form.String;
  // REX.W does not widen port I/O past 32 bits.
  let size = prefixes.operandSizePrefix ? (codeSize == 2 ? 4 : 2) : (codeSize == 2 ? 2 : 4);
  out.operandSize = (opcode & 1) == 0 ? 1 : size;
  out.memorySize = out.operandSize;
  out.addressSize = addressSizeOf(codeSize, prefixes);
  if (output) {
    out.segment = Segment.DS;
    applySegmentOverride(out, codeSize, prefixes);
    out.base = REG_RSI;
  } else {
    out.segment = Segment.ES; // INS always writes ES:rDI
    out.base = REG_RDI;
  }
  return finish(DecodeResult.Ok, out);
}

// Decodes the system instructions some exits need the bytes of, when the
// CPU gives no length or operands (no next-RIP or decode assists, as under
// QEMU TCG): WBINVD/WBNOINVD (0F 09) and MOV to a control register
// (0F 22 /r, ModRM.mod ignored: SDM vol. 2B, MOV CR), with their prefixes.
// For 0F 22, out.register is the source GPR (REX.B) and out.immediate the
// control register's number (REX.R). Other opcodes: Unknown.
export function decodeSystemInstruction(bytes: usize, count: u32, codeSize: u32, out: Instruction): u32 {
  let prefixes = changetype<Prefixes>(PREFIXES);
  beginDecode(bytes, count, codeSize, out, prefixes);
  if (readPrefixes(prefixes) != 0x0f) return finish(DecodeResult.Unknown, out);
  let opcode = nextByte();
  out.opcode = 0x0f00 | opcode;
  if (opcode == 0x09) return finish(DecodeResult.Ok, out);
  if (opcode != 0x22) return finish(DecodeResult.Unknown, out);
  let modrm = nextByte();
  out.register = (modrm & 7) | ((prefixes.rex & 1) << 3);
  out.immediate = <u64>(((modrm >> 3) & 7) | ((prefixes.rex & 4) << 1));
  return finish(DecodeResult.Ok, out);
}

function finish(result: u32, out: Instruction): u32 {
  let length = bytesRead();
  out.length = length;
  let available = bytesAvailable();
  if (length > available && available < MAX_INSTRUCTION_BYTES) return DecodeResult.Truncated;
  if (length > MAX_INSTRUCTION_BYTES) return DecodeResult.Unknown; // the CPU raises #GP for these
  return result;
}

function decodeOpcode(opcode: u32, codeSize: u32, prefixes: Prefixes, out: Instruction): u32 {
  out.opcode = opcode;
  out.lock = prefixes.lock;
  out.rep = prefixes.rep;
  let full = operandSizeOf(codeSize, prefixes);
  out.addressSize = addressSizeOf(codeSize, prefixes);
  out.segment = Segment.DS;

  // 00-3B: ALU r/m,r (bit 1 clear) and r,r/m (bit 1 set), byte when bit 0 clear.
  if (opcode < 0x40 && (opcode & 7) < 4) {
    out.operation = Operation.Add + (opcode >> 3);
    let size = (opcode & 1) != 0 ? full : 1;
    return memoryAndRegister(out, prefixes, size, (opcode & 2) != 0 ? Form.RegisterMemory : Form.MemoryRegister);
  }
  switch (opcode) {
    case 0x63: {
      if (codeSize != 8) return DecodeResult.Unknown; // ARPL outside 64-bit mode
      if (full == 2) return DecodeResult.Unknown;
      out.operation = Operation.Movsxd;
      let result = memoryAndRegister(out, prefixes, full, Form.RegisterMemory);
      out.memorySize = 4;
      return result;
    }
    case 0x80: case 0x81: case 0x83: {
      let size = opcode == 0x80 ? 1 : full;
      let reg = decodeMemoryOperand(out, prefixes);
      if (reg == REGISTER_FORM) return DecodeResult.Unknown;
      out.operation = Operation.Add + (reg & 7);
      setSizes(out, size, size);
      out.form = Form.MemoryImmediate;
      out.immediate = opcode == 0x81 ? readSignedImmediate(size >= 4 ? 4 : size) : readSignedImmediate(1);
      return DecodeResult.Ok;
    }
    case 0x84: case 0x85: {
      out.operation = Operation.Test;
      return memoryAndRegister(out, prefixes, opcode == 0x84 ? 1 : full, Form.MemoryRegister);
    }
    case 0x86: case 0x87: {
      out.operation = Operation.Xchg;
      return memoryAndRegister(out, prefixes, opcode == 0x86 ? 1 : full, Form.MemoryRegister);
    }
    case 0x88: case 0x89: case 0x8a: case 0x8b: {
      out.operation = Operation.Mov;
      let size = (opcode & 1) != 0 ? full : 1;
      return memoryAndRegister(out, prefixes, size, (opcode & 2) != 0 ? Form.RegisterMemory : Form.MemoryRegister);
    }
    case 0xa0: case 0xa1: case 0xa2: case 0xa3: {
      // MOV AL/rAX <-> moffs: an offset of the address size, no ModRM.
      out.operation = Operation.Mov;
      let size = (opcode & 1) != 0 ? full : 1;
      setSizes(out, size, size);
      out.form = opcode <= 0xa1 ? Form.RegisterMemory : Form.MemoryRegister;
      out.register = REG_RAX;
      out.displacement = readImmediate(out.addressSize);
      applySegmentOverride(out, codeSize, prefixes);
      return DecodeResult.Ok;
    }
    case 0xa4: case 0xa5: case 0xaa: case 0xab: {
      let size = (opcode & 1) != 0 ? full : 1;
      setSizes(out, size, size);
      out.form = Form.String;
      if (opcode <= 0xa5) {
        out.operation = Operation.Movs;
        applySegmentOverride(out, codeSize, prefixes); // the source's segment
        out.base = REG_RSI;
      } else {
        out.operation = Operation.Stos;
        out.segment = Segment.ES; // STOS always writes ES:rDI
        out.register = REG_RAX;
        out.base = REG_RDI;
      }
      return DecodeResult.Ok;
    }
    case 0xc6: case 0xc7: {
      let size = opcode == 0xc6 ? 1 : full;
      let reg = decodeMemoryOperand(out, prefixes);
      if (reg == REGISTER_FORM || (reg & 7) != 0) return DecodeResult.Unknown;
      out.operation = Operation.Mov;
      setSizes(out, size, size);
      out.form = Form.MemoryImmediate;
      out.immediate = readSignedImmediate(size >= 4 ? 4 : size);
      return DecodeResult.Ok;
    }
    case 0xf6: case 0xf7: {
      let size = opcode == 0xf6 ? 1 : full;
      let reg = decodeMemoryOperand(out, prefixes);
      if (reg == REGISTER_FORM || (reg & 7) != 0) return DecodeResult.Unknown;
      out.operation = Operation.Test;
      setSizes(out, size, size);
      out.form = Form.MemoryImmediate;
      out.immediate = readSignedImmediate(size >= 4 ? 4 : size);
      return DecodeResult.Ok;
    }
    case 0x0f: return decodeTwoByte(nextByte(), full, prefixes, out);
    default: return DecodeResult.Unknown;
  }
}

function decodeTwoByte(opcode: u32, full: u32, prefixes: Prefixes, out: Instruction): u32 {
  out.opcode = 0x0f00 | opcode;
  switch (opcode) {
    case 0xb6: case 0xb7: case 0xbe: case 0xbf: {
      out.operation = opcode <= 0xb7 ? Operation.Movzx : Operation.Movsx;
      let result = memoryAndRegister(out, prefixes, full, Form.RegisterMemory);
      out.memorySize = (opcode & 1) != 0 ? 2 : 1;
      return result;
    }
    case 0xa3: case 0xab: case 0xb3: case 0xbb: {
      out.operation = Operation.Bt + ((opcode >> 3) & 3);
      return memoryAndRegister(out, prefixes, full, Form.MemoryRegister);
    }
    case 0xba: {
      let reg = decodeMemoryOperand(out, prefixes);
      if (reg == REGISTER_FORM || (reg & 7) < 4) return DecodeResult.Unknown;
      out.operation = Operation.Bt + ((reg & 7) - 4);
      setSizes(out, full, full);
      out.form = Form.MemoryImmediate;
      out.immediate = readImmediate(1);
      return DecodeResult.Ok;
    }
    default: return DecodeResult.Unknown;
  }
}

// ModRM with a memory operand and a register operand of `size`.
function memoryAndRegister(out: Instruction, prefixes: Prefixes, size: u32, form: Form): u32 {
  let reg = decodeMemoryOperand(out, prefixes);
  if (reg == REGISTER_FORM) return DecodeResult.Unknown;
  setSizes(out, size, size);
  out.form = form;
  setRegisterOperand(out, reg, size, prefixes);
  return DecodeResult.Ok;
}

@inline function setSizes(out: Instruction, operandSize: u32, memorySize: u32): void {
  out.operandSize = operandSize;
  out.memorySize = memorySize;
}
