// The guest's ACPI tables (ACPI 6.5, chapter 5), built once per guest when
// it is loaded, where a PC's firmware leaves them (devices/pc_layout.ts):
//
//   RSDP_ADDRESS (0xF0000)   the RSDP (5.2.5.3), revision 2: 16-byte aligned
//                            in 0xE0000-0xFFFFF, where an OS scans (5.2.5.1)
//   ACPI_TABLES_BASE         FACS, RSDT, XSDT, FADT (fadt.ts), MADT
//   (0xE0000)                (madt.ts), DSDT (dsdt.ts), in that order
//
// The RSDT and XSDT list the FADT and the MADT; the FADT points at the FACS
// and the DSDT. The rest of [BIOS_AREA_BASE, 1 MiB) is zeroed, so that the
// area holds exactly these bytes whatever an earlier run of the guest left
// there (the scan then finds this RSDP and no other). The loaders' memory
// map reserves [CONVENTIONAL_MEMORY_END, 1 MiB), and no loader writes
// there.
//
// A FACS is there although nothing in it is used (no S4BIOS, no waking
// vector, no global lock in the DSDT): an OS that finds none may still
// touch it (Linux's ACPICA reaches for the global lock and the waking
// vector through it when the hardware is not "reduced").

import { Platform } from "../guest/platform";
import { ACPI_TABLES_BASE, ACPI_TABLES_BYTES, RSDP_ADDRESS, BIOS_AREA_BASE } from "../devices/pc_layout";
import { writeTableHeader, sealTable, byteSum, writeAscii, TABLE_HEADER_BYTES, OEM_ID } from "./header";
import { writeFadt } from "./fadt";
import { writeMadt, MADT_MAX_VCPUS } from "./madt";
import { writeDsdt } from "./dsdt";

// Where the loaders (a Linux boot protocol's acpi_rsdp_addr, say) find it.
export const ACPI_RSDP_ADDRESS: u64 = RSDP_ADDRESS;
export const ACPI_MAX_VCPUS: u32 = MADT_MAX_VCPUS;
// The tables describe a PC: its first MiB must be RAM.
export const ACPI_MIN_MEMORY: u64 = 0x100000;
const BIOS_AREA_END: u64 = 0x100000;

// The RSDP (5.2.5.3).
export const RSDP_BYTES: u32 = 36;
export const RSDP_V1_BYTES: u32 = 20;          // what the first checksum covers
export const RSDP_REVISION: u8 = 2;            // ACPI 2.0 and later
export const RSDP_SIGNATURE = "RSD PTR ";
const RSDP_CHECKSUM = 8;
const RSDP_OEM_ID = 9;
const RSDP_REVISION_OFFSET = 15;
const RSDP_RSDT_ADDRESS = 16;
const RSDP_LENGTH = 20;
const RSDP_XSDT_ADDRESS = 24;
const RSDP_EXTENDED_CHECKSUM = 32;

// The FACS (5.2.10): 64 bytes, 64-byte aligned, no checksum.
export const FACS_BYTES: u32 = 64;
export const FACS_VERSION: u8 = 2;
const FACS_LENGTH = 4;
const FACS_VERSION_OFFSET = 32;

export const RSDT_REVISION: u8 = 1;
export const XSDT_REVISION: u8 = 1;
// The tables the RSDT and XSDT list: the FADT, the MADT.
export const ROOT_TABLE_ENTRIES: u32 = 2;

// Offsets from ACPI_TABLES_BASE. The MADT grows with the vCPUs and the DSDT
// follows it.
export const FACS_OFFSET: u32 = 0x000;
export const RSDT_OFFSET: u32 = 0x040;
export const XSDT_OFFSET: u32 = 0x070;
export const FADT_OFFSET: u32 = 0x0b0;
export const MADT_OFFSET: u32 = 0x1d0;
export const FACS_ADDRESS: u64 = ACPI_TABLES_BASE + FACS_OFFSET;
export const RSDT_ADDRESS: u64 = ACPI_TABLES_BASE + RSDT_OFFSET;
export const XSDT_ADDRESS: u64 = ACPI_TABLES_BASE + XSDT_OFFSET;
export const FADT_ADDRESS: u64 = ACPI_TABLES_BASE + FADT_OFFSET;
export const MADT_ADDRESS: u64 = ACPI_TABLES_BASE + MADT_OFFSET;

// The tables are assembled here, then copied to the guest in one write;
// afterwards the buffer, zeroed, is the source that clears the rest of the
// BIOS area. 254 vCPUs take about 3 KiB.
const BUILD_BYTES: u32 = 0x1000;
const BUILD: usize = memory.data(BUILD_BYTES, 16);
const RSDP: usize = memory.data(RSDP_BYTES, 16);

