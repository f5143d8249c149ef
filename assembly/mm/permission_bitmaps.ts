// Per-guest I/O and MSR permission bitmaps: which port and MSR accesses exit
// to the core (bit set) and which the guest reaches directly (bit clear).
// Both vendors keep one bit per port and one bit per MSR access in 4 KiB
// aligned physical pages; where the bits sit is a BitmapFormat (data), and
// the code below is the same for both.
//
// AMD SVM: I/O permission map (IOPM), APM vol. 2, 15.10.1: 12 KiB, bit n for
// port n, and the bits past port 0xFFFF (a multi-byte access at the top of
// the port space checks them) set too. MSR permission map (MSRPM), 15.11:
// 8 KiB, two bits per MSR (even: read, odd: write) for MSRs 0000_0000-
// 0000_1FFF at byte 0x000, C000_0000-C000_1FFF at 0x800, C001_0000-
// C001_1FFF at 0x1000; other MSRs are always intercepted.
//
// Intel VMX: I/O bitmaps A (ports 0-7FFF) and B (8000-FFFF), SDM vol. 3C,
// 25.6.4: one 4 KiB page each; kept as one 8 KiB block, A first, so bit n is
// port n exactly as on SVM. MSR bitmap, 25.6.9: 4 KiB: read-low (0000_0000-
// 0000_1FFF) at byte 0, read-high (C000_0000-C000_1FFF) at 1024, write-low
// at 2048, write-high at 3072; other MSRs always exit.

import { VENDOR_SVM, VENDOR_VMX } from "./nested_paging";

// MSRs every guest reads and writes directly: the hardware switches them on
// VM entry/exit (SVM: VMLOAD/VMSAVE; VMX: guest-state area) or the stub
// switches them itself, so the guest's value is live while it runs.
export const MSR_SYSENTER_CS: u32 = 0x0000_0174;
export const MSR_SYSENTER_ESP: u32 = 0x0000_0175;
export const MSR_SYSENTER_EIP: u32 = 0x0000_0176;
export const MSR_STAR: u32 = 0xC000_0081;
export const MSR_LSTAR: u32 = 0xC000_0082;
export const MSR_CSTAR: u32 = 0xC000_0083;
export const MSR_SFMASK: u32 = 0xC000_0084;
export const MSR_FS_BASE: u32 = 0xC000_0100;
export const MSR_GS_BASE: u32 = 0xC000_0101;
export const MSR_KERNEL_GS_BASE: u32 = 0xC000_0102;

export const PASS_THROUGH_MSR_COUNT: u32 = 10;
export const PASS_THROUGH_MSRS: usize = memory.data<u32>([
  MSR_SYSENTER_CS, MSR_SYSENTER_ESP, MSR_SYSENTER_EIP,
  MSR_STAR, MSR_LSTAR, MSR_CSTAR, MSR_SFMASK,
  MSR_FS_BASE, MSR_GS_BASE, MSR_KERNEL_GS_BASE,
], 4);

// The MSR ranges a bitmap can cover, 0x2000 MSRs each.
export const MSR_RANGE_LOW: u32 = 0x0000_0000;
export const MSR_RANGE_HIGH: u32 = 0xC000_0000;
export const MSR_RANGE_AMD: u32 = 0xC001_0000;   // SVM only
export const MSR_RANGE_COUNT: u32 = 0x2000;

export const PORT_COUNT: u32 = 0x1_0000;

// A range the format does not cover: its MSRs always exit.
const NO_RANGE: u32 = u32.MAX_VALUE;

@unmanaged
export class BitmapFormat {
  ioBytes: u32;
  msrBytes: u32;
  bitsPerMsr: u32;
  // Added to an MSR's first bit for its write bit (within the same range).
  writeBitShift: u32;
  // Byte offsets in the MSR bitmap of the read and write bits of the ranges
  // LOW, HIGH, AMD (NO_RANGE: not covered).
  readLow: u32; readHigh: u32; readAmd: u32;
  writeLow: u32; writeHigh: u32; writeAmd: u32;
}

const SVM_BITMAPS: usize = memory.data<u32>([
  12 << 10, 8 << 10, 2, 1,
  0x000, 0x800, 0x1000,
  0x000, 0x800, 0x1000,
], 8);

