// Nested page tables as the stub gets them from the supervisor's exports:
// what they map, and the bits each vendor's hardware reads (AMD APM vol. 2,
// 15.25; Intel SDM vol. 3C, 29.3.2).

import {
  buildGuestTables, buildLazyGuestTables, populateGuestRam, guestIoBitmap, guestMsrBitmap, guestNestedRoot, guestTableBytes,
  releaseGuestTables, setHostLayout, tableBytesInUse,
} from "../../../assembly/supervisor/tables";
import { entryFormat, EntryFormat, translate, NOT_MAPPED } from "../../../assembly/mm/nested_paging";
import {
  countTables, GiB, KiB, largeLeaves, LINEAR_BASE, MiB, NOT_PRESENT, offsetOf, presentEntries,
  presentLevels, smallLeaves, SVM, tablePages, VMX, walk, walkEntries, walkLeafLevel,
} from "./walker";

const RAM: u64 = 1 * GiB;           // host-physical base of guest 0's RAM
const OTHER_RAM: u64 = 8 * GiB;     // and of guest 1's

function releaseAll(): void {
  for (let guest: u32 = 0; guest < 256; guest++) releaseGuestTables(guest);
}

// Every 4 KiB page of [0, bytes) translates to RAM + gpa (checked at the
// first and last byte of each page).
function mapsRamExactly(vendor: u32, guest: u32, ramHpa: u64, bytes: u64): bool {
  let root = guestNestedRoot(guest);
  for (let gpa: u64 = 0; gpa < bytes; gpa += 4 * KiB) {
    if (walk(vendor, root, gpa) != ramHpa + gpa) return false;
    if (walk(vendor, root, gpa + 0xFFF) != ramHpa + gpa + 0xFFF) return false;
  }
  return true;
}

describe("before setHostLayout", () => {
  it("refuses to build: the entry format is unknown", () => {
    expect(buildGuestTables(0, RAM, 32 * MiB)).toBe(1);
    expect(guestNestedRoot(0)).toBe(0);
    expect(tableBytesInUse()).toBe(0);
  });

  it("ignores an unknown vendor and a linear base that is not 64 KiB aligned", () => {
    setHostLayout(LINEAR_BASE, 3);
    expect(buildGuestTables(0, RAM, 32 * MiB)).toBe(1);
    setHostLayout(LINEAR_BASE + 0x1000, SVM);
    expect(buildGuestTables(0, RAM, 32 * MiB)).toBe(1);
    expect(tableBytesInUse()).toBe(0);
  });
});

