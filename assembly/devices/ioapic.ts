// The I/O APIC at 0xFEC00000: 24 input pins, each routed by its
// redirection table entry to the local APICs as a message. Registers and
// behaviour from the Intel 82093AA I/O APIC datasheet (order 290566-001):
// 3.0 (IOREGSEL at offset 0x00, IOWIN at 0x10, both 32 bits), 3.2.1
// IOAPICID, 3.2.2 IOAPICVER, 3.2.3 IOAPICARB, 3.2.4 IOREDTBL; destination
// matching and the delivery modes from the Intel SDM vol. 3A, 12.6.2 and
// 12.11 (the local APIC's side).
//
// Delivery is instant: a message reaches its local APICs while the pin
// changes, so the delivery status bit always reads idle. A level-triggered
// interrupt sets the entry's remote IRR when a local APIC accepts it; the
// LAPIC's EOI of that vector calls endOfInterrupt(), which clears it and
// sends the interrupt again if the pin is still asserted. An edge on a
// masked pin is lost, as the datasheet says; a level still asserted when
// its entry is unmasked is delivered then.
//
// The local APICs: `lapics` is the address of the first Lapic, the others
// follow LAPIC_STRIDE bytes apart, `lapicCount` of them (set by the
// machine's layout; reset() leaves both alone).

import { deliverMessage } from "./apic_bus";
import { IOAPIC_PINS } from "./pc_layout";

// MMIO offsets (3.0).
export const IOAPIC_REGISTER_SELECT: u32 = 0x00;
export const IOAPIC_WINDOW: u32 = 0x10;
// Indirect registers, chosen by IOREGSEL.
export const IOAPIC_REG_ID: u32 = 0x00;
export const IOAPIC_REG_VERSION: u32 = 0x01;
export const IOAPIC_REG_ARBITRATION: u32 = 0x02;
export const IOAPIC_REG_REDIRECTION: u32 = 0x10; // + 2 * pin: low dword, + 1: high dword
// 24 pins (maximum redirection entry 0x17), version 0x11 (3.2.2).
export const IOAPIC_VERSION: u32 = 0x00170011;
const ID_SHIFT: u32 = 24;
const ID_BITS: u32 = 0xf;

// Redirection table entry (3.2.4).
export const REDIRECTION_VECTOR: u64 = 0xff;
export const REDIRECTION_DELIVERY_MODE_SHIFT: u32 = 8;
export const REDIRECTION_LOGICAL: u64 = 1 << 11;
export const REDIRECTION_DELIVERY_STATUS: u64 = 1 << 12;
export const REDIRECTION_ACTIVE_LOW: u64 = 1 << 13;
export const REDIRECTION_REMOTE_IRR: u64 = 1 << 14;
export const REDIRECTION_LEVEL: u64 = 1 << 15;
export const REDIRECTION_MASKED: u64 = 1 << 16;
export const REDIRECTION_DESTINATION_SHIFT: u32 = 56;
// What a guest can write: vector, delivery and destination mode,
// polarity, trigger mode, mask; the destination (bits 63-56).
const REDIRECTION_LOW_WRITABLE: u64 = 0x1afff;
const REDIRECTION_HIGH_WRITABLE: u64 = 0xff000000;
// Delivery modes (3.2.4, bits 10-8); 3 and 6 are reserved.
export const DELIVERY_FIXED: u32 = 0;
export const DELIVERY_LOWEST_PRIORITY: u32 = 1;
export const DELIVERY_SMI: u32 = 2;
export const DELIVERY_NMI: u32 = 4;
export const DELIVERY_INIT: u32 = 5;
export const DELIVERY_EXTINT: u32 = 7;


@unmanaged
export class IoApic {
  lapics: usize;          // address of the first Lapic (0: none)
  lapicCount: u32;
  registerSelect: u32;    // IOREGSEL
  id: u32;                // IOAPICID bits 27-24
  pins: u32;              // bit n: the level of input pin n
  // The redirection table, pin n at entry0 + 8n (reached by address).
  entry0: u64; entry1: u64; entry2: u64; entry3: u64; entry4: u64; entry5: u64;
  entry6: u64; entry7: u64; entry8: u64; entry9: u64; entry10: u64; entry11: u64;
  entry12: u64; entry13: u64; entry14: u64; entry15: u64; entry16: u64; entry17: u64;
  entry18: u64; entry19: u64; entry20: u64; entry21: u64; entry22: u64; entry23: u64;

  // Power-on state (3.2.4): every entry masked, edge, vector 0.
  reset(): void {
    this.registerSelect = 0;
    this.id = 0;
    this.pins = 0;
    for (let pin: u32 = 0; pin < IOAPIC_PINS; pin++) this.setEntry(pin, REDIRECTION_MASKED);
  }

  // Input pin `pin` (0-23) changes level; others are ignored.
  setPin(pin: u32, high: bool): void {
    if (pin >= IOAPIC_PINS) return;
    let wasAsserted = this.asserted(pin);
    let bit: u32 = 1 << pin;
    this.pins = high ? this.pins | bit : this.pins & ~bit;
    let asserted = this.asserted(pin);
    let level = (this.entry(pin) & REDIRECTION_LEVEL) != 0;
    if (asserted && (level || !wasAsserted)) this.service(pin);
  }

  // A local APIC's EOI of a level-triggered `vector`: the entries with that
  // vector and remote IRR set are free again, and re-send when still asserted.
  endOfInterrupt(vector: u32): void {
    for (let pin: u32 = 0; pin < IOAPIC_PINS; pin++) {
      let entry = this.entry(pin);
      if ((entry & REDIRECTION_VECTOR) != <u64>(vector & 0xff) || (entry & REDIRECTION_REMOTE_IRR) == 0) continue;
      this.setEntry(pin, entry & ~REDIRECTION_REMOTE_IRR);
      if ((entry & REDIRECTION_LEVEL) != 0 && this.asserted(pin)) this.service(pin);
    }
  }

