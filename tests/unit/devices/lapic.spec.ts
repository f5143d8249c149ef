import {
  Lapic, LAPIC_STRIDE, LAPIC_TIMER_HZ, APIC_VERSION, LVT_MASKED,
  ESR_SEND_ILLEGAL_VECTOR, ESR_RECEIVE_ILLEGAL_VECTOR,
} from "../../../assembly/devices/lapic";
import { IoApic } from "../../../assembly/devices/ioapic";
import { GuestClock, NO_DEADLINE } from "../../../assembly/devices/clock";

const LAPICS: usize = memory.data(2 * 512, 16);
const IOAPIC: usize = memory.data(offsetof<IoApic>(), 16);
const CLOCK: usize = memory.data(offsetof<GuestClock>(), 16);
// The guest TSC runs at 2 GHz: one timer tick (1 GHz) is 2 TSC ticks.
const TSC_HZ: u64 = 2000000000;

// xAPIC register offsets (SDM vol. 3A, table 12-1).
const ID: u32 = 0x20;
const VERSION: u32 = 0x30;
const TPR: u32 = 0x80;
const APR: u32 = 0x90;
const PPR: u32 = 0xa0;
const EOI: u32 = 0xb0;
const LDR: u32 = 0xd0;
const DFR: u32 = 0xe0;
const SVR: u32 = 0xf0;
const ISR: u32 = 0x100;
const TMR: u32 = 0x180;
const IRR: u32 = 0x200;
const ESR: u32 = 0x280;
const ICR_LOW: u32 = 0x300;
const ICR_HIGH: u32 = 0x310;
const LVT_TIMER: u32 = 0x320;
const LVT_THERMAL: u32 = 0x330;
const LVT_PERF: u32 = 0x340;
const LVT_LINT0: u32 = 0x350;
const LVT_LINT1: u32 = 0x360;
const LVT_ERROR: u32 = 0x370;
const TIMER_INITIAL: u32 = 0x380;
const TIMER_CURRENT: u32 = 0x390;
const TIMER_DIVIDE: u32 = 0x3e0;
const MSR_ID: u32 = 0x802;
const MSR_TPR: u32 = 0x808;
const MSR_EOI: u32 = 0x80b;
const MSR_LDR: u32 = 0x80d;
const MSR_SVR: u32 = 0x80f;
const MSR_ESR: u32 = 0x828;
const MSR_ICR: u32 = 0x830;
const MSR_LVT_TIMER: u32 = 0x832;
const MSR_SELF_IPI: u32 = 0x83f;
const TIMER_PERIODIC: u32 = 1 << 17;
const TIMER_TSC_DEADLINE: u32 = 2 << 17;

function clock(): GuestClock {
  return changetype<GuestClock>(CLOCK);
}

function newLapic(vcpuIndex: u32 = 0): Lapic {
  let c = clock();
  c.init(TSC_HZ, 0);
  c.now = 1000;
  let address = LAPICS + <usize>(vcpuIndex & 1) * LAPIC_STRIDE;
  memory.fill(address, 0xee, offsetof<Lapic>()); // reset() must set every field
  let lapic = changetype<Lapic>(address);
  lapic.clock = c;
  lapic.ioapic = changetype<IoApic>(0);
  lapic.reset(vcpuIndex);
  return lapic;
}

function read(lapic: Lapic, offset: u32): u32 {
  return <u32>lapic.mmioRead(offset, 4);
}

function write(lapic: Lapic, offset: u32, value: u32): void {
  lapic.mmioWrite(offset, 4, value);
}

function enabledLapic(vcpuIndex: u32 = 0): Lapic {
  let lapic = newLapic(vcpuIndex);
  write(lapic, SVR, 0x1ff);
  return lapic;
}

function x2apicLapic(vcpuIndex: u32 = 0): Lapic {
  let lapic = enabledLapic(vcpuIndex);
  lapic.apicBaseWrite(lapic.apicBaseRead() | (1 << 10));
  return lapic;
}

function readEsr(lapic: Lapic): u32 {
  write(lapic, ESR, 0);
  return read(lapic, ESR);
}

function msr(lapic: Lapic, index: u32): u64 {
  expect(lapic.msrRead(index)).toBe(true);
  return lapic.msrValue;
}

describe("the local APIC at reset", () => {
  it("sits at 0xFEE00000, enabled, with the BSP bit on vCPU 0 only", () => {
    expect(newLapic(0).apicBaseRead()).toBe(0xfee00900);
    expect(newLapic(1).apicBaseRead()).toBe(0xfee00800);
  });

  it("reports the vCPU index as its APIC ID and version 0x14 with six LVT entries", () => {
    let lapic = newLapic(1);
    expect(read(lapic, ID)).toBe(0x01000000);
    expect(read(lapic, VERSION)).toBe(APIC_VERSION);
    expect((read(lapic, VERSION) >> 16) & 0xff).toBe(5);
  });

  it("leaves the BSP in virtual wire mode, as a PC BIOS does: LINT0 ExtINT, LINT1 NMI", () => {
    let lapic = newLapic(0);
    expect(read(lapic, LVT_LINT0)).toBe(0x700);
    expect(read(lapic, LVT_LINT1)).toBe(0x400);
    expect(read(lapic, SVR)).toBe(0x1ff);
    expect(lapic.acceptsPicInterrupts()).toBe(true);
    expect(read(lapic, LVT_TIMER)).toBe(LVT_MASKED);
    expect(read(lapic, LVT_ERROR)).toBe(LVT_MASKED);
  });

  it("masks every LVT entry and disables itself in software on an AP (SDM 12.4.7.1)", () => {
    let lapic = newLapic(1);
    let lvts: u32[] = [LVT_TIMER, LVT_THERMAL, LVT_PERF, LVT_LINT0, LVT_LINT1, LVT_ERROR];
    for (let i = 0; i < lvts.length; i++) expect(read(lapic, lvts[i])).toBe(LVT_MASKED);
    expect(read(lapic, SVR)).toBe(0xff);
    expect(read(lapic, DFR)).toBe(0xffffffff);
    expect(read(lapic, LDR)).toBe(0);
    expect(read(lapic, TPR)).toBe(0);
    expect(lapic.acceptsPicInterrupts()).toBe(false);
    expect(lapic.pendingVector()).toBe(-1);
  });

  it("lays Lapics out 16-byte aligned, one stride apart", () => {
    expect(LAPIC_STRIDE % 16).toBe(0);
    expect(<usize>LAPIC_STRIDE).toBeGreaterThanOrEqual(offsetof<Lapic>());
    expect(LAPIC_STRIDE).toBeLessThanOrEqual(512);
  });
});