describe("AMD NPT", () => {
  beforeEach(() => {
    releaseAll();
    setHostLayout(LINEAR_BASE, SVM);
  });

  it("maps a 32 MiB guest with 16 2 MiB leaves", () => {
    expect(buildGuestTables(0, RAM, 32 * MiB)).toBe(0);
    countTables(SVM, guestNestedRoot(0));
    expect(largeLeaves).toBe(16);
    expect(smallLeaves).toBe(0);
    expect(tablePages).toBe(3, "PML4, PDPT, PD");
    expect(mapsRamExactly(SVM, 0, RAM, 32 * MiB)).toBe(true);
    expect(walk(SVM, guestNestedRoot(0), 0x12_3456)).toBe(RAM + 0x12_3456);
    expect(walkLeafLevel).toBe(2);
  });

  it("maps a 33 MiB guest with a 4 KiB tail", () => {
    expect(buildGuestTables(0, RAM, 33 * MiB)).toBe(0);
    countTables(SVM, guestNestedRoot(0));
    expect(largeLeaves).toBe(16);
    expect(smallLeaves).toBe(256);
    expect(tablePages).toBe(4, "PML4, PDPT, PD, PT");
    expect(mapsRamExactly(SVM, 0, RAM, 33 * MiB)).toBe(true);
    expect(walk(SVM, guestNestedRoot(0), 32 * MiB + 0x1234)).toBe(RAM + 32 * MiB + 0x1234);
    expect(walkLeafLevel).toBe(1);
  });

  it("maps a guest smaller than 2 MiB with 4 KiB leaves only", () => {
    expect(buildGuestTables(0, RAM, 12 * KiB)).toBe(0);
    countTables(SVM, guestNestedRoot(0));
    expect(largeLeaves).toBe(0);
    expect(smallLeaves).toBe(3);
    expect(mapsRamExactly(SVM, 0, RAM, 12 * KiB)).toBe(true);
    expect(walk(SVM, guestNestedRoot(0), 12 * KiB)).toBe(NOT_PRESENT);
  });

  it("leaves every GPA beyond RAM not present", () => {
    expect(buildGuestTables(0, RAM, 33 * MiB)).toBe(0);
    let root = guestNestedRoot(0);
    expect(walk(SVM, root, 33 * MiB - 1)).toBe(RAM + 33 * MiB - 1);
    expect(walk(SVM, root, 33 * MiB)).toBe(NOT_PRESENT);
    expect(walk(SVM, root, 34 * MiB)).toBe(NOT_PRESENT);
    expect(walk(SVM, root, 1 * GiB)).toBe(NOT_PRESENT);
    expect(walk(SVM, root, 512 * GiB)).toBe(NOT_PRESENT);
    expect(walk(SVM, root, 0xFEE0_0000)).toBe(NOT_PRESENT, "local APIC page");
    expect(walk(SVM, root, (<u64>1 << 48) - 1)).toBe(NOT_PRESENT);
  });

  it("sets the user bit at every level", () => {
    expect(buildGuestTables(0, RAM, 33 * MiB)).toBe(0);
    countTables(SVM, guestNestedRoot(0));
    let levelsSeen: u32 = 0;
    for (let i = 0; i < presentEntries.length; i++) {
      expect(presentEntries[i] & 4).toBe(4, "U/S");
      levelsSeen |= 1 << presentLevels[i];
    }
    expect(levelsSeen).toBe(0b11110, "PML4E, PDPTE, PDE, PTE all seen");
  });

  it("uses exactly P, R/W, U/S (and PS on 2 MiB leaves): no NX, write-back", () => {
    expect(buildGuestTables(0, RAM, 33 * MiB)).toBe(0);
    let root = guestNestedRoot(0);
    walk(SVM, root, 2 * MiB);
    expect(walkEntries[4] & ~0x000F_FFFF_FFFF_F000).toBe(0x7);
    expect(walkEntries[3] & ~0x000F_FFFF_FFFF_F000).toBe(0x7);
    expect(walkEntries[2]).toBe(RAM + 2 * MiB | 0x87);
    walk(SVM, root, 32 * MiB + 4 * KiB);
    expect(walkEntries[1]).toBe(RAM + 32 * MiB + 4 * KiB | 0x7);
  });

  it("puts every table in a 4 KiB-aligned page of linear memory", () => {
    expect(buildGuestTables(0, RAM, 33 * MiB)).toBe(0);
    let root = guestNestedRoot(0);
    expect(root & 0xFFF).toBe(0);
    expect(root).toBeGreaterThan(LINEAR_BASE);
    expect(root).toBeLessThan(LINEAR_BASE + (<u64>memory.size() << 16));
    countTables(SVM, root);
    for (let i = 0; i < presentEntries.length; i++) {
      if (presentLevels[i] == 1 || (presentEntries[i] & 0x80) != 0) continue;
      let table = presentEntries[i] & 0x000F_FFFF_FFFF_F000;
      expect(table).toBeGreaterThan(LINEAR_BASE);
      expect(table).toBeLessThan(LINEAR_BASE + (<u64>memory.size() << 16));
    }
  });

  it("maps RAM across page-directory and PDPT boundaries", () => {
    // 3 GiB + 6 MiB + 8 KiB: four page directories, a tail page table.
    let bytes: u64 = 3 * GiB + 6 * MiB + 8 * KiB;
    expect(buildGuestTables(0, 16 * GiB, bytes)).toBe(0);
    let root = guestNestedRoot(0);
    countTables(SVM, root);
    expect(largeLeaves).toBe(3 * 512 + 3);
    expect(smallLeaves).toBe(2);
    expect(tablePages).toBe(1 + 1 + 4 + 1);
    let probes: u64[] = [0, GiB - 1, GiB, 2 * GiB + 4095, 3 * GiB, 3 * GiB + 6 * MiB, bytes - 1];
    for (let i = 0; i < probes.length; i++) {
      expect(walk(SVM, root, probes[i])).toBe(16 * GiB + probes[i]);
    }
    expect(walk(SVM, root, bytes)).toBe(NOT_PRESENT);
  });

  it("maps a guest larger than 512 GiB through a second PDPT", () => {
    let bytes: u64 = 513 * GiB;
    expect(buildGuestTables(0, 1024 * GiB, bytes)).toBe(0);
    let root = guestNestedRoot(0);
    expect(walk(SVM, root, 512 * GiB - 1)).toBe(1024 * GiB + 512 * GiB - 1);
    expect(walk(SVM, root, 512 * GiB + 0x20_0000)).toBe(1536 * GiB + 0x20_0000);
    expect(walk(SVM, root, bytes)).toBe(NOT_PRESENT);
    countTables(SVM, root);
    expect(tablePages).toBe(1 + 2 + 513);
  });

  it("answers the guest's overhead: 3 table pages for 32 MiB; the 5 bitmap pages are shared", () => {
    expect(buildGuestTables(0, RAM, 32 * MiB)).toBe(0);
    expect(guestTableBytes(0)).toBe(<u32>(3 * 4 * KiB));
    expect(tableBytesInUse()).toBe(<u32>(32 * KiB));
    expect(guestTableBytes(1)).toBe(0);
    expect(buildGuestTables(1, OTHER_RAM, 32 * MiB)).toBe(0);
    expect(tableBytesInUse()).toBe(<u32>(44 * KiB), "a second guest adds its 3 table pages only");
    releaseGuestTables(0);
    expect(tableBytesInUse()).toBe(<u32>(32 * KiB));
    releaseGuestTables(1);
    expect(tableBytesInUse()).toBe(0, "the shared bitmaps go with the last guest");
  });

  it("agrees with the module's own walker", () => {
    expect(buildGuestTables(0, RAM, 33 * MiB)).toBe(0);
    let format = changetype<EntryFormat>(entryFormat(SVM));
    let root = offsetOf(guestNestedRoot(0));
    for (let gpa: u64 = 0; gpa < 40 * MiB; gpa += 0x1_1000) {
      let expected = walk(SVM, guestNestedRoot(0), gpa);
      let answer = translate(format, LINEAR_BASE, root, gpa);
      expect(answer).toBe(expected == NOT_PRESENT ? NOT_MAPPED : expected);
    }
  });
});

