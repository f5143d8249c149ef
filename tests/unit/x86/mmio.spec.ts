import { FakePlatform } from "../guest/helpers";
import { ExitRecord } from "../../../assembly/vcpu/exit_record";
import { emulateMmio, effectiveAddress, MMIO_RUN_LIMIT } from "../../../assembly/x86/mmio";
import { Emulation, EmulationResult, EMULATION_BYTES, appendInstructionBytes } from "../../../assembly/x86/emulation";
import { FLAG_CF, FLAG_ZF, FLAG_SF, FLAG_OF, FLAG_PF, FLAG_AF, FLAG_DF, STATUS_FLAGS } from "../../../assembly/x86/flags";
import { PF_WRITE, PF_FETCH } from "../../../assembly/mm/guest_page_walk";
import { MmioBus } from "../../../assembly/devices/mmio_bus";
import { TextWriter } from "../../../assembly/lib/text";
import {
  PageTables, PAGING_4, PAGING_32, P, RW, longModeRecord, protectedModeRecord, realModeRecord, pokeHex, poke, peek,
  newBus, newWork, scratch, scratch2, SCRATCH_GPA, SCRATCH2_GPA,
} from "./helpers";

const CODE: u64 = 0x100000;

// A 64-bit guest: the first 8 MiB and [3 GiB, 3 GiB + 2 MiB) (the scratch
// devices) identity-mapped with 2 MiB pages, `code` at RIP 0x100000, the
// fault at the first scratch device.
class Guest {
  platform: FakePlatform;
  bus: MmioBus = newBus();
  work: Emulation = newWork();
  tables: PageTables;
  record: ExitRecord;

  constructor(code: string) {
    let platform = new FakePlatform();
    let tables = new PageTables(platform, PAGING_4);
    for (let page: u64 = 0; page < 0x800000; page += 0x200000) tables.map(page, page, P | RW, 2);
    tables.map(0xc000_0000, 0xc000_0000, P | RW, 2);
    pokeHex(platform, CODE, code);
    let record = longModeRecord(tables.root);
    record.rip = CODE;
    record.gpa = SCRATCH_GPA;
    this.platform = platform;
    this.tables = tables;
    this.record = record;
  }

  run(): u32 {
    return emulateMmio(this.record, this.bus, this.platform, this.work);
  }
}

function device(offset: u32, size: u32): u64 {
  return offset < 0x1000 ? scratch().mmioRead(offset, size) : scratch2().mmioRead(offset - 0x1000, size);
}

function setDevice(offset: u32, size: u32, value: u64): void {
  scratch().mmioWrite(offset, size, value);
}

