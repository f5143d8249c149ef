// Linux bzImages, by the x86 boot protocol (Documentation/arch/x86/boot.rst)
// and its 64-bit entry ("64-bit Boot Protocol"):
//   - the setup header (zero_page.ts) is checked: boot flag, "HdrS",
//     protocol 2.12 or later, a 64-bit entry point (XLF_KERNEL_64);
//   - the protected-mode kernel, the image after its (setup_sects + 1)
//     sectors, goes to pref_address aligned to kernel_alignment when it is
//     relocatable (else to the lowest aligned address from 1 MiB when that
//     does not fit), or to 1 MiB when it is not; guest RAM must hold its
//     init_size bytes from there;
//   - the initrd goes page-aligned as high as it fits below initrd_addr_max
//     and the end of RAM, above the kernel's init_size;
//   - the zero page, the command line, a GDT and identity-mapped page
//     tables go below the reserved area, at the fixed places below (a
//     kernel never loads under 1 MiB, so nothing else is there);
//   - the vCPU starts in 64-bit mode at the load address + 0x200 with RSI =
//     the zero page, interrupts off.
// Every field comes from an image a guest's owner supplied: all arithmetic
// is in u64, every refusal says what is wrong in `why`, nothing traps.

import { TextWriter } from "../lib/text";
import { appendAddress } from "../lib/address";
import { Platform, MODULE_KERNEL, MODULE_INITRD, NO_MODULE } from "../guest/platform";
import { VcpuState, VCPU_STATE_BYTES } from "../vcpu/exit_record";
import { RSDP_ADDRESS } from "../devices/pc_layout";
import { copyModuleToRam, alignUp, PAGE_BYTES, RESERVED_END, BOOT_DATA_CEILING } from "./guest_ram";
import { BOOT_RFLAGS, BOOT_XCR0, setFlatSegments } from "./boot_state";
import {
  ZERO_PAGE_BYTES, HDR_START, HDR_SETUP_SECTS, HDR_SYSSIZE, HDR_BOOT_FLAG, HDR_JUMP, HDR_MAGIC, HDR_VERSION,
  HDR_TYPE_OF_LOADER, HDR_LOADFLAGS, HDR_CODE32_START, HDR_RAMDISK_IMAGE, HDR_RAMDISK_SIZE, HDR_HEAP_END_PTR,
  HDR_EXT_LOADER_VER, HDR_CMD_LINE_PTR, HDR_INITRD_ADDR_MAX, HDR_KERNEL_ALIGNMENT, HDR_RELOCATABLE_KERNEL,
  HDR_XLOADFLAGS, HDR_CMDLINE_SIZE, HDR_PREF_ADDRESS, HDR_INIT_SIZE, HDR_LIMIT, HDR_MINIMUM_END,
  BOOT_FLAG, HDRS_MAGIC, MINIMUM_PROTOCOL, CAN_USE_HEAP, XLF_KERNEL_64, TYPE_OF_LOADER_UNDEFINED,
  BP_ORIG_VIDEO_IS_VGA, BP_ACPI_RSDP_ADDR, BP_EXT_RAMDISK_IMAGE, BP_EXT_RAMDISK_SIZE, BP_EXT_CMD_LINE_PTR,
  writeE820,
} from "./zero_page";

// --- where the boot data goes (all below CONVENTIONAL_MEMORY_END) ----------------------
export const BOOT_STACK_TOP: u64 = 0x6000;      // RSP: a page the loader leaves free below the GDT
export const GDT_ADDRESS: u64 = 0x6000;
export const ZERO_PAGE_ADDRESS: u64 = 0x7000;
export const PML4_ADDRESS: u64 = 0x9000;
export const PDPT_ADDRESS: u64 = 0xa000;
export const PD_ADDRESS: u64 = 0xb000;          // 4 page directories, 0xB000-0xEFFF
export const CMDLINE_ADDRESS: u64 = 0x20000;
// The command line may run to 0x90000: far more than any cmdline_size.
export const CMDLINE_AREA_BYTES: u32 = 0x70000;
// Where a kernel that is not relocatable is loaded (boot.rst: "at 0x100000").
export const DEFAULT_LOAD_ADDRESS: u64 = 0x100000;
// The 64-bit entry point's offset from the load address.
export const ENTRY_64_OFFSET: u64 = 0x200;
// heap_end_ptr: the real-mode heap's end from the start of setup, minus
// 0x200. The 64-bit entry runs no setup code; the value is the one QEMU
// gives (setup at 0x10000, command line at 0x20000).
export const HEAP_END_PTR: u16 = 0xfe00;

