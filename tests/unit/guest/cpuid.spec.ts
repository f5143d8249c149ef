import { dispatchExit } from "../../../assembly/guest/exits";
import { ExitReason, ExitAction } from "../../../assembly/vcpu/exit_record";
import { ExitRecord } from "../../../assembly/vcpu/exit_record";
import { FakePlatform, newGuest, newRecord } from "./helpers";
import { guestCpuid } from "../../../assembly/vcpu/cpuid";

const OUT = memory.data(16, 16);
// guestCpuid as vCPU `vcpu` asks it: [eax, ebx, ecx, edx].
function cpuidOf(platform: FakePlatform, vcpu: u32, leaf: u32, subleaf: u32 = 0): u32[] {
  guestCpuid(leaf, subleaf, 0, 1, platform, OUT, vcpu);
  return [load<u32>(OUT), load<u32>(OUT, 4), load<u32>(OUT, 8), load<u32>(OUT, 12)];
}

function cpuid(platform: FakePlatform, leaf: u32, subleaf: u32 = 0, cr4: u64 = 0, xcr0: u64 = 1): ExitRecord {
  let machine = newGuest();
  let record = newRecord(ExitReason.Cpuid);
  record.rax = 0xffffffff00000000 | leaf;
  record.rcx = 0xffffffff00000000 | subleaf;
  record.rbx = 0xdeadbeefdeadbeef;
  record.rdx = 0xdeadbeefdeadbeef;
  record.cr4 = cr4;
  record.xcr0 = xcr0;
  record.instructionLength = 2;
  dispatchExit(record, machine, platform);
  return record;
}

// A host with XSAVE whose XCR0 may hold `xcr0`.
function xsaveHost(xcr0: u64): FakePlatform {
  let platform = new FakePlatform();
  platform.setCpuid(0, 0, 0x16, 0, 0, 0);
  platform.setCpuid(1, 0, 0, 0, 0xffffffff & ~(1 << 27), 0);
  platform.setCpuid(0xd, 0, <u32>xcr0, 0, 0, <u32>(xcr0 >> 32));
  platform.setCpuid(0xd, 2, 256, 576, 0, 0);
  return platform;
}