describe("Intel EPT", () => {
  beforeEach(() => {
    releaseAll();
    setHostLayout(LINEAR_BASE, VMX);
  });

  it("maps a 33 MiB guest with 16 2 MiB leaves and a 4 KiB tail", () => {
    expect(buildGuestTables(0, RAM, 33 * MiB)).toBe(0);
    countTables(VMX, guestNestedRoot(0));
    expect(largeLeaves).toBe(16);
    expect(smallLeaves).toBe(256);
    expect(mapsRamExactly(VMX, 0, RAM, 33 * MiB)).toBe(true);
    expect(walk(VMX, guestNestedRoot(0), 33 * MiB)).toBe(NOT_PRESENT);
  });

  it("gives leaves write-back memory type, bit 7 on 2 MiB leaves, ignore-PAT clear", () => {
    expect(buildGuestTables(0, RAM, 33 * MiB)).toBe(0);
    let root = guestNestedRoot(0);
    walk(VMX, root, 4 * MiB);
    expect(walkLeafLevel).toBe(2);
    expect(walkEntries[2]).toBe(RAM + 4 * MiB | 0x80 | 6 << 3 | 7);
    walk(VMX, root, 32 * MiB + 8 * KiB);
    expect(walkLeafLevel).toBe(1);
    expect(walkEntries[1]).toBe(RAM + 32 * MiB + 8 * KiB | 6 << 3 | 7);
    expect((walkEntries[1] >> 6) & 1).toBe(0, "ignore PAT");
  });

  it("gives non-leaf entries R, W, X and nothing else", () => {
    expect(buildGuestTables(0, RAM, 33 * MiB)).toBe(0);
    countTables(VMX, guestNestedRoot(0));
    for (let i = 0; i < presentEntries.length; i++) {
      let entry = presentEntries[i];
      let leaf = presentLevels[i] == 1 || (presentLevels[i] == 2 && (entry & 0x80) != 0);
      expect(entry & 7).toBe(7, "R, W, X at every level");
      if (!leaf) expect(entry & ~0x000F_FFFF_FFFF_F000).toBe(7);
      expect(entry >> 52).toBe(0, "no bits above the address");
    }
  });

  it("answers the guest's overhead: 3 table pages for 32 MiB (the 3 bitmap pages shared)", () => {
    expect(buildGuestTables(0, RAM, 32 * MiB)).toBe(0);
    expect(guestTableBytes(0)).toBe(<u32>(3 * 4 * KiB));
    expect(tableBytesInUse()).toBe(<u32>(6 * 4 * KiB));
  });
});

