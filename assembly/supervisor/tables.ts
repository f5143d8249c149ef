// The supervisor's exports for guest memory: per guest, the nested page
// tables (NPT or EPT) that map its RAM and the I/O and MSR permission
// bitmaps, all in table-pool pages of this module's linear memory, handed to
// the stub as host-physical addresses (host-physical = linearBase + offset).
//
// Every argument the stub passes is checked; answers are values, never traps.
// The stub must stop using a guest's tables (no vCPU running it, TLBs and
// nested translations flushed for its ASID/VPID or EPTP) before it releases
// them.

import {
  buildNestedTables, populateLeaf, entryFormat, EntryFormat, GUEST_PHYSICAL_LIMIT,
  HOST_PHYSICAL_LIMIT, LARGE_PAGE_BYTES, SMALL_PAGE_BYTES, VENDOR_NONE,
} from "../mm/nested_paging";
import { bitmapFormat, BitmapFormat, initMsrBitmap, interceptAllPorts } from "../mm/permission_bitmaps";
import {
  allocateTablePages, NO_PAGES, PAGE_BYTES, releaseTablePages, tablePoolPagesInUse,
  tablePoolPagesOwnedBy,
} from "../mm/table_pool";

// The most guests (the config's MAX_GUESTS).
export const MAX_TABLE_GUESTS: u32 = 256;

export const TABLES_OK: u32 = 0;
// Bad arguments: guest >= 64, ramHpa not 2 MiB aligned, ramBytes 0 or not a
// 4 KiB multiple, RAM beyond what the tables can map or overlapping this
// module's memory or another guest's RAM, tables already built, or no valid
// setHostLayout yet.
export const TABLES_BAD_ARGUMENTS: u32 = 1;
// The table pool is exhausted; nothing was kept.
export const TABLES_POOL_EXHAUSTED: u32 = 2;

const WASM_PAGE_SHIFT: u32 = 16;
const LINEAR_BASE_ALIGNMENT: u64 = 64 << 10;

// One guest's tables; offsets in linear memory.
@unmanaged
class GuestTables {
  built: u32;
  nestedRoot: u32;   // PML4
  bitmaps: u32;      // I/O bitmap, then MSR bitmap, in one block
  reserved: u32;
  ramHpa: u64;
  ramBytes: u64;
}

const GUEST_TABLES: usize = memory.data(<i32>(MAX_TABLE_GUESTS * <u32>offsetof<GuestTables>()), 8);

// Pool owner of the bitmaps all guests share (guests own 1..MAX_TABLE_GUESTS).
const SHARED_OWNER: u32 = MAX_TABLE_GUESTS + 1;
let sharedBitmaps: usize = NO_PAGES;

let linearBase: u64 = 0;
let vendor: u32 = VENDOR_NONE;
let guestsBuilt: u32 = 0;

@inline function guestTables(guest: u32): GuestTables {
  return changetype<GuestTables>(GUEST_TABLES + <usize>guest * offsetof<GuestTables>());
}

// Pool owner id of a guest.
@inline function owner(guest: u32): u32 {
  return guest + 1;
}

function linearMemoryBytes(): u64 {
  return <u64>memory.size() << WASM_PAGE_SHIFT;
}

// Where this module's linear memory is (host-physical, 64 KiB aligned) and
// which extension the host has (1 = AMD SVM, 2 = Intel VMX). Takes effect
// only with valid arguments and while no guest has tables (the formats of
// built tables cannot change under them); otherwise it is ignored.
export function setHostLayout(base: u64, hostVendor: u32): void {
  if (guestsBuilt != 0) return;
  if ((base & (LINEAR_BASE_ALIGNMENT - 1)) != 0) return;
  if (entryFormat(hostVendor) == null) return;
  if (base >= HOST_PHYSICAL_LIMIT || HOST_PHYSICAL_LIMIT - base < linearMemoryBytes()) return;
  linearBase = base;
  vendor = hostVendor;
}

// True when [start, start + bytes) and [otherStart, otherStart + otherBytes)
// share a byte (no overflow: every range lies below 2^52).
@inline function overlaps(start: u64, bytes: u64, otherStart: u64, otherBytes: u64): bool {
  return start < otherStart + otherBytes && otherStart < start + bytes;
}