const VMX_BITMAPS: usize = memory.data<u32>([
  8 << 10, 4 << 10, 1, 0,
  0, 1024, NO_RANGE,
  2048, 3072, NO_RANGE,
], 8);

// The bitmap format of a vendor, or null for an unknown one.
export function bitmapFormat(vendor: u32): BitmapFormat | null {
  if (vendor == VENDOR_SVM) return changetype<BitmapFormat>(SVM_BITMAPS);
  if (vendor == VENDOR_VMX) return changetype<BitmapFormat>(VMX_BITMAPS);
  return null;
}

// --- I/O ---------------------------------------------------------------------

// Every port access exits.
export function interceptAllPorts(format: BitmapFormat, ioBitmap: usize): void {
  memory.fill(ioBitmap, 0xFF, <usize>format.ioBytes);
}

// Sets whether accesses to `port` exit. False (nothing changed) for a port
// beyond 0xFFFF.
export function setPortIntercept(ioBitmap: usize, port: u32, intercept: bool): bool {
  if (port >= PORT_COUNT) return false;
  let byte = ioBitmap + <usize>(port >> 3);
  let mask = <u8>(<u32>1 << (port & 7));
  store<u8>(byte, intercept ? load<u8>(byte) | mask : load<u8>(byte) & ~mask);
  return true;
}

export function portIntercepted(ioBitmap: usize, port: u32): bool {
  if (port >= PORT_COUNT) return true;
  return (load<u8>(ioBitmap + <usize>(port >> 3)) & <u8>(<u32>1 << (port & 7))) != 0;
}

// --- MSRs --------------------------------------------------------------------

// Bit index in the MSR bitmap of the read (or write) intercept of `msr`, or
// -1 when the format does not cover it (then it always exits).
function msrBit(format: BitmapFormat, msr: u32, write: bool): i32 {
  let rangeOffset: u32;
  let index: u32;
  if (msr - MSR_RANGE_LOW < MSR_RANGE_COUNT) {
    index = msr - MSR_RANGE_LOW;
    rangeOffset = write ? format.writeLow : format.readLow;
  } else if (msr - MSR_RANGE_HIGH < MSR_RANGE_COUNT) {
    index = msr - MSR_RANGE_HIGH;
    rangeOffset = write ? format.writeHigh : format.readHigh;
  } else if (msr - MSR_RANGE_AMD < MSR_RANGE_COUNT) {
    index = msr - MSR_RANGE_AMD;
    rangeOffset = write ? format.writeAmd : format.readAmd;
  } else {
    return -1;
  }
  if (rangeOffset == NO_RANGE) return -1;
  return <i32>((rangeOffset << 3) + index * format.bitsPerMsr + (write ? format.writeBitShift : 0));
}

function setBit(base: usize, bit: i32, value: bool): void {
  let byte = base + <usize>(bit >> 3);
  let mask = <u8>(<u32>1 << <u32>(bit & 7));
  store<u8>(byte, value ? load<u8>(byte) | mask : load<u8>(byte) & ~mask);
}

// Sets whether reads and writes of `msr` exit. False (nothing changed) for an
// MSR the format does not cover: it always exits.
export function setMsrIntercept(format: BitmapFormat, msrBitmap: usize, msr: u32,
                                interceptRead: bool, interceptWrite: bool): bool {
  let readBit = msrBit(format, msr, false);
  let writeBit = msrBit(format, msr, true);
  if (readBit < 0 || writeBit < 0) return false;
  setBit(msrBitmap, readBit, interceptRead);
  setBit(msrBitmap, writeBit, interceptWrite);
  return true;
}

export function msrIntercepted(format: BitmapFormat, msrBitmap: usize, msr: u32, write: bool): bool {
  let bit = msrBit(format, msr, write);
  if (bit < 0) return true;
  return (load<u8>(msrBitmap + <usize>(bit >> 3)) & <u8>(<u32>1 << <u32>(bit & 7))) != 0;
}

// Every MSR access exits except reads and writes of PASS_THROUGH_MSRS.
export function initMsrBitmap(format: BitmapFormat, msrBitmap: usize): void {
  memory.fill(msrBitmap, 0xFF, <usize>format.msrBytes);
  for (let i: u32 = 0; i < PASS_THROUGH_MSR_COUNT; i++) {
    setMsrIntercept(format, msrBitmap, load<u32>(PASS_THROUGH_MSRS + (<usize>i << 2)), false, false);
  }
}
