// Every function a guest VMM instance imports from the stub (module "env"),
// on one screen: the whole trust boundary of the sandboxed half of the core.
// The C side is linker/imports.c. Pointers are offsets in this instance's own
// linear memory; the host checks each (pointer, length) against it and traps
// the instance, and only it, on a bad one. Guest-physical addresses and
// module numbers name only this instance's own guest: there is no import
// through which it could name another guest, a host address or an MSR.
// (coreAbort is declared in ../lib/abort.ts.)

// Writes bytes to the host console (whole lines).
@external("env", "consoleWrite")
export declare function consoleWrite(pointer: usize, length: u32): void;

// Copies guest RAM [gpa, gpa+length) to `destination`. Returns `length`, or 0
// if the range is not entirely inside this guest's RAM.
@external("env", "guestRead")
export declare function guestRead(gpa: u64, destination: usize, length: u32): u32;
// The `bytes` (4 or 8) bytes of guest RAM at `gpa` as a little-endian
// value: a page-table entry, without a copy through this instance's
// memory. 0 when not entirely inside this guest's RAM (tell that from a
// zero entry with guestRead); another `bytes` traps the instance.
@external("env", "guestLoad")
export declare function guestLoad(gpa: u64, bytes: u32): u64;
// Copies `length` bytes from `source` into guest RAM at `gpa`; as guestRead.
@external("env", "guestWrite")
export declare function guestWrite(gpa: u64, source: usize, length: u32): u32;

// This guest's boot modules: `which` 0 is the kernel, 1 the initrd.
// Size in bytes, or 0xFFFFFFFF when the guest has no such module.
@external("env", "guestModuleSize")
export declare function guestModuleSize(which: u32): u32;
// Copies up to `length` bytes of the module from `offset` to `destination`;
// returns how many (clipped at the module's end, 0 past it).
@external("env", "guestModuleRead")
export declare function guestModuleRead(which: u32, offset: u32, destination: usize, length: u32): u32;
// Copies module bytes [offset, offset+length) straight into guest RAM at
// `gpa`. Returns `length`, or 0 if either range is out of bounds.
@external("env", "guestModuleToRam")
export declare function guestModuleToRam(which: u32, offset: u32, gpa: u64, length: u32): u32;

// CPUID on the host CPU: writes EAX, EBX, ECX, EDX (4 u32) to `destination`.
@external("env", "hostCpuid")
export declare function hostCpuid(leaf: u32, subleaf: u32, destination: usize): void;
// The host's time stamp counter (the guest's RDTSC reads it plus the
// guest's TSC offset).
@external("env", "readTsc")
export declare function readTsc(): u64;
// The host TSC's rate in Hz.
@external("env", "tscHz")
export declare function tscHz(): u64;
// The host's wall clock: seconds since 1970-01-01 00:00 UTC.
@external("env", "wallClockSeconds")
export declare function wallClockSeconds(): u64;
