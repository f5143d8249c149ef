// The DSDT (ACPI 6.5, 5.2.11.1): the guest's namespace, as this ASL would
// compile (iasl -d of what writeDsdt makes gives it back):
//
//   DefinitionBlock ("", "DSDT", 2, "TSHV  ", "TSHVPC  ", 1)
//   {
//       Name (\_S5, Package (4) { 5, 5, 0, 0 })    // SLP_TYP_S5 for PM1a and PM1b
//       Scope (\_SB)
//       {
//           Device (PCI0)                           // the host bridge: plain PCI, no ECAM
//           {
//               Name (_HID, EisaId ("PNP0A03"))
//               Name (_ADR, 0)
//               Name (_UID, 0)
//               Name (_BBN, 0)
//               Name (_CRS, ResourceTemplate () {
//                   WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode,
//                       0, 0x00, 0xFF, 0, 0x100)
//                   IO (Decode16, 0x0CF8, 0x0CF8, 1, 8)           // config address and data
//                   WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange,
//                       0, 0x0000, 0x0CF7, 0, 0x0CF8)
//                   WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange,
//                       0, 0x0D00, 0xFFFF, 0, 0xF300)
//                   DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed,
//                       NonCacheable, ReadWrite, 0, <window>, 0xFEBFFFFF, 0, <length>)
//               })
//               Device (RTC_) { Name (_HID, EisaId ("PNP0B00"))
//                   Name (_CRS, ResourceTemplate () { IO (Decode16, 0x70, 0x70, 1, 2) IRQNoFlags () {8} }) }
//               Device (KBD_) { Name (_HID, EisaId ("PNP0303"))
//                   Name (_CRS, ResourceTemplate () { IO (Decode16, 0x60, 0x60, 1, 1)
//                       IO (Decode16, 0x64, 0x64, 1, 1) IRQNoFlags () {1} }) }
//               Device (COM1) { Name (_HID, EisaId ("PNP0501")) Name (_UID, 1)
//                   Name (_CRS, ResourceTemplate () { IO (Decode16, 0x3F8, 0x3F8, 1, 8) IRQNoFlags () {4} }) }
//           }
//       }
//   }
//
// Decisions:
// - _HID PNP0A03 without _CID PNP0A08: the bridge is conventional PCI with
//   the 0xCF8/0xCFC mechanism only (no MCFG, no ECAM), so the OS must not
//   take it for PCI Express.
// - _ADR 0 beside _HID, as QEMU's PCI0 has it; the spec says a device
//   "should not" have both (iasl remarks on it), and OSes ignore _ADR when a
//   _HID is there.
// - The 32-bit MMIO window (PCI BARs) starts at the end of RAM rounded up
//   to 256 MiB and ends below the I/O APIC (0xFEC00000): it never covers
//   guest RAM, the I/O APIC or the local APIC. With more than 3.75 GiB of
//   RAM there is no room below 4 GiB, and the window is left out (no 64-bit
//   window either: there are no PCI devices to put in one yet). No legacy
//   VGA window: there is no VGA.
// - The ISA devices that exist (RTC, i8042 keyboard, COM1) are children of
//   PCI0 so their ports lie in its I/O window; no PS/2 mouse, no COM2, no
//   button devices (the power button is the FADT's fixed one; there is no
//   sleep button), no
//   processor objects (the MADT lists the CPUs), no _PRT (no PCI device
//   raises INTx yet), no _PIC (nothing to switch).

import { AmlWriter, ADDRESS_SPACE_BUS_NUMBER, ADDRESS_SPACE_IO, ADDRESS_SPACE_MEMORY, ADDRESS_MAX_FIXED,
         ADDRESS_MIN_FIXED, IO_RANGE_ENTIRE, MEMORY_READ_WRITE } from "./aml";
import { writeTableHeader, sealTable, TABLE_HEADER_BYTES } from "./header";
import {
  SLP_TYP_S5, IOAPIC_BASE, PORT_PCI_CONFIG_ADDRESS, PORT_RTC, PORT_I8042_DATA, PORT_I8042_COMMAND, PORT_COM1,
} from "../devices/pc_layout";
import { IRQ_RTC, IRQ_KEYBOARD, IRQ_COM1 } from "../devices/interrupt_lines";

export const DSDT_REVISION: u8 = 2;   // 2 and above: AML integers are 64 bits (5.2.11.1)

// The PCI host bridge's windows.
export const PCI_CONFIG_PORTS: u32 = 8;           // 0xCF8-0xCFF: address, reset control, data
export const PCI_IO_LOW_END: u32 = PORT_PCI_CONFIG_ADDRESS - 1;       // 0x0000-0x0CF7
export const PCI_IO_HIGH_BASE: u32 = 0x0d00;                          // 0x0D00-0xFFFF
export const PCI_MMIO_ALIGNMENT: u64 = 256 << 20;
export const PCI_MMIO_END: u64 = IOAPIC_BASE;     // exclusive: the last byte is 0xFEBFFFFF
export const RTC_PORTS: u32 = 2;
export const COM1_PORTS: u32 = 8;

