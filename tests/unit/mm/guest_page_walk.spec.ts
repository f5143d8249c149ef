import { FakePlatform } from "../guest/helpers";
import {
  walkGuestPage, WalkAccess, WalkResult, WALK_RESULT_BYTES, PF_PRESENT, PF_WRITE, PF_USER, PF_FETCH,
  CR0_WP, CR0_PG, CR4_PSE, CR4_SMEP, CR4_SMAP, EFER_NXE, RFLAGS_AC, PTE_ACCESSED, PTE_DIRTY,
} from "../../../assembly/mm/guest_page_walk";
import { ExitRecord } from "../../../assembly/vcpu/exit_record";
import {
  PageTables, PAGING_32, PAGING_PAE, PAGING_4, PAGING_5, P, RW, US, XD, PS,
  longModeRecord, protectedModeRecord, realModeRecord, poke, peek,
} from "../x86/helpers";

const RESULT: usize = memory.data(WALK_RESULT_BYTES, 8);

function result(): WalkResult {
  return changetype<WalkResult>(RESULT);
}

function walk(platform: FakePlatform, record: ExitRecord, linear: u64, access: WalkAccess = WalkAccess.Read): u64 {
  memory.fill(RESULT, 0xee, WALK_RESULT_BYTES);
  if (!walkGuestPage(platform, record, linear, access, result())) return 0xdead;
  return result().gpa;
}

function recordFor(tables: PageTables): ExitRecord {
  if (tables.mode == PAGING_4 || tables.mode == PAGING_5) return longModeRecord(tables.root, tables.mode == PAGING_5);
  return protectedModeRecord(tables.mode, tables.root);
}

describe("the guest page walk without paging", () => {
  it("answers linear addresses as they are, in 32 bits", () => {
    let platform = new FakePlatform();
    let record = realModeRecord();
    expect(walk(platform, record, 0xb8000)).toBe(0xb8000);
    expect(walk(platform, record, 0x1_0000_1234)).toBe(0x1234);
    expect(result().fault).toBe(false);
    record = protectedModeRecord(0);
    expect(walk(platform, record, 0xfee00020, WalkAccess.Write)).toBe(0xfee00020);
  });
});

describe("the guest page walk, 32-bit paging", () => {
  it("maps a 4 KiB page", () => {
    let platform = new FakePlatform();
    let tables = new PageTables(platform, PAGING_32).map(0xc0001000, 0x234000);
    let record = recordFor(tables);
    expect(walk(platform, record, 0xc0001abc)).toBe(0x234abc);
  });

  it("maps a 4 MiB page with CR4.PSE, PSE-36 bits included", () => {
    let platform = new FakePlatform();
    let tables = new PageTables(platform, PAGING_32);
    tables.setEntry(0xc0000000, 2, 0x00400000 | (<u64>0x3 << 13) | PS | P | RW);
    let record = recordFor(tables);
    expect(walk(platform, record, 0xc0123456)).toBe(0x3_0052_3456);
  });

  it("reads PS as nothing without CR4.PSE (the PDE points to a page table)", () => {
    let platform = new FakePlatform();
    let tables = new PageTables(platform, PAGING_32);
    let pageTable = tables.allocate();
    tables.setEntry(0xc0000000, 2, pageTable | PS | P | RW);
    poke(platform, pageTable + 0x123 * 4, 4, 0x00777000 | P);
    let record = recordFor(tables);
    record.cr4 &= ~CR4_PSE;
    expect(walk(platform, record, 0xc0123456)).toBe(0x777456);
  });

  it("faults on a not-present entry at each level, P clear in the error code", () => {
    let platform = new FakePlatform();
    let tables = new PageTables(platform, PAGING_32);
    let record = recordFor(tables);
    expect(walk(platform, record, 0x1000, WalkAccess.Write)).toBe(0xdead);
    expect(result().errorCode).toBe(PF_WRITE);
    expect(result().linear).toBe(0x1000);
    tables.map(0x2000, 0x5000, 0); // PDE present, PTE not
    expect(walk(platform, record, 0x2000)).toBe(0xdead);
    expect(result().errorCode).toBe(0);
  });

  it("has no I/D bit in its error codes (no NX without PAE)", () => {
    let platform = new FakePlatform();
    let tables = new PageTables(platform, PAGING_32);
    let record = recordFor(tables);
    record.efer |= EFER_NXE;
    expect(walk(platform, record, 0x1000, WalkAccess.Execute)).toBe(0xdead);
    expect(result().errorCode).toBe(0);
  });
});

