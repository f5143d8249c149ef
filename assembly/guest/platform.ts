// What a guest VMM instance can ask of the stub, as a class the code is
// written against: stub_platform.ts forwards each method to the import of
// the same name (host.ts), and the unit tests stand a fake in its place.
// Every method reaches only this instance's own guest.

// The guest's boot modules (the `which` of the module methods).
export const MODULE_KERNEL: u32 = 0;
export const MODULE_INITRD: u32 = 1;
// moduleSize of a module the guest does not have.
export const NO_MODULE: u32 = 0xFFFFFFFF;

export abstract class Platform {
  // The host's CPUID never changes: what vcpu/xsetbv.ts derives from it is
  // asked once, at first use, not on every CPUID or XSETBV exit.
  guestXcr0: u64 = 0;
  guestXcr0Known: bool = false;
  // True when guest RAM reads as zero wherever nothing was written since
  // the guest's start (the stub's is zeroed on first touch: linker/
  // guest_ram.c). The loaders then leave alone what they would only
  // clear, and touch none of it: a bss, the BIOS area around the ACPI
  // tables (make bench, P4).
  ramZeroAtLoad: bool = false;

  // Writes bytes to the host console (the core writes whole lines).
  abstract consoleWrite(pointer: usize, length: u32): void;
  // Copies guest RAM [gpa, gpa+length) to `destination`; returns `length`,
  // or 0 when the range is not entirely in the guest's RAM.
  abstract guestRead(gpa: u64, destination: usize, length: u32): u32;
  // The `bytes` (4 or 8) bytes of guest RAM at `gpa`, little-endian; 0
  // when they are not entirely in the guest's RAM (as a zero entry reads).
  abstract guestLoad(gpa: u64, bytes: u32): u64;
  // Copies `length` bytes from `source` to guest RAM at `gpa`; as guestRead.
  abstract guestWrite(gpa: u64, source: usize, length: u32): u32;
  // Size of boot module `which`, or NO_MODULE when there is none.
  abstract moduleSize(which: u32): u32;
  // Copies up to `length` bytes of the module from `offset`; returns how
  // many (clipped at its end; 0 past it).
  abstract moduleRead(which: u32, offset: u32, destination: usize, length: u32): u32;
  // Copies module bytes [offset, offset+length) straight to guest RAM at
  // `gpa`; returns `length`, or 0 when either range is out of bounds.
  abstract moduleToRam(which: u32, offset: u32, gpa: u64, length: u32): u32;
  // The host CPU's CPUID (leaf, subleaf): EAX, EBX, ECX, EDX as 4 u32.
  abstract cpuid(leaf: u32, subleaf: u32, destination: usize): void;
  abstract readTsc(): u64;
  // The host TSC's rate in Hz.
  abstract tscHz(): u64;
  // The host's wall clock, seconds since 1970-01-01 00:00 UTC.
  abstract wallClockSeconds(): u64;
}