// The identity map: the first 4 GiB in 2 MiB pages. Everything the loader
// places lies in it (below BOOT_DATA_CEILING); RAM above is the kernel's to
// map, from the e820 table.
const PAGE_DIRECTORIES: u32 = 4;
const LARGE_PAGE_BYTES: u64 = 2 << 20;
const PAGE_PRESENT: u64 = 1 << 0;      // Intel SDM vol. 3A, 4.5, tables 4-15 to 4-18
const PAGE_WRITABLE: u64 = 1 << 1;
const PAGE_SIZE_2M: u64 = 1 << 7;      // PS in a page-directory entry: maps a 2 MiB page

// The GDT (boot.rst: "__BOOT_CS(0x10) and __BOOT_DS(0x18)"): null, unused,
// 64-bit code, data. Descriptors: Intel SDM vol. 3A, 3.4.5.
export const BOOT64_CODE_SELECTOR: u16 = 0x10;
export const BOOT64_DATA_SELECTOR: u16 = 0x18;
const GDT_CODE64_DESCRIPTOR: u64 = 0x00af9b000000ffff; // G, L, P, S, type 0xB, limit 0xFFFFF
const GDT_DATA_DESCRIPTOR: u64 = 0x00cf93000000ffff;   // G, D/B, P, S, type 0x3, limit 0xFFFFF
export const GDT_BYTES: u32 = 32;
// The same descriptors in the AMD VMCB layout (APM vol. 2, 15.5.1): bits
// 0-3 type, 4 S, 5-6 DPL, 7 P, 8 AVL, 9 L, 10 D/B, 11 G. G is set because
// VT-x requires it of a limit of 0xFFFFFFFF (SDM vol. 3C, 26.3.1.2).
export const BOOT64_CODE_ATTRIBUTES: u16 = 0xa9b;
export const BOOT64_DATA_ATTRIBUTES: u16 = 0xc93;

// Long mode with paging (Intel SDM vol. 3A, 2.5 and 9.8.5).
export const BOOT64_CR0: u64 = 0x80000031;  // PG | NE | ET | PE
export const BOOT64_CR4: u64 = 0x20;        // PAE
export const BOOT64_EFER: u64 = 0x500;      // LMA | LME

// What loadBzImage needs to know about the guest, and what it chose.
@unmanaged
export class BzImageGuest {
  memoryBytes: u64;
  cmdline: usize;       // in this instance's memory
  cmdlineLength: u32;
  loadAddress: u64;     // the protected-mode kernel's
  initSize: u64;
  initrdAddress: u64;   // 0 without an initrd
  initrdSize: u64;
}

// Assembled here, then copied to the guest.
const ZERO_PAGE: usize = memory.data(ZERO_PAGE_BYTES, 16);
const TABLE: usize = memory.data(<i32>PAGE_BYTES, 16);
const NUL: usize = memory.data(1);

// True when the `length` first bytes of an image at `window` carry the
// setup header's "HdrS" magic at 0x202.
export function isBzImage(window: usize, length: u32): bool {
  return length >= HDR_MAGIC + 4 && load<u32>(window + <usize>HDR_MAGIC) == HDRS_MAGIC;
}

