// MOV to CR4 where the backend intercepts it (AMD-V): x86/mov_cr.ts via
// ExitReason.CrWrite. Bits whose state is not switched between guests are
// refused with #GP(0), as the CPU refuses reserved bits; others are taken.
import { dispatchExit } from "../../../assembly/guest/exits";
import { ExitRecord, ExitReason, DIRTY_CR4, INJECT_VALID } from "../../../assembly/vcpu/exit_record";
import { FakePlatform, flatRecord, newGuest } from "./helpers";

const GP: u32 = INJECT_VALID | (3 << 8) | 13 | (1 << 11);

function movCr4(value: u64, bytes: u8[] = [0x0f, 0x22, 0xe0]): ExitRecord {   // mov cr4, eax
  let platform = new FakePlatform();
  let machine = newGuest();
  let record = flatRecord(ExitReason.CrWrite, platform, bytes);
  record.cr4 = 0x20;
  record.rax = value;
  dispatchExit(record, machine, platform);
  return record;
}

describe("MOV to CR4 (intercepted)", () => {
  it("takes bits the guest owns, advancing past the instruction", () => {
    let record = movCr4(0x20 | (1 << 7) | (1 << 9));
    expect(record.inject).toBe(0);
    expect(record.cr4).toBe(0x20 | (1 << 7) | (1 << 9));
    expect(record.dirty & DIRTY_CR4).toBe(DIRTY_CR4);
    expect(record.advance).toBe(3);
  });

  it("refuses PKE, CET, PKS, UINTR, KL, LA57, VMXE and SMXE with #GP, CR4 unchanged", () => {
    let bits: u32[] = [<u32>22, 23, 24, 25, 19, 12, 13, 14, 15, 27];
    for (let i = 0; i < bits.length; i++) {
      let record = movCr4(0x20 | (<u64>1 << bits[i]));
      expect(record.inject).toBe(GP);
      expect(record.dirty & DIRTY_CR4).toBe(0);
      expect(record.advance).toBe(0);
      expect(record.cr4).toBe(0x20);
    }
  });

  it("reads the source register from ModRM, after prefixes", () => {
    let record = movCr4(0, [0x66, 0x0f, 0x22, 0xe3]);     // mov cr4, ebx (with a prefix)
    expect(record.advance).toBe(4);
    expect(record.cr4).toBe(0);                            // rbx was 0
  });
});
