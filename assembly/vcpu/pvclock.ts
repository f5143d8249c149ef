// A paravirtual clock in KVM's ABI, so a guest need not calibrate its TSC
// against the PIT (Linux's calibration loops fail when every PIT read is an
// exit): Linux Documentation/virt/kvm/x86/cpuid.rst and msr.rst, the
// layouts in arch/x86/include/asm/pvclock-abi.h. Offered at CPUID base
// 0x40000100 (Linux's kvm_cpuid_base() looks at every 0x100 step from
// 0x40000000), beside our own leaves at 0x40000000.
//
// The guest's TSC runs at the host's constant rate from near 0 at load
// (guest/machine.ts), the same on every vCPU: one time_info, written when
// the guest asks, stays true (PVCLOCK_TSC_STABLE_BIT). Guest time 0 is
// guest TSC 0.

import { Platform } from "../guest/platform";

export const KVM_LEAF_BASE: u32 = 0x40000100;
export const KVM_LEAF_FEATURES: u32 = 0x40000101;
export const KVM_LEAF_LAST: u32 = 0x400001ff;
// "KVMKVMKVM\0\0\0" in EBX, ECX, EDX.
const KVM_SIGNATURE_EBX: u32 = 0x4b4d564b;
const KVM_SIGNATURE_ECX: u32 = 0x564b4d56;
const KVM_SIGNATURE_EDX: u32 = 0x0000004d;
const KVM_FEATURE_CLOCKSOURCE2: u32 = 1 << 3;
const KVM_FEATURE_CLOCKSOURCE_STABLE_BIT: u32 = 1 << 24;

export const MSR_KVM_WALL_CLOCK_NEW: u32 = 0x4b564d00;
export const MSR_KVM_SYSTEM_TIME_NEW: u32 = 0x4b564d01;
const SYSTEM_TIME_ENABLE: u64 = 1;
const PVCLOCK_TSC_STABLE_BIT: u8 = 1;
const TIME_INFO_BYTES: u32 = 32;   // struct pvclock_vcpu_time_info
const WALL_CLOCK_BYTES: u32 = 12;  // struct pvclock_wall_clock
const NS_PER_SECOND: u64 = 1000000000;

// Scratch for the structures on their way into guest RAM.
const SCRATCH: usize = memory.data(TIME_INFO_BYTES, 16);

// The KVM leaves: the signature and the clock features; all else zeros.
export function kvmLeaf(leaf: u32, out: usize): void {
  let eax: u32 = 0, ebx: u32 = 0, ecx: u32 = 0, edx: u32 = 0;
  if (leaf == KVM_LEAF_BASE) {
    eax = KVM_LEAF_FEATURES;
    ebx = KVM_SIGNATURE_EBX;
    ecx = KVM_SIGNATURE_ECX;
    edx = KVM_SIGNATURE_EDX;
  } else if (leaf == KVM_LEAF_FEATURES) {
    eax = KVM_FEATURE_CLOCKSOURCE2 | KVM_FEATURE_CLOCKSOURCE_STABLE_BIT;
  }
  store<u32>(out, eax, 0);
  store<u32>(out, ebx, 4);
  store<u32>(out, ecx, 8);
  store<u32>(out, edx, 12);
}

// The multiplier and shift with which ns = ((tsc << shift) * mul) >> 32
// (a right shift for a negative shift), found as KVM's kvm_get_time_scale
// finds them: the TSC rate halved until it is at most twice the ns rate
// and fits 32 bits, then either side doubled until the TSC side is the
// larger; mul = (ns side << 32) / TSC side. Answers mul | shift << 32.
export function timeScale(tscHz: u64): u64 {
  let scaled: u64 = NS_PER_SECOND;
  let base: u64 = tscHz == 0 ? 1 : tscHz;
  let shift: i32 = 0;
  while (base > scaled * 2 || (base >> 32) != 0) {
    base >>= 1;
    shift--;
  }
  let base32 = <u32>base;
  while (<u64>base32 <= scaled || (scaled >> 32) != 0) {
    if ((scaled >> 32) != 0 || (base32 & 0x80000000) != 0) scaled >>= 1;
    else base32 <<= 1;
    shift++;
  }
  let mul = (scaled << 32) / <u64>base32;
  return (mul & 0xffffffff) | (<u64>(<u8>(<i8>shift)) << 32);
}

// Guest ns at guest TSC `tsc`, as the guest computes it from timeScale.
export function scaledNs(tsc: u64, scale: u64): u64 {
  let mul = scale & 0xffffffff;
  let shift = <i32>(<i8>(<u8>(scale >> 32)));
  let delta = shift < 0 ? tsc >> <u64>(-shift) : tsc << <u64>shift;
  // (delta * mul) >> 32 without overflow: split delta.
  return (delta >> 32) * mul + (((delta & 0xffffffff) * mul) >> 32);
}

// MSR_KVM_SYSTEM_TIME_NEW: the vCPU's time_info at `value` & ~1 when bit 0
// is set. False (#GP) when the structure is not wholly in guest RAM.
export function writeSystemTime(value: u64, tscHz: u64, platform: Platform): bool {
  if ((value & SYSTEM_TIME_ENABLE) == 0) return true;
  let gpa = value & ~<u64>1;
  if ((gpa & 7) != 0) return false;
  let scale = timeScale(tscHz);
  memory.fill(SCRATCH, 0, TIME_INFO_BYTES);
  store<u32>(SCRATCH, 1, 0);                        // odd: being updated
  if (platform.guestWrite(gpa, SCRATCH, TIME_INFO_BYTES) != TIME_INFO_BYTES) return false;
  store<u64>(SCRATCH, 0, 8);                        // tsc_timestamp
  store<u64>(SCRATCH, 0, 16);                       // system_time
  store<u32>(SCRATCH, <u32>(scale & 0xffffffff), 24);
  store<u8>(SCRATCH, <u8>(scale >> 32), 28);        // tsc_shift
  store<u8>(SCRATCH, PVCLOCK_TSC_STABLE_BIT, 29);
  platform.guestWrite(gpa + 8, SCRATCH + 8, TIME_INFO_BYTES - 8);
  store<u32>(SCRATCH, 2, 0);                        // even: done
  platform.guestWrite(gpa, SCRATCH, 4);
  return true;
}

// MSR_KVM_WALL_CLOCK_NEW: the wall-clock time at guest time 0 at `gpa`.
export function writeWallClock(gpa: u64, guestTsc: u64, tscHz: u64, wallSeconds: u64, platform: Platform): bool {
  if ((gpa & 3) != 0) return false;
  let ns = scaledNs(guestTsc, timeScale(tscHz));
  // The epoch of guest time 0: now minus the time the guest has run.
  let sinceBoot = ns / NS_PER_SECOND;
  let seconds = wallSeconds > sinceBoot ? wallSeconds - sinceBoot : 0;
  store<u32>(SCRATCH, 2, 0);
  store<u32>(SCRATCH, <u32>seconds, 4);
  store<u32>(SCRATCH, 0, 8);
  return platform.guestWrite(gpa, SCRATCH, WALL_CLOCK_BYTES) == WALL_CLOCK_BYTES;
}