describe("CPUID", () => {
  it("sets the hypervisor-present bit in leaf 1 ECX", () => {
    let platform = new FakePlatform();
    platform.setCpuid(1, 0, 0x000a0f00, 0x03020800, 0x00000001, 0x178bfbff);
    let record = cpuid(platform, 1);
    expect((record.rcx >> 31) & 1).toBe(1);
  });

  it("hides VMX (leaf 1 ECX bit 5) and MONITOR/MWAIT (bit 3)", () => {
    let platform = new FakePlatform();
    platform.setCpuid(1, 0, 0, 0, 0x00000028, 0);
    let record = cpuid(platform, 1);
    expect(record.rcx & 0x28).toBe(0);
  });

  it("reports initial APIC ID 0 and one logical CPU in leaf 1, whichever host CPU answered", () => {
    let platform = new FakePlatform();
    platform.setCpuid(1, 0, 0, 0x05100800, 0, 1 << 28);
    let record = cpuid(platform, 1);
    expect(record.rbx).toBe(0x00010800);
    expect((record.rdx >> 28) & 1).toBe(0); // HTT
  });

  it("gives each vCPU its own APIC ID in leaf 1 and the topology leaves", () => {
    let platform = new FakePlatform();
    platform.setCpuid(1, 0, 0, 0x05100800, 0, 0);
    platform.setCpuid(0xb, 0, 1, 2, 0x100, 7);
    expect(cpuidOf(platform, 2, 1)[1]).toBe(0x02010800);
    expect(cpuidOf(platform, 2, 0xb)[3]).toBe(2);
    expect(cpuidOf(platform, 5, 0x1f, 1)[3]).toBe(5);
  });

  it("describes each vCPU as a package of one core of one thread", () => {
    let platform = new FakePlatform();
    platform.setCpuid(0xb, 0, 1, 2, 0x100, 7);
    platform.setCpuid(0xb, 1, 7, 16, 0x201, 7);
    let smt = cpuidOf(platform, 1, 0xb, 0);
    expect(smt[0]).toBe(0);         // shift 0
    expect(smt[1]).toBe(1);         // one logical processor
    expect(smt[2]).toBe(0x100);     // level 0, SMT
    let core = cpuidOf(platform, 1, 0xb, 1);
    expect(core[0]).toBe(0);
    expect(core[1]).toBe(1);
    expect(core[2]).toBe(0x201);    // level 1, core
    let end = cpuidOf(platform, 1, 0xb, 2);
    expect(end[1]).toBe(0);
    expect(end[2]).toBe(2);         // level 2, invalid
    platform.setCpuid(4, 0, 0xfc004121, 0x01c0003f, 0x3f, 0);
    expect(cpuidOf(platform, 0, 4)[0]).toBe(0x0121);
    platform.setCpuid(0x80000008, 0, 0x3030, 0, 0x700f, 0);
    expect(cpuidOf(platform, 0, 0x80000008)[2]).toBe(0);
    platform.setCpuid(0x80000001, 0, 0, 0, (1 << 1) | (1 << 22) | 1, 0);
    expect(cpuidOf(platform, 0, 0x80000001)[2]).toBe(1); // CmpLegacy, TOPOEXT hidden
    platform.setCpuid(0x8000001e, 0, 3, 0x103, 0x300, 0);
    let ext = cpuidOf(platform, 0, 0x8000001e);
    expect(ext[0] | ext[1] | ext[2] | ext[3]).toBe(0);
  });

  it("offers the invariant TSC (leaf 0x80000007 EDX bit 8): one constant rate for all vCPUs", () => {
    let platform = new FakePlatform();
    platform.setCpuid(0x80000007, 0, 0, 0, 0, 0);
    expect((cpuidOf(platform, 0, 0x80000007)[3] >> 8) & 1).toBe(1);
  });

  it("offers XSAVE, AVX, FMA and F16C in leaf 1 ECX, OSXSAVE as the guest's CR4 says", () => {
    let platform = xsaveHost(0x2e7);
    let ecx = cpuid(platform, 1, 0, 0).rcx;
    expect((ecx >> 26) & 1).toBe(1); // XSAVE
    expect((ecx >> 27) & 1).toBe(0); // OSXSAVE: the guest's CR4.OSXSAVE is clear
    expect((ecx >> 28) & 1).toBe(1); // AVX
    expect((ecx >> 12) & 1).toBe(1); // FMA
    expect((ecx >> 29) & 1).toBe(1); // F16C
    expect((ecx >> 0) & 1).toBe(1);  // SSE3 stays
    ecx = cpuid(platform, 1, 0, 1 << 18).rcx;
    expect((ecx >> 27) & 1).toBe(1);
  });

  it("hides XSAVE, OSXSAVE, AVX, FMA and F16C on a host without XSAVE", () => {
    let platform = new FakePlatform();
    platform.setCpuid(1, 0, 0, 0, 0xffffffff & ~(1 << 26), 0);
    let ecx = cpuid(platform, 1, 0, 1 << 18).rcx;
    expect(ecx & ((1 << 12) | (1 << 26) | (1 << 27) | (1 << 28) | (1 << 29))).toBe(0);
    expect((ecx >> 0) & 1).toBe(1);
    // And from the kept answer.
    expect(cpuid(platform, 1, 0, 1 << 18).rcx & ((1 << 26) | (1 << 27))).toBe(0);
    platform.setCpuid(0xd, 0, 0x7, 0x240, 0x340, 0);
    let record = cpuid(platform, 0xd, 0);
    expect(record.rax | record.rbx | record.rcx | record.rdx).toBe(0);
  });

  it("hides AVX, FMA, F16C and AVX2 when the host's XCR0 lacks AVX", () => {
    let platform = xsaveHost(0x3);
    expect(cpuid(platform, 1).rcx & ((1 << 12) | (1 << 28) | (1 << 29))).toBe(0);
    expect((cpuid(platform, 1).rcx >> 26) & 1).toBe(1);
    platform.setCpuid(7, 0, 0, 0x21, 0, 0);
    expect(cpuid(platform, 7).rbx).toBe(0x1);
  });

  it("hides the speculation controls and features whose MSRs or state are not virtualised", () => {
    let platform = new FakePlatform();
    platform.setCpuid(7, 0, 0, 0, 0xffffffff, 0xffffffff);
    let leaf7 = cpuidOf(platform, 0, 7);
    expect(leaf7[3] & 0xfc000000).toBe(0);                            // IBRS .. SSBD
    expect(leaf7[3] & ((1 << 5) | (1 << 9) | (1 << 10) | (1 << 13) | (1 << 20))).toBe(0);
    expect(leaf7[2] & ((1 << 7) | (1 << 16) | (1 << 23) | (1 << 31))).toBe(0); // CET_SS, LA57, KL, PKS
    platform.setCpuid(0x80000008, 0, 0x3030, 0xffffffff, 0, 0);
    let ext8 = cpuidOf(platform, 0, 0x80000008);
    expect(ext8[1] & ((1 << 12) | (1 << 14) | (1 << 15) | (1 << 24) | (1 << 25))).toBe(0);
    expect((ext8[1] >> 26) & 1).toBe(1);                               // SSB_NO stays
  });

  it("offers AVX2 but hides AVX-512, PKU and OSPKE in leaf 7", () => {
    let platform = xsaveHost(0x2e7);
    platform.setCpuid(7, 0, 0, 0xffffffff, 0x18, 0xffffffff);
    let record = cpuid(platform, 7, 0, 1 << 22);
    expect((record.rbx >> 5) & 1).toBe(1);  // AVX2
    expect((record.rbx >> 16) & 1).toBe(0); // AVX512F
    expect((record.rbx >> 0) & 1).toBe(1);  // FSGSBASE stays
    expect(record.rcx).toBe(0);
    expect((record.rdx >> 22) & 7).toBe(0); // AMX
    platform.setCpuid(7, 1, 0x30, 0, 0, 0);
    expect(cpuid(platform, 7, 1).rax).toBe(0x10); // AVX-VNNI, not AVX512_BF16
  });

  it("answers leaf 0xD for x87, SSE and AVX only, sizes for the guest's XCR0", () => {
    let platform = xsaveHost(0x602e7); // + AVX-512, PKRU, AMX
    platform.setCpuid(0xd, 0, 0x602e7, 0xa88, 0x2b00, 0);
    platform.setCpuid(0xd, 1, 0x1f, 0xa88, 0x1800, 0);
    platform.setCpuid(0xd, 2, 256, 576, 0, 0);
    platform.setCpuid(0xd, 5, 64, 1088, 0, 0);
    platform.setCpuid(0xd, 9, 8, 2688, 0, 0);
    let record = cpuid(platform, 0xd, 0, 1 << 18, 0x7);
    expect(record.rax).toBe(0x7);
    expect(record.rbx).toBe(832);
    expect(record.rcx).toBe(832);
    expect(record.rdx).toBe(0);
    expect(cpuid(platform, 0xd, 0, 1 << 18, 0x3).rbx).toBe(576);
    record = cpuid(platform, 0xd, 1, 1 << 18, 0x7);
    expect(record.rax).toBe(0x7);          // XSAVEOPT, XSAVEC, XGETBV1; no XSAVES, XFD
    expect(record.rbx).toBe(832);
    expect(record.rcx | record.rdx).toBe(0); // no supervisor components
    record = cpuid(platform, 0xd, 2);
    expect(record.rax).toBe(256);
    expect(record.rbx).toBe(576);
    record = cpuid(platform, 0xd, 5);
    expect(record.rax | record.rbx).toBe(0);
    record = cpuid(platform, 0xd, 9);
    expect(record.rax | record.rbx).toBe(0);
    record = cpuid(platform, 0xd, 63);
    expect(record.rax | record.rbx | record.rcx | record.rdx).toBe(0);
  });

  it("hides SVM in leaf 0x80000001 ECX bit 2, and CmpLegacy", () => {
    let platform = new FakePlatform();
    platform.setCpuid(0x80000001, 0, 0, 0, 0x000000ff, 0);
    let record = cpuid(platform, 0x80000001);
    expect(record.rcx).toBe(0xf9); // SVM and CmpLegacy (bit 1) hidden
  });

  it("answers zeros for the SVM feature leaf 0x8000000A", () => {
    let platform = new FakePlatform();
    platform.setCpuid(0x8000000a, 0, 1, 0x8000, 0, 0x1ebfbcff);
    let record = cpuid(platform, 0x8000000a);
    expect(record.rax).toBe(0);
    expect(record.rbx).toBe(0);
    expect(record.rcx).toBe(0);
    expect(record.rdx).toBe(0);
  });

  it("answers our signature at 0x40000000 without asking the host", () => {
    let platform = new FakePlatform();
    let record = cpuid(platform, 0x40000000);
    expect(platform.cpuidCalls).toBe(0);
    expect(record.rax).toBe(0x40000010);
    let signature = new ArrayBuffer(12);
    store<u32>(changetype<usize>(signature), <u32>record.rbx);
    store<u32>(changetype<usize>(signature), <u32>record.rcx, 4);
    store<u32>(changetype<usize>(signature), <u32>record.rdx, 8);
    expect(String.UTF8.decode(signature)).toBe("tshv-hv-core");
  });

  it("gives the TSC rate and the APIC timer rate in kHz at 0x40000010, as VMware and KVM do", () => {
    let platform = new FakePlatform();
    platform.hz = 2_345_678_000;
    let record = cpuid(platform, 0x40000010);
    expect(record.rax).toBe(2_345_678);
    expect(record.rbx).toBe(1_000_000);       // the local APIC timer runs at 1 GHz
    expect(record.rcx | record.rdx).toBe(0);
  });

  it("offers the local APIC, x2APIC and the TSC-deadline timer the platform backs", () => {
    let platform = new FakePlatform();
    platform.setCpuid(1, 0, 0, 0, 0, 0);
    let record = cpuid(platform, 1);
    expect(<u32>record.rdx & (1 << 9)).toBe(1 << 9);
    expect(<u32>record.rcx & (1 << 21)).toBe(1 << 21);
    expect(<u32>record.rcx & (1 << 24)).toBe(1 << 24);
  });

  it("hides machine-check, debug-store, thermal and perfmon features whose MSRs are not backed", () => {
    let platform = new FakePlatform();
    platform.setCpuid(1, 0, 0, 0, 0xffffffff, 0xffffffff);
    platform.setCpuid(0xa, 0, 0x07300404, 0, 0, 0x603);
    let record = cpuid(platform, 1);
    expect(<u32>record.rdx & ((1 << 7) | (1 << 14) | (1 << 21) | (1 << 22))).toBe(0);
    expect(<u32>record.rcx & ((1 << 2) | (1 << 7) | (1 << 15))).toBe(0);
    expect(<u32>record.rdx & 1).toBe(1);    // the FPU stays
    record = cpuid(platform, 0xa);
    expect(record.rax | record.rdx).toBe(0);
  });

  it("gives the vCPU's x2APIC ID (0) in the topology leaves, not the host CPU's", () => {
    let platform = new FakePlatform();
    platform.setCpuid(0xb, 0, 1, 2, 0x100, 7);
    platform.setCpuid(0x1f, 0, 1, 2, 0x100, 7);
    expect(cpuid(platform, 0xb).rdx).toBe(0);
    expect(cpuid(platform, 0x1f).rdx).toBe(0);
  });

  it("answers zeros for the rest of our range 0x40000001-0x400000FF", () => {
    let platform = new FakePlatform();
    platform.setCpuid(0x40000001, 0, 1, 2, 3, 4);
    let record = cpuid(platform, 0x40000001);
    expect(record.rax | record.rbx | record.rcx | record.rdx).toBe(0);
    record = cpuid(platform, 0x4000000f);
    expect(record.rax | record.rbx | record.rcx | record.rdx).toBe(0);
    record = cpuid(platform, 0x400000ff);
    expect(record.rax | record.rbx | record.rcx | record.rdx).toBe(0);
  });

  it("passes other leaves through, zero-extended into the 64-bit registers", () => {
    let platform = new FakePlatform();
    platform.setCpuid(0, 0, 0x16, 0x68747541, 0x444d4163, 0x69746e65);
    let record = cpuid(platform, 0);
    expect(record.rax).toBe(0x16);
    expect(record.rbx).toBe(0x68747541);
    expect(record.rcx).toBe(0x444d4163);
    expect(record.rdx).toBe(0x69746e65);
  });

  it("passes the subleaf from ECX", () => {
    let platform = new FakePlatform();
    platform.setCpuid(0x14, 1, 0xf, 0, 0, 0);
    expect(cpuid(platform, 0x14, 1).rax).toBe(0xf);
    expect(cpuid(platform, 0x14, 0).rax).toBe(0);
  });

  it("moves past CPUID by the instruction length, or 2 bytes when unknown", () => {
    let platform = new FakePlatform();
    let record = cpuid(platform, 0);
    expect(record.advance).toBe(2);
    expect(record.action).toBe(ExitAction.Resume);
    let machine = newGuest();
    record = newRecord(ExitReason.Cpuid);
    record.instructionLength = 3; // with a prefix
    dispatchExit(record, machine, platform);
    expect(record.advance).toBe(3);
    record = newRecord(ExitReason.Cpuid);
    dispatchExit(record, machine, platform);
    expect(record.advance).toBe(2);
  });
});