describe("the guest page walk, PAE paging", () => {
  it("maps 4 KiB and 2 MiB pages", () => {
    let platform = new FakePlatform();
    let tables = new PageTables(platform, PAGING_PAE)
      .map(0xc0001000, 0x234000)
      .map(0x80000000, 0x600000, P | RW, 2);
    let record = recordFor(tables);
    expect(walk(platform, record, 0xc0001abc)).toBe(0x234abc);
    expect(walk(platform, record, 0x801f_fff0)).toBe(0x7f_fff0);
  });

  it("faults on a not-present PDPTE, PDE and PTE", () => {
    let platform = new FakePlatform();
    let tables = new PageTables(platform, PAGING_PAE).map(0x1000, 0x2000, 0);
    let record = recordFor(tables);
    expect(walk(platform, record, 0x1000)).toBe(0xdead);        // PTE
    expect(walk(platform, record, 0x400000)).toBe(0xdead);      // PDE
    expect(walk(platform, record, 0x40000000)).toBe(0xdead);    // PDPTE
    expect(result().errorCode).toBe(0);
  });

  it("faults a fetch from an XD page with EFER.NXE, with I/D set", () => {
    let platform = new FakePlatform();
    let tables = new PageTables(platform, PAGING_PAE).map(0x1000, 0x2000, P | RW | XD);
    let record = recordFor(tables);
    expect(walk(platform, record, 0x1000, WalkAccess.Execute)).toBe(0xdead);
    expect(result().errorCode).toBe(PF_PRESENT | PF_FETCH);
    expect(walk(platform, record, 0x1000, WalkAccess.Read)).toBe(0x2000);
    record.efer &= ~EFER_NXE;
    expect(walk(platform, record, 0x1000, WalkAccess.Execute)).toBe(0x2000);
  });
});