function argumentsValid(guest: u32, ramHpa: u64, ramBytes: u64): bool {
  if (entryFormat(vendor) == null) return false;
  if (guest >= MAX_TABLE_GUESTS || guestTables(guest).built != 0) return false;
  if ((ramHpa & (LARGE_PAGE_BYTES - 1)) != 0) return false;
  if (ramBytes == 0 || (ramBytes & (SMALL_PAGE_BYTES - 1)) != 0) return false;
  if (ramBytes > GUEST_PHYSICAL_LIMIT) return false;
  if (ramHpa >= HOST_PHYSICAL_LIMIT || HOST_PHYSICAL_LIMIT - ramHpa < ramBytes) return false;
  // Guest RAM must never reach the tables that confine it, nor another guest.
  if (overlaps(ramHpa, ramBytes, linearBase, linearMemoryBytes())) return false;
  for (let other: u32 = 0; other < MAX_TABLE_GUESTS; other++) {
    let tables = guestTables(other);
    if (tables.built != 0 && overlaps(ramHpa, ramBytes, tables.ramHpa, tables.ramBytes)) return false;
  }
  return true;
}

// Builds guest `guest`'s nested tables mapping guest-physical [0, ramBytes)
// to host-physical [ramHpa, ramHpa + ramBytes) (write-back, read/write/
// execute, 2 MiB leaves where a whole 2 MiB block is RAM, 4 KiB leaves for
// the tail, nothing else present), its I/O bitmap (every port intercepted)
// and its MSR bitmap (every MSR intercepted but the pass-through list).
// 0 on success, 1 on bad arguments, 2 when the pool is exhausted.
export function buildGuestTables(guest: u32, ramHpa: u64, ramBytes: u64): u32 {
  return buildTables(guest, ramHpa, ramBytes, false);
}

// The same, with every whole 2 MiB block of RAM absent until
// populateGuestRam(guest, gpa): the stub zeroes RAM on first touch.
export function buildLazyGuestTables(guest: u32, ramHpa: u64, ramBytes: u64): u32 {
  return buildTables(guest, ramHpa, ramBytes, true);
}

// The first 2 MiB block is made present 16 KiB at a time (4 of its 4 KiB
// leaves, nested_paging.ts buildNestedTables): little to zero for a guest
// that touches a few pages, 128 entries into the supervisor at most for
// one that touches all of it.
export const FIRST_BLOCK_RUN_BYTES: u64 = 16 << 10;

// Makes the RAM at `gpa` present in the guest's lazy tables, once the stub
// has zeroed it: the 16 KiB run at gpa in the first 2 MiB block, the 2 MiB
// block at gpa in the others. 1 when it did, 0 otherwise (no such guest or
// tables, gpa not aligned to its run or block or not in a whole block of
// RAM, already present).
export function populateGuestRam(guest: u32, gpa: u64): u32 {
  if (guest >= MAX_TABLE_GUESTS || guestTables(guest).built == 0) return 0;
  let tables = guestTables(guest);
  if (gpa >= tables.ramBytes || tables.ramBytes < LARGE_PAGE_BYTES) return 0;
  let format = changetype<EntryFormat>(entryFormat(vendor));
  let root = <usize>tables.nestedRoot;
  if (gpa < LARGE_PAGE_BYTES) {
    if ((gpa & (FIRST_BLOCK_RUN_BYTES - 1)) != 0) return 0;
    // The first leaf answers for the run: the stub makes a run present
    // once, all of it, so the rest are absent whenever the first is.
    if (!populateLeaf(format, linearBase, root, gpa)) return 0;
    for (let page = gpa + SMALL_PAGE_BYTES; page < gpa + FIRST_BLOCK_RUN_BYTES; page += SMALL_PAGE_BYTES) {
      populateLeaf(format, linearBase, root, page);
    }
    return 1;
  }
  if (tables.ramBytes - gpa < LARGE_PAGE_BYTES) return 0;   // the tail
  return populateLeaf(format, linearBase, root, gpa) ? 1 : 0;
}

