// The I/O and MSR permission bitmaps, read bit by bit the way each vendor's
// hardware reads them (AMD APM vol. 2, 15.10.1 and 15.11; Intel SDM vol. 3C,
// 25.6.4 and 25.6.9).

import {
  buildGuestTables, guestIoBitmap, guestMsrBitmap, releaseGuestTables, setHostLayout,
} from "../../../assembly/supervisor/tables";
import {
  bitmapFormat, BitmapFormat, msrIntercepted, portIntercepted, setMsrIntercept, setPortIntercept,
} from "../../../assembly/mm/permission_bitmaps";
import { GiB, KiB, LINEAR_BASE, MiB, offsetOf, SVM, VMX } from "./walker";

const PASS_THROUGH: u32[] = [
  0xC000_0100, 0xC000_0101, 0xC000_0102,            // FS_BASE, GS_BASE, KERNEL_GS_BASE
  0xC000_0081, 0xC000_0082, 0xC000_0083, 0xC000_0084, // STAR, LSTAR, CSTAR, SFMASK
  0x174, 0x175, 0x176,                               // SYSENTER_CS, _ESP, _EIP
];

function passesThrough(msr: u32): bool {
  return PASS_THROUGH.includes(msr);
}

function bitSet(base: usize, bit: u32): bool {
  return (load<u8>(base + <usize>(bit >> 3)) >> <u8>(bit & 7) & 1) != 0;
}

function releaseAll(): void {
  for (let guest: u32 = 0; guest < 64; guest++) releaseGuestTables(guest);
}

function build(vendor: u32): void {
  releaseAll();
  setHostLayout(LINEAR_BASE, vendor);
  expect(buildGuestTables(0, 1 * GiB, 32 * MiB)).toBe(0);
  expect(buildGuestTables(1, 2 * GiB, 32 * MiB)).toBe(0);
}

// The MSR ranges both vendors' maps cover, and SVM's third one.
const RANGE_STARTS: u32[] = [0x0000_0000, 0xC000_0000, 0xC001_0000];

describe("AMD SVM bitmaps", () => {
  beforeEach(() => build(SVM));

  it("intercepts every port: all 12 KiB of the IOPM set, extra bits included", () => {
    let io = offsetOf(guestIoBitmap(0));
    let clear: u32 = 0;
    for (let byte: u32 = 0; byte < 12 * 1024; byte++) if (load<u8>(io + byte) != 0xFF) clear++;
    expect(clear).toBe(0);
  });

  it("intercepts every MSR but the pass-through set, read and write (2 bits per MSR)", () => {
    let msrpm = offsetOf(guestMsrBitmap(0));
    let wrong: u32 = 0;
    let passed: u32 = 0;
    for (let range = 0; range < 3; range++) {
      let rangeBit = <u32>range * 0x800 * 8;     // byte 0x000, 0x800, 0x1000
      for (let index: u32 = 0; index < 0x2000; index++) {
        let msr = RANGE_STARTS[range] + index;
        let read = bitSet(msrpm, rangeBit + index * 2);
        let write = bitSet(msrpm, rangeBit + index * 2 + 1);
        if (passesThrough(msr)) {
          if (read || write) wrong++;
          else passed++;
        } else if (!read || !write) {
          wrong++;
        }
      }
    }
    expect(wrong).toBe(0);
    expect(passed).toBe(10);
    // The reserved last quarter is set too.
    for (let byte: u32 = 0x1800; byte < 0x2000; byte++) expect(load<u8>(msrpm + byte)).toBe(0xFF);
  });

  it("answers MSRs outside the three ranges as always intercepted", () => {
    let format = changetype<BitmapFormat>(bitmapFormat(SVM));
    let msrpm = offsetOf(guestMsrBitmap(0));
    expect(msrIntercepted(format, msrpm, 0x2000, false)).toBe(true);
    expect(msrIntercepted(format, msrpm, 0xC000_2000, true)).toBe(true);
    expect(msrIntercepted(format, msrpm, 0xC001_2000, false)).toBe(true);
    expect(msrIntercepted(format, msrpm, u32.MAX_VALUE, true)).toBe(true);
    expect(setMsrIntercept(format, msrpm, 0x4000_0000, false, false)).toBe(false);
    expect(msrIntercepted(format, msrpm, 0xC001_0000, false)).toBe(true);
    expect(msrIntercepted(format, msrpm, 0xC000_0100, false)).toBe(false);
    expect(msrIntercepted(format, msrpm, 0xC000_0100, true)).toBe(false);
  });

  it("gives every guest the same pair, in which a port or MSR can be passed through", () => {
    let format = changetype<BitmapFormat>(bitmapFormat(SVM));
    expect(guestIoBitmap(0)).toBe(guestIoBitmap(1));
    expect(guestMsrBitmap(0)).toBe(guestMsrBitmap(1));
    let io0 = offsetOf(guestIoBitmap(0));
    expect(setPortIntercept(io0, 0x3F8, false)).toBe(true);
    expect(portIntercepted(io0, 0x3F8)).toBe(false);
    expect(bitSet(io0, 0x3F8)).toBe(false);
    expect(portIntercepted(io0, 0x3F9)).toBe(true);
    expect(setPortIntercept(io0, 0x1_0000, false)).toBe(false);
    expect(portIntercepted(io0, 0x1_0000)).toBe(true);
    expect(setPortIntercept(io0, 0x3F8, true)).toBe(true);

    let msr0 = offsetOf(guestMsrBitmap(0));
    // Reads of C001_0015 (HWCR) pass, writes still exit: byte 0x1000 + 0x15/4.
    expect(setMsrIntercept(format, msr0, 0xC001_0015, false, true)).toBe(true);
    expect(bitSet(msr0, 0x1000 * 8 + 0x15 * 2)).toBe(false);
    expect(bitSet(msr0, 0x1000 * 8 + 0x15 * 2 + 1)).toBe(true);
    expect(setMsrIntercept(format, msr0, 0xC001_0015, true, true)).toBe(true);
    expect(msrIntercepted(format, msr0, 0xC001_0015, false)).toBe(true);
  });
});