// Loads the bzImage of `imageSize` bytes whose first `windowLength` bytes
// (at least the setup header, up to 8 KiB) are at `window`, its initrd, the
// zero page, command line, GDT and page tables; fills `state` for the
// 64-bit entry and guest.{loadAddress, initSize, initrdAddress, initrdSize}.
export function loadBzImage(platform: Platform, window: usize, windowLength: u32, imageSize: u32,
                            guest: BzImageGuest, state: VcpuState, why: TextWriter): bool {
  if (windowLength < HDR_VERSION + 2) {
    why.text("truncated bzImage: ").decimal(imageSize).text(" bytes end inside the setup header");
    return false;
  }
  let bootFlag = load<u16>(window + <usize>HDR_BOOT_FLAG);
  if (bootFlag != BOOT_FLAG) {
    why.text("bzImage boot_flag is ");
    appendAddress(why, bootFlag).text(", not 0xaa55");
    return false;
  }
  let version = load<u16>(window + <usize>HDR_VERSION);
  if (version < MINIMUM_PROTOCOL) {
    why.text("bzImage boot protocol ").decimal(version >> 8).text(".").decimal(version & 0xff)
      .text(" is older than 2.12");
    return false;
  }
  // The header runs to 0x202 + the jump's offset byte (boot.rst, "Details
  // of Header Fields", jump); what lies past 0x290 is not header.
  let headerEnd = HDR_MAGIC + <u32>load<u8>(window + <usize>HDR_JUMP + 1);
  if (headerEnd > HDR_LIMIT) headerEnd = HDR_LIMIT;
  if (headerEnd < HDR_MINIMUM_END) {
    why.text("the bzImage setup header ends at ");
    appendAddress(why, headerEnd).text(", before init_size (protocol 2.12 runs to ");
    appendAddress(why, HDR_MINIMUM_END).text(")");
    return false;
  }
  if (windowLength < headerEnd) {
    why.text("truncated bzImage: ").decimal(imageSize).text(" bytes end inside the setup header (to ");
    appendAddress(why, headerEnd).text(")");
    return false;
  }
  if ((load<u16>(window + <usize>HDR_XLOADFLAGS) & XLF_KERNEL_64) == 0) {
    why.text("bzImage without a 64-bit entry point (xloadflags bit 0 clear)");
    return false;
  }

  // The protected-mode kernel: the image after the boot sector and setup.
  let setupSectors = <u64>load<u8>(window + <usize>HDR_SETUP_SECTS);
  if (setupSectors == 0) setupSectors = 4;
  let kernelOffset = (setupSectors + 1) << 9;
  if (<u64>imageSize <= kernelOffset) {
    why.text("truncated bzImage: ").decimal(imageSize).text(" bytes, no protected-mode kernel after the ")
      .decimal(kernelOffset).text(" bytes of boot sector and setup");
    return false;
  }
  let kernelBytes = <u64>imageSize - kernelOffset;
  let sysBytes = <u64>load<u32>(window + <usize>HDR_SYSSIZE) << 4;
  if (kernelBytes < sysBytes) {
    why.text("truncated bzImage: the protected-mode kernel is ").decimal(kernelBytes)
      .text(" bytes, syssize says ").decimal(sysBytes);
    return false;
  }
  let initSize = <u64>load<u32>(window + <usize>HDR_INIT_SIZE);
  if (initSize < kernelBytes) {
    why.text("the bzImage's init_size (").decimal(initSize).text(" bytes) is smaller than its protected-mode kernel (")
      .decimal(kernelBytes).text(" bytes)");
    return false;
  }
  let ceiling = guest.memoryBytes < BOOT_DATA_CEILING ? guest.memoryBytes : BOOT_DATA_CEILING;
  let loadAddress = chooseLoadAddress(window, initSize, ceiling, why);
  if (loadAddress == 0) return false;

  let cmdlineSize = load<u32>(window + <usize>HDR_CMDLINE_SIZE);
  if (guest.cmdlineLength > cmdlineSize || guest.cmdlineLength > CMDLINE_AREA_BYTES) {
    why.text("the command line is ").decimal(guest.cmdlineLength).text(" bytes; the bzImage takes at most ")
      .decimal(cmdlineSize < CMDLINE_AREA_BYTES ? cmdlineSize : CMDLINE_AREA_BYTES).text(" (cmdline_size)");
    return false;
  }

  guest.loadAddress = loadAddress;
  guest.initSize = initSize;
  guest.initrdAddress = 0;
  guest.initrdSize = 0;
  if (!placeInitrd(platform, window, guest, ceiling, why)) return false;
  if (!copyModuleToRam(platform, MODULE_KERNEL, "the bzImage's protected-mode kernel", kernelOffset, loadAddress,
                       kernelBytes, why)) return false;
  if (!writeZeroPage(platform, window, headerEnd, guest, why)) return false;
  if (!writeCommandLine(platform, guest, why)) return false;
  if (!writeGdt(platform, why) || !writePageTables(platform, why)) return false;
  setLongModeEntry(state, loadAddress + ENTRY_64_OFFSET, ZERO_PAGE_ADDRESS);
  return true;
}

