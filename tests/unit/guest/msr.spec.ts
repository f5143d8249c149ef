import { dispatchExit } from "../../../assembly/guest/exits";
import { ExitReason, ExitAction, INJECT_VALID, INJECT_TYPE_EXCEPTION, INJECT_HAS_ERROR_CODE, DIRTY_EFER, DIRTY_PAT, DIRTY_TSC_AUX } from "../../../assembly/vcpu/exit_record";
import { ExitRecord } from "../../../assembly/vcpu/exit_record";
import { Machine } from "../../../assembly/guest/machine";
import { FakePlatform, newGuest, newRecord } from "./helpers";

const GP: u32 = INJECT_VALID | INJECT_TYPE_EXCEPTION | INJECT_HAS_ERROR_CODE | 13;

let platform = new FakePlatform();
let machine: Machine = newGuest();

function rdmsr(index: u32): ExitRecord {
  let record = newRecord(ExitReason.MsrRead);
  record.msr = index;
  record.rcx = index;
  record.rax = 0xffffffffffffffff;
  record.rdx = 0xffffffffffffffff;
  record.instructionLength = 2;
  dispatchExit(record, machine, platform);
  return record;
}

function wrmsr(index: u32, value: u64, efer: u64 = 0, cr0: u64 = 0x11): ExitRecord {
  let record = newRecord(ExitReason.MsrWrite);
  record.msr = index;
  record.rcx = index;
  record.rax = 0xaaaaaaaa00000000 | (value & 0xffffffff);
  record.rdx = 0xbbbbbbbb00000000 | (value >> 32);
  record.efer = efer;
  record.cr0 = cr0;
  record.instructionLength = 2;
  dispatchExit(record, machine, platform);
  return record;
}

function value(record: ExitRecord): u64 {
  return (record.rdx << 32) | record.rax;
}

describe("MSRs", () => {
  beforeEach(() => {
    platform = new FakePlatform();
    machine = newGuest();
  });

  it("injects #GP for IA32_FEATURE_CONTROL", () => {
    let record = rdmsr(0x3a);
    expect(record.inject).toBe(GP);
    expect(record.injectErrorCode).toBe(0);
    expect(record.advance).toBe(0);
    expect(wrmsr(0x3a, 5).inject).toBe(GP);
  });

  it("injects #GP for the host's SVM MSRs VM_CR and VM_HSAVE_PA", () => {
    expect(rdmsr(0xc0010114).inject).toBe(GP);
    expect(rdmsr(0xc0010117).inject).toBe(GP);
    expect(wrmsr(0xc0010117, 0x1000).inject).toBe(GP);
    expect(wrmsr(0xc0010114, 0).inject).toBe(GP);
  });

  it("injects #GP for every IA32_VMX_* MSR", () => {
    for (let index: u32 = 0x480; index <= 0x491; index++) {
      expect(rdmsr(index).inject).toBe(GP);
    }
  });

  it("injects #GP for an unknown MSR", () => {
    expect(rdmsr(0x12345).inject).toBe(GP);
    expect(wrmsr(0x12345, 1).inject).toBe(GP);
    expect(rdmsr(0xffffffff).inject).toBe(GP);
  });

  it("leaves registers alone when it injects #GP", () => {
    let record = rdmsr(0x3a);
    expect(record.rax).toBe(0xffffffffffffffff);
    expect(record.rdx).toBe(0xffffffffffffffff);
  });

  it("reads the host TSC for IA32_TSC, as EDX:EAX with the upper halves clear", () => {
    let record = rdmsr(0x10);
    expect(record.inject).toBe(0);
    expect(record.rax).toBe(0x55667788);
    expect(record.rdx).toBe(0x11223344);
    expect(record.advance).toBe(2);
  });

  it("ignores a write to IA32_TSC without a fault", () => {
    let record = wrmsr(0x10, 0);
    expect(record.inject).toBe(0);
    expect(record.advance).toBe(2);
  });

  it("reads IA32_APIC_BASE as an enabled bootstrap APIC at 0xfee00000, which the guest can disable", () => {
    expect(value(rdmsr(0x1b))).toBe(0xfee00900);
    expect(wrmsr(0x1b, 0xfee00100).inject).toBe(0);   // global enable off (SDM vol. 3A 12.4.3)
    expect(value(rdmsr(0x1b))).toBe(0xfee00100);
  });

  it("answers the x2APIC MSRs with #GP while the local APIC is in xAPIC mode", () => {
    expect(rdmsr(0x802).inject).not.toBe(0);
    expect(wrmsr(0x1b, 0xfee00d00).inject).toBe(0);   // x2APIC on (EXTD and EN)
    expect(rdmsr(0x802).inject).toBe(0);              // the x2APIC ID register
    expect(value(rdmsr(0x802))).toBe(0);
  });

  it("reads IA32_MISC_ENABLE as fast strings only, and ignores writes", () => {
    expect(value(rdmsr(0x1a0))).toBe(1);
    expect(wrmsr(0x1a0, 0x400000).inject).toBe(0);
    expect(value(rdmsr(0x1a0))).toBe(1);
  });

  it("reads 0 from MTRRCAP, BIOS_SIGN_ID and PLATFORM_ID, only TscFreqSel from HWCR", () => {
    expect(value(rdmsr(0xfe))).toBe(0);
    expect(value(rdmsr(0x8b))).toBe(0);
    expect(value(rdmsr(0x17))).toBe(0);
    expect(value(rdmsr(0xc0010015))).toBe(1 << 24);
  });

  it("accepts Linux's write of 0 to BIOS_SIGN_ID, and HWCR writes", () => {
    expect(wrmsr(0x8b, 0).inject).toBe(0);
    expect(wrmsr(0xc0010015, 1 << 24).inject).toBe(0);
  });

  it("injects #GP for a write to the read-only MTRRCAP and PLATFORM_ID", () => {
    expect(wrmsr(0xfe, 0).inject).toBe(GP);
    expect(wrmsr(0x17, 0).inject).toBe(GP);
  });

  it("hands PAT and TSC_AUX writes to the stub (they act in hardware), and refuses bad PAT types", () => {
    let record = wrmsr(0x277, 0x0007010600070406);
    expect(record.inject).toBe(0);
    expect(record.pat).toBe(0x0007010600070406);
    expect(record.dirty & DIRTY_PAT).toBe(DIRTY_PAT);
    expect(wrmsr(0x277, 0x0007010600070402).inject).toBe(GP);   // type 2 is reserved
    expect(wrmsr(0x277, 0x0807010600070406).inject).toBe(GP);   // type 8 too
    record = wrmsr(0xc0000103, 0x1234);
    expect(record.tscAux).toBe(0x1234);
    expect(record.dirty & DIRTY_TSC_AUX).toBe(DIRTY_TSC_AUX);
  });

  it("starts PAT at its power-on value and keeps what the guest writes", () => {
    expect(value(rdmsr(0x277))).toBe(0x0007040600070406);
    expect(wrmsr(0x277, 0x0007010600070406).inject).toBe(0);
    expect(value(rdmsr(0x277))).toBe(0x0007010600070406);
  });

  it("keeps the MTRRs as written, starting at 0", () => {
    let indices: u32[] = [0x2ff, 0x200, 0x20f, 0x250, 0x258, 0x259, 0x268, 0x26f];
    for (let i = 0; i < indices.length; i++) {
      expect(value(rdmsr(indices[i]))).toBe(0);
      expect(wrmsr(indices[i], 0x0606060606060606 + i).inject).toBe(0);
    }
    for (let i = 0; i < indices.length; i++) {
      expect(value(rdmsr(indices[i]))).toBe(0x0606060606060606 + i);
    }
  });

  it("does not treat the gaps between MTRR ranges as MTRRs", () => {
    expect(rdmsr(0x210).inject).toBe(GP);
    expect(rdmsr(0x251).inject).toBe(GP);
    expect(rdmsr(0x25a).inject).toBe(GP);
    expect(rdmsr(0x267).inject).toBe(GP);
    expect(rdmsr(0x270).inject).toBe(GP);
  });

  it("keeps TSC_AUX, and injects #GP for its reserved upper half", () => {
    expect(wrmsr(0xc0000103, 3).inject).toBe(0);
    expect(value(rdmsr(0xc0000103))).toBe(3);
    expect(wrmsr(0xc0000103, 0x100000000).inject).toBe(GP);
    expect(value(rdmsr(0xc0000103))).toBe(3);
  });

  it("moves past RDMSR/WRMSR by 2 bytes when the length is unknown", () => {
    let record = newRecord(ExitReason.MsrRead);
    record.msr = 0x10;
    dispatchExit(record, machine, platform);
    expect(record.advance).toBe(2);
    expect(record.action).toBe(ExitAction.Resume);
  });
});