describe("NPT and EPT", () => {
  it("differ only in entry bits", () => {
    let bytes: u64 = 2 * GiB + 33 * MiB + 20 * KiB;
    releaseAll();
    setHostLayout(LINEAR_BASE, SVM);
    expect(buildGuestTables(0, RAM, bytes)).toBe(0);
    let nptRoot = guestNestedRoot(0);
    countTables(SVM, nptRoot);
    let nptEntries = presentEntries;
    let nptLevels = presentLevels;
    let nptPages = tablePages;
    // Translations, sampled densely, from the NPT build.
    let translations: u64[] = [];
    for (let gpa: u64 = 0; gpa < bytes + 4 * MiB; gpa += 0x3_3000) translations.push(walk(SVM, nptRoot, gpa));

    releaseAll();
    setHostLayout(LINEAR_BASE, VMX);
    expect(buildGuestTables(0, RAM, bytes)).toBe(0);
    let eptRoot = guestNestedRoot(0);
    countTables(VMX, eptRoot);
    expect(tablePages).toBe(nptPages);
    expect(presentEntries.length).toBe(nptEntries.length);
    for (let i = 0; i < presentEntries.length; i++) {
      expect(presentLevels[i]).toBe(nptLevels[i]);
      expect(presentEntries[i] & 0x000F_FFFF_FFFF_F000).toBe(nptEntries[i] & 0x000F_FFFF_FFFF_F000);
      expect(presentEntries[i] & 0x80).toBe(nptEntries[i] & 0x80, "the same leaf sizes");
    }
    let index = 0;
    for (let gpa: u64 = 0; gpa < bytes + 4 * MiB; gpa += 0x3_3000) {
      expect(walk(VMX, eptRoot, gpa)).toBe(translations[index++]);
    }
    releaseAll();
  });
});

