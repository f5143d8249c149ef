// What the MMIO emulation (mmio.ts) and the string I/O emulation
// (string_io.ts) share: their result codes, their workspace, registers of
// the ExitRecord by number and width, segments, and the memory side of a
// string instruction (rSI or rDI through its segment and the guest's
// paging, a run of elements cut at a page boundary).

import { Platform } from "../guest/platform";
import { ExitRecord, gprAddress } from "../vcpu/exit_record";
import { MmioBus } from "../devices/mmio_bus";
import { TextWriter } from "../lib/text";
import { walkGuestPage, WalkAccess, WalkResult, CR4_LA57, PAGE_BYTES } from "../mm/guest_page_walk";
import { Instruction, Segment, INSTRUCTION_BYTES, DecodeResult, decodeStringIo } from "./decoder";
import { decodeCached, cachedAnswer } from "./decode_cache";
import { MAX_INSTRUCTION_BYTES, SEGMENT_DEFAULT_BIG, isCanonical, codeSize, fetchInstruction } from "./fetch";
import { sizeMask } from "./flags";

// What an emulation answers; the caller's part is in the comment.
export const enum EmulationResult {
  Done = 0,              // resume: registers, RFLAGS, record.advance are set
  Unknown = 1,           // stop the guest; appendInstructionBytes and RIP say what it was
  PageFault = 2,         // inject #PF(work.errorCode) with CR2 = work.faultAddress
  GeneralProtection = 3, // inject #GP(0)
  StackFault = 4,        // inject #SS(0)
  TablesOutsideRam = 5,  // stop the guest: its page tables reach no RAM at work.faultAddress
}

// One string-instruction operand in memory: rSI or rDI in its segment.
@unmanaged
export class MemorySide {
  offset: u64;     // the register, masked to the address size
  linear: u64;     // segment base + offset: the current element
  gpa: u64;        // guest-physical address of `linear`
  splitGpa: u64;   // of the element's bytes on the next page, when it crosses one
  segment: u32;    // Segment
  register: u32;   // REG_RSI or REG_RDI
  access: u32;     // WalkAccess
  split: u32;      // bytes of the element before the page boundary; 0: no crossing
}

const SIDE_BYTES: u32 = 48;

// The workspace of an emulation, at a fixed place (EMULATION_BYTES, 16-byte
// aligned): the instruction's bytes, its decode, the walks, and what a
// fault needs for its injection.
@unmanaged
export class Emulation {
  faultAddress: u64;  // PageFault: the linear address for CR2
  errorCode: u32;     // PageFault: the #PF error code
  fetched: u32;       // instruction bytes fetched (at bytes())
  elements: u32;      // elements the last string run moved
  decodeResult: u32;  // DecodeResult of the last decode
  decoded: usize;     // where that decode is: a decode cache entry, or ownInstruction()
  reserved: u32;

  // Clears the answer fields.
  begin(): void {
    this.faultAddress = 0;
    this.errorCode = 0;
    this.fetched = 0;
    this.elements = 0;
    this.decodeResult = 0;
  }

  @inline bytes(): usize {
    return changetype<usize>(this) + <usize>BYTES_OFFSET;
  }

  // The instruction fetchAndDecode decoded (read only).
  @inline instruction(): Instruction {
    return changetype<Instruction>(this.decoded);
  }

  // Where string I/O's decode goes (the decode cache keeps MMIO's).
  @inline ownInstruction(): Instruction {
    return changetype<Instruction>(changetype<usize>(this) + <usize>INSTRUCTION_OFFSET);
  }

  @inline walk(): WalkResult {
    return changetype<WalkResult>(changetype<usize>(this) + <usize>WALK_OFFSET);
  }

  @inline source(): MemorySide {
    return changetype<MemorySide>(changetype<usize>(this) + <usize>SOURCE_OFFSET);
  }

  @inline destination(): MemorySide {
    return changetype<MemorySide>(changetype<usize>(this) + <usize>DESTINATION_OFFSET);
  }
}