describe("MMIO emulation: MOV", () => {
  it("stores a 32-bit register at the faulting GPA and advances RIP", () => {
    let guest = new Guest("89 08");                    // mov [rax], ecx
    guest.record.rcx = 0x1122334455667788;
    expect(guest.run()).toBe(EmulationResult.Done);
    expect(scratch().lastSize).toBe(4);
    expect(device(0, 8)).toBe(0x55667788);
    expect(guest.record.advance).toBe(2);
  });

  it("stores every width, AH and SIL included", () => {
    let guest = new Guest("88 20");                    // mov [rax], ah
    guest.record.rax = 0xabcd;
    guest.run();
    expect(device(0, 1)).toBe(0xab);
    guest = new Guest("40 88 30");                     // mov [rax], sil
    guest.record.rsi = 0x77;
    guest.run();
    expect(device(0, 1)).toBe(0x77);
    guest = new Guest("66 89 10");                     // mov [rax], dx
    guest.record.rdx = 0x12345678;
    guest.run();
    expect(device(0, 8)).toBe(0x5678);
    guest = new Guest("4c 89 08");                     // mov [rax], r9
    guest.record.r9 = 0x8877665544332211;
    guest.run();
    expect(device(0, 8)).toBe(0x8877665544332211);
    expect(guest.record.advance).toBe(3);
  });

  it("loads 32 bits zero-extended, 8 and 16 bits merged", () => {
    let guest = new Guest("8b 08");                    // mov ecx, [rax]
    setDevice(0, 8, 0xdeadbeef12345678);
    guest.record.rcx = 0xffffffffffffffff;
    guest.run();
    expect(guest.record.rcx).toBe(0x12345678);
    guest = new Guest("8a 28");                        // mov ch, [rax]
    setDevice(0, 1, 0xab);
    guest.record.rcx = 0x1111111111111111;
    guest.run();
    expect(guest.record.rcx).toBe(0x111111111111ab11);
    guest = new Guest("66 8b 08");                     // mov cx, [rax]
    setDevice(0, 2, 0xbeef);
    guest.record.rcx = 0x1111111111111111;
    guest.run();
    expect(guest.record.rcx).toBe(0x111111111111beef);
    guest = new Guest("44 8a 38");                     // mov r15b, [rax]
    setDevice(0, 1, 0xef);
    guest.record.r15 = 0x1111111111111111;
    guest.run();
    expect(guest.record.r15).toBe(0x11111111111111ef);
  });

  it("stores immediates, REX.W C7 sign-extending its imm32", () => {
    let guest = new Guest("c7 00 78 56 34 12");
    guest.run();
    expect(device(0, 8)).toBe(0x12345678);
    expect(guest.record.advance).toBe(6);
    guest = new Guest("48 c7 00 80 ff ff ff");
    guest.run();
    expect(device(0, 8)).toBe(0xffffffffffffff80);
    guest = new Guest("c6 40 10 7f");                  // mov byte [rax+0x10], 0x7f: the device side is record.gpa
    guest.run();
    expect(device(0, 2)).toBe(0x7f);
  });

  it("moves AL/EAX/RAX through moffs", () => {
    let guest = new Guest("a1 00 00 00 c0 00 00 00 00"); // movabs eax, [0xc0000000]
    setDevice(0, 4, 0xfee1dead);
    guest.record.rax = 0xffffffffffffffff;
    guest.run();
    expect(guest.record.rax).toBe(0xfee1dead);
    expect(guest.record.advance).toBe(9);
    guest = new Guest("48 a3 00 00 00 c0 00 00 00 00"); // movabs [..], rax
    guest.record.rax = 0x0102030405060708;
    guest.run();
    expect(device(0, 8)).toBe(0x0102030405060708);
  });
});

describe("MMIO emulation: MOVZX, MOVSX, MOVSXD", () => {
  it("zero-extends and sign-extends into the destination's width", () => {
    let guest = new Guest("0f b6 00");                 // movzx eax, byte [rax]
    setDevice(0, 2, 0x8080);
    guest.record.rax = 0xffffffffffffffff;
    guest.run();
    expect(guest.record.rax).toBe(0x80);
    guest = new Guest("0f be 00");                     // movsx eax, byte [rax]
    setDevice(0, 2, 0x8080);
    guest.record.rax = 0xffffffffffffffff;
    guest.run();
    expect(guest.record.rax).toBe(0xffffff80);
    guest = new Guest("48 0f bf 00");                  // movsx rax, word [rax]
    setDevice(0, 2, 0x8080);
    guest.run();
    expect(guest.record.rax).toBe(0xffffffffffff8080);
    guest = new Guest("66 0f be 00");                  // movsx ax, byte [rax]
    setDevice(0, 2, 0x8080);
    guest.record.rax = 0x1111111111111111;
    guest.run();
    expect(guest.record.rax).toBe(0x111111111111ff80);
    guest = new Guest("48 63 00");                     // movsxd rax, dword [rax]
    setDevice(0, 4, 0x80000000);
    guest.run();
    expect(scratch().lastSize).toBe(4);
    expect(guest.record.rax).toBe(0xffffffff80000000);
  });
});