describe("Intel VMX bitmaps", () => {
  beforeEach(() => build(VMX));

  it("intercepts every port: bitmaps A and B (8 KiB, A first) all set", () => {
    let io = offsetOf(guestIoBitmap(0));
    let clear: u32 = 0;
    for (let port: u32 = 0; port < 0x1_0000; port++) if (!bitSet(io, port)) clear++;
    expect(clear).toBe(0);
    expect(guestMsrBitmap(0)).toBe(guestIoBitmap(0) + 8 * KiB, "MSR bitmap after bitmap B");
  });

  it("puts port 0x8000 at the first bit of bitmap B", () => {
    let io = offsetOf(guestIoBitmap(0));
    expect(setPortIntercept(io, 0x8000, false)).toBe(true);
    expect(load<u8>(io + 4096)).toBe(0xFE);
    expect(setPortIntercept(io, 0x7FFF, false)).toBe(true);
    expect(load<u8>(io + 4095)).toBe(0x7F);
  });

  it("intercepts every MSR but the pass-through set, read and write", () => {
    let bitmap = offsetOf(guestMsrBitmap(0));
    let wrong: u32 = 0;
    let passed: u32 = 0;
    for (let range = 0; range < 2; range++) {
      let readBit = <u32>range * 1024 * 8;          // read-low 0, read-high 1024
      let writeBit = (2048 + <u32>range * 1024) * 8; // write-low 2048, write-high 3072
      for (let index: u32 = 0; index < 0x2000; index++) {
        let msr = RANGE_STARTS[range] + index;
        let read = bitSet(bitmap, readBit + index);
        let write = bitSet(bitmap, writeBit + index);
        if (passesThrough(msr)) {
          if (read || write) wrong++;
          else passed++;
        } else if (!read || !write) {
          wrong++;
        }
      }
    }
    expect(wrong).toBe(0);
    expect(passed).toBe(10);
  });

  it("answers C001_xxxx and other uncovered MSRs as always intercepted", () => {
    let format = changetype<BitmapFormat>(bitmapFormat(VMX));
    let bitmap = offsetOf(guestMsrBitmap(0));
    expect(setMsrIntercept(format, bitmap, 0xC001_0015, false, false)).toBe(false);
    expect(msrIntercepted(format, bitmap, 0xC001_0015, false)).toBe(true);
    expect(msrIntercepted(format, bitmap, 0x2000, true)).toBe(true);
    expect(msrIntercepted(format, bitmap, 0x174, true)).toBe(false);
    // The last MSR of the high range: the last bit of read-high and of write-high.
    expect(setMsrIntercept(format, bitmap, 0xC000_1FFF, false, false)).toBe(true);
    expect(bitSet(bitmap, 1024 * 8 + 0x1FFF)).toBe(false);
    expect(bitSet(bitmap, 3072 * 8 + 0x1FFF)).toBe(false);
  });
});
