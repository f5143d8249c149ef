// Multiboot (v1) kernels, Multiboot Specification 0.6.96:
//   3.1   the header a kernel carries in its first 8 KiB,
//   3.1.3 the a.out kludge (addresses in the header) or else ELF,
//   3.2   the machine state at entry (boot_state.ts),
//   3.3   the boot information we give it: memory, command line, memory
//         map, boot loader name and its initrd as module 0.
//
// The kernel goes where its image says. The initrd and the boot
// information go where it does not: each in the lowest gap of guest RAM
// (guest_ram.ts findFreeRange) clear of every loaded segment and its bss,
// of what was placed before, of the first page and of the reserved area
// [0x9FC00, 1 MiB). The initrd looks first from the page above the kernel
// (and above 1 MiB), the information first from 0x9000, where it has
// always been; each then anywhere from 0x1000 up. A load is refused only
// when no gap is big enough.

import { TextWriter } from "../lib/text";
import { appendAddress } from "../lib/address";
import { Platform, MODULE_KERNEL, MODULE_INITRD, NO_MODULE } from "../guest/platform";
import { loadElf32, LoadedImage } from "./elf";
import {
  checkPlacement, copyModuleToRam, zeroRam, alignUp, findFreeRange, usedRanges,
  RESERVED_BASE, RESERVED_END, PAGE_BYTES, BOOT_DATA_FLOOR, BOOT_DATA_CEILING, NO_ROOM,
} from "./guest_ram";

export const MULTIBOOT_HEADER_MAGIC: u32 = 0x1badb002;
export const MULTIBOOT_BOOTLOADER_MAGIC: u32 = 0x2badb002; // EAX at entry
// The header lies within the first 8192 bytes, 4-aligned (3.1).
export const MULTIBOOT_SEARCH_BYTES: u32 = 8192;

// Header flags (3.1.2). Bits 0-15 are requirements: a loader that cannot
// honour one must refuse the kernel. Bits 16-31 are optional.
export const HEADER_PAGE_ALIGN: u32 = 1 << 0;   // modules page-aligned: done
export const HEADER_MEMORY_INFO: u32 = 1 << 1;  // mem_* and mmap: given
export const HEADER_VIDEO_MODE: u32 = 1 << 2;   // no video: ignored, as allowed for now
export const HEADER_AOUT_KLUDGE: u32 = 1 << 16;
const REQUIRED_MASK: u32 = 0xffff;
const REQUIRED_UNDERSTOOD: u32 = HEADER_PAGE_ALIGN | HEADER_MEMORY_INFO | HEADER_VIDEO_MODE;

// Header fields (byte offsets from the magic).
const H_FLAGS = 4;
const H_CHECKSUM = 8;
const H_HEADER_ADDR = 12;
const H_LOAD_ADDR = 16;
const H_LOAD_END_ADDR = 20;
const H_BSS_END_ADDR = 24;
const H_ENTRY_ADDR = 28;
const HEADER_BYTES: u32 = 12;
const AOUT_HEADER_BYTES: u32 = 32;

// Boot information flags (3.3).
export const INFO_MEMORY: u32 = 1 << 0;
export const INFO_CMDLINE: u32 = 1 << 2;
export const INFO_MODULES: u32 = 1 << 3;
export const INFO_MEMORY_MAP: u32 = 1 << 6;
export const INFO_LOADER_NAME: u32 = 1 << 9;

// Boot information fields (byte offsets, 3.3).
const I_FLAGS = 0;
const I_MEM_LOWER = 4;
const I_MEM_UPPER = 8;
const I_CMDLINE = 16;
const I_MODS_COUNT = 20;
const I_MODS_ADDR = 24;
const I_MMAP_LENGTH = 44;
const I_MMAP_ADDR = 48;
const I_BOOT_LOADER_NAME = 64;
export const INFO_STRUCT_BYTES: u32 = 116;

// The boot information is one block: the structure and its small parts at
// fixed offsets, the command line after them.
export const INFO_PREFERRED_ADDRESS: u64 = 0x9000;
export const INFO_ALIGNMENT: u64 = 16;
export const MMAP_OFFSET: u32 = 0x80;           // up to 3 entries of 24 bytes
export const MODULES_OFFSET: u32 = 0xd0;        // 1 entry of 16 bytes
export const LOADER_NAME_OFFSET: u32 = 0xe0;
export const MODULE_STRING_OFFSET: u32 = 0xf0;
export const CMDLINE_OFFSET: u32 = 0x100;
const FIXED_INFO_BYTES: u32 = CMDLINE_OFFSET;
// The limit of the old fixed block, kept; the setup area (guest/machine.ts)
// passes at most 8 KiB anyway.
export const CMDLINE_MAX_BYTES: u32 = 0x2eff; // and a NUL

