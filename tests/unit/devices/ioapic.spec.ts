import { IoApic, IOAPIC_VERSION } from "../../../assembly/devices/ioapic";
import { Lapic, LAPIC_STRIDE, ESR_RECEIVE_ILLEGAL_VECTOR } from "../../../assembly/devices/lapic";
import { GuestClock } from "../../../assembly/devices/clock";
import { InterruptLines } from "../../../assembly/devices/interrupt_lines";

const IOAPIC: usize = memory.data(offsetof<IoApic>(), 16);
const LAPICS: usize = memory.data(2 * 512, 16);
const CLOCK: usize = memory.data(offsetof<GuestClock>(), 16);
const LINES: usize = memory.data(offsetof<InterruptLines>(), 16);

// Redirection entry bits (82093AA 3.2.4).
const LEVEL: u32 = 1 << 15;
const ACTIVE_LOW: u32 = 1 << 13;
const LOGICAL: u32 = 1 << 11;
const MASKED: u32 = 1 << 16;
const REMOTE_IRR: u32 = 1 << 14;
const LOWEST: u32 = 1 << 8;
const SMI: u32 = 2 << 8;
const NMI: u32 = 4 << 8;
const INIT: u32 = 5 << 8;
const EXTINT: u32 = 7 << 8;

// An I/O APIC wired to two local APICs (IDs 0 and 1), both software-enabled.
function newIoApic(): IoApic {
  changetype<GuestClock>(CLOCK).init(1000000000, 0);
  for (let i: u32 = 0; i < 2; i++) {
    let address = LAPICS + <usize>i * LAPIC_STRIDE;
    memory.fill(address, 0xee, offsetof<Lapic>());
    let lapic = changetype<Lapic>(address);
    lapic.clock = changetype<GuestClock>(CLOCK);
    lapic.reset(i);
    lapic.mmioWrite(0xf0, 4, 0x1ff);
  }
  memory.fill(IOAPIC, 0xee, offsetof<IoApic>()); // reset() must set every field
  let ioapic = changetype<IoApic>(IOAPIC);
  ioapic.lapics = LAPICS;
  ioapic.lapicCount = 2;
  ioapic.reset();
  lapic(0).ioapic = ioapic;
  lapic(1).ioapic = ioapic;
  return ioapic;
}

function lapic(index: u32): Lapic {
  return changetype<Lapic>(LAPICS + <usize>index * LAPIC_STRIDE);
}

function readRegister(ioapic: IoApic, register: u32): u32 {
  ioapic.mmioWrite(0x00, 4, register);
  return <u32>ioapic.mmioRead(0x10, 4);
}

function writeRegister(ioapic: IoApic, register: u32, value: u32): void {
  ioapic.mmioWrite(0x00, 4, register);
  ioapic.mmioWrite(0x10, 4, value);
}

// Programs pin `pin`: high dword first, as Linux does, then the low dword.
function route(ioapic: IoApic, pin: u32, low: u32, destination: u32): void {
  writeRegister(ioapic, 0x11 + 2 * pin, destination << 24);
  writeRegister(ioapic, 0x10 + 2 * pin, low);
}

function entryLow(ioapic: IoApic, pin: u32): u32 {
  return readRegister(ioapic, 0x10 + 2 * pin);
}

// The vCPU takes the interrupt and ends it.
function serviceAndEoi(target: Lapic): i32 {
  let vector = target.pendingVector();
  if (vector >= 0) {
    target.acknowledgeVector(<u32>vector);
    target.mmioWrite(0xb0, 4, 0);
  }
  return vector;
}