describe("CPUID cost", () => {
  it("asks the host for a leaf once, and for its XSAVE support once, not on every exit", () => {
    let platform = xsaveHost(0x7);
    cpuid(platform, 1);
    let first = platform.cpuidCalls;
    let ecx = cpuid(platform, 1).rcx;
    expect(platform.cpuidCalls - first).toBe(0); // the answer was kept
    expect((ecx >> 28) & 1).toBe(1);             // AVX offered, from the first answer
  });

  it("puts the vCPU and the guest's CR4 into each kept answer", () => {
    let platform = xsaveHost(0x7);
    platform.setCpuid(0xb, 0, 1, 2, 0x100, 7);
    expect(cpuidOf(platform, 1, 1)[1] >> 24).toBe(1);
    expect(cpuidOf(platform, 3, 1)[1] >> 24).toBe(3);
    expect(cpuidOf(platform, 1, 0xb)[3]).toBe(1);
    expect(cpuidOf(platform, 4, 0xb)[3]).toBe(4);
    expect((cpuid(platform, 1, 0, 1 << 18).rcx >> 27) & 1).toBe(1);   // CR4.OSXSAVE set
    expect((cpuid(platform, 1, 0, 0).rcx >> 27) & 1).toBe(0);         // and clear again
  });

  it("answers two leaves that share a slot, each its own", () => {
    let platform = new FakePlatform();
    platform.setCpuid(6, 0, 0x11, 0x22, 0x33, 0x44);
    platform.setCpuid(0x26, 0, 0x55, 0x66, 0x77, 0x88);   // 0x26 & 31 == 6
    for (let i = 0; i < 3; i++) {
      expect(cpuidOf(platform, 0, 6)).toStrictEqual([0x11, 0x22, 0x33, 0x44]);
      expect(cpuidOf(platform, 0, 0x26)).toStrictEqual([0x55, 0x66, 0x77, 0x88]);
      expect(cpuidOf(platform, 0, 6, 4)[0]).toBe(0);      // another subleaf, no answer set
    }
  });

  it("computes leaf 0xD each time: it follows the guest's XCR0", () => {
    let platform = xsaveHost(0x7);
    guestCpuid(0xd, 0, 1 << 18, 0x3, platform, OUT, 0);
    expect(load<u32>(OUT, 4)).toBe(576);
    guestCpuid(0xd, 0, 1 << 18, 0x7, platform, OUT, 0);
    expect(load<u32>(OUT, 4)).toBe(832);
  });
});