describe("buildGuestTables arguments", () => {
  beforeEach(() => {
    releaseAll();
    setHostLayout(LINEAR_BASE, SVM);
  });

  it("refuses RAM that is not 2 MiB aligned", () => {
    expect(buildGuestTables(0, RAM + 4 * KiB, 32 * MiB)).toBe(1);
    expect(buildGuestTables(0, RAM + 1 * MiB, 32 * MiB)).toBe(1);
  });

  it("refuses a RAM size of 0 or not a multiple of 4 KiB", () => {
    expect(buildGuestTables(0, RAM, 0)).toBe(1);
    expect(buildGuestTables(0, RAM, 32 * MiB + 1)).toBe(1);
    expect(buildGuestTables(0, RAM, 2 * KiB)).toBe(1);
  });

  it("refuses a guest index of 256 or more", () => {
    expect(buildGuestTables(256, RAM, 32 * MiB)).toBe(1);
    expect(buildGuestTables(u32.MAX_VALUE, RAM, 32 * MiB)).toBe(1);
    expect(guestNestedRoot(256)).toBe(0);
    expect(guestTableBytes(256)).toBe(0);
    releaseGuestTables(u32.MAX_VALUE);
  });

  it("refuses to build a guest twice, and keeps the first tables", () => {
    expect(buildGuestTables(5, RAM, 32 * MiB)).toBe(0);
    let root = guestNestedRoot(5);
    let bytes = tableBytesInUse();
    expect(buildGuestTables(5, OTHER_RAM, 32 * MiB)).toBe(1);
    expect(guestNestedRoot(5)).toBe(root);
    expect(tableBytesInUse()).toBe(bytes);
  });

  it("refuses RAM the tables cannot map or the hardware cannot address", () => {
    expect(buildGuestTables(0, 0, (<u64>1 << 48) + 2 * MiB)).toBe(1, "beyond 48-bit GPAs");
    expect(buildGuestTables(0, (<u64>1 << 52) - 2 * MiB, 4 * MiB)).toBe(1, "beyond 52-bit HPAs");
    expect(buildGuestTables(0, 0xFFFF_FFFF_FFE0_0000, 4 * MiB)).toBe(1, "wraps around");
    expect(tableBytesInUse()).toBe(0);
  });

  it("refuses RAM overlapping the supervisor's memory or another guest's RAM", () => {
    expect(buildGuestTables(0, LINEAR_BASE, 2 * MiB)).toBe(1);
    expect(buildGuestTables(0, LINEAR_BASE - 2 * MiB, 4 * MiB)).toBe(1);
    expect(buildGuestTables(0, RAM, 32 * MiB)).toBe(0);
    expect(buildGuestTables(1, RAM + 30 * MiB, 32 * MiB)).toBe(1);
    expect(buildGuestTables(1, RAM - 2 * MiB, 4 * MiB)).toBe(1);
    expect(buildGuestTables(1, RAM + 32 * MiB, 32 * MiB)).toBe(0, "adjacent is fine");
  });

  it("answers 0 for the addresses of a guest without tables", () => {
    expect(guestNestedRoot(3)).toBe(0);
    expect(guestIoBitmap(3)).toBe(0);
    expect(guestMsrBitmap(3)).toBe(0);
    expect(guestTableBytes(3)).toBe(0);
    releaseGuestTables(3);
    expect(tableBytesInUse()).toBe(0);
  });

  it("gives each guest its own tables and all of them the one pair of bitmaps, 4 KiB aligned", () => {
    expect(buildGuestTables(0, RAM, 32 * MiB)).toBe(0);
    expect(buildGuestTables(1, OTHER_RAM, 33 * MiB)).toBe(0);
    for (let guest: u32 = 0; guest < 2; guest++) {
      expect(guestNestedRoot(guest) & 0xFFF).toBe(0);
      expect(guestIoBitmap(guest) & 0xFFF).toBe(0);
      expect(guestMsrBitmap(guest) & 0xFFF).toBe(0);
      expect(guestMsrBitmap(guest)).toBe(guestIoBitmap(guest) + 12 * KiB);
    }
    expect(guestNestedRoot(0)).not.toBe(guestNestedRoot(1));
    expect(guestIoBitmap(0)).toBe(guestIoBitmap(1));
    expect(guestMsrBitmap(0)).toBe(guestMsrBitmap(1));
    expect(walk(SVM, guestNestedRoot(1), 0)).toBe(OTHER_RAM);
    expect(walk(SVM, guestNestedRoot(0), 0)).toBe(RAM);
  });

  it("does not change the vendor while a guest has tables", () => {
    expect(buildGuestTables(0, RAM, 2 * MiB)).toBe(0);
    setHostLayout(LINEAR_BASE, VMX);
    expect(buildGuestTables(1, OTHER_RAM, 32 * MiB)).toBe(0);
    expect(guestMsrBitmap(1)).toBe(guestIoBitmap(1) + 12 * KiB, "still the SVM layout");
    expect(walkOk(SVM, guestNestedRoot(1))).toBe(true);
  });
});

function walkOk(vendor: u32, root: u64): bool {
  walk(vendor, root, 0);
  return walkEntries[4] == (walkEntries[4] & 0x000F_FFFF_FFFF_F000 | 7);
}

