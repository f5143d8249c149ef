// Instruction fetch for the emulations: the bytes at CS:RIP, through the
// guest's paging, page by page, so an instruction that crosses a page
// boundary comes from both pages.

import { Platform } from "../guest/platform";
import { ExitRecord } from "../vcpu/exit_record";
import {
  walkGuestPage, WalkAccess, WalkResult, CR0_PE, EFER_LMA, CR4_LA57, PAGE_BYTES,
} from "../mm/guest_page_walk";

// No x86 instruction is longer (SDM vol. 2A, 2.3.11).
export const MAX_INSTRUCTION_BYTES: u32 = 15;

// Segment attributes, AMD VMCB layout (AMD APM vol. 2, 15.5.1).
export const SEGMENT_LONG: u32 = 1 << 9;         // L: 64-bit code
export const SEGMENT_DEFAULT_BIG: u32 = 1 << 10; // D/B: 32-bit code, big stack, expand-down to 4 GiB
const RFLAGS_VM: u64 = 1 << 17;

// The code size in bytes: 2 (16-bit code: real mode, virtual-8086 mode, or
// a CS with D clear), 4 (CS.D), 8 (64-bit mode: EFER.LMA and CS.L).
export function codeSize(record: ExitRecord): u32 {
  if ((record.cr0 & CR0_PE) == 0 || (record.rflags & RFLAGS_VM) != 0) return 2;
  let attributes = <u32>record.csAttributes;
  if ((record.efer & EFER_LMA) != 0 && (attributes & SEGMENT_LONG) != 0) return 8;
  return (attributes & SEGMENT_DEFAULT_BIG) != 0 ? 4 : 2;
}

// True when `address` is canonical: bits 63:47 (63:56 with LA57) all equal.
export function isCanonical(address: u64, la57: bool): bool {
  let shift: u64 = la57 ? 7 : 16;
  return <u64>((<i64>(address << shift)) >> shift) == address;
}

// The linear address of the instruction: RIP in 64-bit mode; else CS.base
// plus EIP or IP, wrapping at 4 GiB.
export function instructionAddress(record: ExitRecord): u64 {
  let size = codeSize(record);
  if (size == 8) return record.rip;
  let ip = size == 4 ? record.rip & 0xFFFF_FFFF : record.rip & 0xFFFF;
  return (record.csBase + ip) & 0xFFFF_FFFF;
}

// Copies up to 15 instruction bytes to `destination`; answers how many.
// A page whose walk faults ends the fetch there and leaves the fault in
// `walk` (walk.fault, walk.linear: that page's first byte, walk.errorCode
// with I/D where the CPU sets it); the caller raises it only if the decoder
// needed those bytes. Bytes outside RAM (or past a non-canonical boundary)
// end the fetch without a fault. Without a fault, walk.fault is false.
export function fetchInstruction(platform: Platform, record: ExitRecord, destination: usize,
                                 walk: WalkResult): u32 {
  let size = codeSize(record);
  let start = instructionAddress(record);
  let la57 = (record.cr4 & CR4_LA57) != 0;
  let fetched: u32 = 0;
  walk.fault = false;
  walk.errorCode = 0;
  while (fetched < MAX_INSTRUCTION_BYTES) {
    let linear = start + <u64>fetched;
    if (size != 8) linear &= 0xFFFF_FFFF;
    else if (!isCanonical(linear, la57)) break;
    let room = <u32>(PAGE_BYTES - (linear & (PAGE_BYTES - 1)));
    let chunk = MAX_INSTRUCTION_BYTES - fetched;
    if (chunk > room) chunk = room;
    if (!walkGuestPage(platform, record, linear, WalkAccess.Execute, walk)) break;
    let at = destination + <usize>fetched;
    if (platform.guestRead(walk.gpa, at, chunk) == chunk) {
      fetched += chunk;
      continue;
    }
    // RAM ends inside the chunk: take the bytes before its end.
    let got: u32 = 0;
    while (got < chunk && platform.guestRead(walk.gpa + <u64>got, at + <usize>got, 1) == 1) got++;
    fetched += got;
    break;
  }
  return fetched;
}