describe("the guest page walk, 4-level paging", () => {
  it("maps 4 KiB, 2 MiB and 1 GiB pages", () => {
    let platform = new FakePlatform();
    let tables = new PageTables(platform, PAGING_4)
      .map(0xffff_8000_0000_1000, 0x234000)
      .map(0x0000_7fff_ffe0_0000, 0x600000, P | RW, 2)
      .map(0xffff_ffff_c000_0000, 0x1_4000_0000, P | RW, 3);
    let record = recordFor(tables);
    expect(walk(platform, record, 0xffff_8000_0000_1abc)).toBe(0x234abc);
    expect(walk(platform, record, 0x0000_7fff_ffe1_2345)).toBe(0x612345);
    expect(walk(platform, record, 0xffff_ffff_fee0_0020)).toBe(0x1_7ee0_0020);
  });

  it("faults on a not-present entry at each of the four levels", () => {
    let platform = new FakePlatform();
    let linear: u64 = 0x0000_1234_5678_9000;
    let tables = new PageTables(platform, PAGING_4).map(linear, 0x3000);
    let record = recordFor(tables);
    expect(walk(platform, record, linear)).toBe(0x3000);
    for (let level: u32 = 1; level <= 4; level++) {
      let entry = tables.entry(linear, level);
      tables.setEntry(linear, level, entry & ~P);
      expect(walk(platform, record, linear, WalkAccess.Write)).toBe(0xdead);
      expect(result().errorCode).toBe(PF_WRITE);
      expect(result().linear).toBe(linear);
      tables.setEntry(linear, level, entry);
    }
  });

  it("needs R/W on every level for writes: always at CPL 3, with CR0.WP at CPL 0", () => {
    let platform = new FakePlatform();
    let linear: u64 = 0x40_0000_0000;
    let tables = new PageTables(platform, PAGING_4).map(linear, 0x3000, P | RW | US);
    let record = recordFor(tables);
    let pdpte = tables.entry(linear, 3);
    tables.setEntry(linear, 3, pdpte & ~RW);
    expect(walk(platform, record, linear, WalkAccess.Write)).toBe(0xdead);
    expect(result().errorCode).toBe(PF_PRESENT | PF_WRITE);
    expect(walk(platform, record, linear, WalkAccess.Read)).toBe(0x3000);
    record.cr0 &= ~CR0_WP;
    expect(walk(platform, record, linear, WalkAccess.Write)).toBe(0x3000);
    record.cpl = 3;
    expect(walk(platform, record, linear, WalkAccess.Write)).toBe(0xdead);
    expect(result().errorCode).toBe(PF_PRESENT | PF_WRITE | PF_USER);
  });

  it("needs U/S on every level at CPL 3", () => {
    let platform = new FakePlatform();
    let linear: u64 = 0x7000;
    let tables = new PageTables(platform, PAGING_4).map(linear, 0x3000, P | RW | US);
    let record = recordFor(tables);
    record.cpl = 3;
    expect(walk(platform, record, linear)).toBe(0x3000);
    tables.setEntry(linear, 4, tables.entry(linear, 4) & ~US);
    expect(walk(platform, record, linear)).toBe(0xdead);
    expect(result().errorCode).toBe(PF_PRESENT | PF_USER);
    record.cpl = 0;
    expect(walk(platform, record, linear)).toBe(0x3000);
  });

  it("faults on XD at any level for fetches only", () => {
    let platform = new FakePlatform();
    let linear: u64 = 0x200000;
    let tables = new PageTables(platform, PAGING_4).map(linear, 0x3000);
    let record = recordFor(tables);
    tables.setEntry(linear, 4, tables.entry(linear, 4) | XD);
    expect(walk(platform, record, linear, WalkAccess.Execute)).toBe(0xdead);
    expect(result().errorCode).toBe(PF_PRESENT | PF_FETCH);
    expect(walk(platform, record, linear, WalkAccess.Write)).toBe(0x3000);
  });

  it("applies SMEP to supervisor fetches and SMAP (unless RFLAGS.AC) to supervisor data", () => {
    let platform = new FakePlatform();
    let linear: u64 = 0x200000;
    let tables = new PageTables(platform, PAGING_4).map(linear, 0x3000, P | RW | US);
    let record = recordFor(tables);
    record.cr4 |= CR4_SMEP | CR4_SMAP;
    expect(walk(platform, record, linear, WalkAccess.Execute)).toBe(0xdead);
    expect(result().errorCode).toBe(PF_PRESENT | PF_FETCH);
    expect(walk(platform, record, linear, WalkAccess.Read)).toBe(0xdead);
    expect(result().errorCode).toBe(PF_PRESENT);
    record.rflags |= RFLAGS_AC;
    expect(walk(platform, record, linear, WalkAccess.Read)).toBe(0x3000);
    record.cpl = 3;
    expect(walk(platform, record, linear, WalkAccess.Execute)).toBe(0x3000);
  });

  it("sets A on every level and D on the leaf of a write, as the CPU does", () => {
    let platform = new FakePlatform();
    let linear: u64 = 0x1234_5000;
    let tables = new PageTables(platform, PAGING_4).map(linear, 0x3000);
    let record = recordFor(tables);
    expect(walk(platform, record, linear, WalkAccess.Read)).toBe(0x3000);
    for (let level: u32 = 1; level <= 4; level++) expect(tables.entry(linear, level) & PTE_ACCESSED).toBe(PTE_ACCESSED);
    expect(tables.entry(linear, 1) & PTE_DIRTY).toBe(0);
    expect(walk(platform, record, linear, WalkAccess.Write)).toBe(0x3000);
    expect(tables.entry(linear, 1) & PTE_DIRTY).toBe(PTE_DIRTY);
    expect(tables.entry(linear, 2) & PTE_DIRTY).toBe(0);
  });

  it("sets only the bits an entry lacks: D on the leaf when only an upper level lacks A", () => {
    let modes: u32[] = [PAGING_32, PAGING_PAE, PAGING_4, PAGING_5];
    for (let m = 0; m < modes.length; m++) {
      let platform = new FakePlatform();
      let linear: u64 = 0x1234_5000;
      let tables = new PageTables(platform, modes[m]).map(linear, 0x3000, P | RW | US | PTE_ACCESSED);
      let record = recordFor(tables);
      let top: u32 = modes[m] == PAGING_32 ? 2 : modes[m] == PAGING_PAE ? 3 : modes[m] == PAGING_4 ? 4 : 5;
      for (let level: u32 = 2; level <= top; level++) {
        if (modes[m] == PAGING_PAE && level == 3) continue;    // PDPTEs have no A
        tables.setEntry(linear, level, tables.entry(linear, level) | PTE_ACCESSED);
      }
      tables.setEntry(linear, 2, tables.entry(linear, 2) & ~PTE_ACCESSED);
      let pdpte = modes[m] == PAGING_PAE ? tables.entry(linear, 3) : 0;
      expect(walk(platform, record, linear, WalkAccess.Write)).toBe(0x3000);
      expect(tables.entry(linear, 2) & (PTE_ACCESSED | PTE_DIRTY)).toBe(PTE_ACCESSED);
      expect(tables.entry(linear, 1) & (PTE_ACCESSED | PTE_DIRTY)).toBe(PTE_ACCESSED | PTE_DIRTY);
      if (modes[m] == PAGING_PAE) expect(tables.entry(linear, 3)).toBe(pdpte);
      // Now the leaf has A and D: the upper level gets its A, and no D.
      tables.setEntry(linear, 2, tables.entry(linear, 2) & ~PTE_ACCESSED);
      expect(walk(platform, record, linear, WalkAccess.Write)).toBe(0x3000);
      expect(tables.entry(linear, 2) & (PTE_ACCESSED | PTE_DIRTY)).toBe(PTE_ACCESSED);
    }
  });

  it("sets neither A nor D on a walk that faults", () => {
    let platform = new FakePlatform();
    let linear: u64 = 0x1234_5000;
    let tables = new PageTables(platform, PAGING_4).map(linear, 0x3000, P | US);
    let record = recordFor(tables);
    expect(walk(platform, record, linear, WalkAccess.Write)).toBe(0xdead);
    expect(tables.entry(linear, 1) & (PTE_ACCESSED | PTE_DIRTY)).toBe(0);
    expect(tables.entry(linear, 4) & PTE_ACCESSED).toBe(0);
  });

  it("faults on a table outside RAM, flagged outsideRam with the entry's address", () => {
    let platform = new FakePlatform();
    let record = longModeRecord(0x40_0000_0000);
    expect(walk(platform, record, 0x1000)).toBe(0xdead);
    expect(result().errorCode).toBe(0);
    expect(result().outsideRam).toBe(true);
    expect(result().gpa).toBe(0x40_0000_0000);
    let tables = new PageTables(platform, PAGING_4);
    tables.setEntry(0x1000, 3, 0xff_ffff_f000 | P | RW);
    record = recordFor(tables);
    expect(walk(platform, record, 0x1000, WalkAccess.Write)).toBe(0xdead);
    expect(result().outsideRam).toBe(true);
    expect(result().gpa).toBe(0xff_ffff_f000 + 8 * ((0x1000 >> 21) & 0x1ff));
    // A not-present entry in RAM is a plain #PF.
    tables.setEntry(0x1000, 3, 0);
    expect(walk(platform, record, 0x1000, WalkAccess.Write)).toBe(0xdead);
    expect(result().outsideRam).toBe(false);
    expect(result().errorCode).toBe(PF_WRITE);
  });

  it("ends after four reads on tables that point at themselves", () => {
    let platform = new FakePlatform();
    let tables = new PageTables(platform, PAGING_4);
    // PML4[0] -> the PML4: every level reads the same entry.
    poke(platform, tables.root, 8, tables.root | P | RW);
    let record = recordFor(tables);
    expect(walk(platform, record, 0x123)).toBe(tables.root + 0x123);
    // The leaf write of D lands in the same entry, harmlessly.
    expect(walk(platform, record, 0x0, WalkAccess.Write)).toBe(tables.root);
    expect(peek(platform, tables.root, 8) & (PTE_ACCESSED | PTE_DIRTY)).toBe(PTE_ACCESSED | PTE_DIRTY);
  });
});