describe("the I/O APIC's registers", () => {
  it("reports version 0x11 with 24 redirection entries", () => {
    let ioapic = newIoApic();
    expect(readRegister(ioapic, 1)).toBe(IOAPIC_VERSION);
    expect(readRegister(ioapic, 1)).toBe(0x00170011);
    writeRegister(ioapic, 1, 0);
    expect(readRegister(ioapic, 1)).toBe(0x00170011);
  });

  it("keeps ID bits 27-24 and shows them in the arbitration register", () => {
    let ioapic = newIoApic();
    writeRegister(ioapic, 0, 0xffffffff);
    expect(readRegister(ioapic, 0)).toBe(0x0f000000);
    expect(readRegister(ioapic, 2)).toBe(0x0f000000);
    writeRegister(ioapic, 2, 0);
    expect(readRegister(ioapic, 2)).toBe(0x0f000000);
  });

  it("reads IOREGSEL back, 8 bits of it", () => {
    let ioapic = newIoApic();
    ioapic.mmioWrite(0x00, 4, 0x1234);
    expect(ioapic.mmioRead(0x00, 4)).toBe(0x34);
  });

  it("masks every entry at reset", () => {
    let ioapic = newIoApic();
    for (let pin: u32 = 0; pin < 24; pin++) {
      expect(entryLow(ioapic, pin)).toBe(MASKED);
      expect(readRegister(ioapic, 0x11 + 2 * pin)).toBe(0);
    }
  });

  it("reads all ones from registers it does not have", () => {
    let ioapic = newIoApic();
    expect(readRegister(ioapic, 0x03)).toBe(0xffffffff);
    expect(readRegister(ioapic, 0x0f)).toBe(0xffffffff);
    expect(readRegister(ioapic, 0x40)).toBe(0xffffffff);
    expect(readRegister(ioapic, 0xff)).toBe(0xffffffff);
  });

  it("keeps only the writable bits of an entry; remote IRR and delivery status are read-only", () => {
    let ioapic = newIoApic();
    writeRegister(ioapic, 0x10, 0xffffffff);
    expect(entryLow(ioapic, 0)).toBe(0x1afff);
    writeRegister(ioapic, 0x11, 0xffffffff);
    expect(readRegister(ioapic, 0x11)).toBe(0xff000000);
  });

  it("answers byte reads of its dwords and ignores other offsets", () => {
    let ioapic = newIoApic();
    ioapic.mmioWrite(0x00, 4, 0x01);
    expect(ioapic.mmioRead(0x12, 1)).toBe(0x17);
    expect(ioapic.mmioRead(0x10, 2)).toBe(0x0011);
    expect(ioapic.mmioRead(0x20, 4)).toBe(0);
    expect(ioapic.mmioRead(0x40, 4)).toBe(0);
    ioapic.mmioWrite(0x14, 4, 0);
    ioapic.mmioWrite(0x10, 1, 0); // a byte write to IOWIN changes nothing
    expect(readRegister(ioapic, 1)).toBe(0x00170011);
  });
});

describe("the I/O APIC's edge-triggered pins", () => {
  it("delivers the entry's vector to the local APIC its physical destination names", () => {
    let ioapic = newIoApic();
    route(ioapic, 4, 0x34, 1);
    ioapic.setPin(4, true);
    expect(lapic(1).pendingVector()).toBe(0x34);
    expect(lapic(0).pendingVector()).toBe(-1);
    expect(read32(lapic(1), 0x180 + 0x10)).toBe(0); // edge: TMR clear
  });

  it("delivers once per rising edge", () => {
    let ioapic = newIoApic();
    route(ioapic, 4, 0x34, 0);
    ioapic.setPin(4, true);
    expect(serviceAndEoi(lapic(0))).toBe(0x34);
    ioapic.setPin(4, true);
    expect(lapic(0).pendingVector()).toBe(-1);
    ioapic.setPin(4, false);
    expect(lapic(0).pendingVector()).toBe(-1);
    ioapic.setPin(4, true);
    expect(lapic(0).pendingVector()).toBe(0x34);
  });

  it("loses an edge on a masked pin, as the datasheet says", () => {
    let ioapic = newIoApic();
    route(ioapic, 4, MASKED | 0x34, 0);
    ioapic.setPin(4, true);
    ioapic.setPin(4, false);
    route(ioapic, 4, 0x34, 0);
    expect(lapic(0).pendingVector()).toBe(-1);
  });

  it("inverts an active-low input: the falling edge interrupts", () => {
    let ioapic = newIoApic();
    ioapic.setPin(5, true);
    route(ioapic, 5, ACTIVE_LOW | 0x35, 0);
    ioapic.setPin(5, false);
    expect(lapic(0).pendingVector()).toBe(0x35);
  });

  it("reaches every local APIC with the 0xFF broadcast", () => {
    let ioapic = newIoApic();
    route(ioapic, 6, 0x36, 0xff);
    ioapic.setPin(6, true);
    expect(lapic(0).pendingVector()).toBe(0x36);
    expect(lapic(1).pendingVector()).toBe(0x36);
  });

  it("matches a logical destination against the local APICs' LDRs", () => {
    let ioapic = newIoApic();
    lapic(0).mmioWrite(0xd0, 4, 0x01000000);
    lapic(1).mmioWrite(0xd0, 4, 0x02000000);
    route(ioapic, 7, LOGICAL | 0x37, 0x02);
    ioapic.setPin(7, true);
    expect(lapic(0).pendingVector()).toBe(-1);
    expect(lapic(1).pendingVector()).toBe(0x37);
    route(ioapic, 8, LOGICAL | 0x38, 0x03);
    ioapic.setPin(8, true);
    expect(lapic(0).pendingVector()).toBe(0x38);
  });

  it("drops an interrupt for a destination no local APIC has", () => {
    let ioapic = newIoApic();
    route(ioapic, 3, 0x33, 7);
    ioapic.setPin(3, true);
    expect(lapic(0).pendingVector()).toBe(-1);
    expect(lapic(1).pendingVector()).toBe(-1);
  });

  it("gives a lowest-priority interrupt to the local APIC with the lower priority", () => {
    let ioapic = newIoApic();
    lapic(0).mmioWrite(0x80, 4, 0x50);
    lapic(0).mmioWrite(0xd0, 4, 0x01000000);
    lapic(1).mmioWrite(0xd0, 4, 0x02000000);
    route(ioapic, 9, LOGICAL | LOWEST | 0x49, 0x03);
    ioapic.setPin(9, true);
    expect(read32(lapic(1), 0x200 + 0x20)).toBe(1 << 9);
    expect(read32(lapic(0), 0x200 + 0x20)).toBe(0);
  });

  it("delivers an NMI entry as an NMI, with no vector", () => {
    let ioapic = newIoApic();
    route(ioapic, 10, NMI | 0x20, 0);
    ioapic.setPin(10, true);
    expect(lapic(0).nmiPending).toBe(true);
    expect(lapic(0).pendingVector()).toBe(-1);
  });

  it("sends an ExtINT entry as a request for the 8259's vector", () => {
    let ioapic = newIoApic();
    route(ioapic, 0, EXTINT, 0);
    ioapic.setPin(0, true);
    expect(lapic(0).extIntPending).toBe(true);
    expect(lapic(0).pendingVector()).toBe(-1);
  });

  it("ignores SMI, INIT and the reserved delivery modes", () => {
    let ioapic = newIoApic();
    let modes: u32[] = [SMI, 3 << 8, INIT, 6 << 8];
    for (let i = 0; i < modes.length; i++) {
      route(ioapic, 11, modes[i] | 0x40, 0xff);
      ioapic.setPin(11, true);
      ioapic.setPin(11, false);
    }
    expect(lapic(0).pendingVector()).toBe(-1);
    expect(lapic(0).nmiPending).toBe(false);
    expect(lapic(0).extIntPending).toBe(false);
  });

  it("drops a vector below 16 and sets the target's 'received illegal vector'", () => {
    let ioapic = newIoApic();
    route(ioapic, 12, 0x0e, 1);
    ioapic.setPin(12, true);
    expect(lapic(1).pendingVector()).toBe(-1);
    lapic(1).mmioWrite(0x280, 4, 0);
    expect(read32(lapic(1), 0x280)).toBe(ESR_RECEIVE_ILLEGAL_VECTOR);
  });

  it("reaches an x2APIC local APIC by its x2APIC ID and with 0xFF", () => {
    let ioapic = newIoApic();
    lapic(1).apicBaseWrite(0xfee00c00);
    route(ioapic, 13, 0x3d, 1);
    ioapic.setPin(13, true);
    expect(lapic(1).pendingVector()).toBe(0x3d);
    route(ioapic, 14, 0x3e, 0xff);
    ioapic.setPin(14, true);
    expect(lapic(1).pendingVector()).toBe(0x3e);
  });
});