describe("the local APIC's xAPIC page", () => {
  it("reads 0 and ignores writes at other sizes and unaligned offsets", () => {
    let lapic = newLapic(1);
    expect(lapic.mmioRead(ID, 1)).toBe(0);
    expect(lapic.mmioRead(ID, 8)).toBe(0);
    expect(lapic.mmioRead(ID + 4, 4)).toBe(0);
    lapic.mmioWrite(TPR, 1, 0x50);
    lapic.mmioWrite(TPR + 4, 4, 0x50);
    expect(read(lapic, TPR)).toBe(0);
  });

  it("reads 0 from the EOI, APR and reserved registers", () => {
    let lapic = newLapic();
    expect(read(lapic, EOI)).toBe(0);
    expect(read(lapic, APR)).toBe(0);
    expect(read(lapic, 0x2f0)).toBe(0); // no CMCI entry
    expect(read(lapic, 0x3f0)).toBe(0); // SELF IPI is x2APIC only
    expect(read(lapic, 0xff0)).toBe(0);
  });

  it("keeps the xAPIC ID in bits 31-24 and the LDR in bits 31-24", () => {
    let lapic = newLapic();
    write(lapic, ID, 0xffffffff);
    expect(read(lapic, ID)).toBe(0xff000000);
    write(lapic, LDR, 0xffffffff);
    expect(read(lapic, LDR)).toBe(0xff000000);
  });

  it("keeps DFR bits 31-28 and reads the rest as ones", () => {
    let lapic = newLapic();
    write(lapic, DFR, 0x0);
    expect(read(lapic, DFR)).toBe(0x0fffffff);
    write(lapic, DFR, 0xf0000000);
    expect(read(lapic, DFR)).toBe(0xffffffff);
  });

  it("keeps only the writable bits of each LVT entry", () => {
    let lapic = enabledLapic();
    write(lapic, LVT_LINT0, 0xffffffff);
    expect(read(lapic, LVT_LINT0)).toBe(0x1a7ff);
    write(lapic, LVT_THERMAL, 0xffffffff);
    expect(read(lapic, LVT_THERMAL)).toBe(0x107ff);
    write(lapic, LVT_ERROR, 0xffffffff);
    expect(read(lapic, LVT_ERROR)).toBe(0x100ff);
    write(lapic, LVT_TIMER, 0x000700ff);
    expect(read(lapic, LVT_TIMER)).toBe(0x000700ff);
    write(lapic, TIMER_DIVIDE, 0xffffffff);
    expect(read(lapic, TIMER_DIVIDE)).toBe(0xb);
    write(lapic, SVR, 0xffffffff);
    expect(read(lapic, SVR)).toBe(0x3ff);
  });

  it("ignores writes to its read-only registers", () => {
    let lapic = enabledLapic();
    write(lapic, VERSION, 0);
    write(lapic, PPR, 0xff);
    write(lapic, IRR, 0xffffffff);
    write(lapic, ISR + 0x70, 0xffffffff);
    write(lapic, TIMER_CURRENT, 5);
    expect(read(lapic, VERSION)).toBe(APIC_VERSION);
    expect(read(lapic, PPR)).toBe(0);
    expect(read(lapic, IRR)).toBe(0);
    expect(read(lapic, ISR + 0x70)).toBe(0);
    expect(read(lapic, TIMER_CURRENT)).toBe(0);
  });

  it("masks every LVT entry when software-disabled, and keeps them masked", () => {
    let lapic = newLapic(0);
    write(lapic, SVR, 0x0ff);
    expect(read(lapic, LVT_LINT0)).toBe(0x10700);
    expect(read(lapic, LVT_LINT1)).toBe(0x10400);
    expect(lapic.acceptsPicInterrupts()).toBe(false);
    write(lapic, LVT_LINT0, 0x700);
    expect(read(lapic, LVT_LINT0)).toBe(0x10700);
    write(lapic, SVR, 0x1ff);                // enabling does not unmask
    expect(read(lapic, LVT_LINT0)).toBe(0x10700);
    write(lapic, LVT_LINT0, 0x700);
    expect(lapic.acceptsPicInterrupts()).toBe(true);
  });
});

