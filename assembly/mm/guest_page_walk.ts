// The guest's own paging: linear -> guest-physical through the page tables
// the guest built, read from its RAM with platform.guestLoad. The MMIO and
// string-I/O emulations need it for what the CPU did not translate for us:
// the instruction bytes, and the memory side of MOVS/STOS/INS/OUTS.
//
// Modes (SDM vol. 3A, chapter 4): paging off (identity), 32-bit paging
// (4 MiB pages with CR4.PSE, PSE-36 address bits), PAE paging (2 MiB
// pages), 4-level and 5-level (CR4.LA57) paging (2 MiB and 1 GiB pages).
//
// Checked as the CPU checks (SDM 4.6): a write needs R/W at every level
// (for supervisor accesses only with CR0.WP); an access at CPL 3 needs U/S
// at every level; a fetch faults on XD (EFER.NXE) at any level, and a
// supervisor fetch from a user page with CR4.SMEP; a supervisor data
// access to a user page faults with CR4.SMAP unless RFLAGS.AC.
// Not checked: reserved bits (a guest setting them gets a translation
// where the CPU would give #PF with RSVD), protection keys (CR4.PKE/PKS),
// and the PAE PDPTEs are read from memory on every walk where the CPU
// holds them in registers loaded at MOV CR3. A not-present entry is a fault
// (P clear in the error code). An entry outside RAM is a fault too, flagged
// `outsideRam` with the entry's address in `gpa`: the CPU would read its
// table from a device or from nothing, and the caller stops the guest as it
// does when the CPU's own walk reaches no RAM (guest/exits.ts).
//
// Accessed and dirty bits are set as the CPU sets them on a successful
// translation: A at every level walked (not in PAE PDPTEs, which have
// none), D in the leaf for a write. Only the entry's low byte is written,
// and only when a bit is missing; unlike the CPU's locked update, this
// read-then-write can race with another vCPU editing the same entry (the
// window is one guestWrite, and a guest editing a live entry without a
// TLB shootdown is racing the CPU too).
//
// The walk is a fixed number of levels: tables that point at themselves,
// or at anything, end after at most five reads.

import { Platform } from "../guest/platform";
import { ExitRecord } from "../vcpu/exit_record";

// Control-register and EFER bits (SDM vol. 3A, 2.5 and 2.2.1).
export const CR0_PE: u64 = 1 << 0;
export const CR0_WP: u64 = 1 << 16;
export const CR0_PG: u64 = 1 << 31;
export const CR4_PSE: u64 = 1 << 4;
export const CR4_PAE: u64 = 1 << 5;
export const CR4_LA57: u64 = 1 << 12;
export const CR4_SMEP: u64 = 1 << 20;
export const CR4_SMAP: u64 = 1 << 21;
export const EFER_LMA: u64 = 1 << 10;
export const EFER_NXE: u64 = 1 << 11;
export const RFLAGS_AC: u64 = 1 << 18;

// Paging-structure entry bits (SDM vol. 3A, 4.3, 4.4.2, 4.5.4).
export const PTE_PRESENT: u64 = 1 << 0;
export const PTE_WRITABLE: u64 = 1 << 1;
export const PTE_USER: u64 = 1 << 2;
export const PTE_ACCESSED: u64 = 1 << 5;
export const PTE_DIRTY: u64 = 1 << 6;
export const PTE_PAGE_SIZE: u64 = 1 << 7;
export const PTE_NO_EXECUTE: u64 = <u64>1 << 63;
const ADDRESS_MASK: u64 = 0x000F_FFFF_FFFF_F000;
const ADDRESS_MASK_32: u64 = 0xFFFF_F000;

// #PF error code (SDM vol. 3A, 4.7).
export const PF_PRESENT: u32 = 1 << 0;  // a protection violation (clear: not present)
export const PF_WRITE: u32 = 1 << 1;
export const PF_USER: u32 = 1 << 2;     // the access was at CPL 3
export const PF_FETCH: u32 = 1 << 4;    // an instruction fetch (see faultCode)

export const PAGE_BYTES: u64 = 4096;

// What an access is, for the permission checks.
export const enum WalkAccess { Read = 0, Write = 1, Execute = 2 }

