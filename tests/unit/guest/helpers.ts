// What the guest VMM specs share: a fake stub (FakePlatform) with a small
// guest RAM, boot modules and canned CPUID answers; a fresh machine and
// ExitRecord per case; builders for kernel images.

import { Platform, NO_MODULE } from "../../../assembly/guest/platform";
import { Machine, layoutMachine, createGuest } from "../../../assembly/guest/machine";
import { ExitRecord, EXIT_RECORD_BYTES } from "../../../assembly/vcpu/exit_record";

// Guest RAM the fake keeps bytes for; the guest may be told it has more
// (writes beyond this are accepted and dropped, reads answer zeros).
export const RAM_BACKING_BYTES: u32 = 8 << 20;
const ramBacking = new ArrayBuffer(<i32>RAM_BACKING_BYTES);

export class FakePlatform extends Platform {
  console: string[] = [];
  ramBytes: u64 = 16 << 20;
  kernel: ArrayBuffer | null = null;
  initrd: ArrayBuffer | null = null;
  tsc: u64 = 0x1122334455667788;
  cpuidCalls: u32 = 0;
  guestWrites: u32 = 0;
  // CPUID answers by (leaf << 32 | subleaf); others are zeros.
  cpuidKeys: u64[] = [];
  cpuidValues: u32[] = [];

  constructor() {
    super();
    // The loaders clear what they load around, as for a stub whose RAM is
    // not zero at load; a spec sets it true for the other path.
    this.ramZeroAtLoad = false;
    memory.fill(changetype<usize>(ramBacking), 0, <usize>RAM_BACKING_BYTES);
  }

  setCpuid(leaf: u32, subleaf: u32, eax: u32, ebx: u32, ecx: u32, edx: u32): void {
    this.cpuidKeys.push((<u64>leaf << 32) | subleaf);
    this.cpuidValues.push(eax);
    this.cpuidValues.push(ebx);
    this.cpuidValues.push(ecx);
    this.cpuidValues.push(edx);
  }

  // One entry per line, as the host console shows them (a write may hold
  // several: devices/console_line.ts drains its outbox in one).
  consoleWrite(pointer: usize, length: u32): void {
    let start: u32 = 0;
    for (let i: u32 = 0; i < length; i++) {
      if (load<u8>(pointer + <usize>i) == 0x0a || i + 1 == length) {
        this.console.push(String.UTF8.decodeUnsafe(pointer + <usize>start, i + 1 - start));
        start = i + 1;
      }
    }
  }

  guestRead(gpa: u64, destination: usize, length: u32): u32 {
    if (!this.inRam(gpa, length)) return 0;
    for (let i: u32 = 0; i < length; i++) store<u8>(destination + i, ramByte(gpa + i));
    return length;
  }

  guestLoad(gpa: u64, bytes: u32): u64 {
    if ((bytes != 4 && bytes != 8) || !this.inRam(gpa, bytes)) return 0;
    let value: u64 = 0;
    for (let i: u32 = 0; i < bytes; i++) value |= <u64>ramByte(gpa + i) << (8 * <u64>i);
    return value;
  }

  guestWrite(gpa: u64, source: usize, length: u32): u32 {
    if (!this.inRam(gpa, length)) return 0;
    this.guestWrites++;
    for (let i: u32 = 0; i < length; i++) setRamByte(gpa + i, load<u8>(source + i));
    return length;
  }

  moduleSize(which: u32): u32 {
    let module = this.module(which);
    return module == null ? NO_MODULE : <u32>module.byteLength;
  }

  moduleRead(which: u32, offset: u32, destination: usize, length: u32): u32 {
    let module = this.module(which);
    if (module == null || offset >= <u32>module.byteLength) return 0;
    let n = <u32>module.byteLength - offset;
    if (n > length) n = length;
    memory.copy(destination, changetype<usize>(module) + offset, n);
    return n;
  }