describe("the local APIC's interrupt acceptance", () => {
  it("offers the highest vector in the IRR, and moves it to the ISR when taken", () => {
    let lapic = enabledLapic();
    lapic.acceptInterrupt(0x31, false);
    lapic.acceptInterrupt(0x85, false);
    expect(read(lapic, IRR + 0x10)).toBe(1 << 17);     // vector 0x31: IRR dword 1, bit 17
    expect(read(lapic, IRR + 0x40)).toBe(1 << 5);      // vector 0x85: dword 4, bit 5
    expect(lapic.pendingVector()).toBe(0x85);
    lapic.acknowledgeVector(0x85);
    expect(read(lapic, IRR + 0x40)).toBe(0);
    expect(read(lapic, ISR + 0x40)).toBe(1 << 5);
    expect(lapic.pendingVector()).toBe(-1);            // 0x31 is below the class in service
  });

  it("computes the PPR from the TPR and the highest class in service (12.8.3.1)", () => {
    let lapic = enabledLapic();
    write(lapic, TPR, 0x45);
    expect(read(lapic, PPR)).toBe(0x45);
    lapic.acceptInterrupt(0x61, false);
    lapic.acknowledgeVector(0x61);
    expect(read(lapic, PPR)).toBe(0x60);
    write(lapic, TPR, 0x72);
    expect(read(lapic, PPR)).toBe(0x72);
  });

  it("holds back vectors whose class is not above the TPR's", () => {
    let lapic = enabledLapic();
    write(lapic, TPR, 0x50);
    lapic.acceptInterrupt(0x5f, false);
    expect(lapic.pendingVector()).toBe(-1);
    lapic.acceptInterrupt(0x60, false);
    expect(lapic.pendingVector()).toBe(0x60);
  });

  it("maps CR8 to TPR bits 7-4", () => {
    let lapic = enabledLapic();
    lapic.cr8Write(0x3);
    expect(read(lapic, TPR)).toBe(0x30);
    write(lapic, TPR, 0xa7);
    expect(lapic.cr8Read()).toBe(0xa);
    lapic.cr8Write(0xff);
    expect(read(lapic, TPR)).toBe(0xf0);
  });

  it("nests: an EOI ends the highest vector in service", () => {
    let lapic = enabledLapic();
    lapic.acceptInterrupt(0x40, false);
    lapic.acknowledgeVector(0x40);
    lapic.acceptInterrupt(0x90, false);
    expect(lapic.pendingVector()).toBe(0x90);
    lapic.acknowledgeVector(0x90);
    write(lapic, EOI, 0);
    expect(read(lapic, ISR + 0x40)).toBe(0);
    expect(read(lapic, ISR + 0x20)).toBe(1);
    write(lapic, EOI, 0);
    expect(read(lapic, ISR + 0x20)).toBe(0);
    write(lapic, EOI, 0); // nothing in service: nothing happens
  });

  it("sets the TMR for a level-triggered vector and tells the I/O APIC at its EOI", () => {
    let lapic = enabledLapic();
    let ioapic = changetype<IoApic>(IOAPIC);
    memory.fill(IOAPIC, 0xee, offsetof<IoApic>());
    ioapic.lapics = changetype<usize>(lapic);
    ioapic.lapicCount = 1;
    ioapic.reset();
    lapic.ioapic = ioapic;
    ioapic.mmioWrite(0, 4, 0x10 + 2 * 9);
    ioapic.mmioWrite(0x10, 4, 0x8000 | 0x49); // level, vector 0x49, destination 0
    ioapic.setPin(9, true);
    expect(read(lapic, TMR + 0x20)).toBe(1 << 9);
    lapic.acknowledgeVector(<u32>lapic.pendingVector());
    ioapic.setPin(9, false);
    expect(<u32>ioapic.mmioRead(0x10, 4) & 0x4000).toBe(0x4000); // remote IRR
    write(lapic, EOI, 0);
    expect(<u32>ioapic.mmioRead(0x10, 4) & 0x4000).toBe(0);
  });

  it("clears the TMR bit when the vector comes again edge-triggered", () => {
    let lapic = enabledLapic();
    lapic.acceptInterrupt(0x50, true);
    lapic.acknowledgeVector(0x50);
    write(lapic, EOI, 0); // no I/O APIC wired: nothing to tell
    lapic.acceptInterrupt(0x50, false);
    expect(read(lapic, TMR + 0x20)).toBe(0);
  });

  it("refuses vectors below 16 with 'received illegal vector' in the ESR", () => {
    let lapic = enabledLapic();
    lapic.acceptInterrupt(15, false);
    expect(lapic.pendingVector()).toBe(-1);
    expect(read(lapic, IRR)).toBe(0);
    expect(readEsr(lapic)).toBe(ESR_RECEIVE_ILLEGAL_VECTOR);
  });

  it("shows errors in the ESR only after a write latches them, and a second write clears them", () => {
    let lapic = enabledLapic();
    lapic.acceptInterrupt(3, false);
    expect(read(lapic, ESR)).toBe(0);
    write(lapic, ESR, 0xffffffff);
    expect(read(lapic, ESR)).toBe(ESR_RECEIVE_ILLEGAL_VECTOR);
    write(lapic, ESR, 0);
    expect(read(lapic, ESR)).toBe(0);
  });

  it("raises the LVT error interrupt on a new error", () => {
    let lapic = enabledLapic();
    write(lapic, LVT_ERROR, 0xfe);
    lapic.acceptInterrupt(1, false);
    expect(lapic.pendingVector()).toBe(0xfe);
    lapic.acknowledgeVector(0xfe);
    lapic.acceptInterrupt(1, false); // already logged: no second interrupt
    expect(lapic.pendingVector()).toBe(-1);
  });

  it("survives an LVT error entry with an illegal vector", () => {
    let lapic = enabledLapic();
    write(lapic, LVT_ERROR, 0x05);
    lapic.acceptInterrupt(2, false);
    expect(lapic.pendingVector()).toBe(-1);
    expect(readEsr(lapic)).toBe(ESR_RECEIVE_ILLEGAL_VECTOR);
  });

  it("drops fixed interrupts while software-disabled, but takes NMIs", () => {
    let lapic = newLapic(1);
    lapic.acceptInterrupt(0x40, false);
    expect(read(lapic, IRR + 0x20)).toBe(0);
    expect(lapic.pendingVector()).toBe(-1);
    lapic.acceptNmi();
    expect(lapic.nmiPending).toBe(true);
  });

  it("offers nothing once software-disabled with vectors already in the IRR", () => {
    let lapic = enabledLapic();
    lapic.acceptInterrupt(0x40, false);
    write(lapic, SVR, 0xff);
    expect(lapic.pendingVector()).toBe(-1);
    write(lapic, SVR, 0x1ff);
    expect(lapic.pendingVector()).toBe(0x40);
  });
});

