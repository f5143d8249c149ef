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
  it("injects #UD while XSAVE is not offered, whatever the value", () => {
    for (let value: u64 = 0; value < 8; value++) {
      let record = xsetbv(hostWith(HOST), 0, value);
      expect(record.inject).toBe(INJECT_VALID | INJECT_TYPE_EXCEPTION | 6);
      expect(record.xcr0).toBe(1);
      expect(record.dirty).toBe(0);
      expect(record.advance).toBe(0);
    }
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
