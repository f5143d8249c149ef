// System control port B (port 0x61), the AT's "port B": PIT channel 2's
// gate and the speaker on writes; channel 2's output, the refresh toggle
// and the NMI sources on reads. IBM PC/AT Technical Reference, "Port B";
// Intel 82371AB (PIIX4) datasheet, 4.1.6 NMI Status and Control Register.
//
// The refresh toggle (bit 4) flips on each DRAM refresh request, which the
// BIOS times with PIT channel 1 at a count of 18 (15.085 us); it is
// computed from guest time at that rate whatever channel 1 does, since
// programs use it only as a delay. There are no NMI sources (no parity or
// channel check errors): bits 6 and 7 read 0.

import { Pit8254, PIT_HZ } from "./pit8254";
import { tscToTicks } from "./clock";

// Bits (PIIX4 4.1.6).
export const PORT_B_GATE2: u32 = 0x01;          // PIT channel 2 gate (read/write)
export const PORT_B_SPEAKER_DATA: u32 = 0x02;   // speaker enable (read/write, stored)
export const PORT_B_PARITY_CHECK_OFF: u32 = 0x04; // PCI SERR# NMI disable (stored)
export const PORT_B_CHANNEL_CHECK_OFF: u32 = 0x08; // IOCHK# NMI disable (stored)
export const PORT_B_REFRESH_TOGGLE: u32 = 0x10; // read-only
export const PORT_B_TIMER2_OUTPUT: u32 = 0x20;  // read-only: PIT channel 2 OUT
const WRITABLE_BITS: u32 = 0x0f;
// PIT clocks between refresh requests (channel 1's BIOS count).
const REFRESH_CLOCKS: u64 = 18;

@unmanaged
export class SystemControlB {
  pit: Pit8254;
  written: u8; // bits 0-3 as the guest last wrote them

  // Gate 2 low and the speaker off, as the PIT's own reset leaves gate 2.
  reset(): void {
    this.written = 0;
  }

  read(offset: u32, size: u32): u32 {
    let value = <u32>this.written;
    let refreshes = tscToTicks(this.pit.clock, this.pit.clock.now, PIT_HZ) / REFRESH_CLOCKS;
    if ((refreshes & 1) != 0) value |= PORT_B_REFRESH_TOGGLE;
    if (this.pit.output(2)) value |= PORT_B_TIMER2_OUTPUT;
    return value;
  }

  write(offset: u32, size: u32, value: u32): void {
    this.written = <u8>(value & WRITABLE_BITS);
    this.pit.setGate2((value & PORT_B_GATE2) != 0);
  }
}
