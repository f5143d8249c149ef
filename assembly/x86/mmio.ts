// MMIO emulation: the instruction a nested page fault stopped (an access
// to guest-physical record.gpa that is no RAM), done here against the MMIO
// bus. The instruction is fetched at CS:RIP through the guest's paging and
// decoded (decoder.ts lists what is known); the device side of the access
// is record.gpa as the CPU reported it, the other side a register or an
// immediate. MOVS and STOS address both sides themselves (rSI, rDI through
// the guest's paging), so either or both may be MMIO or RAM.
//
// A REP MOVS/STOS does a run per exit: up to the end of the current page
// on each side (at most 4096 elements), RCX/RSI/RDI moved by the
// direction flag; while RCX is not 0, RIP stays on the instruction
// (advance 0) and the CPU goes on from there, exiting again at the next
// MMIO page.
//
// Not emulated: an access whose bytes straddle from RAM into MMIO (the
// device sees it at record.gpa, the RAM bytes are not written); segment
// limit checks of the non-string forms (the CPU made them before the
// fault); the atomicity of LOCKed and XCHG read-modify-writes against other
// vCPUs' RAM accesses (devices see one read then one write).

import { Platform } from "../guest/platform";
import { ExitRecord } from "../vcpu/exit_record";
import { MmioBus } from "../devices/mmio_bus";
import { WalkAccess } from "../mm/guest_page_walk";
import { Instruction, Operation, Form, Rep, Segment, RIP_REGISTER } from "./decoder";
import { REG_RCX, REG_RSI, REG_RDI } from "./operands";
import { codeSize } from "./fetch";
import { AluOperation, aluResult, aluRflags, bitTestRflags, sizeMask, FLAG_DF } from "./flags";
import {
  Emulation, EmulationResult, pageFault, readRegister, writeRegister, signExtend,
  beginSide, sideRoom, prepareSide, sideRead, sideWrite, advanceSide,
  fetchAndDecode, DECODED,
} from "./emulation";

// Elements of a REP MOVS/STOS per exit, at most (a page of bytes).
export const MMIO_RUN_LIMIT: u64 = 4096;

// Emulates the MMIO instruction at CS:RIP. Done: registers and RFLAGS
// updated in the record, record.advance set (0 while a REP run is not
// finished). The other results say what the caller injects or that it
// stops the guest (emulation.ts EmulationResult); record.advance is then 0
// and nothing was changed.
export function emulateMmio(record: ExitRecord, bus: MmioBus, platform: Platform, work: Emulation): u32 {
  let start = fetchAndDecode(record, platform, work, false);
  if (start != DECODED) return start;
  let mode = codeSize(record);
  let instruction = work.instruction();

  let operation = instruction.operation;
  if (operation == Operation.Movs || operation == Operation.Stos) {
    return emulateString(record, bus, platform, work, instruction, mode);
  }
  let gpa = record.gpa;
  let size = instruction.operandSize;
  let form = instruction.form;
  switch (operation) {
    case Operation.Mov: {
      if (form == Form.RegisterMemory) {
        writeRegister(record, instruction.register, instruction.highByte, size, bus.read(gpa, size));
      } else {
        bus.write(gpa, size, sourceOperand(record, instruction));
      }
      break;
    }
    case Operation.Movzx: {
      let value = bus.read(gpa, instruction.memorySize) & sizeMask(instruction.memorySize);
      writeRegister(record, instruction.register, false, size, value);
      break;
    }
    case Operation.Movsx:
    case Operation.Movsxd: {
      let value = signExtend(bus.read(gpa, instruction.memorySize), instruction.memorySize);
      writeRegister(record, instruction.register, false, size, value & sizeMask(size));
      break;
    }
    case Operation.Add: case Operation.Or: case Operation.Adc: case Operation.Sbb:
    case Operation.And: case Operation.Sub: case Operation.Xor: case Operation.Cmp: {
      let alu = <AluOperation>(operation - Operation.Add);
      let memory = bus.read(gpa, size) & sizeMask(size);
      let registerSide = form == Form.RegisterMemory;
      let a = registerSide ? readRegister(record, instruction.register, instruction.highByte, size) : memory;
      let b = registerSide ? memory : sourceOperand(record, instruction);
      let result = aluResult(alu, a, b, record.rflags, size);
      record.rflags = aluRflags(alu, a, b, record.rflags, size);
      if (alu != AluOperation.Cmp) {
        if (registerSide) writeRegister(record, instruction.register, instruction.highByte, size, result);
        else bus.write(gpa, size, result);
      }
      break;
    }
    case Operation.Test: {
      let memory = bus.read(gpa, size) & sizeMask(size);
      record.rflags = aluRflags(AluOperation.Test, memory, sourceOperand(record, instruction), record.rflags, size);
      break;
    }
    case Operation.Xchg: {
      let old = bus.read(gpa, size) & sizeMask(size);
      bus.write(gpa, size, readRegister(record, instruction.register, instruction.highByte, size));
      writeRegister(record, instruction.register, instruction.highByte, size, old);
      break;
    }
    case Operation.Bt: case Operation.Bts: case Operation.Btr: case Operation.Btc: {
      // The CPU accessed the operand-sized word holding the bit (at
      // EA + size * (offset >> log2(bits)) for a register offset): gpa.
      // Its bit is the offset modulo the operand's bits.
      let bits = <u64>size * 8;
      let offset = sourceOperand(record, instruction) & (bits - 1);
      let value = bus.read(gpa, size) & sizeMask(size);
      let mask = <u64>1 << offset;
      record.rflags = bitTestRflags(record.rflags, (value & mask) != 0);
      if (operation == Operation.Bts) bus.write(gpa, size, value | mask);
      else if (operation == Operation.Btr) bus.write(gpa, size, value & ~mask);
      else if (operation == Operation.Btc) bus.write(gpa, size, value ^ mask);
      break;
    }
    default: return EmulationResult.Unknown;
  }
  record.advance = instruction.length;
  return EmulationResult.Done;
}