describe("the local APIC's destinations", () => {
  it("matches its physical ID and the 0xFF broadcast in xAPIC mode", () => {
    let lapic = newLapic(1);
    expect(lapic.matchesDestination(1, false)).toBe(true);
    expect(lapic.matchesDestination(2, false)).toBe(false);
    expect(lapic.matchesDestination(0xff, false)).toBe(true);
    expect(lapic.matchesDestination(0x101, false)).toBe(true); // xAPIC messages carry 8 bits
  });

  it("matches a flat logical destination against its LDR bits", () => {
    let lapic = newLapic(1);
    write(lapic, LDR, 0x02000000);
    expect(lapic.matchesDestination(0x02, true)).toBe(true);
    expect(lapic.matchesDestination(0x03, true)).toBe(true);
    expect(lapic.matchesDestination(0x01, true)).toBe(false);
  });

  it("matches a cluster logical destination by cluster and member bit", () => {
    let lapic = newLapic(1);
    write(lapic, DFR, 0x0fffffff);
    write(lapic, LDR, 0x21000000); // cluster 2, member bit 0
    expect(lapic.matchesDestination(0x21, true)).toBe(true);
    expect(lapic.matchesDestination(0x23, true)).toBe(true);
    expect(lapic.matchesDestination(0x11, true)).toBe(false);
    expect(lapic.matchesDestination(0x22, true)).toBe(false);
    expect(lapic.matchesDestination(0xff, true)).toBe(true);
  });

  it("matches x2APIC physical IDs, 0xFFFFFFFF, and logical cluster IDs from the x2APIC ID", () => {
    let lapic = x2apicLapic(1);
    expect(lapic.matchesDestination(1, false)).toBe(true);
    expect(lapic.matchesDestination(0x101, false)).toBe(false);
    expect(lapic.matchesDestination(0xffffffff, false)).toBe(true);
    expect(lapic.matchesDestination(0x00000002, true)).toBe(true);  // cluster 0, bit 1
    expect(lapic.matchesDestination(0x00010002, true)).toBe(false); // cluster 1
  });

  it("takes part in no message while hardware-disabled", () => {
    let lapic = newLapic(1);
    lapic.apicBaseWrite(0xfee00000);
    expect(lapic.matchesDestination(0xff, false)).toBe(false);
    lapic.acceptNmi();
    expect(lapic.nmiPending).toBe(false);
  });
});

describe("the local APIC's IA32_APIC_BASE", () => {
  it("goes from xAPIC to x2APIC, and refuses to go straight back (12.12.5)", () => {
    let lapic = enabledLapic(1);
    expect(lapic.apicBaseWrite(0xfee00c00)).toBe(true);
    expect(lapic.x2apicMode()).toBe(true);
    expect(lapic.apicBaseWrite(0xfee00800)).toBe(false);
    expect(lapic.apicBaseRead()).toBe(0xfee00c00);
  });

  it("refuses x2APIC without the global enable, and from the disabled state", () => {
    let lapic = newLapic(1);
    expect(lapic.apicBaseWrite(0xfee00400)).toBe(false);
    expect(lapic.apicBaseWrite(0xfee00000)).toBe(true);
    expect(lapic.apicBaseWrite(0xfee00c00)).toBe(false);
    expect(lapic.apicBaseWrite(0xfee00800)).toBe(true);
  });

  it("goes from x2APIC to disabled and then to xAPIC", () => {
    let lapic = x2apicLapic(1);
    expect(lapic.apicBaseWrite(0xfee00000)).toBe(true);
    expect(lapic.apicBaseWrite(0xfee00800)).toBe(true);
    expect(read(lapic, ID)).toBe(0x01000000);
  });

  it("refuses reserved bits", () => {
    let lapic = newLapic(0);
    expect(lapic.apicBaseWrite(0xfee00901)).toBe(false);
    expect(lapic.apicBaseWrite(0xfee00b00)).toBe(false); // bit 9
    expect(lapic.apicBaseWrite(0x8000_0000_fee00900)).toBe(false);
    expect(lapic.apicBaseRead()).toBe(0xfee00900);
  });

  it("keeps the BSP bit read-only", () => {
    expect(newLapic(0).apicBaseWrite(0xfee00800)).toBe(true);
    expect(changetype<Lapic>(LAPICS).apicBaseRead()).toBe(0xfee00900);
    let ap = newLapic(1);
    ap.apicBaseWrite(0xfee00900);
    expect(ap.apicBaseRead()).toBe(0xfee00800);
  });

  it("accepts a moved base for reads but keeps decoding at 0xFEE00000", () => {
    let lapic = newLapic(0);
    expect(lapic.apicBaseWrite(0xfed00900)).toBe(true);
    expect(lapic.apicBaseRead()).toBe(0xfed00900);
    expect(read(lapic, VERSION)).toBe(APIC_VERSION);
  });

  it("stops decoding its page while disabled (all ones, writes dropped), and passes the PIC", () => {
    let lapic = newLapic(0);
    write(lapic, TPR, 0x20);
    lapic.apicBaseWrite(0xfee00100);
    expect(read(lapic, VERSION)).toBe(0xffffffff);
    expect(lapic.mmioRead(TPR, 1)).toBe(0xff);
    write(lapic, TPR, 0x30);
    expect(lapic.acceptsPicInterrupts()).toBe(true);
    lapic.acceptInterrupt(0x40, false);
    expect(lapic.pendingVector()).toBe(-1);
  });

  it("comes back from disabled in its power-on state", () => {
    let lapic = newLapic(0);
    write(lapic, TPR, 0x20);
    lapic.acceptInterrupt(0x40, false);
    lapic.apicBaseWrite(0xfee00100);
    lapic.apicBaseWrite(0xfee00900);
    expect(read(lapic, TPR)).toBe(0);
    expect(read(lapic, SVR)).toBe(0xff);
    expect(read(lapic, LVT_LINT0)).toBe(LVT_MASKED);
    expect(read(lapic, IRR + 0x20)).toBe(0);
  });
});