export const MMAP_ENTRY_BYTES: u32 = 24;   // size (20), base, length, type
export const MMAP_AVAILABLE: u32 = 1;
export const MMAP_RESERVED: u32 = 2;

// Where the info is assembled before it is copied to the guest.
const INFO: usize = memory.data(FIXED_INFO_BYTES, 16);
const NUL: usize = memory.data(1);

// The offset of the first valid multiboot header (magic, and a checksum
// making magic + flags + checksum zero) among the `length` bytes at
// `image`, or -1 if there is none (3.1.1).
export function findMultibootHeader(image: usize, length: u32): i32 {
  let limit = length < MULTIBOOT_SEARCH_BYTES ? length : MULTIBOOT_SEARCH_BYTES;
  if (limit < HEADER_BYTES) return -1;
  for (let offset: u32 = 0; offset <= limit - HEADER_BYTES; offset += 4) {
    let at = image + <usize>offset;
    if (load<u32>(at) != MULTIBOOT_HEADER_MAGIC) continue;
    if (MULTIBOOT_HEADER_MAGIC + load<u32>(at, H_FLAGS) + load<u32>(at, H_CHECKSUM) == 0) return <i32>offset;
  }
  return -1;
}

// What loadMultiboot needs to know about the guest, and (infoAddress) where
// it put the boot information, for EBX.
@unmanaged
export class MultibootGuest {
  memoryBytes: u64;
  cmdline: usize;       // in this instance's memory
  cmdlineLength: u32;
  infoAddress: u64;
}

// Loads a multiboot kernel whose header is at `headerOffset` among the
// `windowLength` first bytes of the image (at `window`), its initrd if the
// guest has one, and the boot information. Fills `image` (entry, end) and
// guest.infoAddress.
export function loadMultiboot(platform: Platform, window: usize, windowLength: u32, headerOffset: u32,
                              imageSize: u32, guest: MultibootGuest, image: LoadedImage, why: TextWriter): bool {
  let header = window + <usize>headerOffset;
  let flags = load<u32>(header, H_FLAGS);
  let unsupported = flags & REQUIRED_MASK & ~REQUIRED_UNDERSTOOD;
  if (unsupported != 0) {
    why.text("the multiboot header requires features this loader does not provide (flags ");
    appendAddress(why, flags).text(", unsupported ");
    appendAddress(why, unsupported).text(")");
    return false;
  }
  if (guest.cmdlineLength > CMDLINE_MAX_BYTES) {
    why.text("the command line is ").decimal(guest.cmdlineLength).text(" bytes (at most ")
      .decimal(CMDLINE_MAX_BYTES).text(")");
    return false;
  }
  usedRanges.clear();
  if ((flags & HEADER_AOUT_KLUDGE) != 0) {
    if (<u64>headerOffset + AOUT_HEADER_BYTES > <u64>windowLength) {
      why.text("the multiboot header's a.out fields lie beyond the first 8192 bytes of the image");
      return false;
    }
    if (!loadAout(platform, header, headerOffset, imageSize, guest.memoryBytes, image, why)) return false;
  } else {
    if (!loadElf32(platform, window, windowLength, imageSize, guest.memoryBytes, image, why)) return false;
  }

  // The initrd (the big one) first, page-aligned; then the information in
  // whatever gap is left (it is small).
  let initrdSize = platform.moduleSize(MODULE_INITRD);
  let hasInitrd = initrdSize != NO_MODULE;
  let initrdStart: u64 = 0;
  if (hasInitrd) {
    let aboveKernel = alignUp(image.end > RESERVED_END ? image.end : RESERVED_END, PAGE_BYTES);
    initrdStart = place(<u64>initrdSize, PAGE_BYTES, aboveKernel, guest.memoryBytes);
    if (initrdStart == NO_ROOM) {
      describeNoRoom(why, "the initrd", initrdSize, guest.memoryBytes);
      return false;
    }
    if (!copyModuleToRam(platform, MODULE_INITRD, "the initrd", 0, initrdStart, initrdSize, why)) return false;
  }
  let infoBytes = FIXED_INFO_BYTES + guest.cmdlineLength + 1;
  let infoAddress = place(<u64>infoBytes, INFO_ALIGNMENT, INFO_PREFERRED_ADDRESS, guest.memoryBytes);
  if (infoAddress == NO_ROOM) {
    describeNoRoom(why, "the multiboot information", infoBytes, guest.memoryBytes);
    return false;
  }
  guest.infoAddress = infoAddress;
  return writeBootInformation(platform, guest, infoAddress, hasInitrd, initrdStart, initrdSize, why);
}

