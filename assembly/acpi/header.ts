// What every ACPI table shares: the 36-byte System Description Table
// Header (ACPI 6.5, 5.2.6, table 5.4) and the checksum that makes the
// table's bytes sum to zero. The OEM fields say who built the table; an OS
// prints them ("ACPI: FACP 0x... 000114 (v06 TSHV   TSHVPC   00000001 TSHV
// 00000001)") and matches quirks on them, so they are fixed for every table.

export const TABLE_HEADER_BYTES: u32 = 36;

// Header fields (byte offsets).
export const HEADER_SIGNATURE = 0;      // 4 ASCII characters
export const HEADER_LENGTH = 4;         // u32, the whole table, header included
export const HEADER_REVISION = 8;
export const HEADER_CHECKSUM = 9;       // the whole table sums to 0
export const HEADER_OEM_ID = 10;        // 6 characters
export const HEADER_OEM_TABLE_ID = 16;  // 8 characters
export const HEADER_OEM_REVISION = 24;
export const HEADER_CREATOR_ID = 28;    // 4 characters
export const HEADER_CREATOR_REVISION = 32;

export const OEM_ID = "TSHV  ";
export const OEM_TABLE_ID = "TSHVPC  ";
export const OEM_REVISION: u32 = 1;
export const CREATOR_ID = "TSHV";
export const CREATOR_REVISION: u32 = 1;

// Writes the header of a table of `length` bytes at `at`, its checksum 0
// until sealTable.
export function writeTableHeader(at: usize, signature: string, length: u32, revision: u8): void {
  writeAscii(at + HEADER_SIGNATURE, signature, 4);
  store<u32>(at, length, HEADER_LENGTH);
  store<u8>(at, revision, HEADER_REVISION);
  store<u8>(at, 0, HEADER_CHECKSUM);
  writeAscii(at + HEADER_OEM_ID, OEM_ID, 6);
  writeAscii(at + HEADER_OEM_TABLE_ID, OEM_TABLE_ID, 8);
  store<u32>(at, OEM_REVISION, HEADER_OEM_REVISION);
  writeAscii(at + HEADER_CREATOR_ID, CREATOR_ID, 4);
  store<u32>(at, CREATOR_REVISION, HEADER_CREATOR_REVISION);
}

// Sets the checksum of the finished table at `at` (its length is the
// header's): the byte that makes all of them sum to 0 modulo 256.
export function sealTable(at: usize): void {
  let length = load<u32>(at, HEADER_LENGTH);
  store<u8>(at, 0, HEADER_CHECKSUM);
  store<u8>(at, <u8>(0 - <u32>byteSum(at, length)), HEADER_CHECKSUM);
}

// The sum of `length` bytes at `at`, modulo 256.
export function byteSum(at: usize, length: u32): u8 {
  let sum: u32 = 0;
  for (let i: u32 = 0; i < length; i++) sum += <u32>load<u8>(at + <usize>i);
  return <u8>sum;
}

// Writes exactly `width` bytes: the ASCII `text`, cut or padded with NULs.
export function writeAscii(at: usize, text: string, width: u32): void {
  let count = <u32>text.length;
  for (let i: u32 = 0; i < width; i++) {
    store<u8>(at + <usize>i, i < count ? <u8>text.charCodeAt(<i32>i) : 0);
  }
}
