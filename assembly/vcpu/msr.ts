// The MSRs a guest owns, virtualized in this instance; every other MSR,
// the host's own among them, raises #GP(0) in the guest.
//
// Nothing here reaches a real MSR: a guest reading or writing VM_CR
// (0xC0010114), VM_HSAVE_PA (0xC0010117), IA32_FEATURE_CONTROL (0x3A),
// IA32_VMX_* (0x480-0x491) or any MSR not in the table below gets #GP, as
// on a CPU without that MSR. Indices: Intel SDM vol. 4 (MSRs), AMD APM
// vol. 2 appendix A.

import { ExitRecord, DIRTY_EFER, DIRTY_PAT, DIRTY_TSC_AUX } from "./exit_record";
import { Platform } from "../guest/platform";
import { Lapic } from "../devices/lapic";
import { GuestClock } from "../devices/clock";
import { MSR_KVM_WALL_CLOCK_NEW, MSR_KVM_SYSTEM_TIME_NEW, writeSystemTime, writeWallClock } from "./pvclock";

export const MSR_IA32_TSC: u32 = 0x10;
export const MSR_IA32_PLATFORM_ID: u32 = 0x17;
export const MSR_IA32_APIC_BASE: u32 = 0x1b;
export const MSR_IA32_TSC_DEADLINE: u32 = 0x6e0;
// The x2APIC registers (SDM vol. 3A, 12.12.1): the local APIC answers.
export const MSR_X2APIC_FIRST: u32 = 0x800;
export const MSR_X2APIC_LAST: u32 = 0x8ff;
export const MSR_IA32_FEATURE_CONTROL: u32 = 0x3a;
export const MSR_IA32_BIOS_SIGN_ID: u32 = 0x8b;
export const MSR_IA32_MTRRCAP: u32 = 0xfe;
export const MSR_IA32_MISC_ENABLE: u32 = 0x1a0;
export const MSR_MTRR_PHYS_FIRST: u32 = 0x200; // PHYSBASE0/PHYSMASK0 ...
export const MSR_MTRR_PHYS_LAST: u32 = 0x20f;  // ... PHYSMASK7
export const MSR_MTRR_FIX64K_00000: u32 = 0x250;
export const MSR_MTRR_FIX16K_80000: u32 = 0x258;
export const MSR_MTRR_FIX16K_A0000: u32 = 0x259;
export const MSR_MTRR_FIX4K_FIRST: u32 = 0x268; // FIX4K_C0000 ...
export const MSR_MTRR_FIX4K_LAST: u32 = 0x26f;  // ... FIX4K_F8000
export const MSR_IA32_PAT: u32 = 0x277;
export const MSR_MTRR_DEF_TYPE: u32 = 0x2ff;
export const MSR_IA32_VMX_BASIC: u32 = 0x480;
export const MSR_EFER: u32 = 0xc0000080;
export const MSR_TSC_AUX: u32 = 0xc0000103;
export const MSR_K7_HWCR: u32 = 0xc0010015;
export const HWCR_TSC_FREQ_SEL: u64 = 1 << 24;
// AMD's northbridge configuration (NB_CFG): Linux reads and sets it on
// family 10h-17h parts; nothing behind it here, so it reads 0.
export const MSR_AMD64_NB_CFG: u32 = 0xc001001f;
export const MSR_VM_CR: u32 = 0xc0010114;
export const MSR_VM_HSAVE_PA: u32 = 0xc0010117;

// The local APIC at its architectural base, enabled (bit 11), this vCPU the
// bootstrap processor (bit 8) (SDM vol. 3A, 11.4.4).
export const APIC_BASE_DEFAULT: u64 = 0xfee00900;
// IA32_MISC_ENABLE bit 0: fast string operations enabled.
const MISC_ENABLE_DEFAULT: u64 = 1;
// The power-on PAT (SDM vol. 3A, 12.12.4).
export const PAT_DEFAULT: u64 = 0x0007040600070406;

// EFER bits (APM vol. 2, 3.1.7).
export const EFER_SCE: u64 = 1 << 0;
export const EFER_LME: u64 = 1 << 8;
export const EFER_LMA: u64 = 1 << 10;
export const EFER_NXE: u64 = 1 << 11;
export const EFER_SVME: u64 = 1 << 12;
const EFER_GUEST_BITS: u64 = EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE;
const CR0_PG: u64 = 1 << 31;

// Storage slots of the MSRs kept as written.
const SLOT_MTRR_DEF_TYPE: u32 = 0;
const SLOT_PAT: u32 = 1;
const SLOT_TSC_AUX: u32 = 2;
const SLOT_MTRR_PHYS: u32 = 3;                    // 16 slots
const SLOT_MTRR_FIX64K: u32 = SLOT_MTRR_PHYS + 16;
const SLOT_MTRR_FIX16K: u32 = SLOT_MTRR_FIX64K + 1; // 2 slots
const SLOT_MTRR_FIX4K: u32 = SLOT_MTRR_FIX16K + 2;  // 8 slots
const SLOT_KVM_WALL_CLOCK: u32 = SLOT_MTRR_FIX4K + 8;  // vcpu/pvclock.ts
const SLOT_KVM_SYSTEM_TIME: u32 = SLOT_KVM_WALL_CLOCK + 1;
const SLOTS: u32 = SLOT_KVM_SYSTEM_TIME + 1;
const NOT_STORED: i32 = -1;