// The register or immediate operand, at the operand size.
function sourceOperand(record: ExitRecord, instruction: Instruction): u64 {
  let size = instruction.operandSize;
  if (instruction.form == Form.MemoryImmediate) return instruction.immediate & sizeMask(size);
  return readRegister(record, instruction.register, instruction.highByte, size);
}

// The effective address of the memory operand, at the address size
// (RIP-relative: from the next instruction). For callers that want to
// check a decode against the fault.
export function effectiveAddress(record: ExitRecord, instruction: Instruction): u64 {
  let address = instruction.displacement;
  let base = instruction.base;
  if (base == RIP_REGISTER) address += record.rip + <u64>instruction.length;
  else if (base < 16) address += readRegister(record, base, false, 8);
  if (instruction.index < 16) address += readRegister(record, instruction.index, false, 8) * <u64>instruction.scale;
  return address & sizeMask(instruction.addressSize);
}

// MOVS and STOS, with or without REP: a run of elements.
function emulateString(record: ExitRecord, bus: MmioBus, platform: Platform, work: Emulation,
                       instruction: Instruction, mode: u32): u32 {
  let size = instruction.operandSize;
  let addressSize = instruction.addressSize;
  let down = (record.rflags & FLAG_DF) != 0;
  let repeat = instruction.rep != Rep.None;
  let count: u64 = 1;
  if (repeat) {
    count = readRegister(record, REG_RCX, false, addressSize);
    if (count == 0) {
      record.advance = instruction.length;
      return EmulationResult.Done;
    }
  }
  let moves = instruction.operation == Operation.Movs;
  let destination = work.destination();
  let source = work.source();
  beginSide(destination, record, Segment.ES, REG_RDI, WalkAccess.Write, addressSize, mode);
  let run = count < MMIO_RUN_LIMIT ? count : MMIO_RUN_LIMIT;
  let room = sideRoom(destination, size, down, addressSize);
  if (room < run) run = room;
  if (moves) {
    beginSide(source, record, instruction.segment, REG_RSI, WalkAccess.Read, addressSize, mode);
    room = sideRoom(source, size, down, addressSize);
    if (room < run) run = room;
  }
  // An element that crosses a page (or the address wrap) goes alone.
  if (run == 0) run = 1;
  // Every check and walk before the first access: a fault leaves no trace.
  if (moves) {
    let result = prepareSide(source, platform, record, work, run, size, down, mode);
    if (result != EmulationResult.Done) return result;
  }
  let result = prepareSide(destination, platform, record, work, run, size, down, mode);
  if (result != EmulationResult.Done) return result;

  let value = readRegister(record, 0, false, size); // STOS stores AL/AX/EAX/RAX
  for (let i: u64 = 0; i < run; i++) {
    if (moves) value = sideRead(source, platform, bus, i, size, down);
    sideWrite(destination, platform, bus, i, size, down, value);
  }
  work.elements = <u32>run;
  advanceSide(destination, record, run, size, down, addressSize);
  if (moves) advanceSide(source, record, run, size, down, addressSize);
  if (repeat) {
    let left = count - run;
    writeRegister(record, REG_RCX, false, addressSize, left);
    if (left != 0) return EmulationResult.Done; // advance 0: the CPU resumes the REP
  }
  record.advance = instruction.length;
  return EmulationResult.Done;
}
