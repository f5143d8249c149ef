// Multiboot (v1) kernels, Multiboot Specification 0.6.96:
//   3.1   the header a kernel carries in its first 8 KiB,
//   3.1.3 the a.out kludge (addresses in the header) or else ELF,
//   3.2   the machine state at entry (boot_state.ts),
//   3.3   the boot information we give it: memory, command line, memory
//         map, boot loader name and its initrd as module 0.

import { TextWriter } from "../lib/text";
import { appendAddress } from "../lib/address";
import { Platform, MODULE_KERNEL, MODULE_INITRD, NO_MODULE } from "../guest/platform";
import { loadElf32, LoadedImage } from "./elf";
import {
  checkPlacement, copyModuleToRam, zeroRam, alignUp,
  INFO_BASE, INFO_END, RESERVED_BASE, RESERVED_END, PAGE_BYTES,
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

// Where each part of the boot information goes, inside [INFO_BASE, INFO_END).
export const INFO_ADDRESS: u64 = INFO_BASE;            // the structure
export const MMAP_ADDRESS: u64 = INFO_BASE + 0x80;     // 3 entries of 24 bytes
export const MODULES_ADDRESS: u64 = INFO_BASE + 0xd0;  // 1 entry of 16 bytes
export const LOADER_NAME_ADDRESS: u64 = INFO_BASE + 0xe0;
export const MODULE_STRING_ADDRESS: u64 = INFO_BASE + 0xf0;
export const CMDLINE_ADDRESS: u64 = INFO_BASE + 0x100; // up to INFO_END
const FIXED_INFO_BYTES: u32 = 0x100;
export const CMDLINE_MAX_BYTES: u32 = <u32>(INFO_END - CMDLINE_ADDRESS) - 1; // and a NUL

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

// What loadMultiboot needs to know about the guest.
@unmanaged
export class MultibootGuest {
  memoryBytes: u64;
  cmdline: usize;       // in this instance's memory
  cmdlineLength: u32;
}

// Loads a multiboot kernel whose header is at `headerOffset` among the
// `windowLength` first bytes of the image (at `window`), its initrd if the
// guest has one, and the boot information. Fills `image` (entry, end).
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
  if ((flags & HEADER_AOUT_KLUDGE) != 0) {
    if (<u64>headerOffset + AOUT_HEADER_BYTES > <u64>windowLength) {
      why.text("the multiboot header's a.out fields lie beyond the first 8192 bytes of the image");
      return false;
    }
    if (!loadAout(platform, header, headerOffset, imageSize, guest.memoryBytes, image, why)) return false;
  } else {
    if (!loadElf32(platform, window, windowLength, imageSize, guest.memoryBytes, image, why)) return false;
  }

  // The initrd: page-aligned above the kernel, and above the reserved area
  // if the kernel sits below it.
  let initrdSize = platform.moduleSize(MODULE_INITRD);
  let hasInitrd = initrdSize != NO_MODULE;
  let initrdStart: u64 = 0;
  if (hasInitrd) {
    let above = image.end > RESERVED_END ? image.end : RESERVED_END;
    initrdStart = alignUp(above, PAGE_BYTES);
    // mod_start and mod_end are 32-bit: the initrd must end below 4 GiB.
    if (initrdStart + <u64>initrdSize > 0x100000000) {
      why.text("the initrd (").decimal(initrdSize).text(" bytes at ");
      appendAddress(why, initrdStart).text(") would end above 4 GiB");
      return false;
    }
    if (!checkPlacement("the initrd", initrdStart, initrdSize, guest.memoryBytes, why)) return false;
    if (!copyModuleToRam(platform, MODULE_INITRD, "the initrd", 0, initrdStart, initrdSize, why)) return false;
  }
  return writeBootInformation(platform, guest, hasInitrd, initrdStart, initrdSize, why);
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
  image.entry = entry;
  image.end = end;
  return true;
}

// The boot information (3.3): the structure, a memory map of what a PC has
// (RAM below 640 KiB, the reserved area to 1 MiB, RAM above), the loader's
// name, the initrd as module 0 named "initrd", and the command line.
function writeBootInformation(platform: Platform, guest: MultibootGuest, hasInitrd: bool, initrdStart: u64,
                              initrdSize: u32, why: TextWriter): bool {
  memory.fill(INFO, 0, <usize>FIXED_INFO_BYTES);
  let flags = INFO_MEMORY | INFO_CMDLINE | INFO_MEMORY_MAP | INFO_LOADER_NAME;
  let upperKiB = (guest.memoryBytes - RESERVED_END) >> 10;
  store<u32>(INFO, <u32>(RESERVED_BASE >> 10), I_MEM_LOWER); // 640
  store<u32>(INFO, upperKiB > 0xffffffff ? 0xffffffff : <u32>upperKiB, I_MEM_UPPER);
  store<u32>(INFO, <u32>CMDLINE_ADDRESS, I_CMDLINE);
  store<u32>(INFO, 3 * MMAP_ENTRY_BYTES, I_MMAP_LENGTH);
  store<u32>(INFO, <u32>MMAP_ADDRESS, I_MMAP_ADDR);
  store<u32>(INFO, <u32>LOADER_NAME_ADDRESS, I_BOOT_LOADER_NAME);

  let mmap = INFO + <usize>(MMAP_ADDRESS - INFO_BASE);
  setMapEntry(mmap, 0, 0, RESERVED_BASE, MMAP_AVAILABLE);
  setMapEntry(mmap, 1, RESERVED_BASE, RESERVED_END - RESERVED_BASE, MMAP_RESERVED);
  setMapEntry(mmap, 2, RESERVED_END, guest.memoryBytes - RESERVED_END, MMAP_AVAILABLE);

  if (hasInitrd) {
    flags |= INFO_MODULES;
    store<u32>(INFO, 1, I_MODS_COUNT);
    store<u32>(INFO, <u32>MODULES_ADDRESS, I_MODS_ADDR);
    let module = INFO + <usize>(MODULES_ADDRESS - INFO_BASE);
    store<u32>(module, <u32>initrdStart, 0);                      // mod_start
    store<u32>(module, <u32>(initrdStart + <u64>initrdSize), 4);  // mod_end
    store<u32>(module, <u32>MODULE_STRING_ADDRESS, 8);            // string
    writeString(INFO + <usize>(MODULE_STRING_ADDRESS - INFO_BASE), "initrd");
  }
  writeString(INFO + <usize>(LOADER_NAME_ADDRESS - INFO_BASE), "tshv");
  store<u32>(INFO, flags, I_FLAGS);

  if (platform.guestWrite(INFO_BASE, INFO, FIXED_INFO_BYTES) != FIXED_INFO_BYTES ||
      (guest.cmdlineLength != 0 &&
       platform.guestWrite(CMDLINE_ADDRESS, guest.cmdline, guest.cmdlineLength) != guest.cmdlineLength) ||
      platform.guestWrite(CMDLINE_ADDRESS + <u64>guest.cmdlineLength, NUL, 1) != 1) {
    why.text("cannot write the multiboot information at guest-physical ");
    appendAddress(why, INFO_BASE);
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