describe("the local APIC's x2APIC MSRs", () => {
  it("raises #GP for x2APIC MSRs while in xAPIC mode", () => {
    let lapic = enabledLapic();
    expect(lapic.msrRead(MSR_ID)).toBe(false);
    expect(lapic.msrWrite(MSR_TPR, 0)).toBe(false);
    expect(lapic.msrRead(0x7ff)).toBe(false);
  });

  it("hides the xAPIC page in x2APIC mode", () => {
    let lapic = x2apicLapic();
    expect(read(lapic, VERSION)).toBe(0xffffffff);
    write(lapic, TPR, 0x20);
    expect(msr(lapic, MSR_TPR)).toBe(0);
  });

  it("reads the x2APIC ID as the vCPU index and the LDR derived from it (12.12.10.2)", () => {
    let lapic = x2apicLapic(1);
    expect(msr(lapic, MSR_ID)).toBe(1);
    expect(msr(lapic, MSR_LDR)).toBe(0x00000002);
    expect(msr(lapic, 0x803)).toBe(APIC_VERSION);
  });

  it("raises #GP on writes to read-only registers: ID, version, LDR, PPR, ISR, TMR, IRR, current count", () => {
    let lapic = x2apicLapic();
    let readOnly: u32[] = [0x802, 0x803, 0x80a, 0x80d, 0x810, 0x817, 0x818, 0x820, 0x827, 0x839];
    for (let i = 0; i < readOnly.length; i++) expect(lapic.msrWrite(readOnly[i], 0)).toBe(false);
  });

  it("raises #GP for the registers x2APIC mode has not: APR, RRD, DFR, ICR high, CMCI", () => {
    let lapic = x2apicLapic();
    let absent: u32[] = [0x800, 0x801, 0x804, 0x809, 0x80c, 0x80e, 0x82f, 0x831, 0x83a, 0x840, 0x8ff];
    for (let i = 0; i < absent.length; i++) {
      expect(lapic.msrRead(absent[i])).toBe(false);
      expect(lapic.msrWrite(absent[i], 0)).toBe(false);
    }
  });

  it("raises #GP on reads of EOI and SELF IPI, which are write-only", () => {
    let lapic = x2apicLapic();
    expect(lapic.msrRead(MSR_EOI)).toBe(false);
    expect(lapic.msrRead(MSR_SELF_IPI)).toBe(false);
  });

  it("raises #GP on a non-zero EOI or ESR write", () => {
    let lapic = x2apicLapic();
    expect(lapic.msrWrite(MSR_EOI, 1)).toBe(false);
    expect(lapic.msrWrite(MSR_ESR, 1)).toBe(false);
    expect(lapic.msrWrite(MSR_EOI, 0)).toBe(true);
    expect(lapic.msrWrite(MSR_ESR, 0)).toBe(true);
  });

  it("raises #GP on reserved bits (12.12.1.3)", () => {
    let lapic = x2apicLapic();
    expect(lapic.msrWrite(MSR_TPR, 0x100)).toBe(false);
    expect(lapic.msrWrite(MSR_TPR, 0x1_0000_0000)).toBe(false);
    expect(lapic.msrWrite(MSR_SVR, 0x11ff)).toBe(false);   // no EOI-broadcast suppression
    expect(lapic.msrWrite(MSR_LVT_TIMER, 0x60000)).toBe(false); // timer mode 3
    expect(lapic.msrWrite(0x835, 0x20000)).toBe(false);    // LINT0 bit 17
    expect(lapic.msrWrite(0x83e, 0x4)).toBe(false);        // divide bit 2
    expect(lapic.msrWrite(MSR_SELF_IPI, 0x100)).toBe(false);
    expect(lapic.msrWrite(MSR_ICR, 0x1000)).toBe(false);   // ICR bit 12
    expect(lapic.msrWrite(MSR_TPR, 0xff)).toBe(true);
    expect(msr(lapic, MSR_TPR)).toBe(0xff);
  });

  it("sends a fixed IPI to itself through SELF IPI", () => {
    let lapic = x2apicLapic();
    expect(lapic.msrWrite(MSR_SELF_IPI, 0x44)).toBe(true);
    expect(lapic.pendingVector()).toBe(0x44);
    expect(lapic.ipiPending).toBe(false);
  });

  it("sets 'send illegal vector' for a SELF IPI below 16", () => {
    let lapic = x2apicLapic();
    expect(lapic.msrWrite(MSR_SELF_IPI, 0x0f)).toBe(true);
    expect(lapic.pendingVector()).toBe(-1);
    lapic.msrWrite(MSR_ESR, 0);
    expect(msr(lapic, MSR_ESR)).toBe(ESR_SEND_ILLEGAL_VECTOR);
  });

  it("reads back the 64-bit ICR with its 32-bit destination", () => {
    let lapic = x2apicLapic();
    expect(lapic.msrWrite(MSR_ICR, 0x00000007_000040fd)).toBe(true);
    expect(msr(lapic, MSR_ICR)).toBe(0x00000007_000040fd);
    expect(lapic.ipiPending).toBe(true);
    expect(lapic.ipiCommand).toBe(0x00000007_000040fd);
    expect(lapic.ipiX2apic).toBe(true);
  });

  it("delivers an x2APIC IPI to its own ID here, and broadcasts leave it for the machine", () => {
    let lapic = x2apicLapic(1);
    lapic.msrWrite(MSR_ICR, 0x00000001_00000061);
    expect(lapic.pendingVector()).toBe(0x61);
    expect(lapic.ipiPending).toBe(false);
    lapic.msrWrite(MSR_ICR, 0xffffffff_00000062);
    expect(lapic.pendingVector()).toBe(0x62);
    expect(lapic.ipiPending).toBe(true);
  });
});