// Where the PCI MMIO window starts for `memoryBytes` of RAM, or 0 when there
// is no room for one below PCI_MMIO_END.
export function pciMmioBase(memoryBytes: u64): u64 {
  if (memoryBytes >= PCI_MMIO_END) return 0; // also keeps the rounding from overflowing
  let base = (memoryBytes + PCI_MMIO_ALIGNMENT - 1) & ~(PCI_MMIO_ALIGNMENT - 1);
  if (base == 0) base = PCI_MMIO_ALIGNMENT; // no RAM at all: still not at 0
  return base < PCI_MMIO_END ? base : 0;
}

const aml = changetype<AmlWriter>(memory.data(offsetof<AmlWriter>(), 16));

// Writes the DSDT at `at` (at most `capacity` bytes) for a guest with
// `memoryBytes` of RAM; answers its length, or 0 when it does not fit.
export function writeDsdt(at: usize, capacity: u32, memoryBytes: u64): u32 {
  if (capacity < TABLE_HEADER_BYTES) return 0;
  aml.reset(at + <usize>TABLE_HEADER_BYTES, capacity - TABLE_HEADER_BYTES);

  // \_S5: what PM1_CNT.SLP_TYP takes for soft-off (7.4.2); the last two
  // elements are reserved.
  aml.name("\\_S5_");
  let s5 = aml.beginPackage(4);
  aml.integer(SLP_TYP_S5);
  aml.integer(SLP_TYP_S5);
  aml.integer(0);
  aml.integer(0);
  aml.end(s5);

  let systemBus = aml.beginScope("\\_SB_");
  writeHostBridge(memoryBytes);
  aml.end(systemBus);

  if (aml.failed) return 0;
  let length = TABLE_HEADER_BYTES + aml.length;
  writeTableHeader(at, "DSDT", length, DSDT_REVISION);
  sealTable(at);
  return length;
}

function writeHostBridge(memoryBytes: u64): void {
  let bridge = aml.beginDevice("PCI0");
  aml.nameEisaId("_HID", "PNP0A03");
  aml.nameInteger("_ADR", 0);
  aml.nameInteger("_UID", 0);
  aml.nameInteger("_BBN", 0);

  aml.name("_CRS");
  let resources = aml.beginResourceTemplate();
  let fixed = ADDRESS_MIN_FIXED | ADDRESS_MAX_FIXED;
  aml.wordAddressSpace(ADDRESS_SPACE_BUS_NUMBER, fixed, 0, 0x00, 0xff, 0x100);
  aml.io(PORT_PCI_CONFIG_ADDRESS, PORT_PCI_CONFIG_ADDRESS, 1, PCI_CONFIG_PORTS);
  aml.wordAddressSpace(ADDRESS_SPACE_IO, fixed, IO_RANGE_ENTIRE, 0x0000, PCI_IO_LOW_END, PCI_IO_LOW_END + 1);
  aml.wordAddressSpace(ADDRESS_SPACE_IO, fixed, IO_RANGE_ENTIRE, PCI_IO_HIGH_BASE, 0xffff,
                       0x10000 - PCI_IO_HIGH_BASE);
  let window = pciMmioBase(memoryBytes);
  if (window != 0) {
    aml.dwordAddressSpace(ADDRESS_SPACE_MEMORY, fixed, MEMORY_READ_WRITE, <u32>window, <u32>(PCI_MMIO_END - 1),
                          <u32>(PCI_MMIO_END - window));
  }
  aml.endResourceTemplate(resources);

  // The CMOS RTC (its century byte is the FADT's CENTURY).
  let rtc = aml.beginDevice("RTC_");
  aml.nameEisaId("_HID", "PNP0B00");
  aml.name("_CRS");
  let rtcResources = aml.beginResourceTemplate();
  aml.io(PORT_RTC, PORT_RTC, 1, RTC_PORTS);
  aml.irqNoFlags(IRQ_RTC);
  aml.endResourceTemplate(rtcResources);
  aml.end(rtc);

  // The i8042's keyboard port (the FADT's IAPC_BOOT_ARCH says an 8042 is there).
  let keyboard = aml.beginDevice("KBD_");
  aml.nameEisaId("_HID", "PNP0303");
  aml.name("_CRS");
  let keyboardResources = aml.beginResourceTemplate();
  aml.io(PORT_I8042_DATA, PORT_I8042_DATA, 1, 1);
  aml.io(PORT_I8042_COMMAND, PORT_I8042_COMMAND, 1, 1);
  aml.irqNoFlags(IRQ_KEYBOARD);
  aml.endResourceTemplate(keyboardResources);
  aml.end(keyboard);

  // COM1, the 16550 (devices/uart16550.ts).
  let com1 = aml.beginDevice("COM1");
  aml.nameEisaId("_HID", "PNP0501");
  aml.nameInteger("_UID", 1);
  aml.name("_CRS");
  let com1Resources = aml.beginResourceTemplate();
  aml.io(PORT_COM1, PORT_COM1, 1, COM1_PORTS);
  aml.irqNoFlags(IRQ_COM1);
  aml.endResourceTemplate(com1Resources);
  aml.end(com1);

  aml.end(bridge);
}
