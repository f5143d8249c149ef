// SKELETON (the interrupt-controller work replaces it): the I/O APIC.
// Its API, which other files rely on, is fixed: setPin(pin, high).

@unmanaged
export class IoApic {
  pins: u32;

  reset(): void {
    this.pins = 0;
  }

  // Input pin `pin` (0-23) changes level.
  setPin(pin: u32, high: bool): void {
    if (pin >= 24) return;
    let bit: u32 = 1 << pin;
    this.pins = high ? this.pins | bit : this.pins & ~bit;
  }

  mmioRead(offset: u32, size: u32): u64 {
    return 0;
  }

  mmioWrite(offset: u32, size: u32, value: u64): void {}
}