describe("MMIO emulation: ALU", () => {
  it("adds a register into the device with flags", () => {
    let guest = new Guest("01 08");                    // add [rax], ecx
    setDevice(0, 4, 0xffffffff);
    guest.record.rcx = 1;
    guest.record.rflags = 0x202 | FLAG_SF | FLAG_OF;
    expect(guest.run()).toBe(EmulationResult.Done);
    expect(device(0, 4)).toBe(0);
    expect(guest.record.rflags).toBe(0x202 | FLAG_CF | FLAG_ZF | FLAG_PF | FLAG_AF);
  });

  it("subtracts the device from a register, leaving the device alone", () => {
    let guest = new Guest("48 2b 08");                 // sub rcx, [rax]
    setDevice(0, 8, 5);
    guest.record.rcx = 3;
    guest.run();
    expect(guest.record.rcx).toBe(0xfffffffffffffffe);
    expect(guest.record.rflags & STATUS_FLAGS).toBe(FLAG_CF | FLAG_SF | FLAG_AF);
    expect(scratch().writes).toBe(1); // setDevice's own
  });

  it("compares without writing", () => {
    let guest = new Guest("83 38 05");                 // cmp dword [rax], 5
    setDevice(0, 4, 5);
    guest.run();
    expect(guest.record.rflags & STATUS_FLAGS).toBe(FLAG_ZF | FLAG_PF);
    expect(scratch().writes).toBe(1);
    expect(guest.record.advance).toBe(3);
  });

  it("sign-extends the imm8 of 83 to the operand size", () => {
    let guest = new Guest("48 83 00 ff");              // add qword [rax], -1
    setDevice(0, 8, 1);
    guest.run();
    expect(device(0, 8)).toBe(0);
    expect(guest.record.rflags & FLAG_CF).toBe(FLAG_CF);
  });

  it("carries CF into ADC and SBB", () => {
    let guest = new Guest("80 10 01");                 // adc byte [rax], 1
    setDevice(0, 1, 0x10);
    guest.record.rflags = 0x202 | FLAG_CF;
    guest.run();
    expect(device(0, 1)).toBe(0x12);
    guest = new Guest("66 81 18 34 12");               // sbb word [rax], 0x1234
    setDevice(0, 2, 0x1234);
    guest.record.rflags = 0x202 | FLAG_CF;
    guest.run();
    expect(device(0, 2)).toBe(0xffff);
    expect(guest.record.rflags & FLAG_CF).toBe(FLAG_CF);
  });

  it("does AND, OR, XOR clearing CF and OF", () => {
    let guest = new Guest("20 08");                    // and [rax], cl
    setDevice(0, 1, 0xf0);
    guest.record.rcx = 0x3c;
    guest.record.rflags = 0x202 | FLAG_CF | FLAG_OF;
    guest.run();
    expect(device(0, 1)).toBe(0x30);
    expect(guest.record.rflags).toBe(0x202 | FLAG_PF);
    guest = new Guest("0b 08");                        // or ecx, [rax]
    setDevice(0, 4, 0x80000000);
    guest.record.rcx = 0xffffffff00000001;
    guest.run();
    expect(guest.record.rcx).toBe(0x80000001);
    expect(guest.record.rflags & STATUS_FLAGS).toBe(FLAG_SF);
    guest = new Guest("f0 81 30 ff 00 00 00");         // lock xor dword [rax], 0xff
    setDevice(0, 4, 0xff);
    guest.run();
    expect(device(0, 4)).toBe(0);
    expect(guest.record.rflags & STATUS_FLAGS).toBe(FLAG_ZF | FLAG_PF);
  });

  it("tests without writing", () => {
    let guest = new Guest("f6 00 80");                 // test byte [rax], 0x80
    setDevice(0, 1, 0x81);
    guest.run();
    expect(guest.record.rflags & STATUS_FLAGS).toBe(FLAG_SF);
    expect(scratch().writes).toBe(1);
    guest = new Guest("85 08");                        // test [rax], ecx
    setDevice(0, 4, 0x0f);
    guest.record.rcx = 0xf0;
    guest.run();
    expect(guest.record.rflags & STATUS_FLAGS).toBe(FLAG_ZF | FLAG_PF);
  });
});

