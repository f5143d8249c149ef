// A RAM-like MMIO device: 16 bytes to 4 KiB that read back what was
// written, little-endian, at any offset and size. Nothing in the guest's PC
// is one; it exists for the MMIO emulation's specs and the host fuzzer,
// which need a device whose contents they can check. It counts accesses
// and keeps the last one's offset and size, so a test sees what the bus
// handed it.

export const MMIO_SCRATCH_CAPACITY: u32 = 4096;
const FIELDS_BYTES: u32 = 32;
// What an MmioScratch needs in all: its fields and its bytes.
export const MMIO_SCRATCH_BYTES: u32 = FIELDS_BYTES + MMIO_SCRATCH_CAPACITY;

@unmanaged
export class MmioScratch {
  bytes: u32;       // how many it stores (16..4096)
  reads: u32;
  writes: u32;
  lastOffset: u32;
  lastSize: u32;

  // Sets the size (clamped to 16..4096) and clears the device.
  init(bytes: u32): void {
    this.bytes = bytes < 16 ? 16 : bytes > MMIO_SCRATCH_CAPACITY ? MMIO_SCRATCH_CAPACITY : bytes;
    this.reset();
  }

  reset(): void {
    if (this.bytes < 16 || this.bytes > MMIO_SCRATCH_CAPACITY) this.bytes = 16;
    this.reads = 0;
    this.writes = 0;
    this.lastOffset = 0;
    this.lastSize = 0;
    memory.fill(this.data(), 0, <usize>MMIO_SCRATCH_CAPACITY);
  }

  // Bytes past the device's end read as 0.
  mmioRead(offset: u32, size: u32): u64 {
    this.reads++;
    this.lastOffset = offset;
    this.lastSize = size;
    let value: u64 = 0;
    for (let i: u32 = 0; i < size && i < 8; i++) {
      let at = offset + i;
      if (at < offset || at >= this.bytes) break;
      value |= <u64>load<u8>(this.data() + <usize>at) << (<u64>i * 8);
    }
    return value;
  }

  // Bytes past the device's end are dropped.
  mmioWrite(offset: u32, size: u32, value: u64): void {
    this.writes++;
    this.lastOffset = offset;
    this.lastSize = size;
    for (let i: u32 = 0; i < size && i < 8; i++) {
      let at = offset + i;
      if (at < offset || at >= this.bytes) break;
      store<u8>(this.data() + <usize>at, <u8>(value >> (<u64>i * 8)));
    }
  }

  @inline data(): usize {
    return changetype<usize>(this) + <usize>FIELDS_BYTES;
  }
}
