import { interruptPending, takeInterrupt, nmiPending, takeNmi } from "../../../assembly/vcpu/interrupts";
import { InterruptLines, IRQ_PIT, IRQ_KEYBOARD, IRQ_COM1, IRQ_ACPI_SCI, IRQ_RTC } from "../../../assembly/devices/interrupt_lines";
import { Pic8259Pair } from "../../../assembly/devices/pic8259";
import { IoApic } from "../../../assembly/devices/ioapic";
import { Lapic } from "../../../assembly/devices/lapic";
import { GuestClock } from "../../../assembly/devices/clock";

const LINES: usize = memory.data(offsetof<InterruptLines>(), 16);
const PIC: usize = memory.data(offsetof<Pic8259Pair>(), 16);
const IOAPIC: usize = memory.data(offsetof<IoApic>(), 16);
const LAPIC: usize = memory.data(offsetof<Lapic>(), 16);
const CLOCK: usize = memory.data(offsetof<GuestClock>(), 16);

// The BSP's interrupt path as the machine wires it: lines -> 8259 pair and
// I/O APIC -> local APIC, fresh from reset (virtual wire mode).
function newMachine(): Lapic {
  let clock = changetype<GuestClock>(CLOCK);
  clock.init(1000000000, 0);
  let pic = changetype<Pic8259Pair>(PIC);
  let ioapic = changetype<IoApic>(IOAPIC);
  let lapic = changetype<Lapic>(LAPIC);
  let lines = changetype<InterruptLines>(LINES);
  memory.fill(PIC, 0xee, offsetof<Pic8259Pair>());
  memory.fill(IOAPIC, 0xee, offsetof<IoApic>());
  memory.fill(LAPIC, 0xee, offsetof<Lapic>());
  lapic.clock = clock;
  lapic.ioapic = ioapic;
  lapic.reset(0);
  ioapic.lapics = LAPIC;
  ioapic.lapicCount = 1;
  ioapic.reset();
  pic.reset();
  lines.pic = pic;
  lines.ioapic = ioapic;
  lines.reset();
  return lapic;
}

function pic(): Pic8259Pair {
  return changetype<Pic8259Pair>(PIC);
}

function ioapic(): IoApic {
  return changetype<IoApic>(IOAPIC);
}

function lines(): InterruptLines {
  return changetype<InterruptLines>(LINES);
}

// Linux's init_8259A, vectors 0x30 and 0x38, every IRQ unmasked.
function initPicAsLinux(): void {
  let p = pic();
  p.writePort(0x20, 0x11); p.writePort(0x21, 0x30); p.writePort(0x21, 0x04); p.writePort(0x21, 0x01);
  p.writePort(0xa0, 0x11); p.writePort(0xa1, 0x38); p.writePort(0xa1, 0x02); p.writePort(0xa1, 0x01);
  p.writePort(0x21, 0x00);
  p.writePort(0xa1, 0x00);
}

// What Linux does to go to I/O APIC mode: mask the 8259 pair, mask LINT0,
// enable the APIC in software, route pins.
function switchToIoApic(lapic: Lapic): void {
  pic().writePort(0x21, 0xff);
  pic().writePort(0xa1, 0xff);
  lapic.mmioWrite(0xf0, 4, 0x1ff);
  lapic.mmioWrite(0x350, 4, 0x10700);
}

function route(pin: u32, low: u32, destination: u32): void {
  ioapic().mmioWrite(0, 4, 0x11 + 2 * pin);
  ioapic().mmioWrite(0x10, 4, destination << 24);
  ioapic().mmioWrite(0, 4, 0x10 + 2 * pin);
  ioapic().mmioWrite(0x10, 4, low);
}