describe("the local APIC's ICR (IPIs)", () => {
  it("delivers a fixed IPI to its own physical ID here", () => {
    let lapic = enabledLapic(1);
    write(lapic, ICR_HIGH, 0x01000000);
    write(lapic, ICR_LOW, 0x4051);
    expect(lapic.pendingVector()).toBe(0x51);
    expect(lapic.ipiPending).toBe(false);
  });

  it("always reads the delivery status idle", () => {
    let lapic = enabledLapic();
    write(lapic, ICR_LOW, 0xffffffff);
    expect(read(lapic, ICR_LOW) & (1 << 12)).toBe(0);
    expect(read(lapic, ICR_LOW)).toBe(0xccfff);
    write(lapic, ICR_HIGH, 0xffffffff);
    expect(read(lapic, ICR_HIGH)).toBe(0xff000000);
  });

  it("delivers the self shorthand here only", () => {
    let lapic = enabledLapic();
    write(lapic, ICR_HIGH, 0x05000000);
    write(lapic, ICR_LOW, (1 << 18) | 0x70);
    expect(lapic.pendingVector()).toBe(0x70);
    expect(lapic.ipiPending).toBe(false);
  });

  it("delivers all-including-self here and leaves it for the machine too", () => {
    let lapic = enabledLapic();
    write(lapic, ICR_LOW, (2 << 18) | 0x71);
    expect(lapic.pendingVector()).toBe(0x71);
    expect(lapic.ipiPending).toBe(true);
    expect(<u32>lapic.ipiCommand).toBe((2 << 18) | 0x71);
  });

  it("leaves all-excluding-self for the machine only", () => {
    let lapic = enabledLapic();
    write(lapic, ICR_LOW, (3 << 18) | 0x72);
    expect(lapic.pendingVector()).toBe(-1);
    expect(lapic.ipiPending).toBe(true);
  });

  it("leaves an IPI to another APIC ID for the machine, destination in bits 63-32", () => {
    let lapic = enabledLapic(0);
    write(lapic, ICR_HIGH, 0x03000000);
    write(lapic, ICR_LOW, 0x4073);
    expect(lapic.pendingVector()).toBe(-1);
    expect(lapic.ipiPending).toBe(true);
    expect(lapic.ipiCommand).toBe(0x00000003_00004073);
    expect(lapic.ipiX2apic).toBe(false);
  });

  it("delivers a logical IPI here when its LDR matches, and to the machine for the others", () => {
    let lapic = enabledLapic(0);
    write(lapic, LDR, 0x01000000);
    write(lapic, ICR_HIGH, 0x03000000);
    write(lapic, ICR_LOW, 0x0800 | 0x74);
    expect(lapic.pendingVector()).toBe(0x74);
    expect(lapic.ipiPending).toBe(true);
  });

  it("takes a lowest-priority IPI itself when it is among the targets", () => {
    let lapic = enabledLapic(0);
    write(lapic, LDR, 0x01000000);
    write(lapic, ICR_HIGH, 0xff000000);
    write(lapic, ICR_LOW, 0x0900 | 0x75);
    expect(lapic.pendingVector()).toBe(0x75);
    expect(lapic.ipiPending).toBe(false);
  });

  it("delivers an NMI IPI to itself as a pending NMI", () => {
    let lapic = enabledLapic(0);
    write(lapic, ICR_LOW, (1 << 18) | 0x400);
    expect(lapic.nmiPending).toBe(true);
    expect(lapic.pendingVector()).toBe(-1);
  });

  it("leaves INIT and SIPI for the machine, and drops INIT level de-assert", () => {
    let lapic = enabledLapic(0);
    write(lapic, ICR_HIGH, 0x01000000);
    write(lapic, ICR_LOW, 0x8000 | 0x0500); // level-triggered, de-assert
    expect(lapic.ipiPending).toBe(false);
    write(lapic, ICR_LOW, 0xc500);          // INIT assert
    expect(lapic.ipiPending).toBe(true);
    expect(lapic.ipiCommand).toBe(0x00000001_0000c500);
    lapic.ipiPending = false;
    write(lapic, ICR_LOW, 0x0608);          // SIPI, page 8
    expect(lapic.ipiPending).toBe(true);
    expect(<u32>lapic.ipiCommand).toBe(0x0608);
  });

  it("sets 'send illegal vector' and sends nothing for a fixed IPI below 16", () => {
    let lapic = enabledLapic(0);
    write(lapic, ICR_LOW, (2 << 18) | 0x0f);
    expect(lapic.ipiPending).toBe(false);
    expect(lapic.pendingVector()).toBe(-1);
    expect(readEsr(lapic)).toBe(ESR_SEND_ILLEGAL_VECTOR);
  });

  it("drops SMI, ExtINT and reserved delivery modes", () => {
    let lapic = enabledLapic(0);
    let modes: u32[] = [2, 3, 7];
    for (let i = 0; i < modes.length; i++) {
      write(lapic, ICR_LOW, (2 << 18) | (modes[i] << 8) | 0x40);
      expect(lapic.ipiPending).toBe(false);
      expect(lapic.nmiPending).toBe(false);
      expect(lapic.pendingVector()).toBe(-1);
    }
  });
});

