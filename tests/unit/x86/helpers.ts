// What the x86 specs share: hex bytes, names for the decoder's enums, page
// tables built in the FakePlatform's guest RAM for each paging mode, an
// ExitRecord in each CPU mode, and an MMIO bus with scratch devices.

import { FakePlatform, newRecord } from "../guest/helpers";
import { ExitRecord, ExitReason } from "../../../assembly/vcpu/exit_record";
import { Operation, Form, Rep, Segment } from "../../../assembly/x86/decoder";
import { MmioBus, MMIO_BUS_BYTES, MmioKind } from "../../../assembly/devices/mmio_bus";
import { MmioScratch, MMIO_SCRATCH_BYTES } from "../../../assembly/devices/mmio_scratch";
import { Emulation, EMULATION_BYTES } from "../../../assembly/x86/emulation";
import {
  CR0_PE, CR0_PG, CR0_WP, CR4_PAE, CR4_PSE, CR4_LA57, EFER_LMA, EFER_NXE,
} from "../../../assembly/mm/guest_page_walk";

// --- bytes ---------------------------------------------------------------------

// Stores hex bytes ("0f b6 05") at `at`; answers how many.
export function putHex(at: usize, hex: string): u32 {
  let count: u32 = 0;
  let value: u32 = 0;
  let digits = 0;
  for (let i = 0; i < hex.length; i++) {
    let c = <u32>hex.charCodeAt(i);
    let nibble: i32 = -1;
    if (c >= 0x30 && c <= 0x39) nibble = <i32>(c - 0x30);
    else if (c >= 0x61 && c <= 0x66) nibble = <i32>(c - 0x61 + 10);
    else if (c >= 0x41 && c <= 0x46) nibble = <i32>(c - 0x41 + 10);
    if (nibble < 0) continue;
    value = (value << 4) | <u32>nibble;
    digits++;
    if (digits == 2) {
      store<u8>(at + <usize>count, <u8>value);
      count++;
      value = 0;
      digits = 0;
    }
  }
  return count;
}

// Writes hex bytes into guest RAM at `gpa`.
export function pokeHex(platform: FakePlatform, gpa: u64, hex: string): u32 {
  let scratch = memory.data(64, 16);
  let count = putHex(scratch, hex);
  platform.guestWrite(gpa, scratch, count);
  return count;
}

const VALUE: usize = memory.data(8, 8);

export function poke(platform: FakePlatform, gpa: u64, size: u32, value: u64): void {
  store<u64>(VALUE, value);
  platform.guestWrite(gpa, VALUE, size);
}

export function peek(platform: FakePlatform, gpa: u64, size: u32): u64 {
  store<u64>(VALUE, 0);
  platform.guestRead(gpa, VALUE, size);
  return load<u64>(VALUE);
}

// --- names ------------------------------------------------------------------------

export function operationName(operation: u32): string {
  switch (operation) {
    case Operation.Add: return "add";
    case Operation.Or: return "or";
    case Operation.Adc: return "adc";
    case Operation.Sbb: return "sbb";
    case Operation.And: return "and";
    case Operation.Sub: return "sub";
    case Operation.Xor: return "xor";
    case Operation.Cmp: return "cmp";
    case Operation.Mov: return "mov";
    case Operation.Movzx: return "movzx";
    case Operation.Movsx: return "movsx";
    case Operation.Movsxd: return "movsxd";
    case Operation.Test: return "test";
    case Operation.Xchg: return "xchg";
    case Operation.Bt: return "bt";
    case Operation.Bts: return "bts";
    case Operation.Btr: return "btr";
    case Operation.Btc: return "btc";
    case Operation.Stos: return "stos";
    case Operation.Movs: return "movs";
    case Operation.Ins: return "ins";
    case Operation.Outs: return "outs";
    default: return "none";
  }
}

export function formName(form: u32): string {
  switch (form) {
    case Form.MemoryRegister: return "MemoryRegister";
    case Form.RegisterMemory: return "RegisterMemory";
    case Form.MemoryImmediate: return "MemoryImmediate";
    case Form.String: return "String";
    default: return "None";
  }
}

