// Nested page tables: guest-physical -> host-physical, for AMD NPT and Intel
// EPT alike. Both are 4-level, 512-entry, 4 KiB tables indexed by the same
// address bits, with the address in bits 12-51 and bit 7 marking a 2 MiB
// leaf in a page directory; the only vendor difference is which other bits
// an entry carries. That difference is an EntryFormat (data), and the one
// builder and the one walker below take it as a parameter.
//
// Tables live in table-pool pages inside the supervisor's linear memory;
// entries hold host-physical addresses, host-physical = linearBase + offset.

import { allocateTablePages, isTablePoolPage, NO_PAGES } from "./table_pool";

// Which virtualization extension the host has (the stub's enum arch_vendor).
export const VENDOR_NONE: u32 = 0;
export const VENDOR_SVM: u32 = 1;
export const VENDOR_VMX: u32 = 2;

// --- entry bits --------------------------------------------------------------

// AMD NPT: nested tables are ordinary long-mode page tables (AMD APM vol. 2,
// 15.25 "Nested Paging"; entry format 5.4). Every nested access is a user
// access (15.25.5 "Nested Table Walk"), so U/S must be set at every level or
// the walk faults. NX (bit 63) stays clear: executable. PWT/PCD/PAT clear
// select host PAT entry 0, write-back.
export const NPT_PRESENT: u64 = 1 << 0;
export const NPT_WRITABLE: u64 = 1 << 1;
export const NPT_USER: u64 = 1 << 2;
export const NPT_PAGE_SIZE: u64 = 1 << 7;   // in a PDE: maps 2 MiB

// Intel EPT (SDM vol. 3C, 29.3.2 "EPT Translation Mechanism", formats in
// Tables 29-1 to 29-6): read, write, execute at every level; leaves also
// carry the EPT memory type (bits 5:3, 6 = write-back, 29.3.7) and
// ignore-PAT (bit 6, clear: the guest's PAT still combines).
export const EPT_READ: u64 = 1 << 0;
export const EPT_WRITE: u64 = 1 << 1;
export const EPT_EXECUTE: u64 = 1 << 2;
export const EPT_MEMORY_TYPE_SHIFT: u32 = 3;
export const EPT_MEMORY_TYPE_MASK: u64 = 7 << 3;
export const EPT_MEMORY_TYPE_WB: u64 = 6;
export const EPT_IGNORE_PAT: u64 = 1 << 6;
export const EPT_PAGE_SIZE: u64 = 1 << 7;   // in a PDE: maps 2 MiB

// The same on both: bit 7 of a PDE (or PDPTE) makes it a leaf; physical
// address bits 12-51.
export const LARGE_PAGE: u64 = 1 << 7;
export const ENTRY_ADDRESS_MASK: u64 = 0x000F_FFFF_FFFF_F000;

export const TABLE_ENTRIES: u32 = 512;
export const SMALL_PAGE_BYTES: u64 = 4 << 10;
export const LARGE_PAGE_BYTES: u64 = 2 << 20;
// A 4-level walk translates 48-bit guest-physical addresses.
export const GUEST_PHYSICAL_LIMIT: u64 = <u64>1 << 48;
// Highest host-physical address an entry can hold, plus one.
export const HOST_PHYSICAL_LIMIT: u64 = <u64>1 << 52;

// Levels, named as x86 names the tables.
export const LEVEL_PML4: u32 = 4;
export const LEVEL_PDPT: u32 = 3;
export const LEVEL_PD: u32 = 2;
export const LEVEL_PT: u32 = 1;

// A walker's answer for an address nothing maps.
export const NOT_MAPPED: u64 = u64.MAX_VALUE;

// Everything that differs between NPT and EPT entries.
@unmanaged
export class EntryFormat {
  // Any of these bits set: the entry is present (NPT: P; EPT: R, W or X).
  present: u64;
  // A PML4E, PDPTE or PDE that points to the next table.
  directory: u64;
  // A PDE that maps 2 MiB, without the address.
  largeLeaf: u64;
  // A PTE that maps 4 KiB, without the address.
  pageLeaf: u64;
}

const NPT_FORMAT: usize = memory.data<u64>([
  NPT_PRESENT,
  NPT_PRESENT | NPT_WRITABLE | NPT_USER,
  NPT_PRESENT | NPT_WRITABLE | NPT_USER | NPT_PAGE_SIZE,
  NPT_PRESENT | NPT_WRITABLE | NPT_USER,
], 8);

