// A [[guest]] of hv.toml: the limits and defaults of its keys, and the
// record each guest is parsed into (static memory, one record per guest).

import { GiB, KiB, MiB } from "./sizes";

// Guests a config may describe. RAM binds first: 256 guests of 8 MiB need
// more than a 2 GiB host has (make bench, P6). Every table sized by it:
// sched/, supervisor/, linker/core.h's CORE_MAX_GUESTS.
export const MAX_GUESTS: u32 = 256;

export const NAME_MAX: u32 = 32;
export const CMDLINE_MAX: u32 = 4095;
// A kernel/initrd path as written, and once resolved against the folder.
export const PATH_MAX: u32 = 1024;
export const RESOLVED_PATH_MAX: u32 = 2047;

export const DEFAULT_MEMORY_BYTES: u64 = 32 * MiB;
export const DEFAULT_VCPUS: u32 = 1;
// The guest VMM's MAX_VCPUS (assembly/guest/machine.ts): one local APIC,
// ExitRecord and MsrFile each, the I/O APIC's 4-bit ID after them.
export const MAX_GUEST_VCPUS: u32 = 8;
export const DEFAULT_MAX_RESTARTS: u32 = 3;
// console_bytes_per_second: what a guest's share of the host console may be
// pinned to (supervisor/console_share.ts caps a measured share the same).
export const MIN_CONSOLE_BYTES_PER_SECOND: u32 = 100;
export const MAX_CONSOLE_BYTES_PER_SECOND: u32 = 10000000;

export const MIN_MEMORY_BYTES: u64 = MiB;
export const MAX_MEMORY_BYTES: u64 = 64 * GiB;
export const MEMORY_ALIGNMENT: u64 = 4 * KiB;

// Host CPU numbers a guest can be pinned to: 0..MAX_CPU.
export const MAX_CPU: u32 = 63;

// --- the record --------------------------------------------------------------

// One [[guest]], with its strings inline (UTF-8, not NUL-terminated).
@unmanaged
export class GuestConfig {
  // Its [[guest]] header.
  line: u32;
  column: u32;
  nameLength: u32;
  nameLine: u32;
  nameColumn: u32;
  kernelLength: u32; // resolved
  kernelLine: u32;
  kernelColumn: u32;
  initrdLength: u32; // resolved; 0 if none
  initrdLine: u32;
  initrdColumn: u32;
  cmdlineLength: u32;
  memoryBytes: u64;
  vcpus: u32;
  maxRestarts: u32;
  stopAfterMs: u32;  // 0: never
  consoleBytesPerSecond: u32; // 0: the host's share (supervisor/console_share.ts)
  onCrashRestart: bool;
  hasInitrd: bool;
  kernelModule: i32;
  initrdModule: i32;
  // Host CPUs it may run on: bit n = CPU n; 0 = any (no `cpus`).
  cpuMask: u64;

  get namePointer(): usize {
    return changetype<usize>(this) + GUEST_NAME_OFFSET;
  }
  get cmdlinePointer(): usize {
    return changetype<usize>(this) + GUEST_CMDLINE_OFFSET;
  }
  get kernelPointer(): usize {
    return changetype<usize>(this) + GUEST_KERNEL_OFFSET;
  }
  get initrdPointer(): usize {
    return changetype<usize>(this) + GUEST_INITRD_OFFSET;
  }
}

// Record layout: the fields, then name, cmdline, kernel and initrd bytes.
const GUEST_NAME_OFFSET: usize = 128;
const GUEST_CMDLINE_OFFSET: usize = GUEST_NAME_OFFSET + 32;
const GUEST_KERNEL_OFFSET: usize = GUEST_CMDLINE_OFFSET + 4096;
const GUEST_INITRD_OFFSET: usize = GUEST_KERNEL_OFFSET + 2048;
const GUEST_RECORD_BYTES: usize = GUEST_INITRD_OFFSET + 2048;
// One record more than MAX_GUESTS: guests past the limit are still checked,
// in the spare record, so their errors are reported too.
const GUEST_RECORDS: usize = memory.data(<i32>((MAX_GUESTS + 1) * <u32>GUEST_RECORD_BYTES), 16);

// Guest `index` (< configGuestCount()).
export function configGuest(index: u32): GuestConfig {
  return changetype<GuestConfig>(GUEST_RECORDS + <usize>index * GUEST_RECORD_BYTES);
}

// The index of a guest's record (the inverse of configGuest).
export function guestIndex(guest: GuestConfig): u32 {
  return <u32>((changetype<usize>(guest) - GUEST_RECORDS) / GUEST_RECORD_BYTES);
}
