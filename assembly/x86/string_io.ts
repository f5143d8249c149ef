// String port I/O: INS (6C, 6D) and OUTS (6E, 6F), with and without REP.
// The exit says the port, the size (record.ioSize: 1, 2, 4), the direction
// and REP; the instruction's bytes say the rest: the address size (67)
// and, for OUTS, a segment override (INS always writes ES:rDI). The memory
// side goes through the guest's paging, to RAM or to an MMIO device.
//
// A REP run is cut at the end of the memory side's page and at
// STRING_IO_RUN_LIMIT elements, so an exit stays short and the time slice
// can end between exits; while RCX is not 0, RIP stays on the instruction
// (advance 0) and the CPU executes it again, exiting again. Done with
// advance = the instruction's length once RCX reaches 0 (or without REP).
//
// Segments: in 64-bit mode only the FS and GS bases count and addresses
// must be canonical (#GP); in 16- and 32-bit code the offsets are checked
// against the segment's limit (#GP, or #SS for SS), not its type or
// presence. The I/O permission checks (IOPL, the TSS bitmap) are the
// CPU's: it makes them before the exit.

import { Platform } from "../guest/platform";
import { ExitRecord, IoFlags } from "../vcpu/exit_record";
import { PortBus } from "../devices/port_bus";
import { MmioBus } from "../devices/mmio_bus";
import { ConsoleLine, LINE_BYTES, OUTBOX_BYTES } from "../devices/console_line";
import { WalkAccess } from "../mm/guest_page_walk";
import { Operation } from "./decoder";
import { REG_RCX, REG_RSI, REG_RDI } from "./operands";
import { codeSize } from "./fetch";
import { FLAG_DF } from "./flags";
import {
  Emulation, EmulationResult, pageFault, readRegister, writeRegister,
  beginSide, sideRoom, prepareSide, sideRead, sideWrite, advanceSide,
  fetchAndDecode, DECODED,
} from "./emulation";

// Elements per exit, at most.
export const STRING_IO_RUN_LIMIT: u64 = 1024;

// Emulates the INS/OUTS at CS:RIP for the I/O exit in `record`. Done:
// RCX/RSI/RDI updated, record.advance set (0 while a REP run is not
// finished). Other results as for emulateMmio (emulation.ts); nothing
// was accessed then. Unknown also when the bytes at RIP are no INS/OUTS
// of the exit's direction, or the exit's size is not 1, 2 or 4.
//
// `console`, the guest's console line (its UART writes whole lines into
// an outbox the exit drains at its end): an OUTS run ends early once the
// outbox could not take one more line, and the CPU runs the rest of the
// REP after the drain. Without this a REP OUTSB of 1 KiB to the UART
// finished five lines in one exit and the outbox (four) dropped one.
export function emulateStringIo(record: ExitRecord, ports: PortBus, platform: Platform, mmio: MmioBus,
                                work: Emulation, console: ConsoleLine | null = null): u32 {
  let start = fetchAndDecode(record, platform, work, true);
  if (start != DECODED) return start;
  let mode = codeSize(record);
  let instruction = work.instruction();
  let input = (<u32>record.ioFlags & IoFlags.In) != 0;
  if (input != (instruction.operation == Operation.Ins)) return EmulationResult.Unknown;
  let size = <u32>record.ioSize;
  if (size != 1 && size != 2 && size != 4) return EmulationResult.Unknown;

  let addressSize = instruction.addressSize;
  let down = (record.rflags & FLAG_DF) != 0;
  let repeat = (<u32>record.ioFlags & IoFlags.Rep) != 0;
  let count: u64 = 1;
  if (repeat) {
    count = readRegister(record, REG_RCX, false, addressSize);
    if (count == 0) {
      record.advance = instruction.length;
      return EmulationResult.Done;
    }
  }
  let side = work.destination();
  beginSide(side, record, instruction.segment, input ? REG_RDI : REG_RSI,
            input ? WalkAccess.Write : WalkAccess.Read, addressSize, mode);
  let run = count < STRING_IO_RUN_LIMIT ? count : STRING_IO_RUN_LIMIT;
  let room = sideRoom(side, size, down, addressSize);
  if (room < run) run = room;
  if (run == 0) run = 1; // an element across a page boundary goes alone
  let result = prepareSide(side, platform, record, work, run, size, down, mode);
  if (result != EmulationResult.Done) return result;

  let port = <u32>record.port;
  for (let i: u64 = 0; i < run; i++) {
    if (input) {
      sideWrite(side, platform, mmio, i, size, down, <u64>ports.read(port, size));
      continue;
    }
    ports.write(port, size, <u32>sideRead(side, platform, mmio, i, size, down));
    if (console == null) continue;
    // The UART refused this element (the guest's console share is spent):
    // it and the rest wait, RIP stays on the instruction.
    if (console.refused) {
      run = i;
      break;
    }
    if (i + 1 < run && console.outboxLength + LINE_BYTES > OUTBOX_BYTES) run = i + 1;
  }
  work.elements = <u32>run;
  if (run == 0) {
    record.advance = 0;
    return EmulationResult.Done;
  }
  advanceSide(side, record, run, size, down, addressSize);
  if (repeat) {
    let left = count - run;
    writeRegister(record, REG_RCX, false, addressSize, left);
    if (left != 0) return EmulationResult.Done; // advance 0: the CPU resumes the REP
  }
  record.advance = instruction.length;
  return EmulationResult.Done;
}
