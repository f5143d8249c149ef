import { dispatchExit } from "../../../assembly/guest/exits";
import { checkXsetbv, XSETBV_OK, XSETBV_GP, XSETBV_UD } from "../../../assembly/vcpu/xsetbv";
import { ExitReason, INJECT_VALID, INJECT_TYPE_EXCEPTION, INJECT_HAS_ERROR_CODE, DIRTY_XCR0 } from "../../../assembly/vcpu/exit_record";
import { ExitRecord } from "../../../assembly/vcpu/exit_record";
import { FakePlatform, newGuest, newRecord } from "./helpers";

const GP: u32 = INJECT_VALID | INJECT_TYPE_EXCEPTION | INJECT_HAS_ERROR_CODE | 13;
const OSXSAVE: u64 = 1 << 18;
const HOST: u64 = 0x2e7; // x87 SSE AVX opmask ZMM_Hi256 Hi16_ZMM PKRU

// A host with XSAVE that supports `xcr0`.
function hostWith(xcr0: u64): FakePlatform {
  let platform = new FakePlatform();
  platform.setCpuid(0, 0, 0x16, 0, 0, 0);
  platform.setCpuid(1, 0, 0, 0, 1 << 26, 0);
  platform.setCpuid(0xd, 0, <u32>xcr0, 0, 0, <u32>(xcr0 >> 32));
  return platform;
}

function xsetbv(platform: FakePlatform, index: u32, value: u64, cr4: u64 = OSXSAVE): ExitRecord {
  let machine = newGuest();
  let record = newRecord(ExitReason.Xsetbv);
  record.rcx = index;
  record.rax = value & 0xffffffff;
  record.rdx = value >> 32;
  record.cr4 = cr4;
  record.xcr0 = 1;
  dispatchExit(record, machine, platform);
  return record;
}

describe("XSETBV", () => {
  it("accepts x87, SSE and AVX and hands the value to the stub", () => {
    for (let value: u64 = 1; value < 8; value += 2) {
      if (value == 0x5) continue;
      let record = xsetbv(hostWith(HOST), 0, value);
      expect(record.inject).toBe(0);
      expect(record.xcr0).toBe(value);
      expect(record.dirty).toBe(DIRTY_XCR0);
      expect(record.advance).toBe(3);
    }
  });

  it("injects #GP for what the host has but guests may not use (AVX-512, PKRU, MPX, AMX)", () => {
    let values: u64[] = [0xe7, 0x207, 0x1f, 0x60007];
    for (let i = 0; i < values.length; i++) {
      let record = xsetbv(hostWith(0x602ff), 0, values[i]);
      expect(record.inject).toBe(GP);
      expect(record.xcr0).toBe(1);
      expect(record.dirty).toBe(0);
      expect(record.advance).toBe(0);
    }
  });

  it("injects #GP for AVX without SSE, x87 cleared, AVX the host lacks, or another XCR", () => {
    expect(xsetbv(hostWith(HOST), 0, 0x5).inject).toBe(GP);
    expect(xsetbv(hostWith(HOST), 0, 0x6).inject).toBe(GP);
    expect(xsetbv(hostWith(0x3), 0, 0x7).inject).toBe(GP);
    expect(xsetbv(hostWith(HOST), 1, 0x3).inject).toBe(GP);
  });

  it("injects #UD on a host without XSAVE", () => {
    let platform = new FakePlatform();
    let record = xsetbv(platform, 0, 0x3);
    expect(record.inject).toBe(INJECT_VALID | INJECT_TYPE_EXCEPTION | 6);
    expect(record.dirty).toBe(0);
  });

  it("injects #UD when the guest has not set CR4.OSXSAVE", () => {
    let record = xsetbv(hostWith(HOST), 0, 0x3, 0);
    expect(record.inject).toBe(INJECT_VALID | INJECT_TYPE_EXCEPTION | 6);
  });

  it("checks the component rules of the SDM", () => {
    expect(checkXsetbv(0, 0x1, HOST, OSXSAVE, 0)).toBe(XSETBV_OK);
    expect(checkXsetbv(0, 0xe7, HOST, OSXSAVE, 0)).toBe(XSETBV_OK);
    expect(checkXsetbv(0, 0x27, HOST, OSXSAVE, 0)).toBe(XSETBV_GP);  // part of AVX-512
    expect(checkXsetbv(0, 0xe3, HOST, OSXSAVE, 0)).toBe(XSETBV_GP);  // AVX-512 without AVX
    expect(checkXsetbv(0, 0x9, 0xff, OSXSAVE, 0)).toBe(XSETBV_GP);   // BNDREGS without BNDCSR
    expect(checkXsetbv(0, 0x19, 0xff, OSXSAVE, 0)).toBe(XSETBV_OK);
    expect(checkXsetbv(0, 0x20003, 0x60003, OSXSAVE, 0)).toBe(XSETBV_GP); // TILECFG without TILEDATA
    expect(checkXsetbv(0, 0x60003, 0x60003, OSXSAVE, 0)).toBe(XSETBV_OK);
    expect(checkXsetbv(0, 0x3, HOST, OSXSAVE, 3)).toBe(XSETBV_GP);   // CPL 3
    expect(checkXsetbv(0, 0x3, HOST, 0, 0)).toBe(XSETBV_UD);
  });
});