const FIELDS_BYTES: u32 = 16;
// What an MsrFile needs in all: its result field, then one u64 per slot.
export const MSR_FILE_BYTES: u32 = FIELDS_BYTES + SLOTS * 8;

@unmanaged
export class MsrFile {
  // The value of the last successful read.
  value: u64;
  // Wired once (guest/machine.ts): the vCPU's local APIC answers
  // IA32_APIC_BASE, TSC_DEADLINE and the x2APIC range; the clock is the
  // guest's TSC.
  lapic: Lapic;
  clock: GuestClock;

  // The values a guest finds at power-on.
  reset(): void {
    this.value = 0;
    memory.fill(changetype<usize>(this) + <usize>FIELDS_BYTES, 0, <usize>(SLOTS * 8));
    this.setSlot(SLOT_PAT, PAT_DEFAULT);
  }

  // RDMSR: true with the value in `value`, or false for #GP(0).
  read(index: u32, record: ExitRecord, platform: Platform): bool {
    let slot = storedSlot(index);
    if (slot != NOT_STORED) {
      this.value = this.slot(<u32>slot);
      return true;
    }
    let lapic = this.lapic;
    if (index - MSR_X2APIC_FIRST <= MSR_X2APIC_LAST - MSR_X2APIC_FIRST && changetype<usize>(lapic) != 0) {
      if (!lapic.msrRead(index)) return false;
      this.value = lapic.msrValue;
      return true;
    }
    switch (index) {
      // The guest's TSC: the host's plus its offset, as RDTSC reads it.
      case MSR_IA32_TSC: {
        this.value = changetype<usize>(this.clock) != 0 ? this.clock.now : platform.readTsc();
        return true;
      }
      case MSR_IA32_APIC_BASE: {
        this.value = changetype<usize>(lapic) != 0 ? lapic.apicBaseRead() : APIC_BASE_DEFAULT;
        return true;
      }
      case MSR_IA32_TSC_DEADLINE: {
        if (changetype<usize>(lapic) == 0) return false;
        this.value = lapic.tscDeadlineRead();
        return true;
      }
      case MSR_IA32_MISC_ENABLE: { this.value = MISC_ENABLE_DEFAULT; return true; }
      case MSR_EFER: { this.value = record.efer & ~EFER_SVME; return true; }
      // No MTRRs offered (MTRRCAP 0), no microcode revision, no platform ID
      // and no AMD hardware configuration bits to report.
      case MSR_IA32_MTRRCAP:
      case MSR_IA32_BIOS_SIGN_ID:
      case MSR_IA32_PLATFORM_ID:
      case MSR_AMD64_NB_CFG: { this.value = 0; return true; }
      // HWCR.TscFreqSel (bit 24, read-only 1 from family 10h; APM vol. 2,
      // HWCR): the TSC counts at one constant rate, as CPUID's invariant
      // TSC says (vcpu/cpuid.ts); Linux warns of a firmware bug without it.
      case MSR_K7_HWCR: { this.value = HWCR_TSC_FREQ_SEL; return true; }
      default: return false;
    }
  }

  // WRMSR: true when done (or deliberately ignored), false for #GP(0).
  // An EFER write updates record.efer and marks it dirty. The paravirtual
  // clock's MSRs write into guest RAM through `platform` (none: #GP).
  write(index: u32, value: u64, record: ExitRecord, platform: Platform | null = null): bool {
    if (index == MSR_KVM_WALL_CLOCK_NEW || index == MSR_KVM_SYSTEM_TIME_NEW) {
      return this.writeClock(index, value, platform);
    }
    let slot = storedSlot(index);
    if (slot != NOT_STORED) {
      // TSC_AUX bits 63:32 are reserved (SDM vol. 4, IA32_TSC_AUX); each
      // PAT entry must be a memory type (0, 1, 4-7: SDM vol. 3A, 13.12.2).
      if (<u32>slot == SLOT_TSC_AUX && (value >> 32) != 0) return false;
      if (<u32>slot == SLOT_PAT && !validPat(value)) return false;
      this.setSlot(<u32>slot, value);
      // Both act in hardware, not here: the stub loads them.
      if (<u32>slot == SLOT_PAT) {
        record.pat = value;
        record.dirty |= DIRTY_PAT;
      } else if (<u32>slot == SLOT_TSC_AUX) {
        record.tscAux = <u32>value;
        record.dirty |= DIRTY_TSC_AUX;
      }
      return true;
    }
    let lapic = this.lapic;
    if (index - MSR_X2APIC_FIRST <= MSR_X2APIC_LAST - MSR_X2APIC_FIRST && changetype<usize>(lapic) != 0) {
      return lapic.msrWrite(index, value);
    }
    switch (index) {
      case MSR_EFER: return writeEfer(value, record);
      case MSR_IA32_APIC_BASE: {
        if (changetype<usize>(lapic) == 0) return true;
        return lapic.apicBaseWrite(value);
      }
      case MSR_IA32_TSC_DEADLINE: {
        if (changetype<usize>(lapic) == 0) return false;
        lapic.tscDeadlineWrite(value);
        return true;
      }
      // Accepted and ignored: the guest may not move the TSC, the APIC or
      // change CPU features; Linux writes BIOS_SIGN_ID (0) before reading
      // the microcode revision, and HWCR on AMD.
      case MSR_IA32_TSC:
      case MSR_IA32_MISC_ENABLE:
      case MSR_IA32_BIOS_SIGN_ID:
      case MSR_AMD64_NB_CFG:
      case MSR_K7_HWCR: return true;
      // Read-only: #GP, as on hardware.
      default: return false;
    }
  }

