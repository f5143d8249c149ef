// System Control Port A at 0x92 (IBM PS/2 "System Control Port A"; Intel
// PIIX3 datasheet 2.1.7 "Port 92h"): fast A20 and fast reset.
//
// Bit 0 (fast reset, ALT_RST): a write that takes it from 0 to 1 resets the
// processor; the device records the request (`resetRequested`) and the exit
// handler acts on it. Bit 1 (fast A20, ALT_A20_GATE) is kept and read back
// but changes nothing: the guest's RAM has no A20 wrap (address bit 20 is
// never masked, as on every CPU since the 486 with A20 gated on), and no
// guest started by this hypervisor runs real-mode code that relies on it.
// The other bits (security lock, disk activity lights) are not modelled and
// read 0.
//
// One byte-wide register; the bus splits wider accesses.

export const PORT_A_FAST_RESET: u8 = 0x01;
export const PORT_A_FAST_A20: u8 = 0x02;
const PORT_A_KEPT: u8 = PORT_A_FAST_RESET | PORT_A_FAST_A20;

@unmanaged
export class SystemControlA {
  resetRequested: bool;
  value: u8; // bits 0 and 1 as last written

  // Power-on: A20 enabled as a PC BIOS leaves it (this guest never had a
  // BIOS to turn it on), no reset pending.
  reset(): void {
    this.resetRequested = false;
    this.value = PORT_A_FAST_A20;
  }

  read(offset: u32, size: u32): u32 {
    // Byte 0 is the register; bytes past it (an access running past 0x92)
    // are ports nothing claims.
    let value: u32 = offset == 0 ? <u32>this.value : 0xff;
    for (let i: u32 = 1; i < size && i < 4; i++) value |= <u32>0xff << (i * 8);
    return value;
  }

  write(offset: u32, size: u32, value: u32): void {
    if (offset != 0) return;
    let byte = <u8>value & PORT_A_KEPT;
    if ((byte & ~this.value & PORT_A_FAST_RESET) != 0) this.resetRequested = true;
    this.value = byte;
  }

  // Bit 1 as the guest last set it (no effect on memory, see the head comment).
  @inline a20Enabled(): bool {
    return (this.value & PORT_A_FAST_A20) != 0;
  }
}