describe("MMIO emulation: XCHG and BT*", () => {
  it("exchanges a register with the device", () => {
    let guest = new Guest("87 08");                    // xchg [rax], ecx
    setDevice(0, 4, 0x11111111);
    guest.record.rcx = 0xffffffff22222222;
    guest.run();
    expect(device(0, 4)).toBe(0x22222222);
    expect(guest.record.rcx).toBe(0x11111111);
    guest = new Guest("86 20");                        // xchg [rax], ah
    setDevice(0, 1, 0x5a);
    guest.record.rax = 0xa5ff;
    guest.run();
    expect(device(0, 1)).toBe(0xa5);
    expect(guest.record.rax).toBe(0x5aff);
  });

  it("tests, sets, resets and complements a bit, CF its old value", () => {
    let guest = new Guest("0f a3 08");                 // bt [rax], ecx
    setDevice(0, 4, 0x8);
    guest.record.rcx = 35;                             // the CPU accessed the dword holding bit 35: gpa; bit 3 of it
    guest.run();
    expect(guest.record.rflags & FLAG_CF).toBe(FLAG_CF);
    expect(guest.record.advance).toBe(3);
    guest = new Guest("0f ba 28 04");                  // bts dword [rax], 4
    setDevice(0, 4, 0);
    guest.record.rflags = 0x202 | FLAG_CF | FLAG_ZF;
    guest.run();
    expect(device(0, 4)).toBe(0x10);
    expect(guest.record.rflags).toBe(0x202 | FLAG_ZF);
    guest = new Guest("48 0f b3 08");                  // btr [rax], rcx
    setDevice(0, 8, 0xffffffffffffffff);
    guest.record.rcx = 63;
    guest.run();
    expect(device(0, 8)).toBe(0x7fffffffffffffff);
    expect(guest.record.rflags & FLAG_CF).toBe(FLAG_CF);
    guest = new Guest("66 0f ba 38 0f");               // btc word [rax], 15
    setDevice(0, 2, 0);
    guest.run();
    expect(device(0, 2)).toBe(0x8000);
    expect(guest.record.rflags & FLAG_CF).toBe(0);
  });
});