const EPT_FORMAT: usize = memory.data<u64>([
  EPT_READ | EPT_WRITE | EPT_EXECUTE,
  EPT_READ | EPT_WRITE | EPT_EXECUTE,
  EPT_READ | EPT_WRITE | EPT_EXECUTE | (EPT_MEMORY_TYPE_WB << EPT_MEMORY_TYPE_SHIFT) | EPT_PAGE_SIZE,
  EPT_READ | EPT_WRITE | EPT_EXECUTE | (EPT_MEMORY_TYPE_WB << EPT_MEMORY_TYPE_SHIFT),
], 8);

// The entry format of a vendor, or null for an unknown one.
export function entryFormat(vendor: u32): EntryFormat | null {
  if (vendor == VENDOR_SVM) return changetype<EntryFormat>(NPT_FORMAT);
  if (vendor == VENDOR_VMX) return changetype<EntryFormat>(EPT_FORMAT);
  return null;
}

// Index of `address` in a table of `level` (4 = PML4 .. 1 = PT).
@inline function tableIndex(address: u64, level: u32): usize {
  return <usize>((address >> (12 + 9 * (level - 1))) & <u64>(TABLE_ENTRIES - 1));
}

// --- building --------------------------------------------------------------

// The table at `level` (LEVEL_PD or LEVEL_PT) that holds the leaf for
// `guestPhysical`, creating the tables on the way down from pool pages
// owned by `owner`. NO_PAGES when the pool is exhausted (pages already
// taken stay with `owner`).
function leafTable(format: EntryFormat, owner: u32, linearBase: u64, root: usize,
                   guestPhysical: u64, level: u32): usize {
  let table = root;
  for (let walk = LEVEL_PML4; walk > level; walk--) {
    let slot = table + (tableIndex(guestPhysical, walk) << 3);
    let entry = load<u64>(slot);
    if ((entry & format.present) == 0) {
      let page = allocateTablePages(owner, 1);
      if (page == NO_PAGES) return NO_PAGES;
      entry = (linearBase + <u64>page) | format.directory;
      store<u64>(slot, entry);
    }
    // Directory entries only ever point at pool pages this builder made.
    table = <usize>((entry & ENTRY_ADDRESS_MASK) - linearBase);
  }
  return table;
}

@inline function leafEntry(format: EntryFormat, hostPhysical: u64, level: u32, absent: bool): u64 {
  let leafBits = level == LEVEL_PD ? format.largeLeaf : format.pageLeaf;
  if (absent) leafBits &= ~format.present;
  return (hostPhysical & ENTRY_ADDRESS_MASK) | leafBits;
}

// Maps one leaf at `level` (LEVEL_PD: 2 MiB, LEVEL_PT: 4 KiB). False when
// the pool is exhausted.
function mapLeaf(format: EntryFormat, owner: u32, linearBase: u64, root: usize,
                 guestPhysical: u64, hostPhysical: u64, level: u32, absent: bool = false): bool {
  let table = leafTable(format, owner, linearBase, root, guestPhysical, level);
  if (table == NO_PAGES) return false;
  store<u64>(table + (tableIndex(guestPhysical, level) << 3), leafEntry(format, hostPhysical, level, absent));
  return true;
}

// Makes the leaf for `guestPhysical` that buildNestedTables left absent
// (lazy) present: a 2 MiB leaf (guestPhysical 2 MiB aligned) or a 4 KiB one
// of the first block (4 KiB aligned). True when it did; false when the walk
// finds no such leaf (not RAM, already present, not aligned to its leaf, or
// the 4 KiB tail, which is always present).
export function populateLeaf(format: EntryFormat, linearBase: u64, root: usize, guestPhysical: u64): bool {
  let table = root;
  for (let walk = LEVEL_PML4; walk >= LEVEL_PT; walk--) {
    let slot = table + (tableIndex(guestPhysical, walk) << 3);
    let entry = load<u64>(slot);
    let leaf = walk == LEVEL_PT || (walk == LEVEL_PD && (entry & LARGE_PAGE) != 0);
    if (leaf) {
      let bytes = walk == LEVEL_PT ? SMALL_PAGE_BYTES : LARGE_PAGE_BYTES;
      if ((guestPhysical & (bytes - 1)) != 0 || (entry & format.present) != 0 ||
          (entry & ENTRY_ADDRESS_MASK) == 0) return false;
      store<u64>(slot, entry | format.present);
      return true;
    }
    if ((entry & format.present) == 0) return false;
    let address = entry & ENTRY_ADDRESS_MASK;
    if (address < linearBase || !isTablePoolPage(address - linearBase)) return false;
    table = <usize>(address - linearBase);
  }
  return false;
}