describe("the I/O APIC's level-triggered pins", () => {
  it("keeps remote IRR set until the EOI of a level-triggered vector", () => {
    let ioapic = newIoApic();
    route(ioapic, 9, LEVEL | 0x49, 0);
    ioapic.setPin(9, true);
    expect(entryLow(ioapic, 9) & REMOTE_IRR).toBe(REMOTE_IRR);
    expect(read32(lapic(0), 0x180 + 0x20)).toBe(1 << 9); // TMR
    lapic(0).acknowledgeVector(0x49);
    ioapic.setPin(9, false);
    ioapic.setPin(9, true); // remote IRR holds it back
    expect(lapic(0).pendingVector()).toBe(-1);
    expect(entryLow(ioapic, 9) & REMOTE_IRR).toBe(REMOTE_IRR);
    lapic(0).mmioWrite(0xb0, 4, 0);
    expect(lapic(0).pendingVector()).toBe(0x49); // still asserted: again
  });

  it("clears remote IRR at the EOI and sends nothing when the line has dropped", () => {
    let ioapic = newIoApic();
    route(ioapic, 9, LEVEL | 0x49, 0);
    ioapic.setPin(9, true);
    lapic(0).acknowledgeVector(0x49);
    ioapic.setPin(9, false);
    lapic(0).mmioWrite(0xb0, 4, 0);
    expect(entryLow(ioapic, 9) & REMOTE_IRR).toBe(0);
    expect(lapic(0).pendingVector()).toBe(-1);
  });

  it("delivers a level still asserted when its entry is unmasked", () => {
    let ioapic = newIoApic();
    route(ioapic, 9, MASKED | LEVEL | 0x49, 0);
    ioapic.setPin(9, true);
    expect(lapic(0).pendingVector()).toBe(-1);
    route(ioapic, 9, LEVEL | 0x49, 0);
    expect(lapic(0).pendingVector()).toBe(0x49);
  });

  it("asserts an active-low level input while its line is low", () => {
    let ioapic = newIoApic();
    route(ioapic, 20, ACTIVE_LOW | LEVEL | 0x54, 0); // the line is low: asserted
    expect(serviceAndEoi(lapic(0))).toBe(0x54);
    expect(lapic(0).pendingVector()).toBe(0x54);  // still asserted after the EOI
    serviceAndEoi(lapic(0));
    ioapic.setPin(20, true);
    serviceAndEoi(lapic(0));
    expect(lapic(0).pendingVector()).toBe(-1);
    expect(entryLow(ioapic, 20) & REMOTE_IRR).toBe(0);
  });

  it("clears remote IRR when the entry is made edge-triggered", () => {
    let ioapic = newIoApic();
    route(ioapic, 9, LEVEL | 0x49, 0);
    ioapic.setPin(9, true);
    route(ioapic, 9, 0x49, 0);
    expect(entryLow(ioapic, 9) & REMOTE_IRR).toBe(0);
  });

  it("sets no remote IRR when no local APIC takes the interrupt", () => {
    let ioapic = newIoApic();
    route(ioapic, 9, LEVEL | 0x49, 5);
    ioapic.setPin(9, true);
    expect(entryLow(ioapic, 9) & REMOTE_IRR).toBe(0);
    route(ioapic, 10, LEVEL | 0x0a, 0); // illegal vector
    ioapic.setPin(10, true);
    expect(entryLow(ioapic, 10) & REMOTE_IRR).toBe(0);
    lapic(1).mmioWrite(0xf0, 4, 0xff); // software-disabled
    route(ioapic, 11, LEVEL | 0x4b, 1);
    ioapic.setPin(11, true);
    expect(entryLow(ioapic, 11) & REMOTE_IRR).toBe(0);
  });

  it("leaves entries with other vectors alone at an EOI", () => {
    let ioapic = newIoApic();
    route(ioapic, 9, LEVEL | 0x49, 0);
    ioapic.setPin(9, true);
    ioapic.endOfInterrupt(0x48);
    expect(entryLow(ioapic, 9) & REMOTE_IRR).toBe(REMOTE_IRR);
    ioapic.setPin(9, false);
    ioapic.endOfInterrupt(0x149); // only the low 8 bits are a vector
    expect(entryLow(ioapic, 9) & REMOTE_IRR).toBe(0);
  });
});