  // The paravirtual clock (vcpu/pvclock.ts): the structure written where
  // the guest asks, the MSR kept for its reads.
  private writeClock(index: u32, value: u64, platform: Platform | null): bool {
    let clock = this.clock;
    if (platform == null || changetype<usize>(clock) == 0) return false;
    let ok = index == MSR_KVM_SYSTEM_TIME_NEW
      ? writeSystemTime(value, clock.tscHz, platform)
      : writeWallClock(value, clock.now, clock.tscHz, platform.wallClockSeconds(), platform);
    if (!ok) return false;
    this.setSlot(index == MSR_KVM_SYSTEM_TIME_NEW ? SLOT_KVM_SYSTEM_TIME : SLOT_KVM_WALL_CLOCK, value);
    return true;
  }

  @inline private slot(index: u32): u64 {
    return load<u64>(changetype<usize>(this) + <usize>FIELDS_BYTES + (<usize>index << 3));
  }

  @inline private setSlot(index: u32, value: u64): void {
    store<u64>(changetype<usize>(this) + <usize>FIELDS_BYTES + (<usize>index << 3), value);
  }
}

// The storage slot of an MSR kept as written, or NOT_STORED.
function storedSlot(index: u32): i32 {
  if (index - MSR_MTRR_PHYS_FIRST <= MSR_MTRR_PHYS_LAST - MSR_MTRR_PHYS_FIRST) {
    return <i32>(SLOT_MTRR_PHYS + index - MSR_MTRR_PHYS_FIRST);
  }
  if (index - MSR_MTRR_FIX4K_FIRST <= MSR_MTRR_FIX4K_LAST - MSR_MTRR_FIX4K_FIRST) {
    return <i32>(SLOT_MTRR_FIX4K + index - MSR_MTRR_FIX4K_FIRST);
  }
  switch (index) {
    case MSR_MTRR_DEF_TYPE: return <i32>SLOT_MTRR_DEF_TYPE;
    case MSR_IA32_PAT: return <i32>SLOT_PAT;
    case MSR_TSC_AUX: return <i32>SLOT_TSC_AUX;
    case MSR_MTRR_FIX64K_00000: return <i32>SLOT_MTRR_FIX64K;
    case MSR_MTRR_FIX16K_80000: return <i32>SLOT_MTRR_FIX16K;
    case MSR_MTRR_FIX16K_A0000: return <i32>(SLOT_MTRR_FIX16K + 1);
    case MSR_KVM_WALL_CLOCK_NEW: return <i32>SLOT_KVM_WALL_CLOCK;
    case MSR_KVM_SYSTEM_TIME_NEW: return <i32>SLOT_KVM_SYSTEM_TIME;
    default: return NOT_STORED;
  }
}

// EFER as the guest may set it (APM vol. 2, 3.1.7): SCE, LME, NXE. SVME is
// dropped without a fault (the guest never sees it set); LMA is the CPU's
// to change, so the current LMA is kept; any other bit is reserved (#GP).
// LME cannot change while paging is on (#GP, APM vol. 2, 14.6.1).
export function writeEfer(value: u64, record: ExitRecord): bool {
  if ((value & ~(EFER_GUEST_BITS | EFER_SVME)) != 0) return false;
  let current = record.efer & ~EFER_SVME;
  let next = (value & (EFER_SCE | EFER_LME | EFER_NXE)) | (current & EFER_LMA);
  if ((record.cr0 & CR0_PG) != 0 && ((next ^ current) & EFER_LME) != 0) return false;
  record.efer = next;
  record.dirty |= DIRTY_EFER;
  return true;
}

// Every byte of a PAT value is a memory type: UC 0, WC 1, WT 4, WP 5, WB 6, UC- 7.
function validPat(value: u64): bool {
  for (let i: u32 = 0; i < 8; i++) {
    let type = <u32>(value >> (i * 8)) & 0xff;
    if (type == 2 || type == 3 || type > 7) return false;
  }
  return true;
}
