// What a guest VMM instance can ask of the stub: each method is the import
// of the same name (host.ts). Every method reaches only this instance's own
// guest. The unit tests subclass it with a fake (tests/unit/guest/
// helpers.ts); the instance's build has no subclass, so its calls are
// direct (an abstract class costs a class-id test per call, and a call to
// a dispatcher for some: make bench P1).

import * as host from "./host";

// The guest's boot modules (the `which` of the module methods).
export const MODULE_KERNEL: u32 = 0;
export const MODULE_INITRD: u32 = 1;
// moduleSize of a module the guest does not have.
export const NO_MODULE: u32 = 0xFFFFFFFF;

// vcpu/cpuid.ts: CPUID_SLOTS slots of 32 bytes.
export const CPUID_ANSWER_BYTES: usize = 32 * 32;

function zeroed(bytes: usize): usize {
  let at = heap.alloc(bytes);
  memory.fill(at, 0, bytes);
  return at;
}

export class Platform {
  // The host's CPUID never changes: what vcpu/xsetbv.ts derives from it is
  // asked once, at first use, not on every CPUID or XSETBV exit.
  guestXcr0: u64 = 0;
  guestXcr0Known: bool = false;
  // The guest's CPUID answers, kept once computed (vcpu/cpuid.ts): 32
  // slots of 32 bytes, zero (none kept) at the start.
  cpuidAnswers: usize = zeroed(CPUID_ANSWER_BYTES);
  // True when guest RAM reads as zero wherever nothing was written since
  // the guest's start (the stub's is zeroed on first touch: linker/
  // guest_ram.c). The loaders then leave alone what they would only
  // clear, and touch none of it: a bss, the BIOS area around the ACPI
  // tables (make bench, P4).
  ramZeroAtLoad: bool = true;

  // Writes bytes to the host console (the core writes whole lines).
  consoleWrite(pointer: usize, length: u32): void {
    host.consoleWrite(pointer, length);
  }
  // Copies guest RAM [gpa, gpa+length) to `destination`; returns `length`,
  // or 0 when the range is not entirely in the guest's RAM.
  guestRead(gpa: u64, destination: usize, length: u32): u32 {
    return host.guestRead(gpa, destination, length);
  }
  // The `bytes` (4 or 8) bytes of guest RAM at `gpa`, little-endian; 0
  // when they are not entirely in the guest's RAM (as a zero entry reads).
  guestLoad(gpa: u64, bytes: u32): u64 {
    return host.guestLoad(gpa, bytes);
  }
  // Copies `length` bytes from `source` to guest RAM at `gpa`; as guestRead.
  guestWrite(gpa: u64, source: usize, length: u32): u32 {
    return host.guestWrite(gpa, source, length);
  }
  // Size of boot module `which`, or NO_MODULE when there is none.
  moduleSize(which: u32): u32 {
    return host.guestModuleSize(which);
  }
  // Copies up to `length` bytes of the module from `offset`; returns how
  // many (clipped at its end; 0 past it).
  moduleRead(which: u32, offset: u32, destination: usize, length: u32): u32 {
    return host.guestModuleRead(which, offset, destination, length);
  }
  // Copies module bytes [offset, offset+length) straight to guest RAM at
  // `gpa`; returns `length`, or 0 when either range is out of bounds.
  moduleToRam(which: u32, offset: u32, gpa: u64, length: u32): u32 {
    return host.guestModuleToRam(which, offset, gpa, length);
  }
  // The host CPU's CPUID (leaf, subleaf): EAX, EBX, ECX, EDX as 4 u32.
  cpuid(leaf: u32, subleaf: u32, destination: usize): void {
    host.hostCpuid(leaf, subleaf, destination);
  }
  readTsc(): u64 {
    return host.readTsc();
  }
  // The host TSC's rate in Hz.
  tscHz(): u64 {
    return host.tscHz();
  }
  // The host's wall clock, seconds since 1970-01-01 00:00 UTC.
  wallClockSeconds(): u64 {
    return host.wallClockSeconds();
  }
}