  moduleToRam(which: u32, offset: u32, gpa: u64, length: u32): u32 {
    let module = this.module(which);
    if (module == null || <u64>offset + length > <u64>module.byteLength || !this.inRam(gpa, length)) return 0;
    for (let i: u32 = 0; i < length; i++) setRamByte(gpa + i, load<u8>(changetype<usize>(module) + offset + i));
    return length;
  }

  cpuid(leaf: u32, subleaf: u32, destination: usize): void {
    this.cpuidCalls++;
    memory.fill(destination, 0, 16);
    let key = (<u64>leaf << 32) | subleaf;
    for (let i = 0; i < this.cpuidKeys.length; i++) {
      if (this.cpuidKeys[i] == key) {
        for (let r = 0; r < 4; r++) store<u32>(destination + (r << 2), this.cpuidValues[i * 4 + r]);
      }
    }
  }

  readTsc(): u64 {
    return this.tsc;
  }

  hz: u64 = 2000000000;
  rateAsked: u32 = 0;
  tscHz(): u64 {
    this.rateAsked++;
    return this.hz;
  }

  // 2026-12-02 19:44:51 UTC
  epoch: u64 = 1796240691;
  wallClockSeconds(): u64 {
    return this.epoch;
  }

  private module(which: u32): ArrayBuffer | null {
    return which == 0 ? this.kernel : which == 1 ? this.initrd : null;
  }

  private inRam(gpa: u64, length: u32): bool {
    return gpa <= this.ramBytes && <u64>length <= this.ramBytes - gpa;
  }
}

function ramByte(gpa: u64): u8 {
  return gpa < <u64>RAM_BACKING_BYTES ? load<u8>(changetype<usize>(ramBacking) + <usize>gpa) : 0;
}

function setRamByte(gpa: u64, value: u8): void {
  if (gpa < <u64>RAM_BACKING_BYTES) store<u8>(changetype<usize>(ramBacking) + <usize>gpa, value);
}

export function ramU32(gpa: u64): u32 {
  return load<u32>(changetype<usize>(ramBacking) + <usize>gpa);
}

export function ramU64(gpa: u64): u64 {
  return load<u64>(changetype<usize>(ramBacking) + <usize>gpa);
}

export function ramU8(gpa: u64): u8 {
  return ramByte(gpa);
}

// The NUL-terminated string at `gpa` in guest RAM.
export function ramString(gpa: u64): string {
  let end = gpa;
  while (end < <u64>RAM_BACKING_BYTES && ramByte(end) != 0) end++;
  return String.UTF8.decodeUnsafe(changetype<usize>(ramBacking) + <usize>gpa, <usize>(end - gpa));
}

// --- a machine and a record per case ---------------------------------------------

// A machine with a created guest named `name`.
export function newGuest(name: string = "web", cmdline: string = "", memoryBytes: u64 = 16 << 20): Machine {
  let machine = layoutMachine();
  let nameBytes = String.UTF8.encode(name);
  let cmdlineBytes = String.UTF8.encode(cmdline);
  memory.copy(machine.setupArea, changetype<usize>(nameBytes), nameBytes.byteLength);
  memory.copy(machine.setupArea + nameBytes.byteLength, changetype<usize>(cmdlineBytes), cmdlineBytes.byteLength);
  createGuest(machine, 7, memoryBytes, nameBytes.byteLength, cmdlineBytes.byteLength);
  return machine;
}

const RECORD: usize = memory.data(EXIT_RECORD_BYTES, 16);

// A zeroed ExitRecord for an exit of `reason`, RIP 0x100000, IF set.
export function newRecord(reason: u32): ExitRecord {
  memory.fill(RECORD, 0, EXIT_RECORD_BYTES);
  let record = changetype<ExitRecord>(RECORD);
  record.reason = reason;
  record.rip = 0x100000;
  record.rflags = 0x202;
  return record;
}

