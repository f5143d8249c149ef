// Whatever a guest puts in its instruction bytes, registers, segments and
// page tables, the decoder, the page walk and the emulations answer; they
// never trap (a trap would fail this spec's module). Deterministic seeds.

import { FakePlatform } from "../guest/helpers";
import { ExitRecord, IoFlags } from "../../../assembly/vcpu/exit_record";
import { PortBus, PORT_BUS_BYTES } from "../../../assembly/devices/port_bus";
import {
  decodeInstruction, decodeStringIo, Instruction, INSTRUCTION_BYTES, DecodeResult, NO_REGISTER, RIP_REGISTER,
} from "../../../assembly/x86/decoder";
import { emulateMmio } from "../../../assembly/x86/mmio";
import { emulateStringIo } from "../../../assembly/x86/string_io";
import { EmulationResult, appendInstructionBytes } from "../../../assembly/x86/emulation";
import { walkGuestPage, WalkAccess, WalkResult, WALK_RESULT_BYTES } from "../../../assembly/mm/guest_page_walk";
import { TextWriter } from "../../../assembly/lib/text";
import {
  PageTables, PAGING_4, P, RW, US, longModeRecord, protectedModeRecord, realModeRecord, poke, newBus, newWork,
  SCRATCH_GPA, CODE16, CODE32, CODE64,
} from "./helpers";

let state: u64 = 0;

function seed(value: u64): void {
  state = value * 0x9E3779B97F4A7C15 + 0x1234567;
  if (state == 0) state = 1;
}

function random(): u64 {
  let x = state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  state = x;
  return x;
}

function below(n: u32): u32 {
  return <u32>(random() % <u64>n);
}

// Bytes that reach deep into the decoder: its prefixes and opcodes.
const INTERESTING: u8[] = [0x66, 0x67, 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0xf0, 0xf2, 0xf3, 0x40, 0x48, 0x4f,
  0x41, 0x44, 0x0f, 0x00, 0x01, 0x02, 0x03, 0x38, 0x39, 0x3a, 0x3b, 0x63, 0x80, 0x81, 0x83, 0x84, 0x85, 0x86, 0x87,
  0x88, 0x89, 0x8a, 0x8b, 0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xaa, 0xab, 0xc6, 0xc7, 0xf6, 0xf7, 0xb6, 0xb7,
  0xbe, 0xbf, 0xa3, 0xab, 0xb3, 0xbb, 0xba, 0x04, 0x05, 0x0c, 0x24, 0x25, 0x44, 0x84, 0x6c, 0x6d, 0x6e, 0x6f];

const BYTES: usize = memory.data(32, 16);
const OUT: usize = memory.data(INSTRUCTION_BYTES, 16);

function randomBytes(at: usize, count: u32): void {
  for (let i: u32 = 0; i < count; i++) {
    let b = below(3) == 0 ? <u32>random() & 0xff : <u32>INTERESTING[below(INTERESTING.length)];
    store<u8>(at + <usize>i, <u8>b);
  }
}

function sane(instruction: Instruction, count: u32): bool {
  let size = instruction.operandSize;
  let address = instruction.addressSize;
  if (instruction.length == 0 || instruction.length > count || instruction.length > 15) return false;
  if (size != 1 && size != 2 && size != 4 && size != 8) return false;
  if (address != 2 && address != 4 && address != 8) return false;
  if (instruction.segment > 5) return false;
  if (instruction.register != NO_REGISTER && instruction.register > 15) return false;
  if (instruction.base != NO_REGISTER && instruction.base > RIP_REGISTER) return false;
  if (instruction.index != NO_REGISTER && instruction.index > 15) return false;
  return true;
}