// Where the protected-mode kernel goes, so that its init_size bytes end at
// or below `ceiling`; 0, with why in `why`, when nowhere.
function chooseLoadAddress(window: usize, initSize: u64, ceiling: u64, why: TextWriter): u64 {
  let relocatable = load<u8>(window + <usize>HDR_RELOCATABLE_KERNEL) != 0;
  let loadAddress = DEFAULT_LOAD_ADDRESS;
  if (relocatable) {
    let alignment = <u64>load<u32>(window + <usize>HDR_KERNEL_ALIGNMENT);
    if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
      why.text("the bzImage's kernel_alignment ");
      appendAddress(why, alignment).text(" is not a power of two");
      return 0;
    }
    let lowest = alignUp(DEFAULT_LOAD_ADDRESS, alignment);
    let preferred = load<u64>(window + <usize>HDR_PREF_ADDRESS);
    loadAddress = preferred < RESERVED_END || preferred > ceiling ? lowest : alignUp(preferred, alignment);
    // A relocatable kernel that does not fit where it prefers runs anywhere.
    if (loadAddress > ceiling || initSize > ceiling - loadAddress) loadAddress = lowest;
  }
  if (loadAddress > ceiling || initSize > ceiling - loadAddress) {
    why.text("the bzImage's init_size (").decimal(initSize).text(" bytes) from its load address ");
    appendAddress(why, loadAddress).text(" runs past guest RAM (");
    appendAddress(why, ceiling).text(" bytes)");
    return 0;
  }
  return loadAddress;
}

// The initrd, if the guest has one: page-aligned, as high as it fits below
// initrd_addr_max (the highest byte it may occupy) and the end of RAM, and
// above the kernel's init_size (the kernel decompresses into that).
function placeInitrd(platform: Platform, window: usize, guest: BzImageGuest, ceiling: u64, why: TextWriter): bool {
  let size = platform.moduleSize(MODULE_INITRD);
  if (size == NO_MODULE || size == 0) return true;
  let initrdSize = <u64>size;
  let limit = <u64>load<u32>(window + <usize>HDR_INITRD_ADDR_MAX) + 1;
  if (limit > ceiling) limit = ceiling;
  let floor = alignUp(guest.loadAddress + guest.initSize, PAGE_BYTES);
  let start = initrdSize <= limit ? (limit - initrdSize) & ~(PAGE_BYTES - 1) : 0;
  if (initrdSize > limit || start < floor) {
    why.text("no room for the initrd (").decimal(initrdSize).text(" bytes) between the kernel's end ");
    appendAddress(why, floor).text(" and ");
    appendAddress(why, limit).text(" (initrd_addr_max or the end of guest RAM)");
    return false;
  }
  if (!copyModuleToRam(platform, MODULE_INITRD, "the initrd", 0, start, initrdSize, why)) return false;
  guest.initrdAddress = start;
  guest.initrdSize = initrdSize;
  return true;
}

// The zero page: the kernel's setup header as its image has it, then what
// the loader tells it (boot.rst, "Details of Header Fields", fields marked
// write or modify).
function writeZeroPage(platform: Platform, window: usize, headerEnd: u32, guest: BzImageGuest,
                       why: TextWriter): bool {
  let page = ZERO_PAGE;
  memory.fill(page, 0, <usize>ZERO_PAGE_BYTES);
  memory.copy(page + <usize>HDR_START, window + <usize>HDR_START, <usize>(headerEnd - HDR_START));
  store<u8>(page + <usize>HDR_TYPE_OF_LOADER, TYPE_OF_LOADER_UNDEFINED);
  store<u8>(page + <usize>HDR_EXT_LOADER_VER, 0);
  store<u8>(page + <usize>HDR_LOADFLAGS, load<u8>(page + <usize>HDR_LOADFLAGS) | CAN_USE_HEAP);
  store<u16>(page + <usize>HDR_HEAP_END_PTR, HEAP_END_PTR);
  store<u32>(page + <usize>HDR_CODE32_START, <u32>guest.loadAddress);
  store<u32>(page + <usize>HDR_CMD_LINE_PTR, <u32>CMDLINE_ADDRESS);
  store<u32>(page + <usize>BP_EXT_CMD_LINE_PTR, <u32>(CMDLINE_ADDRESS >> 32));
  store<u32>(page + <usize>HDR_RAMDISK_IMAGE, <u32>guest.initrdAddress);
  store<u32>(page + <usize>HDR_RAMDISK_SIZE, <u32>guest.initrdSize);
  store<u32>(page + <usize>BP_EXT_RAMDISK_IMAGE, <u32>(guest.initrdAddress >> 32));
  store<u32>(page + <usize>BP_EXT_RAMDISK_SIZE, <u32>(guest.initrdSize >> 32));
  store<u64>(page + <usize>BP_ACPI_RSDP_ADDR, RSDP_ADDRESS);
  // No VGA: the kernel then starts no VGA console (the serial port is the console).
  store<u8>(page + <usize>BP_ORIG_VIDEO_IS_VGA, 0);
  writeE820(page, guest.memoryBytes);
  if (platform.guestWrite(ZERO_PAGE_ADDRESS, page, ZERO_PAGE_BYTES) != ZERO_PAGE_BYTES) {
    why.text("cannot write the zero page at guest-physical ");
    appendAddress(why, ZERO_PAGE_ADDRESS);
    return false;
  }
  return true;
}