const BYTES_OFFSET: u32 = 32;
const INSTRUCTION_OFFSET: u32 = BYTES_OFFSET + 16;
const WALK_OFFSET: u32 = INSTRUCTION_OFFSET + INSTRUCTION_BYTES;
const SOURCE_OFFSET: u32 = WALK_OFFSET + 32;
const DESTINATION_OFFSET: u32 = SOURCE_OFFSET + SIDE_BYTES;
export const EMULATION_BYTES: u32 = DESTINATION_OFFSET + SIDE_BYTES;

// The answer of fetchAndDecode when the instruction is decoded (in
// work.instruction()) and the emulation goes on.
export const DECODED: u32 = 0xffffffff;

// The start both emulations share: fetch the bytes at RIP, decode them
// (as INS/OUTS for string I/O, else as what may touch MMIO). DECODED, or
// the result to answer: Unknown, or #PF when the fetch itself faulted.
// Inline in each of the two, which saves the call's prologue on every
// MMIO exit (make bench P1, eoi: 1005 -> 989).
@inline export function fetchAndDecode(record: ExitRecord, platform: Platform, work: Emulation, stringIo: bool): u32 {
  work.begin();
  record.advance = 0;
  let mode = codeSize(record);
  let walk = work.walk();
  work.fetched = fetchInstruction(platform, record, work.bytes(), walk);
  let decoded: u32;
  if (stringIo) {
    let own = work.ownInstruction();
    decoded = decodeStringIo(work.bytes(), work.fetched, mode, own);
    work.decoded = changetype<usize>(own);
  } else {
    let instruction = decodeCached(work.bytes(), work.fetched, mode);
    decoded = cachedAnswer(instruction);
    work.decoded = changetype<usize>(instruction);
  }
  work.decodeResult = decoded;
  if (decoded == DecodeResult.Truncated) return walk.fault ? pageFault(work, walk) : EmulationResult.Unknown;
  return decoded == DecodeResult.Ok ? DECODED : EmulationResult.Unknown;
}

// A PageFault answer from a failed walk (TablesOutsideRam when an entry
// the walk needed is outside RAM).
export function pageFault(work: Emulation, walk: WalkResult): u32 {
  if (walk.outsideRam) {
    work.faultAddress = walk.gpa;
    return EmulationResult.TablesOutsideRam;
  }
  work.faultAddress = walk.linear;
  work.errorCode = walk.errorCode;
  return EmulationResult.PageFault;
}

// Appends the fetched instruction bytes as hex ("0F B6 05 10 00 00 00"),
// or "none" when none could be fetched.
export function appendInstructionBytes(line: TextWriter, work: Emulation): TextWriter {
  let count = work.fetched < MAX_INSTRUCTION_BYTES ? work.fetched : MAX_INSTRUCTION_BYTES;
  if (count == 0) return line.text("none");
  for (let i: u32 = 0; i < count; i++) {
    if (i != 0) line.byte(0x20);
    line.hex(<u64>load<u8>(work.bytes() + <usize>i), 2);
  }
  return line;
}

// --- registers -------------------------------------------------------------------

// Register `number` (x86 order) of `size` bytes; AH..BH with `highByte`.
export function readRegister(record: ExitRecord, number: u32, highByte: bool, size: u32): u64 {
  let value = load<u64>(gprAddress(record, number));
  if (highByte) return (value >> 8) & 0xff;
  return value & sizeMask(size);
}

// Writes register `number` as an instruction does: 8- and 16-bit writes
// keep the other bits, a 32-bit write zero-extends into the 64-bit
// register (SDM vol. 1, 3.4.1.1).
export function writeRegister(record: ExitRecord, number: u32, highByte: bool, size: u32, value: u64): void {
  let at = gprAddress(record, number);
  let old = load<u64>(at);
  let merged: u64;
  if (highByte) merged = (old & ~(<u64>0xff00)) | ((value & 0xff) << 8);
  else if (size == 1) merged = (old & ~(<u64>0xff)) | (value & 0xff);
  else if (size == 2) merged = (old & ~(<u64>0xffff)) | (value & 0xffff);
  else if (size == 4) merged = value & 0xFFFF_FFFF;
  else merged = value;
  store<u64>(at, merged);
}

// `value` of `size` bytes, sign-extended to 64 bits.
export function signExtend(value: u64, size: u32): u64 {
  if (size >= 8) return value;
  let shift = 64 - <u64>size * 8;
  return <u64>((<i64>(value << shift)) >> shift);
}