describe("hostile instruction bytes", () => {
  it("never trap the decoder, and what it accepts is well-formed (40000 seeds)", () => {
    let bad = 0;
    let decoded = 0;
    for (let n: u64 = 0; n < 40000; n++) {
      seed(n);
      randomBytes(BYTES, 15);
      let count = below(16);
      let mode = <u32>1 << (1 + below(3)); // 2, 4, 8
      let instruction = changetype<Instruction>(OUT);
      let result = decodeInstruction(BYTES, count, mode, instruction);
      if (result > <u32>DecodeResult.Truncated) bad++;
      if (result == DecodeResult.Ok) {
        decoded++;
        if (!sane(instruction, count)) bad++;
      }
      result = decodeStringIo(BYTES, count, mode, instruction);
      if (result > <u32>DecodeResult.Truncated) bad++;
      if (result == DecodeResult.Ok && !sane(instruction, count)) bad++;
    }
    expect(bad).toBe(0);
    expect(decoded).toBeGreaterThan(2000);
  });
});

// One platform for all seeds (a FakePlatform clears 8 MiB when made).
const platform = new FakePlatform();
const WALK: usize = memory.data(WALK_RESULT_BYTES, 8);
const PORTS: usize = memory.data(PORT_BUS_BYTES, 16);
const TABLE_AREA: u64 = 0x400000;
const TABLE_AREA_BYTES: u64 = 0x10000;

// Page tables full of random entries, half of them pointing back into the
// table area (self-references, loops), half anywhere (outside RAM too).
function randomTables(): void {
  for (let at: u64 = 0; at < TABLE_AREA_BYTES; at += 8) {
    let entry = random();
    if ((entry & 1) != 0 && below(2) == 0) {
      entry = (entry & 0xfff) | (TABLE_AREA + ((entry >> 12) & (TABLE_AREA_BYTES - 1) & ~(<u64>0xfff)));
      entry |= P | RW | US;
    }
    poke(platform, TABLE_AREA + at, 8, entry);
  }
}

function randomMode(record: ExitRecord): void {
  let choice = below(6);
  if (choice == 0) {
    record.cr0 = 0;
    record.csAttributes = CODE16;
  } else if (choice == 1) {
    record.cr0 = 1;
    record.csAttributes = below(2) == 0 ? CODE32 : CODE16;
  } else {
    record.cr0 = 0x80010001;
    record.cr4 = random() & 0x3010b0; // PSE, PAE, LA57, SMEP, SMAP
    record.efer = below(3) != 0 ? 0xd00 : 0;
    record.csAttributes = below(4) != 0 ? CODE64 : CODE32;
  }
  record.cr3 = below(8) == 0 ? random() : TABLE_AREA + (<u64>below(16) << 12);
  record.cpl = below(4) == 0 ? 3 : 0;
  record.rflags = 0x2 | (random() & 0x60cd5);
}

describe("hostile page tables", () => {
  it("never trap the walk, in any mode, for any address (20000 walks)", () => {
    let faults = 0;
    let record = realModeRecord();
    let result = changetype<WalkResult>(WALK);
    for (let n: u64 = 0; n < 20000; n++) {
      seed(n + 1000000);
      if (n % 500 == 0) randomTables();
      randomMode(record);
      let linear = below(2) == 0 ? random() : random() & 0xffffffff;
      if (!walkGuestPage(platform, record, linear, <WalkAccess>below(3), result)) faults++;
    }
    expect(faults).toBeGreaterThan(100);
  });

  it("fault on a table outside RAM", () => {
    let record = longModeRecord(0xffff_ffff_f000);
    let result = changetype<WalkResult>(WALK);
    expect(walkGuestPage(platform, record, 0x1000, WalkAccess.Read, result)).toBe(false);
    expect(result.outsideRam).toBe(true);
  });
});