describe("the guest page walk, 5-level paging", () => {
  it("indexes the PML5 with bits 56:48", () => {
    let platform = new FakePlatform();
    let linear: u64 = 0xff12_3400_0000_1000;
    let tables = new PageTables(platform, PAGING_5).map(linear, 0x55000).map(0x1000, 0x66000);
    let record = recordFor(tables);
    expect(walk(platform, record, linear + 0x10)).toBe(0x55010);
    expect(walk(platform, record, 0x1010)).toBe(0x66010);
    // The same address without LA57 walks four levels from the PML5: not mapped.
    record.cr4 &= ~(<u64>1 << 12);
    expect(walk(platform, record, linear)).toBe(0xdead);
  });

  it("maps 1 GiB pages and faults on a not-present PML5E", () => {
    let platform = new FakePlatform();
    let tables = new PageTables(platform, PAGING_5).map(0x0100_0000_4000_0000, 0x8000_0000, P | RW, 3);
    let record = recordFor(tables);
    expect(walk(platform, record, 0x0100_0000_4000_1234)).toBe(0x8000_1234);
    expect(walk(platform, record, 0x0200_0000_4000_1234, WalkAccess.Execute)).toBe(0xdead);
    expect(result().errorCode).toBe(PF_FETCH);
  });
});

describe("the WalkResult", () => {
  it("fits its reserved bytes", () => {
    expect(<u32>offsetof<WalkResult>()).toBeLessThanOrEqual(WALK_RESULT_BYTES);
  });
  it("is used as is by paging-off walks too (no stale fault)", () => {
    let platform = new FakePlatform();
    let record = realModeRecord();
    walk(platform, record, 0x10);
    expect(result().fault).toBe(false);
    expect(result().errorCode).toBe(0);
    expect(record.cr0 & CR0_PG).toBe(0);
  });
});