export function segmentName(segment: u32): string {
  switch (segment) {
    case Segment.ES: return "es";
    case Segment.CS: return "cs";
    case Segment.SS: return "ss";
    case Segment.DS: return "ds";
    case Segment.FS: return "fs";
    case Segment.GS: return "gs";
    default: return "none";
  }
}

export function repName(rep: u32): string {
  return rep == Rep.Rep ? "Rep" : rep == Rep.RepNe ? "RepNe" : "None";
}

// --- page tables ---------------------------------------------------------------------

export const PAGING_32: u32 = 2;    // 2-level, 4-byte entries
export const PAGING_PAE: u32 = 3;
export const PAGING_4: u32 = 4;
export const PAGING_5: u32 = 5;

export const P: u64 = 1;
export const RW: u64 = 2;
export const US: u64 = 4;
export const PS: u64 = 0x80;
export const XD: u64 = <u64>1 << 63;

// Page tables in guest RAM from `area` on (tables allocated 4 KiB each).
export class PageTables {
  root: u64;
  next: u64;
  // Flags of the tables' non-leaf entries.
  tableFlags: u64 = P | RW | US;

  constructor(public platform: FakePlatform, public mode: u32, area: u64 = 0x400000) {
    this.next = area;
    this.root = this.allocate();
  }

  allocate(): u64 {
    let page = this.next;
    this.next += 0x1000;
    for (let i: u64 = 0; i < 0x1000; i += 8) poke(this.platform, page + i, 8, 0);
    return page;
  }

  entryBytes(): u32 {
    return this.mode == PAGING_32 ? 4 : 8;
  }

  shift(level: u32): u64 {
    return this.mode == PAGING_32 ? 12 + 10 * <u64>(level - 1) : 12 + 9 * <u64>(level - 1);
  }

  index(linear: u64, level: u32): u64 {
    let mask: u64 = this.mode == PAGING_32 ? 0x3ff : (this.mode == PAGING_PAE && level == 3) ? 3 : 0x1ff;
    return (linear >> this.shift(level)) & mask;
  }

  // Where the entry of `level` for `linear` is, making tables down to it.
  entryAddress(linear: u64, level: u32): u64 {
    let table = this.root;
    for (let l = this.mode; l > level; l--) {
      let at = table + this.index(linear, l) * <u64>this.entryBytes();
      let entry = peek(this.platform, at, this.entryBytes());
      if ((entry & P) == 0) {
        let fresh = this.allocate();
        // PAE PDPTEs take P only (their other flag bits are reserved).
        let flags = this.mode == PAGING_PAE && l == 3 ? P : this.tableFlags;
        entry = fresh | flags;
        poke(this.platform, at, this.entryBytes(), entry);
      }
      table = entry & 0x000F_FFFF_FFFF_F000;
    }
    return table + this.index(linear, level) * <u64>this.entryBytes();
  }

  // Maps the page of `level` (1: 4 KiB, 2: 2 or 4 MiB, 3: 1 GiB) at `linear`.
  map(linear: u64, gpa: u64, flags: u64 = P | RW | US, level: u32 = 1): PageTables {
    let at = this.entryAddress(linear, level);
    let entry = gpa | flags | (level > 1 ? PS : 0);
    poke(this.platform, at, this.entryBytes(), entry);
    return this;
  }

  // Sets the entry of `level` for `linear` (tables above made as needed).
  setEntry(linear: u64, level: u32, entry: u64): PageTables {
    poke(this.platform, this.entryAddress(linear, level), this.entryBytes(), entry);
    return this;
  }

  entry(linear: u64, level: u32): u64 {
    return peek(this.platform, this.entryAddress(linear, level), this.entryBytes());
  }
}

// --- records in each CPU mode -------------------------------------------------------

// AMD VMCB attributes: code (type 0xB, S, P), data (type 3, S, P).
export const CODE64: u16 = 0x29b;   // L
export const CODE32: u16 = 0xc9b;   // D, G
export const CODE16: u16 = 0x09b;
export const DATA32: u16 = 0xc93;
export const DATA16: u16 = 0x093;