// The lowest free `length` bytes, `alignment`-aligned, from `preferred` up,
// else from BOOT_DATA_FLOOR up; recorded as used. NO_ROOM when none.
function place(length: u64, alignment: u64, preferred: u64, memoryBytes: u64): u64 {
  let start = findFreeRange(length, alignment, preferred, memoryBytes);
  if (start == NO_ROOM) start = findFreeRange(length, alignment, BOOT_DATA_FLOOR, memoryBytes);
  if (start == NO_ROOM || !usedRanges.add(start, start + length)) return NO_ROOM;
  return start;
}

function describeNoRoom(why: TextWriter, what: string, bytes: u32, memoryBytes: u64): void {
  why.text("no room for ").text(what).text(" (").decimal(bytes).text(" bytes): guest RAM (");
  appendAddress(why, memoryBytes).text(" bytes) has no gap that size below ");
  appendAddress(why, BOOT_DATA_CEILING).text(" outside the kernel, the first page and [");
  appendAddress(why, RESERVED_BASE).text(", ");
  appendAddress(why, RESERVED_END).text(")");
}

// The a.out kludge (3.1.3): the header says where the image goes.
function loadAout(platform: Platform, header: usize, headerOffset: u32, imageSize: u32, memoryBytes: u64,
                  image: LoadedImage, why: TextWriter): bool {
  let headerAddr = <u64>load<u32>(header, H_HEADER_ADDR);
  let loadAddr = <u64>load<u32>(header, H_LOAD_ADDR);
  let loadEndAddr = <u64>load<u32>(header, H_LOAD_END_ADDR);
  let bssEndAddr = <u64>load<u32>(header, H_BSS_END_ADDR);
  let entry = <u64>load<u32>(header, H_ENTRY_ADDR);
  // "load_addr must be less than or equal to header_addr"; loading starts
  // at the header's offset minus (header_addr - load_addr).
  if (loadAddr > headerAddr) {
    why.text("a.out kludge: load_addr ");
    appendAddress(why, loadAddr).text(" is above header_addr ");
    appendAddress(why, headerAddr);
    return false;
  }
  if (headerAddr - loadAddr > <u64>headerOffset) {
    why.text("a.out kludge: header_addr - load_addr (");
    appendAddress(why, headerAddr - loadAddr).text(") reaches before the start of the file");
    return false;
  }
  let fileOffset = <u64>headerOffset - (headerAddr - loadAddr);
  // load_end_addr 0: text and data take the rest of the file.
  let loadEnd = loadEndAddr == 0 ? loadAddr + (<u64>imageSize - fileOffset) : loadEndAddr;
  if (loadEnd < loadAddr) {
    why.text("a.out kludge: load_end_addr ");
    appendAddress(why, loadEnd).text(" is below load_addr ");
    appendAddress(why, loadAddr);
    return false;
  }
  let loadBytes = loadEnd - loadAddr;
  if (fileOffset + loadBytes > <u64>imageSize) {
    why.text("a.out kludge: ").decimal(loadBytes).text(" bytes to load from offset ");
    appendAddress(why, fileOffset).text(" run past the end of the file (").decimal(imageSize).text(" bytes)");
    return false;
  }
  // bss_end_addr 0: no bss.
  let end = bssEndAddr == 0 ? loadEnd : bssEndAddr;
  if (end < loadEnd) {
    why.text("a.out kludge: bss_end_addr ");
    appendAddress(why, end).text(" is below load_end_addr ");
    appendAddress(why, loadEnd);
    return false;
  }
  if (!checkPlacement("the a.out image", loadAddr, end - loadAddr, memoryBytes, why)) return false;
  if (entry < loadAddr || entry >= end) {
    why.text("a.out kludge: entry_addr ");
    appendAddress(why, entry).text(" is outside the loaded image");
    return false;
  }
  if (!copyModuleToRam(platform, MODULE_KERNEL, "the a.out image", fileOffset, loadAddr, loadBytes, why)) return false;
  if (!zeroRam(platform, "the a.out bss", loadEnd, end - loadEnd, why)) return false;
  usedRanges.add(loadAddr, end); // the first range of the load: always room
  image.entry = entry;
  image.end = end;
  return true;
}

