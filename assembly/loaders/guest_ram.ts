// Where a loader may put things in guest RAM, and the copies that put them
// there. Every range comes from an image a guest's owner supplied, so all
// arithmetic is in u64 (32-bit fields cannot overflow it) and every refusal
// says what and where in `why`.
//
// The guest-physical layout a loader builds:
//   [0, 0x9000)          free (real-mode IVT/BDA area, unused)
//   [0x9000, 0xC000)     the multiboot information (multiboot.ts)
//   [0xA0000, 0x100000)  reserved, as on a PC (VGA, ROMs): never loaded
//   [0x100000, RAM end)  the kernel, then its initrd

import { TextWriter } from "../lib/text";
import { appendAddress } from "../lib/address";
import { Platform } from "../guest/platform";

export const INFO_BASE: u64 = 0x9000;
export const INFO_END: u64 = 0xc000;
export const RESERVED_BASE: u64 = 0xa0000;
export const RESERVED_END: u64 = 0x100000;
export const PAGE_BYTES: u64 = 0x1000;

// True when [start, start+length) may be loaded: inside guest RAM, clear of
// the multiboot information and of the reserved hole. Else false, with
// "<what> [a, b) <why>" in `why`.
export function checkPlacement(what: string, start: u64, length: u64, memoryBytes: u64, why: TextWriter): bool {
  let end = start + length;
  if (end < start || end > memoryBytes) {
    describeRange(why, what, start, end).text(" lies outside guest RAM (");
    appendAddress(why, memoryBytes).text(" bytes)");
    return false;
  }
  if (length != 0 && start < INFO_END && INFO_BASE < end) {
    describeRange(why, what, start, end).text(" overlaps the multiboot information at ");
    appendAddress(why, INFO_BASE);
    return false;
  }
  if (length != 0 && start < RESERVED_END && RESERVED_BASE < end) {
    describeRange(why, what, start, end).text(" overlaps the reserved area [0xa0000, 0x100000)");
    return false;
  }
  return true;
}

function describeRange(why: TextWriter, what: string, start: u64, end: u64): TextWriter {
  why.text(what).text(" [");
  appendAddress(why, start).text(", ");
  return appendAddress(why, end).text(")");
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

// Zeroes guest RAM [gpa, gpa+length) (a bss: the RAM may hold an earlier
// run's bytes).
export function zeroRam(platform: Platform, what: string, gpa: u64, length: u64, why: TextWriter): bool {
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