// The answer of a walk. On a fault, inject #PF with `errorCode` and
// CR2 = `linear`, unless `outsideRam`.
@unmanaged
export class WalkResult {
  linear: u64;     // the address walked
  gpa: u64;        // its guest-physical address (0 on a fault; with
                   // outsideRam, the entry's address)
  errorCode: u32;  // #PF error code, on a fault
  fault: bool;
  outsideRam: bool; // the fault: an entry the walk needed is outside RAM
}

export const WALK_RESULT_BYTES: u32 = 24;

// The entry read last; and for each level whose A (or the leaf's D) is to
// be set, where its entry is and the low byte it gets.
const ENTRY: usize = memory.data(8, 8);
const ENTRY_ADDRESSES: usize = memory.data(6 * 8, 8);
const ENTRY_LOW_BYTES: usize = memory.data(8, 8);

// Notes level `level`'s entry for setAccessedDirty when it lacks `bits`
// (A, and D on a write's leaf): a bit of the answer, by level. Most walks
// find them set (the CPU set them when it filled its TLB).
// @ts-ignore: decorator
@inline function lacking(entry: u64, bits: u64, level: u32, entryAddress: u64): u32 {
  if ((entry & bits) == bits) return 0;
  store<u64>(ENTRY_ADDRESSES + (<usize>level << 3), entryAddress);
  store<u8>(ENTRY_LOW_BYTES + <usize>level, <u8>(entry | bits));
  return <u32>1 << level;
}

// Translates `linear` for `access` by the paging state in `record` (CR0,
// CR3, CR4, EFER, CPL, RFLAGS.AC). True when it translates (result.gpa);
// false on a fault (result.errorCode).
export function walkGuestPage(platform: Platform, record: ExitRecord, linear: u64, access: WalkAccess,
                              result: WalkResult): bool {
  result.linear = linear;
  result.gpa = 0;
  result.errorCode = 0;
  result.fault = false;
  result.outsideRam = false;
  let cr0 = record.cr0;
  if ((cr0 & CR0_PG) == 0) {
    // Without paging, linear addresses are physical (and 32 bits wide).
    result.gpa = linear & 0xFFFF_FFFF;
    return true;
  }
  let cr4 = record.cr4;
  let efer = record.efer;
  let write = access == WalkAccess.Write;

  // The mode's shape: entry width, levels, the top table.
  let pae = (cr4 & CR4_PAE) != 0;
  let long = pae && (efer & EFER_LMA) != 0;
  let top: u32 = !pae ? 2 : !long ? 3 : (cr4 & CR4_LA57) != 0 ? 5 : 4;
  let table: u64 = !pae ? record.cr3 & ADDRESS_MASK_32 : !long ? record.cr3 & 0xFFFF_FFE0 : record.cr3 & ADDRESS_MASK;

  // R/W and U/S must hold at every level: the AND of the entries; XD at
  // any: the OR (SDM 4.6).
  let all: u64 = ~<u64>0;
  let any: u64 = 0;
  let gpa: u64 = 0;
  let missing: u32 = 0;   // levels whose A or D is to be set (lacking)
  if (long) {
    // 4- and 5-level paging, nearly every walk: the shape is fixed (8-byte
    // entries, 9 bits a level, large pages at levels 2 and 3), so the loop
    // works it out once per level instead of per mode.
    for (let level = top; level >= 1; level--) {
      let shift = <u64>(3 + 9 * level);
      let entryAddress = table + (((linear >> shift) & 0x1ff) << 3);
      let entry = platform.guestLoad(entryAddress, 8);
      if ((entry & PTE_PRESENT) == 0) return notPresent(platform, record, result, entryAddress, 8, access);
      all &= entry;
      any |= entry;
      if (level == 1 || (level <= 3 && (entry & PTE_PAGE_SIZE) != 0)) {
        let pageMask: u64 = (<u64>1 << shift) - 1;
        gpa = (entry & ADDRESS_MASK & ~pageMask) | (linear & pageMask);
        missing |= lacking(entry, write ? PTE_ACCESSED | PTE_DIRTY : PTE_ACCESSED, level, entryAddress);
        break;
      }
      missing |= lacking(entry, PTE_ACCESSED, level, entryAddress);
      table = entry & ADDRESS_MASK;
    }
  } else {
    let entryBytes: u32 = pae ? 8 : 4;
    for (let level = top; level >= 1; level--) {
      let shift: u64 = !pae ? 12 + 10 * <u64>(level - 1) : 12 + 9 * <u64>(level - 1);
      let indexMask: u64 = !pae ? 0x3ff : level == 3 ? 3 : 0x1ff;
      let entryAddress = table + ((linear >> shift) & indexMask) * <u64>entryBytes;
      let entry = platform.guestLoad(entryAddress, entryBytes);
      if ((entry & PTE_PRESENT) == 0) return notPresent(platform, record, result, entryAddress, entryBytes, access);
      let large = (entry & PTE_PAGE_SIZE) != 0 && level == 2 && (pae || (cr4 & CR4_PSE) != 0);
      let leaf = level == 1 || large;
      // PAE PDPTEs carry no R/W, U/S, XD or A (SDM 4.4.1).
      if (!pae || level != 3) {
        all &= entry;
        any |= entry;
        missing |= lacking(entry, leaf && write ? PTE_ACCESSED | PTE_DIRTY : PTE_ACCESSED, level, entryAddress);
      }
      if (leaf) {
        if (!pae && large) {
          // 4 MiB page: bits 31:22, and PSE-36 bits 39:32 from bits 20:13.
          gpa = (entry & 0xFFC0_0000) | (((entry >> 13) & 0xff) << 32) | (linear & 0x3F_FFFF);
        } else {
          let pageMask: u64 = (<u64>1 << shift) - 1;
          gpa = (entry & (!pae ? ADDRESS_MASK_32 : ADDRESS_MASK) & ~pageMask) | (linear & pageMask);
        }
        break;
      }
      table = entry & (!pae ? ADDRESS_MASK_32 : ADDRESS_MASK);
    }
  }

  // Permissions (SDM vol. 3A, 4.6): the bits every level must have; then
  // SMEP/SMAP for a supervisor access to a user page; then XD (4-byte
  // entries have no bit 63).
  let user = record.cpl == 3;
  let fetch = access == WalkAccess.Execute;
  let required: u64 = user ? PTE_USER : 0;
  if (write && (user || (cr0 & CR0_WP) != 0)) required |= PTE_WRITABLE;
  let allowed = (all & required) == required;
  if (!user && (all & PTE_USER) != 0) {
    if (fetch ? (cr4 & CR4_SMEP) != 0 : (cr4 & CR4_SMAP) != 0 && (record.rflags & RFLAGS_AC) == 0) allowed = false;
  }
  if (fetch && (efer & EFER_NXE) != 0 && <i64>any < 0) allowed = false;
  if (!allowed) {
    result.errorCode = faultCode(true, access, record);
    result.fault = true;
    return false;
  }

  if (missing != 0) setAccessedDirty(platform, missing);
  result.gpa = gpa;
  return true;
}