  mmioRead(offset: u32, size: u32): u64 {
    let value: u32 = 0;
    let register = offset & ~3;
    if (register == IOAPIC_REGISTER_SELECT) value = this.registerSelect;
    else if (register == IOAPIC_WINDOW) value = this.readRegister();
    else return 0;
    // A narrower read takes its bytes of the dword.
    value >>= (offset & 3) * 8;
    if (size == 1) return value & 0xff;
    if (size == 2) return value & 0xffff;
    return value;
  }

  mmioWrite(offset: u32, size: u32, value: u64): void {
    if (offset == IOAPIC_REGISTER_SELECT) {
      this.registerSelect = <u32>value & 0xff;
    } else if (offset == IOAPIC_WINDOW && size >= 4) {
      this.writeRegister(<u32>value);
    }
  }

  // The register IOREGSEL selects, as IOWIN reads it. Unimplemented
  // registers read all ones (as KVM's).
  readRegister(): u32 {
    let select = this.registerSelect;
    if (select == IOAPIC_REG_ID || select == IOAPIC_REG_ARBITRATION) return this.id << ID_SHIFT;
    if (select == IOAPIC_REG_VERSION) return IOAPIC_VERSION;
    if (select < IOAPIC_REG_REDIRECTION || select >= IOAPIC_REG_REDIRECTION + 2 * IOAPIC_PINS) return 0xffffffff;
    let entry = this.entry((select - IOAPIC_REG_REDIRECTION) >> 1) & ~REDIRECTION_DELIVERY_STATUS;
    return (select & 1) != 0 ? <u32>(entry >> 32) : <u32>entry;
  }

  writeRegister(value: u32): void {
    let select = this.registerSelect;
    if (select == IOAPIC_REG_ID) {
      this.id = (value >> ID_SHIFT) & ID_BITS;
      return;
    }
    if (select < IOAPIC_REG_REDIRECTION || select >= IOAPIC_REG_REDIRECTION + 2 * IOAPIC_PINS) return; // read-only or absent
    let pin = (select - IOAPIC_REG_REDIRECTION) >> 1;
    let entry = this.entry(pin);
    if ((select & 1) != 0) {
      entry = (entry & 0xffffffff) | ((<u64>value << 32) & (REDIRECTION_HIGH_WRITABLE << 32));
    } else {
      entry = (entry & ~<u64>0xffffffff) | (<u64>value & REDIRECTION_LOW_WRITABLE) | (entry & REDIRECTION_REMOTE_IRR);
      // An edge-triggered entry has no remote IRR (Linux relies on this to
      // clear a stuck one).
      if ((entry & REDIRECTION_LEVEL) == 0) entry &= ~REDIRECTION_REMOTE_IRR;
    }
    this.setEntry(pin, entry);
    if ((entry & REDIRECTION_LEVEL) != 0 && this.asserted(pin)) this.service(pin);
  }

  // A level-triggered pin re-sends on each assertion (setPin), even of a
  // line already at its level.
  @inline levelTriggered(pin: u32): bool {
    return pin < IOAPIC_PINS && (this.entry(pin) & REDIRECTION_LEVEL) != 0;
  }

  @inline entry(pin: u32): u64 {
    return load<u64>(this.entryAddress(pin));
  }

  @inline private setEntry(pin: u32, entry: u64): void {
    store<u64>(this.entryAddress(pin), entry);
  }

  @inline private entryAddress(pin: u32): usize {
    return changetype<usize>(this) + offsetof<IoApic>("entry0") + (<usize>(pin % IOAPIC_PINS) << 3);
  }

  // The pin is at its active level (the polarity bit inverts an active-low input).
  private asserted(pin: u32): bool {
    let high = (this.pins & (<u32>1 << pin)) != 0;
    return high != ((this.entry(pin) & REDIRECTION_ACTIVE_LOW) != 0);
  }

  // Sends the pin's interrupt unless it is masked or (level-triggered)
  // still awaiting its EOI.
  private service(pin: u32): void {
    let entry = this.entry(pin);
    if ((entry & REDIRECTION_MASKED) != 0) return;
    let level = (entry & REDIRECTION_LEVEL) != 0;
    if (level && (entry & REDIRECTION_REMOTE_IRR) != 0) return;
    if (this.deliver(entry) && level) this.setEntry(pin, entry | REDIRECTION_REMOTE_IRR);
  }

  // Sends the message of a redirection entry over the APIC bus. True when
  // a local APIC took a fixed or lowest-priority interrupt into its IRR
  // (what remote IRR needs). SMI (no SMM here), INIT from an I/O APIC and
  // reserved modes go nowhere.
  private deliver(entry: u64): bool {
    let vector = <u32>(entry & REDIRECTION_VECTOR);
    let mode = <u32>(entry >> REDIRECTION_DELIVERY_MODE_SHIFT) & 7;
    if (mode != DELIVERY_FIXED && mode != DELIVERY_LOWEST_PRIORITY && mode != DELIVERY_NMI && mode != DELIVERY_EXTINT) {
      return false;
    }
    let logical = (entry & REDIRECTION_LOGICAL) != 0;
    let destination = <u32>(entry >> REDIRECTION_DESTINATION_SHIFT);
    let level = (entry & REDIRECTION_LEVEL) != 0;
    return deliverMessage(this.lapics, this.count(), mode, vector, destination, logical, level, true);
  }

  @inline private count(): u32 {
    return this.lapics != 0 ? this.lapicCount : 0;
  }
}