function buildTables(guest: u32, ramHpa: u64, ramBytes: u64, lazy: bool): u32 {
  if (!argumentsValid(guest, ramHpa, ramBytes)) return TABLES_BAD_ARGUMENTS;
  let pageFormat = changetype<EntryFormat>(entryFormat(vendor));
  let bitsFormat = changetype<BitmapFormat>(bitmapFormat(vendor));

  // The bitmaps are the same for every guest (every port intercepted,
  // every MSR but the pass-through list), and the CPU only reads them:
  // one pair serves all guests, made with the first guest's tables and
  // returned with the last's (setHostLayout changes the vendor only then).
  if (guestsBuilt == 0) {
    let bitmapPages = (bitsFormat.ioBytes + bitsFormat.msrBytes) / PAGE_BYTES;
    sharedBitmaps = allocateTablePages(SHARED_OWNER, bitmapPages);
    if (sharedBitmaps == NO_PAGES) return TABLES_POOL_EXHAUSTED;
    interceptAllPorts(bitsFormat, sharedBitmaps);
    initMsrBitmap(bitsFormat, sharedBitmaps + <usize>bitsFormat.ioBytes);
  }
  let bitmaps = sharedBitmaps;
  let root = buildNestedTables(pageFormat, owner(guest), linearBase, ramHpa, ramBytes, lazy);
  if (root == NO_PAGES) {
    releaseTablePages(owner(guest));
    if (guestsBuilt == 0) releaseTablePages(SHARED_OWNER);
    return TABLES_POOL_EXHAUSTED;
  }

  let tables = guestTables(guest);
  tables.nestedRoot = <u32>root;
  tables.bitmaps = <u32>bitmaps;
  tables.ramHpa = ramHpa;
  tables.ramBytes = ramBytes;
  tables.built = 1;
  guestsBuilt++;
  return TABLES_OK;
}

// Host-physical address of the guest's PML4 (NPT: nCR3; EPT: the EPTP's
// address, the stub adds WB and the 4-level walk), 0 when not built.
export function guestNestedRoot(guest: u32): u64 {
  if (guest >= MAX_TABLE_GUESTS || guestTables(guest).built == 0) return 0;
  return linearBase + <u64>guestTables(guest).nestedRoot;
}

// Host-physical address of the guest's I/O bitmap (SVM: 12 KiB IOPM; VMX:
// 8 KiB, bitmap A then B), 0 when not built.
export function guestIoBitmap(guest: u32): u64 {
  if (guest >= MAX_TABLE_GUESTS || guestTables(guest).built == 0) return 0;
  return linearBase + <u64>guestTables(guest).bitmaps;
}

// Host-physical address of the guest's MSR bitmap (SVM: 8 KiB MSRPM; VMX:
// 4 KiB), 0 when not built.
export function guestMsrBitmap(guest: u32): u64 {
  if (guest >= MAX_TABLE_GUESTS || guestTables(guest).built == 0) return 0;
  let format = changetype<BitmapFormat>(bitmapFormat(vendor));
  return linearBase + <u64>guestTables(guest).bitmaps + <u64>format.ioBytes;
}

// Returns every page of the guest's tables and bitmaps to the pool. Nothing
// happens for a guest without tables.
export function releaseGuestTables(guest: u32): void {
  if (guest >= MAX_TABLE_GUESTS) return;
  let tables = guestTables(guest);
  if (tables.built == 0) return;
  releaseTablePages(owner(guest));
  tables.built = 0;
  tables.nestedRoot = 0;
  tables.bitmaps = 0;
  tables.ramHpa = 0;
  tables.ramBytes = 0;
  guestsBuilt--;
  if (guestsBuilt == 0) releaseTablePages(SHARED_OWNER);
}

// Bytes of the pool in use, all guests together.
export function tableBytesInUse(): u32 {
  return tablePoolPagesInUse() * PAGE_BYTES;
}

// Bytes one guest's tables take (its overhead; the shared bitmaps are not
// counted), 0 when none.
export function guestTableBytes(guest: u32): u32 {
  if (guest >= MAX_TABLE_GUESTS) return 0;
  return tablePoolPagesOwnedBy(owner(guest)) * PAGE_BYTES;
}
