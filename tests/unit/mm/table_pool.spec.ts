// The table pool: where tables and bitmaps live, that releasing a guest gives
// back everything, and that running out leaves nothing behind.

import {
  buildGuestTables, buildLazyGuestTables, guestIoBitmap, guestNestedRoot, guestTableBytes, releaseGuestTables,
  setHostLayout, tableBytesInUse,
} from "../../../assembly/supervisor/tables";
import {
  allocateTablePages, isTablePoolPage, NO_PAGES, releaseTablePages, TABLE_POOL_PAGES,
  tablePoolBase, tablePoolPagesInUse, tablePoolPagesOwnedBy,
} from "../../../assembly/mm/table_pool";
import { GiB, KiB, LINEAR_BASE, MiB, NOT_PRESENT, SVM, VMX, walk } from "./walker";

const POOL_BYTES: u32 = TABLE_POOL_PAGES * 4096;

function releaseAll(): void {
  for (let guest: u32 = 0; guest < 256; guest++) releaseGuestTables(guest);
}

describe("table pool pages", () => {
  afterEach(() => {
    for (let owner: u32 = 1; owner <= 1023; owner++) releaseTablePages(owner);
  });

  it("starts 4 KiB aligned in linear memory", () => {
    expect(tablePoolBase()).not.toBe(0);
    expect(tablePoolBase() & 0xFFF).toBe(0);
    expect(tablePoolPagesInUse()).toBe(0);
  });

  it("hands out zeroed pages: single pages from the bottom, runs from the top", () => {
    let single = allocateTablePages(1, 1);
    expect(single).toBe(tablePoolBase());
    store<u64>(single, 0x1234);
    let run = allocateTablePages(1, 3);
    expect(run).toBe(tablePoolBase() + <usize>(POOL_BYTES - 3 * 4096));
    expect(tablePoolPagesOwnedBy(1)).toBe(4);
    expect(releaseTablePages(1)).toBe(4);
    expect(tablePoolPagesInUse()).toBe(0);
    let again = allocateTablePages(2, 1);
    expect(again).toBe(single);
    expect(load<u64>(again)).toBe(0, "zeroed");
  });

  it("zeroes the pages it takes back, so a stale table maps nothing", () => {
    let page = allocateTablePages(4, 1);
    store<u64>(page + 8, 0xABCD_0007);
    expect(releaseTablePages(4)).toBe(1);
    expect(load<u64>(page + 8)).toBe(0);
  });

  it("refuses owner 0, owners past 1023, empty and oversized requests", () => {
    expect(allocateTablePages(0, 1)).toBe(NO_PAGES);
    expect(allocateTablePages(1024, 1)).toBe(NO_PAGES);
    expect(allocateTablePages(1, 0)).toBe(NO_PAGES);
    expect(allocateTablePages(1, TABLE_POOL_PAGES + 1)).toBe(NO_PAGES);
    expect(tablePoolPagesInUse()).toBe(0);
    expect(releaseTablePages(0)).toBe(0);
    expect(releaseTablePages(5000)).toBe(0);
  });

  it("finds no run where single pages break the free space up", () => {
    // Take every other page: plenty free, no two adjacent.
    for (let page: u32 = 0; page < TABLE_POOL_PAGES; page++) {
      let owner: u32 = page % 2 == 0 ? 1 : 2;
      expect(allocateTablePages(owner, 1)).not.toBe(NO_PAGES);
    }
    releaseTablePages(2);
    expect(tablePoolPagesInUse()).toBe(TABLE_POOL_PAGES / 2);
    expect(allocateTablePages(3, 2)).toBe(NO_PAGES);
    expect(allocateTablePages(3, 1)).not.toBe(NO_PAGES);
  });

  it("knows its own pages", () => {
    expect(isTablePoolPage(<u64>tablePoolBase())).toBe(true);
    expect(isTablePoolPage(<u64>tablePoolBase() + <u64>POOL_BYTES - 4096)).toBe(true);
    expect(isTablePoolPage(<u64>tablePoolBase() + <u64>POOL_BYTES)).toBe(false);
    expect(isTablePoolPage(<u64>tablePoolBase() + 8)).toBe(false);
    expect(isTablePoolPage(<u64>tablePoolBase() - 4096)).toBe(false);
  });
});

