// The guest's MMIO space: which device answers which guest-physical range.
// An access no device claims reads as all ones and drops writes, as a PC's
// bus does, and is counted (unclaimedReads, unclaimedWrites).
//
// Devices are @unmanaged state at fixed places; the bus names each by kind
// and address and calls it with a switch (no virtual calls, no
// allocation), as devices/port_bus.ts does for ports.
//
// Straddling: a device only ever sees accesses that lie wholly inside its
// range, of 1, 2, 4 or 8 bytes. An access that does not (it crosses the
// end of a range, into another device or into nothing, or has another
// size) is split into byte accesses, each routed on its own: the device
// sees the bytes that are its own, unclaimed bytes read 0xFF; such an
// access counts once as unclaimed when any of its bytes was.

import { Lapic } from "./lapic";
import { IoApic } from "./ioapic";
import { MmioScratch } from "./mmio_scratch";

export const enum MmioKind {
  None = 0,
  Lapic = 1,
  IoApic = 2,
  Scratch = 3, // devices/mmio_scratch.ts: for the specs and the host fuzzer
}

export const MMIO_BUS_RANGES: u32 = 8;
const RANGE_BYTES: u32 = 24;

// One claimed range: [base, base+bytes).
@unmanaged
class MmioRange {
  base: u64;
  bytes: u32;
  kind: u32;
  device: usize;
}

const FIELDS_BYTES: u32 = 24;
// What an MmioBus needs in all: its fields and its ranges.
export const MMIO_BUS_BYTES: u32 = FIELDS_BYTES + MMIO_BUS_RANGES * RANGE_BYTES;

const ALL_ONES: u64 = 0xFFFF_FFFF_FFFF_FFFF;

@unmanaged
export class MmioBus {
  ranges: u32;
  reserved: u32;
  unclaimedReads: u64;
  unclaimedWrites: u64;

  clear(): void {
    this.ranges = 0;
    this.reserved = 0;
    this.unclaimedReads = 0;
    this.unclaimedWrites = 0;
  }

  // Claims [base, base+bytes) for a device. False when the table is full,
  // the range is empty, reaches the top of the address space or overlaps one already claimed
  // (a wiring bug).
  map(base: u64, bytes: u32, kind: MmioKind, device: usize): bool {
    if (this.ranges >= MMIO_BUS_RANGES || bytes == 0 || base > ALL_ONES - <u64>bytes) return false;
    for (let i: u32 = 0; i < this.ranges; i++) {
      let r = this.range(i);
      if (base < r.base + <u64>r.bytes && r.base < base + <u64>bytes) return false;
    }
    let r = this.range(this.ranges);
    r.base = base;
    r.bytes = bytes;
    r.kind = <u32>kind;
    r.device = device;
    this.ranges++;
    return true;
  }

  // Points every range of `kind` at `device` (the local APIC page answers
  // for the vCPU whose access it is: the machine retargets it per vCPU).
  retarget(kind: MmioKind, device: usize): void {
    for (let i: u32 = 0; i < this.ranges; i++) {
      let r = this.range(i);
      if (r.kind == <u32>kind) r.device = device;
    }
  }

  // True when a device claims the byte at `gpa`.
  claims(gpa: u64): bool {
    return this.find(gpa) >= 0;
  }

  // Reads `size` bytes (1-8) at `gpa`, zero-extended; all ones where no
  // device answers.
  read(gpa: u64, size: u32): u64 {
    if (size == 0 || size > 8) {
      this.unclaimedReads++;
      return ALL_ONES;
    }
    let index = this.find(gpa);
    if (index >= 0 && this.whole(index, gpa, size)) {
      let r = this.range(index);
      // The local APIC directly, as in write().
      if (r.kind == <u32>MmioKind.Lapic) return changetype<Lapic>(r.device).mmioRead(<u32>(gpa - r.base), size) & sizeMask(size);
      return deviceRead(r.kind, r.device, <u32>(gpa - r.base), size) & sizeMask(size);
    }
    let value: u64 = 0;
    let unclaimed = false;
    for (let i: u32 = 0; i < size; i++) {
      let at = gpa + <u64>i;
      let byteIndex = this.find(at);
      let b: u64 = 0xff;
      if (byteIndex >= 0) {
        let r = this.range(byteIndex);
        b = deviceRead(r.kind, r.device, <u32>(at - r.base), 1) & 0xff;
      } else {
        unclaimed = true;
      }
      value |= b << (<u64>i * 8);
    }
    if (unclaimed) this.unclaimedReads++;
    return value;
  }

  // Writes the low `size` bytes (1-8) of `value` at `gpa`.
  write(gpa: u64, size: u32, value: u64): void {
    if (size == 0 || size > 8) {
      this.unclaimedWrites++;
      return;
    }
    let index = this.find(gpa);
    if (index >= 0 && this.whole(index, gpa, size)) {
      let r = this.range(index);
      // The local APIC (EOI, ICR, its timer: most MMIO exits) directly,
      // not through the switch over every device (make bench P1, eoi).
      if (r.kind == <u32>MmioKind.Lapic) changetype<Lapic>(r.device).mmioWrite(<u32>(gpa - r.base), size, value & sizeMask(size));
      else deviceWrite(r.kind, r.device, <u32>(gpa - r.base), size, value & sizeMask(size));
      return;
    }
    let unclaimed = false;
    for (let i: u32 = 0; i < size; i++) {
      let at = gpa + <u64>i;
      let byteIndex = this.find(at);
      if (byteIndex >= 0) {
        let r = this.range(byteIndex);
        deviceWrite(r.kind, r.device, <u32>(at - r.base), 1, (value >> (<u64>i * 8)) & 0xff);
      } else {
        unclaimed = true;
      }
    }
    if (unclaimed) this.unclaimedWrites++;
  }

  // A power-of-two access inside range `index` goes to the device whole.
  private whole(index: i32, gpa: u64, size: u32): bool {
    if ((size & (size - 1)) != 0) return false;
    let r = this.range(<u32>index);
    return gpa - r.base <= <u64>r.bytes - <u64>size;
  }

  private find(gpa: u64): i32 {
    for (let i: u32 = 0; i < this.ranges && i < MMIO_BUS_RANGES; i++) {
      let r = this.range(i);
      if (gpa - r.base < <u64>r.bytes) return <i32>i;
    }
    return -1;
  }

  @inline private range(index: u32): MmioRange {
    return changetype<MmioRange>(changetype<usize>(this) + <usize>FIELDS_BYTES + <usize>(index * RANGE_BYTES));
  }
}

@inline function sizeMask(size: u32): u64 {
  return size >= 8 ? ALL_ONES : (<u64>1 << (<u64>size * 8)) - 1;
}

function deviceRead(kind: u32, device: usize, offset: u32, size: u32): u64 {
  switch (kind) {
    case MmioKind.Lapic: return changetype<Lapic>(device).mmioRead(offset, size);
    case MmioKind.IoApic: return changetype<IoApic>(device).mmioRead(offset, size);
    case MmioKind.Scratch: return changetype<MmioScratch>(device).mmioRead(offset, size);
    default: return ALL_ONES;
  }
}

function deviceWrite(kind: u32, device: usize, offset: u32, size: u32, value: u64): void {
  switch (kind) {
    case MmioKind.Lapic: { changetype<Lapic>(device).mmioWrite(offset, size, value); break; }
    case MmioKind.IoApic: { changetype<IoApic>(device).mmioWrite(offset, size, value); break; }
    case MmioKind.Scratch: { changetype<MmioScratch>(device).mmioWrite(offset, size, value); break; }
    default: break;
  }
}
