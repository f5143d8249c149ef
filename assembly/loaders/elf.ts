// ELF32 executables for a multiboot kernel without the a.out kludge
// (Multiboot spec 0.6.96, 3.1.3: the loader then takes the ELF program
// headers). Layouts: System V ABI, "Object Files" (ELF header, Figure 4-3)
// and "Program Loading" (program header, Figure 5-1).
//
// The image is untrusted: every field is checked before it is used, in u64
// arithmetic, and the whole program header table is validated before the
// first byte is copied.

import { TextWriter } from "../lib/text";
import { appendAddress } from "../lib/address";
import { Platform, MODULE_KERNEL } from "../guest/platform";
import { checkPlacement, copyModuleToRam, zeroRam, usedRanges } from "./guest_ram";

export const ELF_HEADER32_BYTES: u32 = 52;
export const ELF_PHDR32_BYTES: u32 = 32;
export const ELFCLASS32: u8 = 1;
export const ELFCLASS64: u8 = 2;
export const ELFDATA2LSB: u8 = 1;
export const ET_EXEC: u16 = 2;
export const EM_386: u16 = 3;
export const PT_LOAD: u32 = 1;
// More program headers than any kernel has; bounds the work a hostile
// header can ask for.
export const ELF_MAX_PHDRS: u32 = 64;

// ELF32 header fields (byte offsets).
const E_TYPE = 16;
const E_MACHINE = 18;
const E_ENTRY = 24;
const E_PHOFF = 28;
const E_PHENTSIZE = 42;
const E_PHNUM = 44;
// Program header fields.
const P_TYPE = 0;
const P_OFFSET = 4;
const P_VADDR = 8;
const P_PADDR = 12;
const P_FILESZ = 16;
const P_MEMSZ = 20;

// True when the `length` bytes at `bytes` start with the ELF magic.
export function isElf(bytes: usize, length: u32): bool {
  return length >= 16 && load<u32>(bytes) == 0x464c457f; // "\x7fELF"
}

// ELFCLASS32 or ELFCLASS64 (or whatever else the image claims).
export function elfClass(bytes: usize): u8 {
  return load<u8>(bytes, 4);
}

// Where a loaded kernel lies and where it starts.
@unmanaged
export class LoadedImage {
  entry: u64;
  end: u64;   // first byte above everything loaded (bss included)
}

const PHDR: usize = memory.data(ELF_PHDR32_BYTES, 16);
// The segments pass 1 accepted, as four u64 each: file offset, physical
// address, file size, memory size. Pass 2 copies exactly these, so what was
// checked is what is loaded.
const SEGMENT_BYTES: u32 = 32;
const SEGMENTS: usize = memory.data(ELF_MAX_PHDRS * SEGMENT_BYTES, 16);