// A record of 32-bit protected-mode code (flat CS, paging off) whose
// instruction bytes at RIP are `bytes`, in the fake's RAM.
export function flatRecord(reason: u32, platform: FakePlatform, bytes: u8[]): ExitRecord {
  let record = newRecord(reason);
  record.cr0 = 0x11;
  record.csAttributes = 0xc9b;  // present, code, D (32-bit), G
  record.csLimit = 0xffffffff;
  record.ssAttributes = 0xc93;
  record.ssLimit = 0xffffffff;
  record.dsAttributes = 0xc93;
  record.dsLimit = 0xffffffff;
  record.esAttributes = 0xc93;
  record.esLimit = 0xffffffff;
  let buffer = new ArrayBuffer(bytes.length);
  for (let i = 0; i < bytes.length; i++) store<u8>(changetype<usize>(buffer) + <usize>i, bytes[i]);
  platform.guestWrite(record.rip, changetype<usize>(buffer), <u32>bytes.length);
  return record;
}

// --- kernel images ---------------------------------------------------------------

// Bytes under construction, little-endian.
export class Image {
  bytes: ArrayBuffer;
  constructor(size: i32) {
    this.bytes = new ArrayBuffer(size);
  }
  u8(offset: u32, value: u32): Image {
    store<u8>(changetype<usize>(this.bytes) + offset, <u8>value);
    return this;
  }
  u16(offset: u32, value: u32): Image {
    store<u16>(changetype<usize>(this.bytes) + offset, <u16>value);
    return this;
  }
  u32(offset: u32, value: u32): Image {
    store<u32>(changetype<usize>(this.bytes) + offset, value);
    return this;
  }
  fill(offset: u32, length: u32, value: u8): Image {
    memory.fill(changetype<usize>(this.bytes) + offset, value, length);
    return this;
  }
}

export const MB_MAGIC: u32 = 0x1badb002;

// A multiboot header at `offset` with `flags` (valid checksum).
export function multibootHeader(image: Image, offset: u32, flags: u32): Image {
  return image.u32(offset, MB_MAGIC).u32(offset + 4, flags).u32(offset + 8, 0 - (MB_MAGIC + flags));
}

// An a.out-kludge header's address fields (after a header with bit 16).
export function aoutFields(image: Image, offset: u32, headerAddr: u32, loadAddr: u32, loadEndAddr: u32,
                           bssEndAddr: u32, entryAddr: u32): Image {
  return image.u32(offset + 12, headerAddr).u32(offset + 16, loadAddr).u32(offset + 20, loadEndAddr)
    .u32(offset + 24, bssEndAddr).u32(offset + 28, entryAddr);
}

// An ELF32 x86 executable header with `phnum` program headers at `phoff`.
export function elf32Header(image: Image, entry: u32, phoff: u32, phnum: u32): Image {
  image.u32(0, 0x464c457f).u8(4, 1).u8(5, 1).u8(6, 1);
  return image.u16(16, 2).u16(18, 3).u32(20, 1).u32(24, entry).u32(28, phoff)
    .u16(40, 52).u16(42, 32).u16(44, phnum);
}

// Program header `index` (table at `phoff`, 32-byte entries).
export function programHeader(image: Image, phoff: u32, index: u32, type: u32, offset: u32, vaddr: u32, paddr: u32,
                              filesz: u32, memsz: u32): Image {
  let at = phoff + index * 32;
  return image.u32(at, type).u32(at + 4, offset).u32(at + 8, vaddr).u32(at + 12, paddr)
    .u32(at + 16, filesz).u32(at + 20, memsz).u32(at + 24, 7).u32(at + 28, 0x1000);
}

// A typical multiboot ELF kernel: header at 0x1000 (flags 3), one segment
// of 0x400 file bytes loaded at 1 MiB with 0x3000 bytes of bss, entry
// 0x10000c, the file bytes 0xAB.
export function multibootElf(): Image {
  let image = new Image(0x1400);
  elf32Header(image, 0x10000c, 52, 1);
  programHeader(image, 52, 0, 1, 0x1000, 0x100000, 0x100000, 0x400, 0x3400);
  image.fill(0x1000, 0x400, 0xab);
  return multibootHeader(image, 0x1000, 3);
}