// Accessed on every level walked, dirty on the leaf of a write: the low
// bytes `lacking` noted for the levels in `missing`.
function setAccessedDirty(platform: Platform, missing: u32): void {
  for (let level: u32 = 1; level <= 5; level++) {
    if ((missing & (<u32>1 << level)) != 0) {
      platform.guestWrite(load<u64>(ENTRY_ADDRESSES + (<usize>level << 3)), ENTRY_LOW_BYTES + <usize>level, 1);
    }
  }
}

// A not-present entry at `entryAddress`, or one outside RAM (guestLoad
// reads both as 0; guestRead tells them apart): the walk's fault.
function notPresent(platform: Platform, record: ExitRecord, result: WalkResult, entryAddress: u64, entryBytes: u32,
                    access: WalkAccess): bool {
  result.errorCode = faultCode(false, access, record);
  result.fault = true;
  if (platform.guestRead(entryAddress, ENTRY, entryBytes) != entryBytes) {
    result.gpa = entryAddress;
    result.outsideRam = true;
  }
  return false;
}

// The #PF error code (SDM vol. 3A, 4.7). I/D is set for a fetch only when
// the CPU would set it: with CR4.SMEP, or with PAE-format entries and
// EFER.NXE.
function faultCode(present: bool, access: WalkAccess, record: ExitRecord): u32 {
  let cr4 = record.cr4;
  let code: u32 = 0;
  if (present) code |= PF_PRESENT;
  if (access == WalkAccess.Write) code |= PF_WRITE;
  if (record.cpl == 3) code |= PF_USER;
  if (access == WalkAccess.Execute &&
      ((cr4 & CR4_SMEP) != 0 || ((cr4 & CR4_PAE) != 0 && (record.efer & EFER_NXE) != 0))) code |= PF_FETCH;
  return code;
}
