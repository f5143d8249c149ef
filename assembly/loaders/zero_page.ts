// The Linux zero page: struct boot_params (arch/x86/include/uapi/asm/
// bootparam.h), 4 KiB, with the kernel's setup header (struct setup_header)
// copied into it at 0x1F1. Offsets here are the header's offsets in the
// bzImage file, which are also its offsets in boot_params (boot.rst, "The
// Real-Mode Kernel Header"). The loader (bzimage.ts) assembles the page in
// ZERO_PAGE and copies it to the guest in one write.

import { RESERVED_BASE, RESERVED_END } from "./guest_ram";

export const ZERO_PAGE_BYTES: u32 = 4096;

// --- struct setup_header (boot.rst) -------------------------------------------------
export const HDR_START: u32 = 0x1f1;
export const HDR_SETUP_SECTS: u32 = 0x1f1;        // u8; 0 means 4
export const HDR_SYSSIZE: u32 = 0x1f4;            // u32, in 16-byte paragraphs
export const HDR_BOOT_FLAG: u32 = 0x1fe;          // u16 0xAA55
export const HDR_JUMP: u32 = 0x200;               // u16: EB xx, xx = header end - 0x202
export const HDR_MAGIC: u32 = 0x202;              // u32 "HdrS"
export const HDR_VERSION: u32 = 0x206;            // u16 protocol version, e.g. 0x020F
export const HDR_TYPE_OF_LOADER: u32 = 0x210;     // u8
export const HDR_LOADFLAGS: u32 = 0x211;          // u8
export const HDR_CODE32_START: u32 = 0x214;       // u32
export const HDR_RAMDISK_IMAGE: u32 = 0x218;      // u32
export const HDR_RAMDISK_SIZE: u32 = 0x21c;       // u32
export const HDR_HEAP_END_PTR: u32 = 0x224;       // u16
export const HDR_EXT_LOADER_VER: u32 = 0x226;     // u8
export const HDR_CMD_LINE_PTR: u32 = 0x228;       // u32
export const HDR_INITRD_ADDR_MAX: u32 = 0x22c;    // u32: highest byte the initrd may occupy
export const HDR_KERNEL_ALIGNMENT: u32 = 0x230;   // u32
export const HDR_RELOCATABLE_KERNEL: u32 = 0x234; // u8
export const HDR_XLOADFLAGS: u32 = 0x236;         // u16
export const HDR_CMDLINE_SIZE: u32 = 0x238;       // u32: longest command line, without its NUL
export const HDR_PREF_ADDRESS: u32 = 0x258;       // u64
export const HDR_INIT_SIZE: u32 = 0x260;          // u32: bytes the kernel needs from its load address
// The setup header ends before boot_params' _pad7, at 0x290.
export const HDR_LIMIT: u32 = 0x290;
// Protocol 2.12 has every field up to and including init_size.
export const HDR_MINIMUM_END: u32 = HDR_INIT_SIZE + 4;

export const BOOT_FLAG: u16 = 0xaa55;
export const HDRS_MAGIC: u32 = 0x53726448;        // "HdrS"
export const MINIMUM_PROTOCOL: u16 = 0x020c;      // 2.12: xloadflags, the 64-bit entry

// loadflags (boot.rst)
export const LOADED_HIGH: u8 = 0x01;
export const CAN_USE_HEAP: u8 = 0x80;
// xloadflags (boot.rst)
export const XLF_KERNEL_64: u16 = 0x0001;         // has the 64-bit entry at +0x200
export const TYPE_OF_LOADER_UNDEFINED: u8 = 0xff; // a loader without an assigned ID

// --- struct boot_params ---------------------------------------------------------------
export const BP_ORIG_VIDEO_IS_VGA: u32 = 0x00f;   // screen_info.orig_video_isVGA, u8
export const BP_ACPI_RSDP_ADDR: u32 = 0x070;      // u64 (protocol 2.14; older kernels scan for it)
export const BP_EXT_RAMDISK_IMAGE: u32 = 0x0c0;   // u32: bits 63:32 of ramdisk_image
export const BP_EXT_RAMDISK_SIZE: u32 = 0x0c4;    // u32
export const BP_EXT_CMD_LINE_PTR: u32 = 0x0c8;    // u32
export const BP_E820_ENTRIES: u32 = 0x1e8;        // u8
export const BP_SENTINEL: u32 = 0x1ef;            // u8: must be 0 (the kernel zeroes fields if not)
export const BP_E820_TABLE: u32 = 0x2d0;          // struct boot_e820_entry[128]

// struct boot_e820_entry: u64 addr, u64 size, u32 type, packed.
export const E820_ENTRY_BYTES: u32 = 20;
export const E820_MAX_ENTRIES_ZEROPAGE: u32 = 128;
export const E820_RAM: u32 = 1;
export const E820_RESERVED: u32 = 2;

// The e820 map of a PC with `memoryBytes` of RAM, written into the zero page
// at `page`: conventional memory to 0x9FC00; reserved from there to 1 MiB
// (EBDA, VGA hole, ROMs; the ACPI tables at 0xE0000); RAM from 1 MiB to the
// end. The same map the multiboot loader gives. Returns the entry count.
export function writeE820(page: usize, memoryBytes: u64): u32 {
  setE820Entry(page, 0, 0, RESERVED_BASE, E820_RAM);
  setE820Entry(page, 1, RESERVED_BASE, RESERVED_END - RESERVED_BASE, E820_RESERVED);
  let entries: u32 = 2;
  if (memoryBytes > RESERVED_END) {
    setE820Entry(page, 2, RESERVED_END, memoryBytes - RESERVED_END, E820_RAM);
    entries = 3;
  }
  store<u8>(page + <usize>BP_E820_ENTRIES, <u8>entries);
  return entries;
}

function setE820Entry(page: usize, index: u32, base: u64, length: u64, type: u32): void {
  let entry = page + <usize>(BP_E820_TABLE + index * E820_ENTRY_BYTES);
  store<u64>(entry, base, 0);
  store<u64>(entry, length, 8);
  store<u32>(entry, type, 16);
}