describe("hostile exits", () => {
  it("never trap the MMIO emulation (20000 seeds)", () => {
    let bus = newBus();
    let work = newWork();
    let counts = [0, 0, 0, 0, 0, 0];
    let bad = 0;
    let line = new TextWriter(memory.data(128), 128);
    for (let n: u64 = 0; n < 20000; n++) {
      seed(n + 2000000);
      if (n % 500 == 0) randomTables();
      let record = realModeRecord();
      randomMode(record);
      record.rip = below(2) == 0 ? 0x100000 + <u64>below(0x2000) : random();
      record.csBase = below(2) == 0 ? 0 : random() & 0xffffffff;
      randomBytes(BYTES, 16);
      platform.guestWrite((record.csBase + record.rip) & 0xffffffff, BYTES, 16);
      platform.guestWrite(0x100000 + <u64>below(0x2000), BYTES, 16);
      for (let r: u32 = 0; r < 16; r++) {
        let value = below(4) == 0 ? random() : below(2) == 0 ? 0xc000_0000 + <u64>below(0x2000) : <u64>below(0x10000);
        store<u64>(changetype<usize>(record) + 8 + (<usize>r << 3), value);
      }
      record.gpa = below(2) == 0 ? SCRATCH_GPA + <u64>below(0x2000) : random();
      record.esBase = random() & 0xffffffff;
      record.esLimit = <u32>random();
      record.esAttributes = <u16>random();
      record.dsLimit = <u32>random();
      record.dsAttributes = <u16>random();
      record.fsBase = random();
      let result = emulateMmio(record, bus, platform, work);
      if (result > <u32>EmulationResult.TablesOutsideRam) bad++;
      else counts[result]++;
      if (result == EmulationResult.Done && record.advance > 15) bad++;
      if (result != EmulationResult.Done && record.advance != 0) bad++;
      appendInstructionBytes(line.clear(), work);
    }
    expect(bad).toBe(0);
    expect(counts[EmulationResult.Done]).toBeGreaterThan(100);
    expect(counts[EmulationResult.Unknown]).toBeGreaterThan(100);
  });

  it("never trap the string I/O emulation (20000 seeds)", () => {
    let bus = newBus();
    let work = newWork();
    let ports = changetype<PortBus>(PORTS);
    ports.clear();
    let bad = 0;
    let done = 0;
    for (let n: u64 = 0; n < 20000; n++) {
      seed(n + 3000000);
      if (n % 500 == 0) randomTables();
      let record = realModeRecord();
      randomMode(record);
      record.rip = 0x100000 + <u64>below(0x100);
      record.csBase = 0;
      randomBytes(BYTES, 16);
      let flags = IoFlags.String | (<u32>random() & 5);
      if (below(4) != 0) {
        // Mostly prefixes and then an INS/OUTS of the exit's direction.
        let prefixes = below(5);
        for (let i: u32 = 0; i < prefixes; i++) store<u8>(BYTES + <usize>i, INTERESTING[below(11)]);
        let opcode = (flags & IoFlags.In) != 0 ? 0x6c : 0x6e;
        store<u8>(BYTES + <usize>prefixes, <u8>(opcode + below(2)));
      }
      platform.guestWrite(record.rip, BYTES, 16);
      record.rcx = below(2) == 0 ? random() : <u64>below(5000);
      record.rsi = below(2) == 0 ? random() : 0xc000_0000 + <u64>below(0x2000);
      record.rdi = below(2) == 0 ? random() : <u64>below(0x800000);
      record.port = <u16>random();
      record.ioSize = below(8) == 0 ? <u8>below(9) : <u8>(<u32>1 << below(3));
      record.ioFlags = <u8>flags;
      record.esBase = random();
      record.esLimit = <u32>random();
      record.esAttributes = <u16>random();
      record.gsBase = random();
      let result = emulateStringIo(record, ports, platform, bus, work);
      if (result > <u32>EmulationResult.TablesOutsideRam) bad++;
      if (result == EmulationResult.Done) done++;
      if (result == EmulationResult.Done && record.advance > 15) bad++;
    }
    expect(bad).toBe(0);
    expect(done).toBeGreaterThan(50);
  });
});