describe("the vCPU's external interrupts", () => {
  it("has nothing to take after reset", () => {
    let lapic = newMachine();
    expect(interruptPending(lapic, pic())).toBe(false);
    expect(takeInterrupt(lapic, pic())).toBe(-1);
  });

  it("takes a PIC IRQ raised on a line through LINT0 in virtual wire mode", () => {
    let lapic = newMachine();
    initPicAsLinux();
    lines().pulse(IRQ_KEYBOARD);
    expect(interruptPending(lapic, pic())).toBe(true);
    expect(takeInterrupt(lapic, pic())).toBe(0x31);
    expect(interruptPending(lapic, pic())).toBe(false);
    pic().writePort(0x20, 0x20);
  });

  it("takes a slave PIC IRQ through the cascade", () => {
    let lapic = newMachine();
    initPicAsLinux();
    lines().pulse(IRQ_RTC);
    expect(takeInterrupt(lapic, pic())).toBe(0x38);
  });

  it("takes the 8259's vectors while the APIC is disabled in IA32_APIC_BASE", () => {
    let lapic = newMachine();
    initPicAsLinux();
    lapic.apicBaseWrite(0xfee00100);
    lines().pulse(IRQ_COM1);
    expect(takeInterrupt(lapic, pic())).toBe(0x34);
  });

  it("does not see the PIC once LINT0 is masked", () => {
    let lapic = newMachine();
    initPicAsLinux();
    lapic.mmioWrite(0x350, 4, 0x10700);
    lines().pulse(IRQ_KEYBOARD);
    expect(interruptPending(lapic, pic())).toBe(false);
    expect(takeInterrupt(lapic, pic())).toBe(-1);
    lapic.mmioWrite(0x350, 4, 0x700);
    expect(takeInterrupt(lapic, pic())).toBe(0x31); // the 8259 held it
  });

  it("does not see the PIC when LINT0 is unmasked in a mode other than ExtINT", () => {
    let lapic = newMachine();
    initPicAsLinux();
    lapic.mmioWrite(0x350, 4, 0x0040);
    lines().pulse(IRQ_KEYBOARD);
    expect(interruptPending(lapic, pic())).toBe(false);
  });

  it("takes the PIT's IRQ 0 through I/O APIC pin 2 with the vector the entry names", () => {
    let lapic = newMachine();
    switchToIoApic(lapic);
    route(2, 0x30, 0);
    lines().pulse(IRQ_PIT);
    expect(interruptPending(lapic, pic())).toBe(true);
    expect(takeInterrupt(lapic, pic())).toBe(0x30);
    expect(interruptPending(lapic, pic())).toBe(false);
  });

  it("takes a level-triggered IRQ through the I/O APIC again until the line drops", () => {
    let lapic = newMachine();
    switchToIoApic(lapic);
    route(IRQ_ACPI_SCI, 0x8000 | 0x59, 0);
    lines().set(IRQ_ACPI_SCI, true);
    expect(takeInterrupt(lapic, pic())).toBe(0x59);
    lapic.mmioWrite(0xb0, 4, 0);
    expect(takeInterrupt(lapic, pic())).toBe(0x59);
    lines().set(IRQ_ACPI_SCI, false);
    lapic.mmioWrite(0xb0, 4, 0);
    expect(interruptPending(lapic, pic())).toBe(false);
  });

  it("takes LAPIC vectors before the PIC's", () => {
    let lapic = newMachine();
    initPicAsLinux();
    lines().pulse(IRQ_KEYBOARD);
    lapic.acceptInterrupt(0x41, false);
    expect(takeInterrupt(lapic, pic())).toBe(0x41);
    expect(takeInterrupt(lapic, pic())).toBe(0x31);
  });

  it("holds LAPIC vectors back by TPR, but not the 8259's ExtINT", () => {
    let lapic = newMachine();
    initPicAsLinux();
    lapic.cr8Write(0xf);
    lapic.acceptInterrupt(0x41, false);
    expect(interruptPending(lapic, pic())).toBe(false);
    lines().pulse(IRQ_KEYBOARD);
    expect(takeInterrupt(lapic, pic())).toBe(0x31);
    lapic.cr8Write(0);
    expect(takeInterrupt(lapic, pic())).toBe(0x41);
  });

  it("runs the 8259's INTA for an ExtINT entry of the I/O APIC", () => {
    let lapic = newMachine();
    initPicAsLinux();
    lapic.mmioWrite(0x350, 4, 0x10700);  // LINT0 masked: only the I/O APIC's message counts
    route(2, 0x700, 0);                  // ExtINT
    pic().writePort(0x21, 0xfe);
    lines().pulse(IRQ_PIT);
    expect(interruptPending(lapic, pic())).toBe(true);
    expect(takeInterrupt(lapic, pic())).toBe(0x30);
    expect(interruptPending(lapic, pic())).toBe(false);
  });

  it("takes an NMI once", () => {
    let lapic = newMachine();
    expect(nmiPending(lapic)).toBe(false);
    expect(takeNmi(lapic)).toBe(false);
    route(5, 0x400, 0);
    lines().pulse(5);
    expect(nmiPending(lapic)).toBe(true);
    expect(takeNmi(lapic)).toBe(true);
    expect(nmiPending(lapic)).toBe(false);
  });

  it("takes nothing from a PIC that is not there", () => {
    let lapic = newMachine();
    lapic.acceptExtInt();
    expect(takeInterrupt(lapic, changetype<Pic8259Pair>(0))).toBe(-1);
    expect(interruptPending(lapic, changetype<Pic8259Pair>(0))).toBe(false);
  });
});
