// The POST code port 0x80 and the delay port 0xED: ports nothing on a
// modern PC answers but that software writes to for a short delay (Linux's
// io_delay writes 0x80 by default, 0xED with io_delay=0xed; a BIOS writes
// its POST codes to 0x80 for a diagnostic card). Claiming them keeps those
// writes off the unclaimed-port count and says why they happen.
//
// Writes are accepted and dropped (the last byte is kept, as a POST card
// shows it, for a debugger only: the guest cannot read it back); reads are
// all ones, as from an unclaimed ISA port. One device, mapped at both ports.

@unmanaged
export class PostDelay {
  lastWritten: u8;

  reset(): void {
    this.lastWritten = 0;
  }

  read(offset: u32, size: u32): u32 {
    return size >= 4 ? 0xffffffff : (<u32>1 << (size * 8)) - 1;
  }

  write(offset: u32, size: u32, value: u32): void {
    this.lastWritten = <u8>value;
  }
}
