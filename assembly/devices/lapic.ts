// SKELETON (the interrupt-controller work replaces it): the local APIC.
// Its API, which other files rely on, is fixed: mmioRead, mmioWrite.

@unmanaged
export class Lapic {
  id: u32;

  reset(): void {
    this.id = 0;
  }

  mmioRead(offset: u32, size: u32): u64 {
    return 0;
  }

  mmioWrite(offset: u32, size: u32, value: u64): void {}
}