// Builds the tables mapping guest-physical [0, ramBytes) to host-physical
// [ramHpa, ramHpa + ramBytes): 2 MiB leaves for every 2 MiB block fully
// inside RAM, 4 KiB leaves for the tail; everything else is not present, so
// an access there exits as a nested page fault / EPT violation.
// The caller has checked the arguments: ramHpa 2 MiB aligned, ramBytes a
// non-zero multiple of 4 KiB below GUEST_PHYSICAL_LIMIT, the range below
// HOST_PHYSICAL_LIMIT. Returns the PML4's offset in linear memory, or
// NO_PAGES when the pool ran out (then pages already taken are still
// `owner`'s: release them by owner).
//
// `lazy`: the leaves are written without their present bits, so the
// guest's first access to each exits, and the stub zeroes it before
// populateLeaf makes it present (RAM is zeroed on first touch, not all at
// once at start). The first block is mapped in 4 KiB leaves: the loader
// writes a few pages of it (boot information, a small kernel), and
// zeroing all 2 MiB for them was the larger part of a small guest's start
// under an emulator that counts instructions (make bench, P4). The others
// are 2 MiB leaves; the 4 KiB tail is always present.
export function buildNestedTables(format: EntryFormat, owner: u32, linearBase: u64,
                                  ramHpa: u64, ramBytes: u64, lazy: bool = false): usize {
  let root = allocateTablePages(owner, 1);
  if (root == NO_PAGES) return NO_PAGES;
  let guestPhysical: u64 = 0;
  if (lazy && ramBytes >= LARGE_PAGE_BYTES) {
    // One page table, all 512 entries absent.
    let table = leafTable(format, owner, linearBase, root, 0, LEVEL_PT);
    if (table == NO_PAGES) return NO_PAGES;
    for (let i: u32 = 0; i < TABLE_ENTRIES; i++) {
      store<u64>(table + (<usize>i << 3), leafEntry(format, ramHpa + guestPhysical, LEVEL_PT, true));
      guestPhysical += SMALL_PAGE_BYTES;
    }
  }
  while (ramBytes - guestPhysical >= LARGE_PAGE_BYTES) {
    if (!mapLeaf(format, owner, linearBase, root, guestPhysical, ramHpa + guestPhysical, LEVEL_PD, lazy)) return NO_PAGES;
    guestPhysical += LARGE_PAGE_BYTES;
  }
  while (guestPhysical < ramBytes) {
    if (!mapLeaf(format, owner, linearBase, root, guestPhysical, ramHpa + guestPhysical, LEVEL_PT)) return NO_PAGES;
    guestPhysical += SMALL_PAGE_BYTES;
  }
  return root;
}

// --- walking ---------------------------------------------------------------

// The host-physical address `guestPhysical` translates to through the tables
// rooted at `root` (an offset in linear memory), or NOT_MAPPED. Follows only
// entries that point into the table pool, so it never reads outside it.
export function translate(format: EntryFormat, linearBase: u64, root: usize, guestPhysical: u64): u64 {
  if (guestPhysical >= GUEST_PHYSICAL_LIMIT || !isTablePoolPage(<u64>root)) return NOT_MAPPED;
  let table = root;
  for (let level = LEVEL_PML4; level >= LEVEL_PT; level--) {
    let entry = load<u64>(table + (tableIndex(guestPhysical, level) << 3));
    if ((entry & format.present) == 0) return NOT_MAPPED;
    let address = entry & ENTRY_ADDRESS_MASK;
    let leafBytes: u64 = 0;
    if (level == LEVEL_PT) leafBytes = SMALL_PAGE_BYTES;
    else if (level <= LEVEL_PDPT && (entry & LARGE_PAGE) != 0) leafBytes = SMALL_PAGE_BYTES << (9 * (level - 1));
    if (leafBytes != 0) {
      return (address & ~(leafBytes - 1)) + (guestPhysical & (leafBytes - 1));
    }
    if (address < linearBase || !isTablePoolPage(address - linearBase)) return NOT_MAPPED;
    table = <usize>(address - linearBase);
  }
  return NOT_MAPPED; // not reached: level 1 always answers
}
