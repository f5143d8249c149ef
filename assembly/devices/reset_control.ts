// The Reset Control register at port 0xCF9 (Intel PIIX3 datasheet 2.1.9
// "RC"; ICH/PCH "RST_CNT" adds bit 3): a byte-wide southbridge register that
// sits inside the PCI host bridge's 0xCF8-0xCFF range, so devices/pci_host.ts
// hands it the byte accesses at 0xCF9. It is its own file because it is not
// part of the PCI configuration mechanism: it is how a PC resets itself
// (Linux `reboot=pci`, and the ACPI FADT reset register, pc_layout.ts
// RESET_VALUE 0x06).
//
// Bit 2 (RST_CPU) going from 0 to 1 starts the reset; bit 1 (SYS_RST) says a
// hard reset, bit 3 (FULL_RST) a full one. The device only records the
// request (`requested`); the exit handler acts on it. Bit 2 is not kept: the
// reset it starts clears it, so every write with bit 2 set is a 0 -> 1
// transition (as QEMU's PIIX does), and a read shows bits 1 and 3 only.

export const RESET_CONTROL_HARD: u8 = 0x02;  // SYS_RST: hard (system) reset, not just the CPU
export const RESET_CONTROL_CPU: u8 = 0x04;   // RST_CPU: 0 -> 1 starts the reset
export const RESET_CONTROL_FULL: u8 = 0x08;  // FULL_RST: full reset (power cycled)
const RESET_CONTROL_KEPT: u8 = RESET_CONTROL_HARD | RESET_CONTROL_FULL;

@unmanaged
export class ResetControl {
  requested: bool;
  value: u8;        // bits 1 and 3 as last written
  requestedKind: u8; // bits 1 and 3 of the write that asked for the reset

  reset(): void {
    this.requested = false;
    this.value = 0;
    this.requestedKind = 0;
  }

  read(): u32 {
    return this.value;
  }

  write(value: u32): void {
    let byte = <u8>value;
    this.value = byte & RESET_CONTROL_KEPT;
    if ((byte & RESET_CONTROL_CPU) != 0) {
      this.requested = true;
      this.requestedKind = this.value;
    }
  }
}