// The boot information (3.3) at `at`: the structure, a memory map of what a
// PC has (conventional memory to 0x9FC00, the reserved area to 1 MiB, which
// holds the ACPI tables, RAM above), the loader's name, the initrd as
// module 0 named "initrd", and the command line.
function writeBootInformation(platform: Platform, guest: MultibootGuest, at: u64, hasInitrd: bool,
                              initrdStart: u64, initrdSize: u32, why: TextWriter): bool {
  memory.fill(INFO, 0, <usize>FIXED_INFO_BYTES);
  let flags = INFO_MEMORY | INFO_CMDLINE | INFO_MEMORY_MAP | INFO_LOADER_NAME;
  let upperKiB = guest.memoryBytes > RESERVED_END ? (guest.memoryBytes - RESERVED_END) >> 10 : 0;
  store<u32>(INFO, <u32>(RESERVED_BASE >> 10), I_MEM_LOWER); // 639
  store<u32>(INFO, upperKiB > 0xffffffff ? 0xffffffff : <u32>upperKiB, I_MEM_UPPER);
  store<u32>(INFO, <u32>(at + CMDLINE_OFFSET), I_CMDLINE);
  store<u32>(INFO, <u32>(at + MMAP_OFFSET), I_MMAP_ADDR);
  store<u32>(INFO, <u32>(at + LOADER_NAME_OFFSET), I_BOOT_LOADER_NAME);

  let mmap = INFO + <usize>MMAP_OFFSET;
  setMapEntry(mmap, 0, 0, RESERVED_BASE, MMAP_AVAILABLE);
  setMapEntry(mmap, 1, RESERVED_BASE, RESERVED_END - RESERVED_BASE, MMAP_RESERVED);
  let entries: u32 = 2;
  if (guest.memoryBytes > RESERVED_END) {
    setMapEntry(mmap, 2, RESERVED_END, guest.memoryBytes - RESERVED_END, MMAP_AVAILABLE);
    entries = 3;
  }
  store<u32>(INFO, entries * MMAP_ENTRY_BYTES, I_MMAP_LENGTH);

  if (hasInitrd) {
    flags |= INFO_MODULES;
    store<u32>(INFO, 1, I_MODS_COUNT);
    store<u32>(INFO, <u32>(at + MODULES_OFFSET), I_MODS_ADDR);
    let module = INFO + <usize>MODULES_OFFSET;
    store<u32>(module, <u32>initrdStart, 0);                      // mod_start
    store<u32>(module, <u32>(initrdStart + <u64>initrdSize), 4);  // mod_end
    store<u32>(module, <u32>(at + MODULE_STRING_OFFSET), 8);      // string
    writeString(INFO + <usize>MODULE_STRING_OFFSET, "initrd");
  }
  writeString(INFO + <usize>LOADER_NAME_OFFSET, "tshv");
  store<u32>(INFO, flags, I_FLAGS);

  let cmdline = at + CMDLINE_OFFSET;
  if (platform.guestWrite(at, INFO, FIXED_INFO_BYTES) != FIXED_INFO_BYTES ||
      (guest.cmdlineLength != 0 &&
       platform.guestWrite(cmdline, guest.cmdline, guest.cmdlineLength) != guest.cmdlineLength) ||
      platform.guestWrite(cmdline + <u64>guest.cmdlineLength, NUL, 1) != 1) {
    why.text("cannot write the multiboot information at guest-physical ");
    appendAddress(why, at);
    return false;
  }
  return true;
}

function setMapEntry(mmap: usize, index: u32, base: u64, length: u64, type: u32): void {
  let entry = mmap + <usize>(index * MMAP_ENTRY_BYTES);
  store<u32>(entry, MMAP_ENTRY_BYTES - 4, 0); // size, not counting itself
  store<u64>(entry, base, 4);
  store<u64>(entry, length, 12);
  store<u32>(entry, type, 20);
}

// An ASCII literal and its NUL.
function writeString(at: usize, text: string): void {
  let n = text.length;
  for (let i = 0; i < n; i++) store<u8>(at + <usize>i, <u8>text.charCodeAt(i));
  store<u8>(at + <usize>n, 0);
}
