// The ISA interrupt lines of the guest's PC: a device raises or lowers its
// line (IRQ 0-15) here and nowhere else, and the lines feed both interrupt
// controllers as on a PC with an I/O APIC: IRQ n to 8259 input n and to
// I/O APIC pin n, except IRQ 0 (the PIT), which reaches I/O APIC pin 2 (the
// MADT's interrupt source override says so to the guest).
//
// Events flow one way: device -> line -> controller -> vCPU. A device never
// asks a controller anything back.
//
// `levels` keeps every line's level, so a device can be unit-tested
// without any controller wired (pic and ioapic are 0 then).

import { Pic8259Pair } from "./pic8259";
import { IoApic } from "./ioapic";

export const IRQ_PIT: u32 = 0;
export const IRQ_KEYBOARD: u32 = 1;
export const IRQ_CASCADE: u32 = 2;
export const IRQ_COM2: u32 = 3;
export const IRQ_COM1: u32 = 4;
export const IRQ_RTC: u32 = 8;
export const IRQ_ACPI_SCI: u32 = 9;
export const IRQ_MOUSE: u32 = 12;
export const ISA_IRQS: u32 = 16;

// The I/O APIC pin (GSI) an ISA IRQ reaches.
@inline export function isaIrqToGsi(irq: u32): u32 {
  return irq == IRQ_PIT ? 2 : irq;
}

@unmanaged
export class InterruptLines {
  levels: u32;          // bit n: the level of IRQ n
  pic: Pic8259Pair;     // may be null (changetype<Pic8259Pair>(0)) in unit tests
  ioapic: IoApic;       // likewise

  reset(): void {
    this.levels = 0;
  }

  // Sets IRQ `irq` (0-15; others are ignored) to `high`. Inline: the UART
  // drives its line on every access, nearly always at the level it has, and
  // that test costs less than a call.
  @inline set(irq: u32, high: bool): void {
    if (irq >= ISA_IRQS) return;
    // The same level again: no edge for the 8259 nor an edge-triggered I/O
    // APIC pin, so nothing to do.
    if (((this.levels & (<u32>1 << irq)) != 0) != high || this.sameLevelMatters(irq)) this.change(irq, high);
  }

  // A level-triggered I/O APIC pin re-sends on each assertion.
  private sameLevelMatters(irq: u32): bool {
    return changetype<usize>(this.ioapic) != 0 && this.ioapic.levelTriggered(isaIrqToGsi(irq));
  }

  private change(irq: u32, high: bool): void {
    let bit: u32 = 1 << irq;
    this.levels = high ? this.levels | bit : this.levels & ~bit;
    if (changetype<usize>(this.pic) != 0) this.pic.setIrq(irq, high);
    if (changetype<usize>(this.ioapic) != 0) this.ioapic.setPin(isaIrqToGsi(irq), high);
  }

  // An edge: the line goes high and back low (the PIT's output, a pulse).
  pulse(irq: u32): void {
    this.set(irq, true);
    this.set(irq, false);
  }

  @inline level(irq: u32): bool {
    return irq < ISA_IRQS && (this.levels & (<u32>1 << irq)) != 0;
  }
}