// Writes the tables of a guest with `vcpuCount` vCPUs and `memoryBytes` of
// RAM into its RAM. False, having written nothing or not all, for a vCPU
// count the MADT cannot describe (0, or above ACPI_MAX_VCPUS), less than
// 1 MiB of RAM, or RAM the platform will not write.
export function buildAcpiTables(platform: Platform, vcpuCount: u32, memoryBytes: u64): bool {
  if (vcpuCount == 0 || vcpuCount > ACPI_MAX_VCPUS || memoryBytes < ACPI_MIN_MEMORY) return false;
  let used = assembleTables(vcpuCount, memoryBytes);
  if (used == 0) return false;
  assembleRsdp();
  if (platform.guestWrite(ACPI_TABLES_BASE, BUILD, used) != used) return false;
  memory.fill(BUILD, 0, <usize>BUILD_BYTES);
  if (!clearGuest(platform, ACPI_TABLES_BASE + <u64>used, RSDP_ADDRESS)) return false;
  if (platform.guestWrite(RSDP_ADDRESS, RSDP, RSDP_BYTES) != RSDP_BYTES) return false;
  return clearGuest(platform, RSDP_ADDRESS + <u64>RSDP_BYTES, BIOS_AREA_END) &&
    clearGuest(platform, BIOS_AREA_BASE, ACPI_TABLES_BASE);
}

// Lays out every table in BUILD; answers the bytes used, 0 when they do
// not fit.
function assembleTables(vcpuCount: u32, memoryBytes: u64): u32 {
  memory.fill(BUILD, 0, <usize>BUILD_BYTES);
  let limit = BUILD_BYTES < ACPI_TABLES_BYTES ? BUILD_BYTES : ACPI_TABLES_BYTES;

  let madtBytes = writeMadt(BUILD + MADT_OFFSET, limit - MADT_OFFSET, vcpuCount);
  if (madtBytes == 0) return 0;
  let dsdtOffset = alignUp16(MADT_OFFSET + madtBytes);
  if (dsdtOffset >= limit) return 0;
  let dsdtBytes = writeDsdt(BUILD + dsdtOffset, limit - dsdtOffset, memoryBytes);
  if (dsdtBytes == 0) return 0;
  let dsdtAddress = ACPI_TABLES_BASE + <u64>dsdtOffset;

  let facs = BUILD + FACS_OFFSET;
  writeAscii(facs, "FACS", 4);
  store<u32>(facs, FACS_BYTES, FACS_LENGTH);
  store<u8>(facs, FACS_VERSION, FACS_VERSION_OFFSET);

  writeFadt(BUILD + FADT_OFFSET, FACS_ADDRESS, dsdtAddress);

  let rsdt = BUILD + RSDT_OFFSET;
  writeTableHeader(rsdt, "RSDT", TABLE_HEADER_BYTES + 4 * ROOT_TABLE_ENTRIES, RSDT_REVISION);
  store<u32>(rsdt, <u32>FADT_ADDRESS, TABLE_HEADER_BYTES);
  store<u32>(rsdt, <u32>MADT_ADDRESS, TABLE_HEADER_BYTES + 4);
  sealTable(rsdt);

  let xsdt = BUILD + XSDT_OFFSET;
  writeTableHeader(xsdt, "XSDT", TABLE_HEADER_BYTES + 8 * ROOT_TABLE_ENTRIES, XSDT_REVISION);
  store<u64>(xsdt, FADT_ADDRESS, TABLE_HEADER_BYTES);
  store<u64>(xsdt, MADT_ADDRESS, TABLE_HEADER_BYTES + 8);
  sealTable(xsdt);

  return dsdtOffset + dsdtBytes;
}

function assembleRsdp(): void {
  memory.fill(RSDP, 0, <usize>RSDP_BYTES);
  writeAscii(RSDP, RSDP_SIGNATURE, 8);
  writeAscii(RSDP + RSDP_OEM_ID, OEM_ID, 6);
  store<u8>(RSDP, RSDP_REVISION, RSDP_REVISION_OFFSET);
  store<u32>(RSDP, <u32>RSDT_ADDRESS, RSDP_RSDT_ADDRESS);
  store<u32>(RSDP, RSDP_BYTES, RSDP_LENGTH);
  store<u64>(RSDP, XSDT_ADDRESS, RSDP_XSDT_ADDRESS);
  // The first checksum covers the ACPI 1.0 part, the extended one all 36
  // bytes (the first checksum included, so it is set first).
  store<u8>(RSDP, <u8>(0 - <u32>byteSum(RSDP, RSDP_V1_BYTES)), RSDP_CHECKSUM);
  store<u8>(RSDP, <u8>(0 - <u32>byteSum(RSDP, RSDP_BYTES)), RSDP_EXTENDED_CHECKSUM);
}

// Zeroes guest RAM [start, end) from BUILD (zeroed).
function clearGuest(platform: Platform, start: u64, end: u64): bool {
  if (platform.ramZeroAtLoad) return true;   // nothing there to clear
  while (start < end) {
    let chunk = end - start < <u64>BUILD_BYTES ? <u32>(end - start) : BUILD_BYTES;
    if (platform.guestWrite(start, BUILD, chunk) != chunk) return false;
    start += chunk;
  }
  return true;
}

@inline function alignUp16(value: u32): u32 {
  return (value + 15) & ~15;
}
