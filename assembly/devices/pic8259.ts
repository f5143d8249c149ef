// SKELETON (the interrupt-controller work replaces it): the 8259A pair.
// Its API, which other files rely on, is fixed: setIrq(irq, high).

@unmanaged
export class Pic8259Pair {
  requests: u16;

  reset(): void {
    this.requests = 0;
  }

  // ISA IRQ `irq` (0-15) changes level.
  setIrq(irq: u32, high: bool): void {
    let bit = <u16>(1 << (irq & 15));
    this.requests = high ? this.requests | bit : this.requests & ~bit;
  }
}
