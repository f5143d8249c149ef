import { FakePlatform } from "../guest/helpers";
import { codeSize, instructionAddress, fetchInstruction, isCanonical } from "../../../assembly/x86/fetch";
import { WalkResult, WALK_RESULT_BYTES, PF_FETCH, EFER_LMA } from "../../../assembly/mm/guest_page_walk";
import {
  PageTables, PAGING_4, P, RW, XD, longModeRecord, protectedModeRecord, realModeRecord, pokeHex, CODE32, CODE16,
} from "./helpers";

const BYTES: usize = memory.data(32, 16);
const WALK: usize = memory.data(WALK_RESULT_BYTES, 8);

function walk(): WalkResult {
  return changetype<WalkResult>(WALK);
}

function byteAt(i: u32): u32 {
  return load<u8>(BYTES + <usize>i);
}

describe("the code size", () => {
  it("is 16 bits in real and virtual-8086 mode, whatever CS says", () => {
    let record = realModeRecord();
    record.csAttributes = CODE32;
    expect(codeSize(record)).toBe(2);
    record = protectedModeRecord(0);
    record.rflags |= 1 << 17;
    expect(codeSize(record)).toBe(2);
  });

  it("follows CS.D in protected and compatibility mode, CS.L in long mode", () => {
    let record = protectedModeRecord(0);
    expect(codeSize(record)).toBe(4);
    record.csAttributes = CODE16;
    expect(codeSize(record)).toBe(2);
    record = longModeRecord(0);
    expect(codeSize(record)).toBe(8);
    record.csAttributes = CODE32;
    expect(codeSize(record)).toBe(4);
    record.csAttributes = CODE16 | (1 << 9);
    record.efer &= ~EFER_LMA;
    expect(codeSize(record)).toBe(2);
  });
});

describe("the instruction's address", () => {
  it("is CS.base plus IP in 16-bit code, RIP masked to 16 bits", () => {
    let record = realModeRecord();
    record.csBase = 0xf0000;
    record.rip = 0x1_0000_fff0;
    expect(instructionAddress(record)).toBe(0xffff0);
  });

  it("wraps at 4 GiB in 32-bit code", () => {
    let record = protectedModeRecord(0);
    record.csBase = 0xffff_f000;
    record.rip = 0x2000;
    expect(instructionAddress(record)).toBe(0x1000);
  });

  it("is RIP in 64-bit mode, CS.base ignored", () => {
    let record = longModeRecord(0);
    record.csBase = 0x1000;
    record.rip = 0xffff_8000_0000_0000;
    expect(instructionAddress(record)).toBe(0xffff_8000_0000_0000);
  });

  it("knows canonical addresses for 48 and 57 bits", () => {
    expect(isCanonical(0x0000_7fff_ffff_ffff, false)).toBe(true);
    expect(isCanonical(0x0000_8000_0000_0000, false)).toBe(false);
    expect(isCanonical(0xffff_8000_0000_0000, false)).toBe(true);
    expect(isCanonical(0x0000_8000_0000_0000, true)).toBe(true);
    expect(isCanonical(0x0100_0000_0000_0000, true)).toBe(false);
    expect(isCanonical(0xff00_0000_0000_0000, true)).toBe(true);
  });
});

describe("the instruction fetch", () => {
  it("fetches 15 bytes at CS:RIP without paging", () => {
    let platform = new FakePlatform();
    pokeHex(platform, 0x7000, "00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f 10");
    let record = realModeRecord();
    record.csBase = 0x6000;
    record.rip = 0x1000;
    expect(fetchInstruction(platform, record, BYTES, walk())).toBe(15);
    expect(byteAt(0)).toBe(0);
    expect(byteAt(14)).toBe(14);
    expect(walk().fault).toBe(false);
  });

  it("fetches an instruction across a page boundary from both pages", () => {
    let platform = new FakePlatform();
    let tables = new PageTables(platform, PAGING_4).map(0x40_0000_0000, 0x10000).map(0x40_0000_1000, 0x30000);
    pokeHex(platform, 0x10ffd, "48 c7 80");
    pokeHex(platform, 0x30000, "10 00 00 00 78 56 34 12");
    let record = longModeRecord(tables.root);
    record.rip = 0x40_0000_0ffd;
    expect(fetchInstruction(platform, record, BYTES, walk())).toBe(15);
    expect(byteAt(2)).toBe(0x80);
    expect(byteAt(3)).toBe(0x10);
    expect(byteAt(10)).toBe(0x12);
  });

  it("stops at a page that faults and leaves the fault for the caller", () => {
    let platform = new FakePlatform();
    let tables = new PageTables(platform, PAGING_4).map(0x40_0000_0000, 0x10000).map(0x40_0000_1000, 0x30000, P | RW | XD);
    let record = longModeRecord(tables.root);
    record.rip = 0x40_0000_0ffd;
    expect(fetchInstruction(platform, record, BYTES, walk())).toBe(3);
    expect(walk().fault).toBe(true);
    expect(walk().linear).toBe(0x40_0000_1000);
    expect(walk().errorCode & PF_FETCH).toBe(PF_FETCH);
  });

  it("fetches nothing from a page that is not mapped", () => {
    let platform = new FakePlatform();
    let tables = new PageTables(platform, PAGING_4);
    let record = longModeRecord(tables.root);
    record.rip = 0x1234;
    expect(fetchInstruction(platform, record, BYTES, walk())).toBe(0);
    expect(walk().fault).toBe(true);
    expect(walk().linear).toBe(0x1234);
  });

  it("takes the bytes before the end of RAM, without a fault", () => {
    let platform = new FakePlatform();
    platform.ramBytes = 0x200000;
    let record = protectedModeRecord(0);
    record.rip = 0x1ffffa;
    expect(fetchInstruction(platform, record, BYTES, walk())).toBe(6);
    expect(walk().fault).toBe(false);
  });

  it("stops at the end of the canonical lower half", () => {
    let platform = new FakePlatform();
    let tables = new PageTables(platform, PAGING_4).map(0x7fff_ffff_f000, 0x10000);
    let record = longModeRecord(tables.root);
    record.rip = 0x7fff_ffff_fffa;
    expect(fetchInstruction(platform, record, BYTES, walk())).toBe(6);
    expect(walk().fault).toBe(false);
  });
});