describe("lazy tables (RAM zeroed on first touch by the stub)", () => {
  beforeEach(() => {
    releaseAll();
  });

  it("leave every 2 MiB block absent until populated, the first one page by page, the 4 KiB tail present", () => {
    for (let i = 0; i < 2; i++) {
      let vendor: u32 = i == 0 ? SVM : VMX;
      releaseAll();
      setHostLayout(LINEAR_BASE, vendor);
      expect(buildLazyGuestTables(0, RAM, 5 * MiB)).toBe(0);
      let root = guestNestedRoot(0);
      expect(walk(vendor, root, 0)).toBe(NOT_MAPPED);
      expect(walk(vendor, root, 3 * MiB)).toBe(NOT_MAPPED);
      expect(walk(vendor, root, 4 * MiB)).toBe(RAM + 4 * MiB);          // the tail
      expect(walk(vendor, root, 5 * MiB - 1)).toBe(RAM + 5 * MiB - 1);
      expect(populateGuestRam(0, 2 * MiB)).toBe(1);
      expect(walk(vendor, root, 2 * MiB + 0x1234)).toBe(RAM + 2 * MiB + 0x1234);
      expect(walk(vendor, root, 0)).toBe(NOT_MAPPED);
      expect(populateGuestRam(0, 2 * MiB)).toBe(0);                     // already present
      // The first block: 16 KiB (4 pages of 4 KiB) at a time.
      expect(populateGuestRam(0, 1 * MiB)).toBe(1);
      expect(walk(vendor, root, 1 * MiB + 0x123)).toBe(RAM + 1 * MiB + 0x123);
      expect(walk(vendor, root, 1 * MiB + 16 * KiB - 1)).toBe(RAM + 1 * MiB + 16 * KiB - 1);
      expect(walk(vendor, root, 1 * MiB + 16 * KiB)).toBe(NOT_MAPPED);
      expect(walk(vendor, root, 1 * MiB - 1)).toBe(NOT_MAPPED);
      expect(populateGuestRam(0, 1 * MiB)).toBe(0);                     // already present
      for (let gpa: u64 = 0; gpa < 2 * MiB; gpa += 16 * KiB) {
        expect(populateGuestRam(0, gpa)).toBe(gpa == 1 * MiB ? 0 : 1);
      }
      expect(mapsRamExactly(vendor, 0, RAM, 5 * MiB)).toBe(true);
    }
  });

  it("populate nothing outside the guest's own RAM, nor where the leaf is not aligned", () => {
    setHostLayout(LINEAR_BASE, SVM);
    expect(buildLazyGuestTables(0, RAM, 5 * MiB)).toBe(0);
    expect(populateGuestRam(0, 4 * MiB)).toBe(0);        // the tail block
    expect(populateGuestRam(0, 6 * MiB)).toBe(0);        // past RAM
    expect(populateGuestRam(0, 3 * MiB)).toBe(0);        // not 2 MiB aligned
    expect(populateGuestRam(0, 0x1000)).toBe(0);         // not 16 KiB aligned
    expect(populateGuestRam(1, 0)).toBe(0);              // no tables
    expect(populateGuestRam(64, 0)).toBe(0);             // no such guest
    expect(walk(SVM, guestNestedRoot(0), 6 * MiB)).toBe(NOT_MAPPED);
    expect(walk(SVM, guestNestedRoot(0), 0x1000)).toBe(NOT_MAPPED);
  });

  it("keep RAM below 2 MiB all present, as a tail", () => {
    setHostLayout(LINEAR_BASE, VMX);
    expect(buildLazyGuestTables(0, RAM, 1 * MiB)).toBe(0);
    expect(walk(VMX, guestNestedRoot(0), 0)).toBe(RAM);
    expect(walk(VMX, guestNestedRoot(0), 1 * MiB - 1)).toBe(RAM + 1 * MiB - 1);
    expect(populateGuestRam(0, 0)).toBe(0);
  });

  it("map what eager tables map once every block is populated", () => {
    setHostLayout(LINEAR_BASE, VMX);
    expect(buildLazyGuestTables(0, RAM, 32 * MiB)).toBe(0);
    for (let gpa: u64 = 0; gpa < 2 * MiB; gpa += 16 * KiB) expect(populateGuestRam(0, gpa)).toBe(1);
    for (let gpa: u64 = 2 * MiB; gpa < 32 * MiB; gpa += 2 * MiB) expect(populateGuestRam(0, gpa)).toBe(1);
    expect(buildGuestTables(1, OTHER_RAM, 32 * MiB)).toBe(0);
    countTables(VMX, guestNestedRoot(0));
    let lazyLeaves = largeLeaves;
    countTables(VMX, guestNestedRoot(1));
    expect(lazyLeaves).toBe(largeLeaves - 1, "the first block is 4 KiB pages");
    expect(mapsRamExactly(VMX, 0, RAM, 32 * MiB)).toBe(true);
    expect(walk(VMX, guestNestedRoot(0), 31 * MiB)).toBe(RAM + 31 * MiB);
  });
});
