// The MADT (ACPI 6.5, 5.2.12): the guest's interrupt controllers.
//   - the local APICs at LAPIC_BASE, one per vCPU: ACPI processor UID =
//     APIC ID = vCPU index, enabled;
//   - PCAT_COMPAT: the dual 8259s are there too (devices/pic8259.ts);
//   - the I/O APIC at IOAPIC_BASE, ID vcpuCount (after the local APICs'),
//     GSIs from 0, pin n = ISA IRQ n;
//   - two interrupt source overrides: IRQ 0 (the PIT) arrives at GSI 2, as
//     devices/interrupt_lines.ts wires it, and IRQ 9 (the SCI) is
//     level-triggered active-high, as the FADT's SCI_INT is driven;
//   - LINT1 of every processor is NMI (as a PC's BIOS sets it).

import { writeTableHeader, sealTable, TABLE_HEADER_BYTES } from "./header";
import { LAPIC_BASE, IOAPIC_BASE, IRQ_SCI } from "../devices/pc_layout";
import { IRQ_PIT, isaIrqToGsi } from "../devices/interrupt_lines";

export const MADT_REVISION: u8 = 6;  // ACPI 6.5
// xAPIC IDs are 8 bits and 0xFF is the broadcast; the I/O APIC takes the
// ID after the last vCPU's.
export const MADT_MAX_VCPUS: u32 = 254;

// Fields after the header (5.2.12).
const MADT_LOCAL_APIC_ADDRESS = 36;
const MADT_FLAGS = 40;
export const MADT_ENTRIES_OFFSET: u32 = 44;
export const MADT_PCAT_COMPAT: u32 = 1 << 0;

// Interrupt controller structures (5.2.12.2 onwards): type, length.
export const MADT_TYPE_LOCAL_APIC: u8 = 0;
export const MADT_TYPE_IO_APIC: u8 = 1;
export const MADT_TYPE_INTERRUPT_OVERRIDE: u8 = 2;
export const MADT_TYPE_LOCAL_APIC_NMI: u8 = 4;
export const LOCAL_APIC_BYTES: u32 = 8;
export const IO_APIC_BYTES: u32 = 12;
export const INTERRUPT_OVERRIDE_BYTES: u32 = 10;
export const LOCAL_APIC_NMI_BYTES: u32 = 6;
export const LOCAL_APIC_ENABLED: u32 = 1 << 0;
// MPS INTI flags (5.2.12.5): bits 1:0 polarity, 3:2 trigger mode; 0 is
// "conforms to the bus" (ISA: edge, active-high).
export const INTI_CONFORMING: u16 = 0x0000;
export const INTI_ACTIVE_HIGH: u16 = 0x0001;
export const INTI_LEVEL: u16 = 0x000c;
export const ISA_BUS: u8 = 0;
export const ALL_PROCESSORS: u8 = 0xff;
export const NMI_LINT: u8 = 1;

// The MADT's length for `vcpuCount` vCPUs.
export function madtBytes(vcpuCount: u32): u32 {
  return MADT_ENTRIES_OFFSET + vcpuCount * LOCAL_APIC_BYTES + IO_APIC_BYTES + 2 * INTERRUPT_OVERRIDE_BYTES +
    LOCAL_APIC_NMI_BYTES;
}

// Writes the MADT at `at` (at most `capacity` bytes); answers its length,
// or 0 for a vCPU count it cannot describe or a table that does not fit.
export function writeMadt(at: usize, capacity: u32, vcpuCount: u32): u32 {
  if (vcpuCount == 0 || vcpuCount > MADT_MAX_VCPUS) return 0;
  let length = madtBytes(vcpuCount);
  if (length > capacity) return 0;
  writeTableHeader(at, "APIC", length, MADT_REVISION);
  store<u32>(at, <u32>LAPIC_BASE, MADT_LOCAL_APIC_ADDRESS);
  store<u32>(at, MADT_PCAT_COMPAT, MADT_FLAGS);

  let entry = at + <usize>MADT_ENTRIES_OFFSET;
  for (let index: u32 = 0; index < vcpuCount; index++) {
    store<u8>(entry, MADT_TYPE_LOCAL_APIC, 0);
    store<u8>(entry, <u8>LOCAL_APIC_BYTES, 1);
    store<u8>(entry, <u8>index, 2);        // ACPI processor UID
    store<u8>(entry, <u8>index, 3);        // APIC ID
    store<u32>(entry, LOCAL_APIC_ENABLED, 4);
    entry += LOCAL_APIC_BYTES;
  }

  store<u8>(entry, MADT_TYPE_IO_APIC, 0);
  store<u8>(entry, <u8>IO_APIC_BYTES, 1);
  store<u8>(entry, <u8>vcpuCount, 2);      // I/O APIC ID
  store<u8>(entry, 0, 3);
  store<u32>(entry, <u32>IOAPIC_BASE, 4);
  store<u32>(entry, 0, 8);                 // GSI base
  entry += IO_APIC_BYTES;

  entry = writeOverride(entry, <u8>IRQ_PIT, isaIrqToGsi(IRQ_PIT), INTI_CONFORMING);
  entry = writeOverride(entry, <u8>IRQ_SCI, IRQ_SCI, INTI_LEVEL | INTI_ACTIVE_HIGH);

  store<u8>(entry, MADT_TYPE_LOCAL_APIC_NMI, 0);
  store<u8>(entry, <u8>LOCAL_APIC_NMI_BYTES, 1);
  store<u8>(entry, ALL_PROCESSORS, 2);
  store<u16>(entry, INTI_CONFORMING, 3);
  store<u8>(entry, NMI_LINT, 5);

  sealTable(at);
  return length;
}

function writeOverride(entry: usize, irq: u8, gsi: u32, flags: u16): usize {
  store<u8>(entry, MADT_TYPE_INTERRUPT_OVERRIDE, 0);
  store<u8>(entry, <u8>INTERRUPT_OVERRIDE_BYTES, 1);
  store<u8>(entry, ISA_BUS, 2);
  store<u8>(entry, irq, 3);
  store<u32>(entry, gsi, 4);
  store<u16>(entry, flags, 8);
  return entry + INTERRUPT_OVERRIDE_BYTES;
}