describe("the local APIC timer", () => {
  it("fires the one-shot timer once at initial count x divide", () => {
    let lapic = enabledLapic();
    write(lapic, TIMER_DIVIDE, 0x3);          // divide by 16
    write(lapic, LVT_TIMER, 0xec);
    write(lapic, TIMER_INITIAL, 1000);        // 16000 ticks at 1 GHz = 32000 TSC ticks
    expect(lapic.deadline()).toBe(1000 + 32000);
    clock().now = 1000 + 31999;
    lapic.advance();
    expect(lapic.pendingVector()).toBe(-1);
    clock().now = 1000 + 32000;
    lapic.advance();
    expect(lapic.pendingVector()).toBe(0xec);
    expect(lapic.deadline()).toBe(NO_DEADLINE);
    expect(read(lapic, TIMER_CURRENT)).toBe(0);
    lapic.acknowledgeVector(0xec);
    clock().now += 1000000;
    lapic.advance();
    expect(lapic.pendingVector()).toBe(-1);
  });

  it("counts down from the initial count at the divided rate", () => {
    let lapic = enabledLapic();
    write(lapic, TIMER_DIVIDE, 0xb);          // divide by 1
    write(lapic, TIMER_INITIAL, 500);
    expect(read(lapic, TIMER_INITIAL)).toBe(500);
    expect(read(lapic, TIMER_CURRENT)).toBe(500);
    clock().now += 200;                       // 100 ticks
    expect(read(lapic, TIMER_CURRENT)).toBe(400);
  });

  it("divides by 2, 4, 8, 16, 32, 64, 128 and 1", () => {
    let codes: u32[] = [0x0, 0x1, 0x2, 0x3, 0x8, 0x9, 0xa, 0xb];
    let divides: u64[] = [2, 4, 8, 16, 32, 64, 128, 1];
    for (let i = 0; i < codes.length; i++) {
      let lapic = enabledLapic();
      write(lapic, TIMER_DIVIDE, codes[i]);
      write(lapic, TIMER_INITIAL, 10);
      expect(lapic.deadline()).toBe(1000 + 10 * divides[i] * 2);
    }
  });

  it("reloads a periodic timer and fires every period", () => {
    let lapic = enabledLapic();
    write(lapic, TIMER_DIVIDE, 0xb);
    write(lapic, LVT_TIMER, TIMER_PERIODIC | 0xef);
    write(lapic, TIMER_INITIAL, 1000000);     // 1 ms
    clock().now = 1000 + 2000000;
    lapic.advance();
    expect(lapic.pendingVector()).toBe(0xef);
    lapic.acknowledgeVector(0xef);
    write(lapic, EOI, 0);
    expect(lapic.deadline()).toBe(1000 + 4000000);
    clock().now = 1000 + 3000000;
    expect(read(lapic, TIMER_CURRENT)).toBe(500000);
    clock().now = 1000 + 4000000;
    lapic.advance();
    expect(lapic.pendingVector()).toBe(0xef);
  });

  it("fires a periodic timer many periods behind once, and counts the next period from now", () => {
    let lapic = enabledLapic();
    write(lapic, TIMER_DIVIDE, 0xb);
    write(lapic, LVT_TIMER, TIMER_PERIODIC | 0xef);
    write(lapic, TIMER_INITIAL, 1000000);
    clock().now = 1000 + 2000000 * 50 + 7;
    lapic.advance();
    expect(lapic.pendingVector()).toBe(0xef);
    lapic.acknowledgeVector(0xef);
    write(lapic, EOI, 0);
    lapic.advance();
    expect(lapic.pendingVector()).toBe(-1);
    expect(lapic.deadline()).toBe(clock().now + 2000000);
  });

  it("keeps a periodic timer at least 200 microseconds apart", () => {
    let lapic = enabledLapic();
    write(lapic, TIMER_DIVIDE, 0xb);
    write(lapic, LVT_TIMER, TIMER_PERIODIC | 0xef);
    write(lapic, TIMER_INITIAL, 1);
    expect(lapic.deadline()).toBe(1000 + 400000);
  });

  it("stops on an initial count of 0", () => {
    let lapic = enabledLapic();
    write(lapic, TIMER_INITIAL, 100);
    write(lapic, TIMER_INITIAL, 0);
    expect(lapic.deadline()).toBe(NO_DEADLINE);
    expect(read(lapic, TIMER_CURRENT)).toBe(0);
  });

  it("counts but raises nothing while its LVT entry is masked", () => {
    let lapic = enabledLapic();
    write(lapic, LVT_TIMER, LVT_MASKED | 0xec);
    write(lapic, TIMER_INITIAL, 10);
    clock().now += 1000;
    lapic.advance();
    expect(lapic.pendingVector()).toBe(-1);
    expect(read(lapic, TIMER_CURRENT)).toBe(0);
  });

  it("goes on from the current count at a new divide", () => {
    let lapic = enabledLapic();
    write(lapic, TIMER_DIVIDE, 0xb);       // 1
    write(lapic, TIMER_INITIAL, 1000);
    clock().now += 1000;                   // 500 counts done
    write(lapic, TIMER_DIVIDE, 0x0);       // 2: 500 counts left, 2000 TSC ticks
    expect(read(lapic, TIMER_CURRENT)).toBe(500);
    expect(lapic.deadline()).toBe(clock().now + 2000);
  });

  it("fires in TSC-deadline mode at the deadline and disarms itself", () => {
    let lapic = enabledLapic();
    write(lapic, LVT_TIMER, TIMER_TSC_DEADLINE | 0xed);
    lapic.tscDeadlineWrite(50000);
    expect(lapic.tscDeadlineRead()).toBe(50000);
    expect(lapic.deadline()).toBe(50000);
    clock().now = 50000;
    lapic.advance();
    expect(lapic.pendingVector()).toBe(0xed);
    expect(lapic.tscDeadlineRead()).toBe(0);
    expect(lapic.deadline()).toBe(NO_DEADLINE);
  });

  it("fires at once for a TSC deadline already passed", () => {
    let lapic = enabledLapic();
    write(lapic, LVT_TIMER, TIMER_TSC_DEADLINE | 0xed);
    lapic.tscDeadlineWrite(1);
    expect(lapic.pendingVector()).toBe(0xed);
  });

  it("ignores IA32_TSC_DEADLINE outside TSC-deadline mode, and the initial count in it", () => {
    let lapic = enabledLapic();
    lapic.tscDeadlineWrite(5000);
    expect(lapic.tscDeadlineRead()).toBe(0);
    expect(lapic.deadline()).toBe(NO_DEADLINE);
    write(lapic, LVT_TIMER, TIMER_TSC_DEADLINE | 0xed);
    write(lapic, TIMER_INITIAL, 100);
    expect(read(lapic, TIMER_INITIAL)).toBe(0);
    expect(lapic.deadline()).toBe(NO_DEADLINE);
  });

  it("disarms the timer when the mode moves into or out of TSC-deadline", () => {
    let lapic = enabledLapic();
    write(lapic, TIMER_INITIAL, 100);
    write(lapic, LVT_TIMER, TIMER_TSC_DEADLINE | 0xed);
    expect(lapic.deadline()).toBe(NO_DEADLINE);
    lapic.tscDeadlineWrite(90000);
    write(lapic, LVT_TIMER, 0xed);
    expect(lapic.deadline()).toBe(NO_DEADLINE);
    write(lapic, LVT_TIMER, TIMER_TSC_DEADLINE | 0xed);
    expect(lapic.tscDeadlineRead()).toBe(0);
  });

  it("reports the timer clock it promises", () => {
    expect(LAPIC_TIMER_HZ).toBe(1000000000);
  });
});