describe("MMIO emulation: STOS and MOVS", () => {
  it("stores one element without REP and moves RDI", () => {
    let guest = new Guest("ab");                       // stosd
    guest.record.rax = 0x11223344;
    guest.record.rdi = 0xc000_0010;
    guest.run();
    expect(device(0x10, 4)).toBe(0x11223344);
    expect(guest.record.rdi).toBe(0xc000_0014);
    expect(guest.record.advance).toBe(1);
  });

  it("runs REP STOS to the end of the page, RIP kept, then resumes on the next", () => {
    let guest = new Guest("f3 48 ab");                 // rep stosq
    guest.record.rax = 0x0102030405060708;
    guest.record.rdi = 0xc000_0000;
    guest.record.rcx = 1000;
    expect(guest.run()).toBe(EmulationResult.Done);
    expect(guest.work.elements).toBe(512);
    expect(guest.record.rcx).toBe(488);
    expect(guest.record.rdi).toBe(0xc000_1000);
    expect(guest.record.advance).toBe(0);
    expect(device(0xff8, 8)).toBe(0x0102030405060708);
    // The CPU re-executes it and faults on the next page: the next exit.
    guest.record.gpa = SCRATCH2_GPA;
    expect(guest.run()).toBe(EmulationResult.Done);
    expect(guest.record.rcx).toBe(0);
    expect(guest.record.rdi).toBe(0xc000_1000 + 488 * 8);
    expect(guest.record.advance).toBe(3);
    expect(device(0x1000 + 487 * 8, 8)).toBe(0x0102030405060708);
    expect(device(0x1000 + 488 * 8, 8)).toBe(0);
  });

  it("runs REP STOS downwards with DF set", () => {
    let guest = new Guest("f3 aa");                    // rep stosb
    guest.record.rax = 0x5a;
    guest.record.rdi = 0xc000_0010;
    guest.record.rcx = 0x20;
    guest.record.rflags |= FLAG_DF;
    guest.run();
    expect(guest.work.elements).toBe(0x11);
    expect(guest.record.rcx).toBe(0x0f);
    expect(guest.record.rdi).toBe(0xbfff_ffff);
    expect(device(0, 1)).toBe(0x5a);
    expect(device(0x10, 1)).toBe(0x5a);
    expect(device(0x11, 1)).toBe(0);
    expect(guest.record.advance).toBe(0);
    // The next element is on an unmapped page: #PF, nothing changes.
    expect(guest.run()).toBe(EmulationResult.PageFault);
    expect(guest.work.faultAddress).toBe(0xbfff_ffff);
    expect(guest.work.errorCode).toBe(PF_WRITE);
    expect(guest.record.rcx).toBe(0x0f);
    expect(guest.record.advance).toBe(0);
  });

  it("does nothing for REP with RCX 0 but move on", () => {
    let guest = new Guest("f3 ab");
    guest.record.rdi = 0xc000_0000;
    guest.record.rcx = 0;
    guest.record.rax = 0x12345678;
    expect(guest.run()).toBe(EmulationResult.Done);
    expect(device(0, 4)).toBe(0);
    expect(guest.record.advance).toBe(2);
  });

  it("cuts a REP STOS at the iteration limit", () => {
    let guest = new Guest("f3 aa");
    guest.record.rdi = 0xc000_0000;
    guest.record.rcx = 0x100000;
    guest.run();
    expect(<u64>guest.work.elements).toBe(MMIO_RUN_LIMIT);
    expect(guest.record.rcx).toBe(0x100000 - 4096);
  });

  it("moves RAM to MMIO, cut where the MMIO page ends", () => {
    let guest = new Guest("f3 a5");                    // rep movsd
    for (let i: u32 = 0; i < 4; i++) poke(guest.platform, 0x200000 + i * 4, 4, 0xa0 + i);
    guest.record.rsi = 0x200000;
    guest.record.rdi = 0xc000_0ff8;
    guest.record.rcx = 4;
    guest.run();
    expect(guest.record.rcx).toBe(2);
    expect(guest.record.rsi).toBe(0x200008);
    expect(guest.record.rdi).toBe(0xc000_1000);
    expect(guest.record.advance).toBe(0);
    guest.record.gpa = SCRATCH2_GPA;
    guest.run();
    expect(guest.record.rcx).toBe(0);
    expect(guest.record.advance).toBe(2);
    expect(device(0xff8, 4)).toBe(0xa0);
    expect(device(0xffc, 4)).toBe(0xa1);
    expect(device(0x1000, 4)).toBe(0xa2);
    expect(device(0x1004, 4)).toBe(0xa3);
  });

  it("moves MMIO to RAM, cut where the RAM page ends, and marks the RAM page dirty", () => {
    let guest = new Guest("f3 a4");                    // rep movsb
    let tables = guest.tables;
    tables.map(0x7000_0000, 0x300000);                 // a 4 KiB page
    for (let i: u32 = 0; i < 8; i++) setDevice(i, 1, 0x30 + i);
    guest.record.rsi = 0xc000_0000;
    guest.record.rdi = 0x7000_0ffc;
    guest.record.rcx = 8;
    guest.run();
    expect(guest.record.rcx).toBe(4);
    expect(peek(guest.platform, 0x300ffc, 4)).toBe(0x33323130);
    expect(tables.entry(0x7000_0000, 1) & 0x40).toBe(0x40);
  });

  it("moves MMIO to MMIO (MOVS with both sides on devices)", () => {
    let guest = new Guest("48 a5");                    // movsq
    setDevice(0x40, 8, 0xcafef00ddeadbeef);
    guest.record.rsi = 0xc000_0040;
    guest.record.rdi = 0xc000_1080;
    guest.run();
    expect(device(0x1080, 8)).toBe(0xcafef00ddeadbeef);
    expect(guest.record.rsi).toBe(0xc000_0048);
    expect(guest.record.rdi).toBe(0xc000_1088);
  });

  it("reads MOVS's source through an FS override, FS.base included", () => {
    let guest = new Guest("64 a4");                    // movsb from fs:[rsi]
    setDevice(0x21, 1, 0x99);
    guest.record.fsBase = 0xc000_0020;
    guest.record.rsi = 1;
    guest.record.rdi = 0x200000;
    guest.run();
    expect(peek(guest.platform, 0x200000, 1)).toBe(0x99);
  });

  it("uses ESI/EDI with 67, zero-extending them", () => {
    let guest = new Guest("67 f3 aa");                 // rep stos byte [edi]
    guest.record.rdi = 0xffff_ffff_c000_0000;
    guest.record.rcx = 0xffff_ffff_0000_0002;
    guest.record.rax = 0x42;
    guest.run();
    expect(device(1, 1)).toBe(0x42);
    expect(guest.record.rdi).toBe(0xc000_0002);
    expect(guest.record.rcx).toBe(0);
    expect(guest.record.advance).toBe(3);
  });

  it("writes an element that straddles two pages to both", () => {
    let guest = new Guest("ab");                       // stosd at the end of the first device
    guest.record.rax = 0xa1b2c3d4;
    guest.record.rdi = 0xc000_0ffe;
    guest.run();
    expect(device(0xffe, 2)).toBe(0xc3d4);
    expect(device(0x1000, 2)).toBe(0xa1b2);
    expect(guest.record.rdi).toBe(0xc000_1002);
  });

  it("raises #GP for a non-canonical RDI", () => {
    let guest = new Guest("aa");
    guest.record.rdi = 0x0000_8000_0000_0000;
    expect(guest.run()).toBe(EmulationResult.GeneralProtection);
    expect(guest.record.advance).toBe(0);
    expect(guest.record.rdi).toBe(0x0000_8000_0000_0000);
  });

  it("raises #PF for an unmapped source before writing anything", () => {
    let guest = new Guest("a4");
    guest.record.rsi = 0x1_0000_0000;
    guest.record.rdi = 0xc000_0000;
    setDevice(0, 1, 0x77);
    expect(guest.run()).toBe(EmulationResult.PageFault);
    expect(guest.work.faultAddress).toBe(0x1_0000_0000);
    expect(guest.work.errorCode).toBe(0);
    expect(device(0, 1)).toBe(0x77);
  });
});