describe("EFER", () => {
  beforeEach(() => {
    platform = new FakePlatform();
    machine = newGuest();
  });

  it("reads the guest's EFER from the record, never with SVME", () => {
    let record = newRecord(ExitReason.MsrRead);
    record.msr = 0xc0000080;
    record.efer = 0xd01 | 0x1000;
    dispatchExit(record, machine, platform);
    expect(value(record)).toBe(0xd01);
  });

  it("stores SCE, LME and NXE and marks EFER dirty", () => {
    let record = wrmsr(0xc0000080, 0x901);
    expect(record.inject).toBe(0);
    expect(record.efer).toBe(0x901);
    expect(record.dirty & DIRTY_EFER).toBe(DIRTY_EFER);
    expect(record.advance).toBe(2);
  });

  it("drops SVME silently: a write with it set does not fault and does not stick", () => {
    let record = wrmsr(0xc0000080, 0x1001);
    expect(record.inject).toBe(0);
    expect(record.efer).toBe(0x1);
  });

  it("injects #GP for a reserved EFER bit", () => {
    let record = wrmsr(0xc0000080, 0x2000, 0x500); // FFXSR
    expect(record.inject).toBe(GP);
    expect(record.efer).toBe(0x500);
    expect(record.dirty).toBe(0);
    expect(wrmsr(0xc0000080, 0x2).inject).toBe(GP);
    expect(wrmsr(0xc0000080, 0x100000000).inject).toBe(GP);
  });

  it("keeps LMA as the CPU set it, whatever the guest writes", () => {
    expect(wrmsr(0xc0000080, 0x500, 0x000, 0x11).efer).toBe(0x100);
    expect(wrmsr(0xc0000080, 0x101, 0x500, 0x80000011).efer).toBe(0x501);
  });

  it("injects #GP for a change of LME while paging is on", () => {
    expect(wrmsr(0xc0000080, 0x000, 0x500, 0x80000011).inject).toBe(GP);
    expect(wrmsr(0xc0000080, 0x100, 0x000, 0x80000011).inject).toBe(GP);
    expect(wrmsr(0xc0000080, 0x100, 0x000, 0x11).inject).toBe(0);
  });
});
