// The table pool: 4 KiB pages inside the supervisor's linear memory for the
// structures the hardware reads directly: nested page tables (NPT/EPT) and
// the I/O and MSR permission bitmaps. Linear memory is one physically
// contiguous, identity-mapped region whose base is 64 KiB aligned, so a page
// at a 4 KiB-aligned offset is a 4 KiB-aligned host-physical page
// (host-physical = linearBase + offset), as every one of those structures
// requires (AMD APM vol. 2, 15.10.1, 15.11, 15.25.5; Intel SDM vol. 3C,
// 25.6.4, 25.6.9, 29.3.2).
//
// Every page has an owner (a guest, as guest index + 1; 0 = free), so a
// guest's pages are released by owner, whatever it holds, and nothing can
// leak even if a build stops half-way. Single pages (page tables) come from
// the bottom of the pool, runs of several pages (bitmaps) from the top: a
// run freed by one guest fits the next guest's run of the same size exactly,
// and tables never break up the runs until the pool is nearly full.
//
// Setup-time code, not on the exit path: allocation is a linear scan.

export const PAGE_BYTES: u32 = 4096;
const PAGE_SHIFT: u32 = 12;

// 5 MiB. Enough for 256 guests of up to 250 GiB of RAM in total, or one
// guest of up to about 1,270 GiB (2 MiB leaves: one page directory per GiB,
// plus PML4, PDPT, the first block's page table and a tail page table per
// guest; the 5 bitmap pages are shared by all guests).
export const TABLE_POOL_PAGES: u32 = 1280;

// Owner ids fit 16 bits; 0 means free.
export const POOL_FREE: u16 = 0;
export const MAX_POOL_OWNER: u32 = 1023;

// AssemblyScript never places static data at offset 0 (it is null), so 0
// can mean "no page".
export const NO_PAGES: usize = 0;

const POOL_BASE: usize = memory.data(<i32>(TABLE_POOL_PAGES * PAGE_BYTES), <i32>PAGE_BYTES);
// One 16-bit owner per page.
const PAGE_OWNERS: usize = memory.data(<i32>(TABLE_POOL_PAGES * 2), 8);
// Pages held per owner id (u32 each).
const OWNER_PAGES: usize = memory.data(<i32>((MAX_POOL_OWNER + 1) * 4), 8);

let pagesInUse: u32 = 0;
// No free page lies below this index.
let lowestFreeHint: u32 = 0;

// Offset in linear memory of the first pool page (4 KiB aligned).
export function tablePoolBase(): usize {
  return POOL_BASE;
}

export function tablePoolPagesInUse(): u32 {
  return pagesInUse;
}

export function tablePoolPagesOwnedBy(owner: u32): u32 {
  if (owner == 0 || owner > MAX_POOL_OWNER) return 0;
  return load<u32>(OWNER_PAGES + (<usize>owner << 2));
}

// True when [offset, offset + 4 KiB) is exactly one page of the pool (in use
// or not): the check a walker makes before following an entry.
export function isTablePoolPage(offset: u64): bool {
  if (offset < <u64>POOL_BASE) return false;
  let relative = offset - <u64>POOL_BASE;
  return (relative & <u64>(PAGE_BYTES - 1)) == 0 &&
         relative < <u64>TABLE_POOL_PAGES * <u64>PAGE_BYTES;
}

@inline function ownerOf(page: u32): u16 {
  return load<u16>(PAGE_OWNERS + (<usize>page << 1));
}

// `count` contiguous zeroed pages for `owner` (1..MAX_POOL_OWNER): their offset in
// linear memory, or NO_PAGES when the pool has no such run.
export function allocateTablePages(owner: u32, count: u32): usize {
  if (owner == 0 || owner > MAX_POOL_OWNER) return NO_PAGES;
  if (count == 0 || count > TABLE_POOL_PAGES - pagesInUse) return NO_PAGES;
  let first: i32 = -1;
  if (count == 1) {
    for (let page = lowestFreeHint; page < TABLE_POOL_PAGES; page++) {
      if (ownerOf(page) == POOL_FREE) { first = <i32>page; break; }
    }
  } else {
    // The highest run of `count` free pages.
    let runLength: u32 = 0;
    for (let page = <i32>TABLE_POOL_PAGES - 1; page >= 0; page--) {
      if (ownerOf(<u32>page) == POOL_FREE) {
        if (++runLength == count) { first = page; break; }
      } else {
        runLength = 0;
      }
    }
  }
  if (first < 0) return NO_PAGES;
  let start = <u32>first;
  for (let page = start; page < start + count; page++) store<u16>(PAGE_OWNERS + (<usize>page << 1), <u16>owner);
  if (start == lowestFreeHint) lowestFreeHint = start + count;
  pagesInUse += count;
  let ownerCount = OWNER_PAGES + (<usize>owner << 2);
  store<u32>(ownerCount, load<u32>(ownerCount) + count);
  let offset = POOL_BASE + (<usize>start << PAGE_SHIFT);
  memory.fill(offset, 0, <usize>count << PAGE_SHIFT);
  return offset;
}

// Frees every page `owner` holds, zeroing each (a stale table handed to the
// hardware by mistake then maps nothing). Returns how many were freed.
export function releaseTablePages(owner: u32): u32 {
  if (owner == 0 || owner > MAX_POOL_OWNER) return 0;
  let ownerCount = OWNER_PAGES + (<usize>owner << 2);
  let remaining = load<u32>(ownerCount);
  let freed: u32 = 0;
  for (let page: u32 = 0; page < TABLE_POOL_PAGES && freed < remaining; page++) {
    if (ownerOf(page) != <u16>owner) continue;
    store<u16>(PAGE_OWNERS + (<usize>page << 1), POOL_FREE);
    memory.fill(POOL_BASE + (<usize>page << PAGE_SHIFT), 0, <usize>PAGE_BYTES);
    if (page < lowestFreeHint) lowestFreeHint = page;
    freed++;
  }
  store<u32>(ownerCount, 0);
  pagesInUse -= freed;
  return freed;
}
