// The exit port (0xF4, QEMU's isa-debug-exit convention): a guest ends
// itself by writing a value, which becomes its stop code. Test guests and
// CI use it to report success or failure.
//
// The device only records the request; the exit handler acts on it after
// the write (devices never stop a guest themselves).

@unmanaged
export class DebugExit {
  requested: bool;
  code: u32;

  reset(): void {
    this.requested = false;
    this.code = 0;
  }

  // Nothing to read: all ones, as on an unclaimed port.
  read(offset: u32, size: u32): u32 {
    return sizeMask(size);
  }

  // A 1-, 2- or 4-byte write of v stops the guest with code v.
  write(offset: u32, size: u32, value: u32): void {
    this.requested = true;
    this.code = value & sizeMask(size);
  }
}

@inline function sizeMask(size: u32): u32 {
  return size >= 4 ? 0xffffffff : (<u32>1 << (size * 8)) - 1;
}