// Loads the ELF32 executable whose first `headerLength` bytes are at
// `header` (the whole image is `imageSize` bytes of the kernel module) at
// its segments' physical addresses, recording each segment (bss included)
// in usedRanges. False, with the reason in `why`, on an image this loader
// cannot honour.
export function loadElf32(platform: Platform, header: usize, headerLength: u32, imageSize: u32,
                          memoryBytes: u64, image: LoadedImage, why: TextWriter): bool {
  if (!isElf(header, headerLength) || headerLength < ELF_HEADER32_BYTES) {
    why.text("a multiboot header without the a.out kludge (flags bit 16) needs an ELF image, and this is not ELF");
    return false;
  }
  let elfclass = elfClass(header);
  if (elfclass == ELFCLASS64) {
    why.text("a 64-bit ELF: without the a.out kludge (flags bit 16) a multiboot kernel must be ELF32");
    return false;
  }
  if (elfclass != ELFCLASS32) {
    why.text("ELF of unknown class ").decimal(elfclass);
    return false;
  }
  if (load<u8>(header, 5) != ELFDATA2LSB) {
    why.text("ELF is not little-endian");
    return false;
  }
  let type = load<u16>(header, E_TYPE);
  if (type != ET_EXEC) {
    why.text("ELF is not an executable (e_type ").decimal(type).text(")");
    return false;
  }
  let machine = load<u16>(header, E_MACHINE);
  if (machine != EM_386) {
    why.text("ELF is not for x86 (e_machine ").decimal(machine).text(")");
    return false;
  }
  let phoff = <u64>load<u32>(header, E_PHOFF);
  let phentsize = <u64>load<u16>(header, E_PHENTSIZE);
  let phnum = <u32>load<u16>(header, E_PHNUM);
  let entry = <u64>load<u32>(header, E_ENTRY);
  if (phentsize < ELF_PHDR32_BYTES) {
    why.text("ELF program headers of ").decimal(phentsize).text(" bytes (at least 32)");
    return false;
  }
  if (phnum == 0) {
    why.text("ELF has no program headers");
    return false;
  }
  if (phnum > ELF_MAX_PHDRS) {
    why.text("ELF has ").decimal(phnum).text(" program headers (at most ").decimal(ELF_MAX_PHDRS).text(")");
    return false;
  }
  if (phoff + phentsize * phnum > <u64>imageSize) {
    why.text("ELF program headers at offset ");
    appendAddress(why, phoff).text(" lie beyond the end of the file (").decimal(imageSize).text(" bytes)");
    return false;
  }

  // Pass 1: every loadable segment must be sane and fit, and the entry
  // point must be inside one of them.
  let loadable: u32 = 0;
  let end: u64 = 0;
  let entryFound = false;
  let physicalEntry: u64 = 0;
  for (let i: u32 = 0; i < phnum; i++) {
    if (!readPhdr(platform, phoff + phentsize * i, i, why)) return false;
    if (load<u32>(PHDR, P_TYPE) != PT_LOAD) continue;
    let offset = <u64>load<u32>(PHDR, P_OFFSET);
    let vaddr = <u64>load<u32>(PHDR, P_VADDR);
    let paddr = <u64>load<u32>(PHDR, P_PADDR);
    let filesz = <u64>load<u32>(PHDR, P_FILESZ);
    let memsz = <u64>load<u32>(PHDR, P_MEMSZ);
    if (memsz == 0) continue;
    if (filesz > memsz) {
      why.text("ELF segment ").decimal(i).text(": p_filesz ");
      appendAddress(why, filesz).text(" exceeds p_memsz ");
      appendAddress(why, memsz);
      return false;
    }
    if (offset + filesz > <u64>imageSize) {
      why.text("ELF segment ").decimal(i).text(": file bytes [");
      appendAddress(why, offset).text(", ");
      appendAddress(why, offset + filesz).text(") lie beyond the end of the file (").decimal(imageSize).text(" bytes)");
      return false;
    }
    if (!checkPlacement("ELF segment", paddr, memsz, memoryBytes, why)) return false;
    // The entry is a virtual address (Multiboot 3.1.3 / GRUB): translate it
    // through the segment that holds it.
    if (!entryFound && entry >= vaddr && entry - vaddr < memsz) {
      entryFound = true;
      physicalEntry = entry - vaddr + paddr;
    }
    if (paddr + memsz > end) end = paddr + memsz;
    let segment = SEGMENTS + <usize>(loadable * SEGMENT_BYTES);
    store<u64>(segment, offset, 0);
    store<u64>(segment, paddr, 8);
    store<u64>(segment, filesz, 16);
    store<u64>(segment, memsz, 24);
    loadable++;
  }
  if (loadable == 0) {
    why.text("ELF has no loadable segment");
    return false;
  }
  if (!entryFound) {
    why.text("ELF entry point ");
    appendAddress(why, entry).text(" is in no loadable segment");
    return false;
  }

  // Pass 2: copy the file bytes, zero the rest (the bss).
  for (let i: u32 = 0; i < loadable; i++) {
    let segment = SEGMENTS + <usize>(i * SEGMENT_BYTES);
    let offset = load<u64>(segment, 0);
    let paddr = load<u64>(segment, 8);
    let filesz = load<u64>(segment, 16);
    let memsz = load<u64>(segment, 24);
    if (!copyModuleToRam(platform, MODULE_KERNEL, "ELF segment", offset, paddr, filesz, why)) return false;
    if (!zeroRam(platform, "ELF segment bss", paddr + filesz, memsz - filesz, why)) return false;
    if (!usedRanges.add(paddr, paddr + memsz)) {
      why.text("too many ELF segments to track");
      return false;
    }
  }
  image.entry = physicalEntry;
  image.end = end;
  return true;
}

function readPhdr(platform: Platform, offset: u64, index: u32, why: TextWriter): bool {
  // offset < imageSize <= 4 GiB, checked by the caller.
  if (platform.moduleRead(MODULE_KERNEL, <u32>offset, PHDR, ELF_PHDR32_BYTES) != ELF_PHDR32_BYTES) {
    why.text("cannot read ELF program header ").decimal(index);
    return false;
  }
  return true;
}
