// Where a loader may put things in guest RAM, and the copies that put them
// there. Every range comes from an image a guest's owner supplied, so all
// arithmetic is in u64 (32-bit fields cannot overflow it) and every refusal
// says what and where in `why`.
//
// The guest-physical layout (devices/pc_layout.ts):
//   [0, 0x1000)                 the real-mode IVT and BDA: boot data never goes here
//   [0x1000, 0x9FC00)           conventional memory: a kernel may load here; boot
//                               data (multiboot information) goes where it does not
//   [0x9FC00, 0x100000)         reserved, as on a PC (EBDA, VGA hole, ROMs; the ACPI
//                               tables and RSDP at 0xE0000-0xFFFFF): never loaded
//   [0x100000, RAM end)         the kernel, its initrd, boot data that did not fit low
//
// The kernel's segments go where its image says (checkPlacement); then the
// loader places its boot data in the gaps, recording each range it uses in
// UsedRanges so that findFreeRange never hands out the same bytes twice.

import { TextWriter } from "../lib/text";
import { appendAddress } from "../lib/address";
import { Platform } from "../guest/platform";
import { CONVENTIONAL_MEMORY_END, IOAPIC_BASE } from "../devices/pc_layout";

export const RESERVED_BASE: u64 = CONVENTIONAL_MEMORY_END;
export const RESERVED_END: u64 = 0x100000;
export const PAGE_BYTES: u64 = 0x1000;
// Boot data goes at or above this (the first page is the IVT and BDA)...
export const BOOT_DATA_FLOOR: u64 = PAGE_BYTES;
// ...and ends at or below this: its addresses are 32-bit multiboot fields,
// and nothing is put where the I/O APIC and local APIC pages would shadow
// RAM.
export const BOOT_DATA_CEILING: u64 = IOAPIC_BASE;
// findFreeRange's answer when nothing fits.
export const NO_ROOM: u64 = 0xffffffffffffffff;

// True when [start, start+length) may be loaded: inside guest RAM, clear of
// the reserved area. Else false, with "<what> [a, b) <why>" in `why`.
export function checkPlacement(what: string, start: u64, length: u64, memoryBytes: u64, why: TextWriter): bool {
  let end = start + length;
  if (end < start || end > memoryBytes) {
    describeRange(why, what, start, end).text(" lies outside guest RAM (");
    appendAddress(why, memoryBytes).text(" bytes)");
    return false;
  }
  if (length != 0 && start < RESERVED_END && RESERVED_BASE < end) {
    describeRange(why, what, start, end).text(" overlaps the reserved area [");
    appendAddress(why, RESERVED_BASE).text(", ");
    appendAddress(why, RESERVED_END).text(")");
    return false;
  }
  return true;
}

function describeRange(why: TextWriter, what: string, start: u64, end: u64): TextWriter {
  why.text(what).text(" [");
  appendAddress(why, start).text(", ");
  return appendAddress(why, end).text(")");
}

// --- what is taken ---------------------------------------------------------------

// Enough for every segment of an ELF image (elf.ts, ELF_MAX_PHDRS) and the
// boot data placed after it.
export const MAX_USED_RANGES: u32 = 72;

// The guest-physical ranges a load has taken so far, [start, end) each:
// `count` pairs of u64 at RANGES.
const RANGES: usize = memory.data(MAX_USED_RANGES * 16, 16);

@unmanaged
export class UsedRanges {
  count: u32;

  clear(): void {
    this.count = 0;
  }

  // Records [start, end); false when the table is full (a loader bug: the
  // capacity covers the most a load records).
  add(start: u64, end: u64): bool {
    if (this.count >= MAX_USED_RANGES) return false;
    let at = RANGES + <usize>(this.count << 4);
    store<u64>(at, start, 0);
    store<u64>(at, end, 8);
    this.count++;
    return true;
  }

  start(index: u32): u64 {
    return load<u64>(RANGES + <usize>(index << 4), 0);
  }

  end(index: u32): u64 {
    return load<u64>(RANGES + <usize>(index << 4), 8);
  }
}

export const usedRanges = changetype<UsedRanges>(memory.data(offsetof<UsedRanges>(), 16));

// The lowest `alignment`-aligned start at or above `floor` of `length` free
// bytes: in guest RAM, ending at or below BOOT_DATA_CEILING, outside the
// reserved area and every used range. NO_ROOM when there is none. Every
// candidate it rejects moves past a used range or the reserved area, so
// it takes at most (used ranges + 1) rounds of the range table.
export function findFreeRange(length: u64, alignment: u64, floor: u64, memoryBytes: u64): u64 {
  let ceiling = memoryBytes < BOOT_DATA_CEILING ? memoryBytes : BOOT_DATA_CEILING;
  if (length > ceiling) return NO_ROOM;
  let candidate = alignUp(floor < BOOT_DATA_FLOOR ? BOOT_DATA_FLOOR : floor, alignment);
  let rounds: u32 = 0;
  while (rounds <= usedRanges.count + 1) {
    rounds++;
    if (candidate > ceiling - length) return NO_ROOM;
    let end = candidate + length;
    if (candidate < RESERVED_END && RESERVED_BASE < end) {
      candidate = alignUp(RESERVED_END, alignment);
      continue;
    }
    let moved = false;
    for (let i: u32 = 0; i < usedRanges.count; i++) {
      let usedStart = usedRanges.start(i);
      let usedEnd = usedRanges.end(i);
      if (usedStart < end && candidate < usedEnd) {
        candidate = alignUp(usedEnd, alignment);
        moved = true;
        break;
      }
    }
    if (!moved) return candidate;
  }
  return NO_ROOM;
}

// Copies module bytes [offset, offset+length) to guest RAM at `gpa`.
export function copyModuleToRam(platform: Platform, which: u32, what: string, offset: u64, gpa: u64,
                                length: u64, why: TextWriter): bool {
  if (length == 0) return true; // the import answers 0 for 0 bytes too
  if (offset + length > 0xffffffff || platform.moduleToRam(which, <u32>offset, gpa, <u32>length) != <u32>length) {
    why.text("cannot copy ").text(what).text(" to guest-physical ");
    appendAddress(why, gpa);
    return false;
  }
  return true;
}

// Zero source for zeroRam: never written.
const ZEROS_BYTES: u32 = 4096;
const ZEROS: usize = memory.data(ZEROS_BYTES, 16);

// Zeroes guest RAM [gpa, gpa+length) (a bss), unless the platform's RAM
// is zero already (Platform.ramZeroAtLoad). The caller has checked that
// the range lies in RAM (checkPlacement).
export function zeroRam(platform: Platform, what: string, gpa: u64, length: u64, why: TextWriter): bool {
  if (platform.ramZeroAtLoad) return true;
  while (length != 0) {
    let chunk = length < <u64>ZEROS_BYTES ? <u32>length : ZEROS_BYTES;
    if (platform.guestWrite(gpa, ZEROS, chunk) != chunk) {
      why.text("cannot clear ").text(what).text(" at guest-physical ");
      appendAddress(why, gpa);
      return false;
    }
    gpa += chunk;
    length -= chunk;
  }
  return true;
}

@inline export function alignUp(value: u64, alignment: u64): u64 {
  return (value + alignment - 1) & ~(alignment - 1);
}