describe("MMIO emulation in 32- and 16-bit code", () => {
  it("emulates in 32-bit code with 2-level paging", () => {
    let platform = new FakePlatform();
    let bus = newBus();
    let work = newWork();
    let tables = new PageTables(platform, PAGING_32).map(0x8000_0000, 0x100000);
    pokeHex(platform, 0x100000, "66 89 08");           // mov [eax], cx
    let record = protectedModeRecord(PAGING_32, tables.root);
    record.rip = 0x8000_0000;
    record.gpa = SCRATCH_GPA + 2;
    record.rcx = 0xbeef;
    expect(emulateMmio(record, bus, platform, work)).toBe(EmulationResult.Done);
    expect(device(2, 2)).toBe(0xbeef);
    expect(record.advance).toBe(3);
  });

  it("checks the segment limit of STOS in 32-bit code", () => {
    let platform = new FakePlatform();
    let bus = newBus();
    let work = newWork();
    pokeHex(platform, 0x100000, "ab");
    let record = protectedModeRecord(0);
    record.rip = 0x100000;
    record.esBase = 0xc000_0000;
    record.esLimit = 0xfff;
    record.rdi = 0xffe;
    expect(emulateMmio(record, bus, platform, work)).toBe(EmulationResult.GeneralProtection);
    record.rdi = 0xffc;
    expect(emulateMmio(record, bus, platform, work)).toBe(EmulationResult.Done);
  });

  it("raises #SS for MOVS from SS past its limit", () => {
    let platform = new FakePlatform();
    let bus = newBus();
    let work = newWork();
    pokeHex(platform, 0x100000, "36 a5");
    let record = protectedModeRecord(0);
    record.rip = 0x100000;
    record.ssLimit = 0x1000;
    record.rsi = 0x2000;
    record.rdi = 0xc000_0000;
    expect(emulateMmio(record, bus, platform, work)).toBe(EmulationResult.StackFault);
  });

  it("emulates in real mode, DI wrapping at 64 KiB", () => {
    let platform = new FakePlatform();
    let bus = newBus();
    let work = newWork();
    pokeHex(platform, 0x1000, "f3 aa");                // rep stosb
    let record = realModeRecord();
    record.esBase = 0xbfff_0002;                       // ES:FFFE is the device's first byte
    record.rdi = 0x1234_fffe;
    record.rcx = 0x5678_0004;
    record.rax = 0x66;
    expect(emulateMmio(record, bus, platform, work)).toBe(EmulationResult.Done);
    expect(work.elements).toBe(2);
    expect(device(0, 2)).toBe(0x6666);
    expect(record.rdi).toBe(0x1234_0000);
    expect(record.rcx).toBe(0x5678_0002);
    expect(record.advance).toBe(0);
  });

  it("stores AX at a 16-bit moffs", () => {
    let platform = new FakePlatform();
    let bus = newBus();
    let work = newWork();
    pokeHex(platform, 0x1000, "a3 34 12");
    let record = realModeRecord();
    record.gpa = SCRATCH_GPA;
    record.rax = 0xabcd;
    expect(emulateMmio(record, bus, platform, work)).toBe(EmulationResult.Done);
    expect(device(0, 4)).toBe(0xabcd);
    expect(record.advance).toBe(3);
  });
});