function writeCommandLine(platform: Platform, guest: BzImageGuest, why: TextWriter): bool {
  let length = guest.cmdlineLength;
  if ((length != 0 && platform.guestWrite(CMDLINE_ADDRESS, guest.cmdline, length) != length) ||
      platform.guestWrite(CMDLINE_ADDRESS + <u64>length, NUL, 1) != 1) {
    why.text("cannot write the command line at guest-physical ");
    appendAddress(why, CMDLINE_ADDRESS);
    return false;
  }
  return true;
}

function writeGdt(platform: Platform, why: TextWriter): bool {
  memory.fill(TABLE, 0, <usize>GDT_BYTES);
  store<u64>(TABLE + <usize>BOOT64_CODE_SELECTOR, GDT_CODE64_DESCRIPTOR);
  store<u64>(TABLE + <usize>BOOT64_DATA_SELECTOR, GDT_DATA_DESCRIPTOR);
  if (platform.guestWrite(GDT_ADDRESS, TABLE, GDT_BYTES) != GDT_BYTES) {
    why.text("cannot write the GDT at guest-physical ");
    appendAddress(why, GDT_ADDRESS);
    return false;
  }
  return true;
}

// PML4[0] -> PDPT, PDPT[0..3] -> 4 page directories of 512 2 MiB pages:
// virtual = physical over the first 4 GiB.
function writePageTables(platform: Platform, why: TextWriter): bool {
  memory.fill(TABLE, 0, <usize>PAGE_BYTES);
  store<u64>(TABLE, PDPT_ADDRESS | PAGE_PRESENT | PAGE_WRITABLE);
  if (!writeTable(platform, PML4_ADDRESS, why)) return false;
  memory.fill(TABLE, 0, <usize>PAGE_BYTES);
  for (let i: u32 = 0; i < PAGE_DIRECTORIES; i++) {
    store<u64>(TABLE + (<usize>i << 3), (PD_ADDRESS + <u64>i * PAGE_BYTES) | PAGE_PRESENT | PAGE_WRITABLE);
  }
  if (!writeTable(platform, PDPT_ADDRESS, why)) return false;
  for (let i: u32 = 0; i < PAGE_DIRECTORIES; i++) {
    let base = <u64>i << 30;
    for (let j: u32 = 0; j < 512; j++) {
      store<u64>(TABLE + (<usize>j << 3),
                 (base + <u64>j * LARGE_PAGE_BYTES) | PAGE_PRESENT | PAGE_WRITABLE | PAGE_SIZE_2M);
    }
    if (!writeTable(platform, PD_ADDRESS + <u64>i * PAGE_BYTES, why)) return false;
  }
  return true;
}

function writeTable(platform: Platform, at: u64, why: TextWriter): bool {
  if (platform.guestWrite(at, TABLE, <u32>PAGE_BYTES) != <u32>PAGE_BYTES) {
    why.text("cannot write the page tables at guest-physical ");
    appendAddress(why, at);
    return false;
  }
  return true;
}

// The 64-bit boot protocol's machine state: long mode, paging on with the
// identity map, CS = __BOOT_CS (64-bit code), DS = ES = SS = __BOOT_DS,
// interrupts off, RSI = the zero page.
export function setLongModeEntry(state: VcpuState, entry: u64, zeroPage: u64): void {
  memory.fill(changetype<usize>(state), 0, <usize>VCPU_STATE_BYTES);
  state.rsi = zeroPage;
  state.rsp = BOOT_STACK_TOP;
  state.rip = entry;
  state.rflags = BOOT_RFLAGS;
  state.cr0 = BOOT64_CR0;
  state.cr3 = PML4_ADDRESS;
  state.cr4 = BOOT64_CR4;
  state.efer = BOOT64_EFER;
  state.xcr0 = BOOT_XCR0;

  setFlatSegments(state, BOOT64_CODE_SELECTOR, BOOT64_CODE_ATTRIBUTES, BOOT64_DATA_SELECTOR, BOOT64_DATA_ATTRIBUTES);

  state.gdtrBase = GDT_ADDRESS;
  state.gdtrLimit = GDT_BYTES - 1;
  state.idtrBase = 0;
  state.idtrLimit = 0;
}