describe("guest tables in the pool", () => {
  beforeEach(() => {
    releaseAll();
    setHostLayout(LINEAR_BASE, SVM);
  });

  it("leaks nothing over 1000 build/release cycles", () => {
    expect(buildGuestTables(0, 1 * GiB, 33 * MiB)).toBe(0);
    let firstRoot = guestNestedRoot(0);
    let firstBitmaps = guestIoBitmap(0);
    releaseGuestTables(0);
    let sizes: u64[] = [33 * MiB, 4 * KiB, 2 * MiB, 1 * GiB + 4 * KiB, 64 * MiB];
    for (let cycle: u32 = 0; cycle < 1000; cycle++) {
      let guest = cycle % 64;
      let other = (cycle * 7 + 3) % 64;
      let bytes = sizes[cycle % 5];
      expect(buildGuestTables(guest, 2 * GiB, bytes)).toBe(0);
      if (other != guest) expect(buildGuestTables(other, 8 * GiB, 4 * MiB + 12 * KiB)).toBe(0);
      releaseGuestTables(guest);
      if (other != guest) releaseGuestTables(other);
      if (tableBytesInUse() != 0) break;
    }
    expect(tableBytesInUse()).toBe(0);
    expect(buildGuestTables(0, 1 * GiB, 33 * MiB)).toBe(0);
    expect(guestNestedRoot(0)).toBe(firstRoot, "the same pages come back");
    expect(guestIoBitmap(0)).toBe(firstBitmaps);
    expect(walk(SVM, guestNestedRoot(0), 32 * MiB + 4 * KiB)).toBe(1 * GiB + 32 * MiB + 4 * KiB);
    expect(walk(SVM, guestNestedRoot(0), 33 * MiB)).toBe(NOT_PRESENT, "no stale entries");
  });

  it("returns 2 when the pool is exhausted, and leaks nothing", () => {
    // One guest larger than the pool can map: 1280 page directories alone.
    expect(buildGuestTables(0, 1024 * GiB, 1280 * GiB)).toBe(2);
    expect(tableBytesInUse()).toBe(0);
    expect(guestNestedRoot(0)).toBe(0);
    expect(guestTableBytes(0)).toBe(0);

    // 1254 GiB takes PML4 + 3 PDPTs + 1254 PDs = 1258 pages, and the 5
    // bitmap pages all guests share; five 32 MiB guests take 3 each.
    expect(buildGuestTables(0, 1024 * GiB, 1254 * GiB)).toBe(0);
    expect(guestTableBytes(0)).toBe(1258 * 4096);
    expect(tableBytesInUse()).toBe(1263 * 4096);
    for (let guest: u32 = 1; guest <= 5; guest++) {
      expect(buildGuestTables(guest, <u64>guest * GiB, 32 * MiB)).toBe(0);
    }
    let full = tableBytesInUse();
    expect(full).toBe(1278 * 4096);
    expect(buildGuestTables(6, 6 * GiB, 2 * MiB)).toBe(2);
    expect(tableBytesInUse()).toBe(full);
    expect(guestNestedRoot(6)).toBe(0);
    expect(guestTableBytes(6)).toBe(0);

    // The room one guest frees serves the next.
    releaseGuestTables(1);
    expect(buildGuestTables(6, 6 * GiB, 32 * MiB)).toBe(0);
    expect(tableBytesInUse()).toBe(full);
    releaseAll();
    expect(tableBytesInUse()).toBe(0);
  });

  it("fits 256 guests of 1 GiB each at once, eager or lazy (a page table more each, for the first block), and gives it all back", () => {
    for (let lazy = 0; lazy < 2; lazy++) {
      for (let guest: u32 = 0; guest < 256; guest++) {
        let hpa = <u64>(guest + 512) * GiB;
        expect(lazy ? buildLazyGuestTables(guest, hpa, 1 * GiB) : buildGuestTables(guest, hpa, 1 * GiB)).toBe(0);
      }
      expect(tableBytesInUse()).toBe((256 * (3 + lazy) + 5) * 4096);
      releaseAll();
      expect(tableBytesInUse()).toBe(0);
    }
  });

  it("leaks nothing over build/release cycles on VMX either", () => {
    releaseAll();
    setHostLayout(LINEAR_BASE, VMX);
    for (let cycle: u32 = 0; cycle < 200; cycle++) {
      expect(buildGuestTables(cycle % 64, 1 * GiB, 33 * MiB)).toBe(0);
      releaseGuestTables(cycle % 64);
    }
    expect(tableBytesInUse()).toBe(0);
  });
});