describe("the local APIC under hostile input", () => {
  it("survives all ones in every register of the page and every x2APIC MSR", () => {
    let lapic = enabledLapic();
    for (let offset: u32 = 0; offset < 0x1000; offset += 4) {
      lapic.mmioWrite(offset, 4, 0xffffffff);
      lapic.mmioRead(offset, 4);
      lapic.mmioWrite(offset, 8, 0xffffffffffffffff);
      lapic.mmioRead(offset, 2);
    }
    lapic.advance();
    lapic.apicBaseWrite(0xfee00c00);
    for (let index: u32 = 0x800; index <= 0x8ff; index++) {
      lapic.msrWrite(index, 0xffffffffffffffff);
      lapic.msrWrite(index, 0xffffffff);
      lapic.msrRead(index);
    }
    clock().now = 0xffffffff00000000;
    lapic.advance();
    lapic.deadline();
    for (let i = 0; i < 300; i++) {
      let vector = lapic.pendingVector();
      if (vector < 0) break;
      lapic.acknowledgeVector(<u32>vector);
      lapic.msrWrite(MSR_EOI, 0);
    }
    expect(lapic.x2apicMode()).toBe(true);
  });

  it("survives huge timer counts and a clock near its end", () => {
    let lapic = enabledLapic();
    write(lapic, TIMER_DIVIDE, 0xa);
    write(lapic, LVT_TIMER, TIMER_PERIODIC | 0x40);
    write(lapic, TIMER_INITIAL, 0xffffffff);
    clock().now = 0xfffffffffffffff0;
    lapic.advance();
    read(lapic, TIMER_CURRENT);
    expect(lapic.deadline()).toBeGreaterThanOrEqual(clock().now);
  });
});