describe("the I/O APIC under hostile input", () => {
  it("ignores pins above 23", () => {
    let ioapic = newIoApic();
    ioapic.setPin(24, true);
    ioapic.setPin(0xffffffff, true);
    expect(ioapic.pins).toBe(0);
  });

  it("survives all ones in every register and every pin toggling, with no local APICs too", () => {
    let ioapic = newIoApic();
    for (let register: u32 = 0; register < 0x100; register++) writeRegister(ioapic, register, 0xffffffff);
    for (let pin: u32 = 0; pin < 32; pin++) {
      ioapic.setPin(pin, true);
      ioapic.setPin(pin, false);
      ioapic.setPin(pin, true);
    }
    for (let vector: u32 = 0; vector < 0x100; vector++) ioapic.endOfInterrupt(vector);
    for (let offset: u32 = 0; offset < 0x1000; offset++) {
      ioapic.mmioWrite(offset, 8, 0xffffffffffffffff);
      ioapic.mmioRead(offset, 1);
    }
    ioapic.lapics = 0;
    ioapic.lapicCount = 0xffffffff;
    for (let register: u32 = 0x10; register < 0x40; register += 2) writeRegister(ioapic, register, 0x0000a000);
    for (let pin: u32 = 0; pin < 24; pin++) ioapic.setPin(pin, false);
    expect(readRegister(ioapic, 1)).toBe(0x00170011);
  });
});

function read32(target: Lapic, offset: u32): u32 {
  return <u32>target.mmioRead(offset, 4);
}

describe("interrupt lines into the I/O APIC", () => {
  it("passes a line driven to its level again only to a level-triggered pin, which re-sends", () => {
    let ioapic = newIoApic();
    memory.fill(LINES, 0, offsetof<InterruptLines>());
    let lines = changetype<InterruptLines>(LINES);
    lines.ioapic = ioapic;
    route(ioapic, 4, LEVEL | NMI, 0);
    route(ioapic, 3, 0x30, 0);
    lines.set(4, true);
    lines.set(3, true);
    expect(lapic(0).nmiPending).toBe(true);
    expect(serviceAndEoi(lapic(0))).toBe(0x30);
    lapic(0).nmiPending = false;
    lines.set(4, true);                      // the UART's way: its level on every access
    lines.set(3, true);
    expect(lapic(0).nmiPending).toBe(true);  // no remote IRR for an NMI: sent again
    expect(lapic(0).pendingVector()).toBe(-1);
  });
});