// --- segments --------------------------------------------------------------------

// The record's selector/attributes/limit/base block of `segment`.
function segmentBlock(record: ExitRecord, segment: u32): usize {
  let at = changetype<usize>(record);
  switch (segment) {
    case Segment.ES: return at + offsetof<ExitRecord>("esSelector");
    case Segment.CS: return at + offsetof<ExitRecord>("csSelector");
    case Segment.SS: return at + offsetof<ExitRecord>("ssSelector");
    case Segment.FS: return at + offsetof<ExitRecord>("fsSelector");
    case Segment.GS: return at + offsetof<ExitRecord>("gsSelector");
    default: return at + offsetof<ExitRecord>("dsSelector");
  }
}

// The base that counts: in 64-bit mode only FS's and GS's (SDM vol. 3A,
// 3.4.4); else the segment's.
export function segmentBase(record: ExitRecord, segment: u32, codeSize: u32): u64 {
  if (codeSize == 8 && segment != Segment.FS && segment != Segment.GS) return 0;
  return load<u64>(segmentBlock(record, segment) + 8);
}

// True when offsets [low, high] are inside the segment's limit (SDM vol.
// 3A, 5.3): up to the limit for expand-up segments, above it (to 64 KiB or
// 4 GiB by the B flag) for expand-down data segments. The record's limit
// is in bytes (G already applied, as both vendors store it).
function withinLimit(record: ExitRecord, segment: u32, low: u64, high: u64): bool {
  let block = segmentBlock(record, segment);
  let attributes = <u32>load<u16>(block + 2);
  let limit = <u64>load<u32>(block + 4);
  let type = attributes & 0xf;
  let expandDown = (type & 0x8) == 0 && (type & 0x4) != 0;
  if (!expandDown) return high <= limit;
  let upper: u64 = (attributes & SEGMENT_DEFAULT_BIG) != 0 ? 0xFFFF_FFFF : 0xFFFF;
  return low > limit && high <= upper;
}

@inline function segmentFault(segment: u32): u32 {
  return segment == Segment.SS ? EmulationResult.StackFault : EmulationResult.GeneralProtection;
}

// --- guest-physical access ---------------------------------------------------------

const VALUE: usize = memory.data(8, 8);

// Reads guest-physical memory: a device if one claims `gpa`, else RAM,
// else the bus's answer for nothing there (all ones, counted).
export function physicalRead(platform: Platform, bus: MmioBus, gpa: u64, size: u32): u64 {
  if (bus.claims(gpa)) return bus.read(gpa, size);
  store<u64>(VALUE, 0);
  if (size <= 8 && platform.guestRead(gpa, VALUE, size) == size) return load<u64>(VALUE);
  return bus.read(gpa, size);
}

// Writes guest-physical memory, routed as physicalRead.
export function physicalWrite(platform: Platform, bus: MmioBus, gpa: u64, size: u32, value: u64): void {
  if (bus.claims(gpa)) {
    bus.write(gpa, size, value);
    return;
  }
  store<u64>(VALUE, value);
  if (size <= 8 && platform.guestWrite(gpa, VALUE, size) == size) return;
  bus.write(gpa, size, value);
}

// --- the memory side of a string instruction -----------------------------------------

// Points `side` at the current element: `register` (rSI/rDI) masked to the
// address size, in `segment`.
export function beginSide(side: MemorySide, record: ExitRecord, segment: u32, register: u32, access: WalkAccess,
                          addressSize: u32, codeSize: u32): void {
  side.segment = segment;
  side.register = register;
  side.access = access;
  side.offset = load<u64>(gprAddress(record, register)) & sizeMask(addressSize);
  let linear = segmentBase(record, segment, codeSize) + side.offset;
  side.linear = codeSize == 8 ? linear : linear & 0xFFFF_FFFF;
  side.gpa = 0;
  side.splitGpa = 0;
  side.split = 0;
}