describe("MMIO emulation's other answers", () => {
  it("says Unknown for an instruction it does not know, and prints its bytes", () => {
    let guest = new Guest("8c 00 90");
    expect(guest.run()).toBe(EmulationResult.Unknown);
    expect(guest.record.advance).toBe(0);
    let line = new TextWriter(memory.data(128), 128);
    appendInstructionBytes(line, guest.work);
    expect(line.toString().startsWith("8C 00 90 00")).toBe(true);
    expect(guest.work.fetched).toBe(15);
  });

  it("raises the fetch's #PF when the instruction runs into an unmapped page", () => {
    let guest = new Guest("");
    guest.tables.map(0x7fff_f000, 0x1ff000);
    pokeHex(guest.platform, 0x1fffff, "89");
    guest.record.rip = 0x7fff_ffff;
    expect(guest.run()).toBe(EmulationResult.PageFault);
    expect(guest.work.faultAddress).toBe(0x8000_0000);
    expect(guest.work.errorCode).toBe(PF_FETCH);
  });

  it("decodes an instruction that ends right before an unmapped page", () => {
    let guest = new Guest("");
    guest.tables.map(0x7fff_f000, 0x1ff000);
    pokeHex(guest.platform, 0x1ffffe, "89 08");
    guest.record.rip = 0x7fff_fffe;
    guest.record.rcx = 7;
    expect(guest.run()).toBe(EmulationResult.Done);
    expect(device(0, 4)).toBe(7);
  });

  it("says Unknown for an instruction cut by the end of RAM", () => {
    let platform = new FakePlatform();
    let work = newWork();
    platform.ramBytes = 0x200000;
    pokeHex(platform, 0x1fffff, "89");
    let record = protectedModeRecord(0);
    record.rip = 0x1fffff;
    record.gpa = SCRATCH_GPA;
    expect(emulateMmio(record, newBus(), platform, work)).toBe(EmulationResult.Unknown);
    let line = new TextWriter(memory.data(128), 128);
    appendInstructionBytes(line, work);
    expect(line.toString()).toBe("89");
  });

  it("computes RIP-relative effective addresses from the next instruction", () => {
    let guest = new Guest("8b 05 10 00 00 00");
    guest.run();
    expect(effectiveAddress(guest.record, guest.work.instruction())).toBe(CODE + 6 + 0x10);
    guest = new Guest("3b 44 88 f0");                  // cmp eax, [rax+rcx*4-0x10]
    guest.record.rax = 0x1000;
    guest.record.rcx = 2;
    guest.run();
    expect(effectiveAddress(guest.record, guest.work.instruction())).toBe(0x1000 + 8 - 0x10);
  });

  it("keeps its workspace inside EMULATION_BYTES", () => {
    expect(EMULATION_BYTES).toBeLessThanOrEqual(512);
    expect(<u32>offsetof<Emulation>()).toBeLessThanOrEqual(32);
  });
});