function setDataSegments(record: ExitRecord, attributes: u16, limit: u32): void {
  record.esAttributes = attributes; record.esLimit = limit; record.esBase = 0;
  record.dsAttributes = attributes; record.dsLimit = limit; record.dsBase = 0;
  record.ssAttributes = attributes; record.ssLimit = limit; record.ssBase = 0;
  record.fsAttributes = attributes; record.fsLimit = limit; record.fsBase = 0;
  record.gsAttributes = attributes; record.gsLimit = limit; record.gsBase = 0;
}

// A record in 64-bit mode with 4-level (or 5-level) paging rooted at `cr3`.
export function longModeRecord(cr3: u64, la57: bool = false): ExitRecord {
  let record = newRecord(ExitReason.NestedPageFault);
  record.cr0 = CR0_PE | CR0_PG | CR0_WP;
  record.cr4 = CR4_PAE | (la57 ? CR4_LA57 : 0);
  record.efer = 0x100 | EFER_LMA | EFER_NXE;
  record.cr3 = cr3;
  record.csAttributes = CODE64;
  record.csLimit = 0xffffffff;
  setDataSegments(record, DATA32, 0xffffffff);
  return record;
}

// 32-bit protected mode; paging PAGING_32 (with PSE), PAGING_PAE, or off (0).
export function protectedModeRecord(paging: u32, cr3: u64 = 0): ExitRecord {
  let record = newRecord(ExitReason.NestedPageFault);
  record.cr0 = CR0_PE | (paging != 0 ? CR0_PG | CR0_WP : 0);
  record.cr4 = paging == PAGING_PAE ? CR4_PAE : paging == PAGING_32 ? CR4_PSE : 0;
  record.efer = paging == PAGING_PAE ? EFER_NXE : 0;
  record.cr3 = cr3;
  record.csAttributes = CODE32;
  record.csLimit = 0xffffffff;
  setDataSegments(record, DATA32, 0xffffffff);
  return record;
}

// Real mode: CS base 0, 64 KiB segments.
export function realModeRecord(): ExitRecord {
  let record = newRecord(ExitReason.NestedPageFault);
  record.cr0 = 0;
  record.rip = 0x1000;
  record.csAttributes = CODE16;
  record.csLimit = 0xffff;
  record.csBase = 0;
  setDataSegments(record, DATA16, 0xffff);
  return record;
}

// --- the MMIO side ---------------------------------------------------------------------

export const SCRATCH_GPA: u64 = 0xc000_0000;     // scratch device 0 (4 KiB)
export const SCRATCH2_GPA: u64 = 0xc000_1000;    // scratch device 1, right after it

const BUS: usize = memory.data(MMIO_BUS_BYTES, 16);
const SCRATCH: usize = memory.data(MMIO_SCRATCH_BYTES, 16);
const SCRATCH2: usize = memory.data(MMIO_SCRATCH_BYTES, 16);
const WORK: usize = memory.data(EMULATION_BYTES, 16);

// A bus with two 4 KiB scratch devices at SCRATCH_GPA and SCRATCH2_GPA.
export function newBus(): MmioBus {
  memory.fill(BUS, 0xee, MMIO_BUS_BYTES);
  let bus = changetype<MmioBus>(BUS);
  bus.clear();
  scratch().init(4096);
  scratch2().init(4096);
  bus.map(SCRATCH_GPA, 4096, MmioKind.Scratch, SCRATCH);
  bus.map(SCRATCH2_GPA, 4096, MmioKind.Scratch, SCRATCH2);
  return bus;
}

export function scratch(): MmioScratch {
  return changetype<MmioScratch>(SCRATCH);
}

export function scratch2(): MmioScratch {
  return changetype<MmioScratch>(SCRATCH2);
}

export function newWork(): Emulation {
  memory.fill(WORK, 0xee, EMULATION_BYTES);
  return changetype<Emulation>(WORK);
}