// How many elements of `size` from the current one, in the direction of
// travel (`down`: DF set), lie wholly in the current 4 KiB page and before
// the offset wraps at the address size. 0: the first one crosses.
export function sideRoom(side: MemorySide, size: u32, down: bool, addressSize: u32): u64 {
  let step = <u64>size;
  let pageOffset = side.linear & (PAGE_BYTES - 1);
  let room: u64;
  if (down) room = pageOffset + step > PAGE_BYTES ? 0 : pageOffset / step + 1;
  else room = (PAGE_BYTES - pageOffset) / step;
  if (addressSize < 8) {
    let mask = sizeMask(addressSize);
    let wrapRoom: u64 = down ? (side.offset + step - 1 > mask ? 0 : side.offset / step + 1)
                             : (mask - side.offset + 1) / step;
    if (wrapRoom < room) room = wrapRoom;
  }
  return room;
}

// Checks and translates the `count` elements from the current one (count
// 1 may cross a page: both pages are walked). Outside 64-bit mode the
// offsets are checked against the segment limit; in 64-bit mode the
// addresses must be canonical. Done, or the fault to raise (nothing has
// been accessed yet).
export function prepareSide(side: MemorySide, platform: Platform, record: ExitRecord, work: Emulation, count: u64,
                            size: u32, down: bool, codeSize: u32): u32 {
  let step = <u64>size;
  let span = (count - 1) * step;           // from the lowest element to the highest
  let below: u64 = down ? span : 0;        // bytes under the current element
  let above: u64 = down ? step - 1 : span + step - 1;
  if (codeSize != 8) {
    if (!withinLimit(record, side.segment, side.offset - below, side.offset + above)) return segmentFault(side.segment);
  } else {
    let la57 = (record.cr4 & CR4_LA57) != 0;
    if (!isCanonical(side.linear - below, la57) || !isCanonical(side.linear + above, la57)) {
      return segmentFault(side.segment);
    }
  }
  let walk = work.walk();
  if (!walkGuestPage(platform, record, side.linear, <WalkAccess>side.access, walk)) return pageFault(work, walk);
  side.gpa = walk.gpa;
  side.split = 0;
  let pageOffset = side.linear & (PAGE_BYTES - 1);
  if (pageOffset + step > PAGE_BYTES) {
    let first = <u32>(PAGE_BYTES - pageOffset);
    let next = side.linear + <u64>first;
    if (codeSize != 8) next &= 0xFFFF_FFFF;
    if (!walkGuestPage(platform, record, next, <WalkAccess>side.access, walk)) return pageFault(work, walk);
    side.split = first;
    side.splitGpa = walk.gpa;
  }
  return EmulationResult.Done;
}

// Element `i` of the run (counted in the direction of travel).
export function sideRead(side: MemorySide, platform: Platform, bus: MmioBus, i: u64, size: u32, down: bool): u64 {
  if (side.split != 0 && side.splitGpa != side.gpa + <u64>side.split) {
    let value: u64 = 0;
    for (let b: u32 = 0; b < size; b++) {
      let gpa = b < side.split ? side.gpa + <u64>b : side.splitGpa + <u64>(b - side.split);
      value |= (physicalRead(platform, bus, gpa, 1) & 0xff) << (<u64>b * 8);
    }
    return value;
  }
  return physicalRead(platform, bus, elementGpa(side, i, size, down), size) & sizeMask(size);
}

export function sideWrite(side: MemorySide, platform: Platform, bus: MmioBus, i: u64, size: u32, down: bool,
                          value: u64): void {
  if (side.split != 0 && side.splitGpa != side.gpa + <u64>side.split) {
    for (let b: u32 = 0; b < size; b++) {
      let gpa = b < side.split ? side.gpa + <u64>b : side.splitGpa + <u64>(b - side.split);
      physicalWrite(platform, bus, gpa, 1, (value >> (<u64>b * 8)) & 0xff);
    }
    return;
  }
  physicalWrite(platform, bus, elementGpa(side, i, size, down), size, value & sizeMask(size));
}

@inline function elementGpa(side: MemorySide, i: u64, size: u32, down: bool): u64 {
  let delta = i * <u64>size;
  return down ? side.gpa - delta : side.gpa + delta;
}

// Moves the side's register past `count` elements, at the address size.
export function advanceSide(side: MemorySide, record: ExitRecord, count: u64, size: u32, down: bool,
                            addressSize: u32): void {
  let delta = count * <u64>size;
  let offset = down ? side.offset - delta : side.offset + delta;
  writeRegister(record, side.register, false, addressSize, offset);
}
