import { GuestClock } from "../../../assembly/devices/clock";
import { CONSOLE_BURST_BYTES } from "../../../assembly/devices/console_line";
import { FakePlatform, newGuest } from "../guest/helpers";
import { ExitRecord, IoFlags } from "../../../assembly/vcpu/exit_record";
import { Machine } from "../../../assembly/guest/machine";
import { emulateStringIo, STRING_IO_RUN_LIMIT } from "../../../assembly/x86/string_io";
import { Emulation, EmulationResult } from "../../../assembly/x86/emulation";
import { FLAG_DF } from "../../../assembly/x86/flags";
import { PF_WRITE } from "../../../assembly/mm/guest_page_walk";
import { MmioBus } from "../../../assembly/devices/mmio_bus";
import {
  PageTables, PAGING_4, P, RW, longModeRecord, protectedModeRecord, realModeRecord, pokeHex, poke, peek,
  newBus, newWork, scratch, SCRATCH_GPA,
} from "./helpers";

const COM1: u32 = 0x3f8;
const COM1_SCR: u32 = 0x3ff;
const EXIT_PORT: u32 = 0xf4;
const NOTHING: u32 = 0x2f0;
const CODE: u64 = 0x100000;

// A guest machine (its port bus: COM1 and the exit port), in `mode`
// (64: 4-level paging identity-mapping the first 8 MiB with 2 MiB pages
// and the scratch devices; 32: flat, no paging; 16: real mode), `code` at
// RIP, an I/O exit for `port`.
class Io {
  platform: FakePlatform;
  machine: Machine;
  bus: MmioBus;
  work: Emulation;
  record: ExitRecord;
  tables: PageTables | null = null;

  constructor(mode: u32, code: string, port: u32, size: u32, flags: u32) {
    let platform = new FakePlatform();
    let record: ExitRecord;
    if (mode == 64) {
      let tables = new PageTables(platform, PAGING_4);
      for (let page: u64 = 0; page < 0x800000; page += 0x200000) tables.map(page, page, P | RW, 2);
      tables.map(0xc000_0000, 0xc000_0000, P | RW, 2);
      record = longModeRecord(tables.root);
      record.rip = CODE;
      this.tables = tables;
    } else if (mode == 32) {
      record = protectedModeRecord(0);
      record.rip = CODE;
    } else {
      record = realModeRecord();
      record.csBase = CODE - 0x1000;
      record.rip = 0x1000;
    }
    pokeHex(platform, CODE, code);
    record.port = <u16>port;
    record.ioSize = <u8>size;
    record.ioFlags = <u8>(flags | IoFlags.String);
    this.platform = platform;
    this.record = record;
    this.machine = newGuest();
    this.bus = newBus();
    this.work = newWork();
  }

  run(): u32 {
    return emulateStringIo(this.record, this.machine.bus, this.platform, this.bus, this.work);
  }

  console(): string {
    this.machine.console.flush(this.platform);
    return this.platform.console.length > 0 ? this.platform.console[0] : "";
  }
}

function putText(platform: FakePlatform, gpa: u64, text: string): void {
  for (let i = 0; i < text.length; i++) poke(platform, gpa + <u64>i, 1, <u64>text.charCodeAt(i));
}

describe("OUTS", () => {
  it("writes one byte from DS:ESI without REP and moves ESI", () => {
    let io = new Io(32, "6e", COM1_SCR, 1, 0);
    poke(io.platform, 0x2000, 1, 0x5a);
    io.record.rsi = 0x2000;
    expect(io.run()).toBe(EmulationResult.Done);
    expect(io.machine.uart.scr).toBe(0x5a);
    expect(io.record.rsi).toBe(0x2001);
    expect(io.record.advance).toBe(1);
  });

  it("writes a string to the UART with REP OUTSB", () => {
    let io = new Io(64, "f3 6e", COM1, 1, IoFlags.Rep);
    putText(io.platform, 0x300000, "Hello\n");
    io.record.rsi = 0x300000;
    io.record.rcx = 6;
    expect(io.run()).toBe(EmulationResult.Done);
    expect(io.console()).toBe("[web] Hello\n");
    expect(io.record.rcx).toBe(0);
    expect(io.record.rsi).toBe(0x300006);
    expect(io.record.advance).toBe(2);
  });

  it("ends a REP OUTSB to the UART when the console's outbox could not take another line, dropping none", () => {
    // Found by tests/guests/uart_ctl.c: 1,024 bytes in one exit finished
    // five 200-byte lines, and the outbox (four) dropped the fifth.
    let io = new Io(64, "f3 6e", COM1, 1, IoFlags.Rep);
    io.machine.console.clock = changetype<GuestClock>(0); // no console budget here (uart_budget.spec.ts)
    for (let i: u64 = 0; i < 1024; i++) poke(io.platform, 0x300000 + i, 1, 0x30 + i % 10);
    io.record.rsi = 0x300000;
    io.record.rcx = 1024;
    let written: u64 = 0;
    let exits = 0;
    while (io.record.rcx != 0 && exits < 10) {
      expect(emulateStringIo(io.record, io.machine.bus, io.platform, io.bus, io.work, io.machine.console)).toBe(EmulationResult.Done);
      expect(io.machine.console.lostLines).toBe(0);
      written = 1024 - io.record.rcx;
      expect(io.record.rsi).toBe(0x300000 + written);
      if (io.record.rcx != 0) expect(io.record.advance).toBe(0);
      io.machine.console.drain(io.platform);  // as the exit does at its end
      exits++;
    }
    expect(exits).toBe(2);
    expect(io.record.advance).toBe(2);
    io.machine.console.flush(io.platform);
    expect(io.platform.console.length).toBe(6);  // 5 lines of 200 and 24
    let text = "";
    for (let i = 0; i < io.platform.console.length; i++) text += io.platform.console[i].slice(6, -1);
    expect(text.length).toBe(1024);
  });

  it("ends a REP OUTSB to the UART where the guest's console budget runs out, the rest waiting on the instruction", () => {
    let io = new Io(64, "f3 6e", COM1, 1, IoFlags.Rep);
    for (let i: u64 = 0; i < 100; i++) poke(io.platform, 0x300000 + i, 1, 0x61);
    io.record.rsi = 0x300000;
    io.record.rcx = 100;
    expect(emulateStringIo(io.record, io.machine.bus, io.platform, io.bus, io.work, io.machine.console)).toBe(EmulationResult.Done);
    expect(io.record.rcx).toBe(100 - CONSOLE_BURST_BYTES);
    expect(io.record.rsi).toBe(0x300000 + CONSOLE_BURST_BYTES);
    expect(io.record.advance).toBe(0);
    expect(io.machine.console.refused).toBe(true);
    io.machine.console.refused = false;
    // Still no budget (the clock stands): nothing taken, nothing moved.
    expect(emulateStringIo(io.record, io.machine.bus, io.platform, io.bus, io.work, io.machine.console)).toBe(EmulationResult.Done);
    expect(io.record.rcx).toBe(100 - CONSOLE_BURST_BYTES);
    expect(io.record.rsi).toBe(0x300000 + CONSOLE_BURST_BYTES);
    expect(io.record.advance).toBe(0);
    expect(io.machine.console.lineLength - io.machine.console.prefixLength).toBe(CONSOLE_BURST_BYTES);
  });

  it("writes words and dwords whole", () => {
    let io = new Io(32, "66 6f", EXIT_PORT, 2, 0);
    poke(io.platform, 0x2000, 4, 0x12345678);
    io.record.rsi = 0x2000;
    io.run();
    expect(io.machine.debugExit.code).toBe(0x5678);
    expect(io.record.rsi).toBe(0x2002);
    io = new Io(32, "6f", EXIT_PORT, 4, 0);
    poke(io.platform, 0x2000, 4, 0x12345678);
    io.record.rsi = 0x2000;
    io.run();
    expect(io.machine.debugExit.code).toBe(0x12345678);
    expect(io.machine.debugExit.requested).toBe(true);
    expect(io.record.rsi).toBe(0x2004);
  });

  it("reads through a segment override: FS in 64-bit mode, CS in 32-bit code", () => {
    let io = new Io(64, "64 6e", COM1_SCR, 1, 0);
    poke(io.platform, 0x200010, 1, 0x77);
    io.record.fsBase = 0x200000;
    io.record.dsBase = 0x500000; // ignored in 64-bit mode anyway
    io.record.rsi = 0x10;
    io.run();
    expect(io.machine.uart.scr).toBe(0x77);
    io = new Io(32, "2e 6e", COM1_SCR, 1, 0);
    poke(io.platform, 0x300020, 1, 0x66);
    io.record.csBase = 0x200000;
    io.record.rip = CODE - 0x200000;             // the code stays where it is
    io.record.rsi = 0x100020;                    // CS:ESI = 0x300020
    io.run();
    expect(io.machine.uart.scr).toBe(0x66);
  });

  it("runs downwards with DF set", () => {
    let io = new Io(32, "f3 6e", COM1, 1, IoFlags.Rep);
    putText(io.platform, 0x2000, "\nolleH");
    io.record.rsi = 0x2005;
    io.record.rcx = 6;
    io.record.rflags |= FLAG_DF;
    io.run();
    expect(io.console()).toBe("[web] Hello\n");
    expect(io.record.rsi).toBe(0x1fff);
  });

  it("reads MMIO as the memory side", () => {
    let io = new Io(64, "6e", COM1_SCR, 1, 0);
    scratch().mmioWrite(0x40, 1, 0x3c);
    io.record.rsi = 0xc000_0040;
    io.run();
    expect(io.machine.uart.scr).toBe(0x3c);
  });
});

describe("INS", () => {
  it("reads bytes, words and dwords into ES:EDI", () => {
    let io = new Io(32, "6c", COM1_SCR, 1, IoFlags.In);
    io.machine.uart.scr = 0x42;
    io.record.rdi = 0x2000;
    expect(io.run()).toBe(EmulationResult.Done);
    expect(peek(io.platform, 0x2000, 1)).toBe(0x42);
    expect(io.record.rdi).toBe(0x2001);
    io = new Io(32, "66 6d", NOTHING, 2, IoFlags.In);
    io.record.rdi = 0x2000;
    io.run();
    expect(peek(io.platform, 0x2000, 4)).toBe(0xffff);
    expect(io.record.rdi).toBe(0x2002);
    io = new Io(32, "6d", NOTHING, 4, IoFlags.In);
    io.record.rdi = 0x2000;
    io.run();
    expect(peek(io.platform, 0x2000, 8)).toBe(0xffffffff);
    expect(io.record.rdi).toBe(0x2004);
    expect(io.record.advance).toBe(1);
  });

  it("always writes ES, whatever the override", () => {
    let io = new Io(32, "2e 6c", COM1_SCR, 1, IoFlags.In);
    io.machine.uart.scr = 0x11;
    io.record.esBase = 0x10000;
    io.record.csBase = 0;
    io.record.rdi = 0x30;
    io.run();
    expect(peek(io.platform, 0x10030, 1)).toBe(0x11);
    expect(io.record.advance).toBe(2);
  });

  it("cuts a REP INSD at the page boundary and resumes on the next exit", () => {
    let io = new Io(64, "f3 6d", NOTHING, 4, IoFlags.In | IoFlags.Rep);
    io.record.rdi = 0x200ff0;
    io.record.rcx = 10;
    expect(io.run()).toBe(EmulationResult.Done);
    expect(io.work.elements).toBe(4);
    expect(io.record.rcx).toBe(6);
    expect(io.record.rdi).toBe(0x201000);
    expect(io.record.advance).toBe(0);
    expect(io.run()).toBe(EmulationResult.Done);
    expect(io.record.rcx).toBe(0);
    expect(io.record.rdi).toBe(0x201018);
    expect(io.record.advance).toBe(2);
    expect(peek(io.platform, 0x201014, 4)).toBe(0xffffffff);
    expect(peek(io.platform, 0x201018, 4)).toBe(0);
  });

  it("cuts a REP run at STRING_IO_RUN_LIMIT elements", () => {
    let io = new Io(64, "f3 6c", NOTHING, 1, IoFlags.In | IoFlags.Rep);
    io.record.rdi = 0x300000;
    io.record.rcx = 5000;
    io.run();
    expect(<u64>io.work.elements).toBe(STRING_IO_RUN_LIMIT);
    expect(io.record.rcx).toBe(5000 - STRING_IO_RUN_LIMIT);
    expect(io.record.advance).toBe(0);
    let exits = 1;
    while (io.record.advance == 0 && exits < 100) {
      io.run();
      exits++;
    }
    expect(exits).toBe(5);
    expect(io.record.rdi).toBe(0x300000 + 5000);
    expect(peek(io.platform, 0x300000 + 4999, 1)).toBe(0xff);
    expect(peek(io.platform, 0x300000 + 5000, 1)).toBe(0);
  });

  it("runs downwards with DF set", () => {
    let io = new Io(32, "f3 66 6d", NOTHING, 2, IoFlags.In | IoFlags.Rep);
    io.record.rdi = 0x2004;
    io.record.rcx = 3;
    io.record.rflags |= FLAG_DF;
    io.run();
    expect(peek(io.platform, 0x2000, 8)).toBe(0x0000ffffffffffff);
    expect(io.record.rdi).toBe(0x1ffe);
    expect(io.record.rcx).toBe(0);
  });

  it("writes MMIO as the memory side", () => {
    let io = new Io(64, "6d", NOTHING, 4, IoFlags.In);
    io.record.rdi = 0xc000_0100;
    io.run();
    expect(scratch().mmioRead(0x100, 4)).toBe(0xffffffff);
  });

  it("raises #PF for an unmapped destination before reading the port", () => {
    let io = new Io(64, "6c", COM1, 1, IoFlags.In);
    io.machine.uart.receiveFromHost(0x61);
    io.record.rdi = 0x40_0000_0000;
    expect(io.run()).toBe(EmulationResult.PageFault);
    expect(io.work.faultAddress).toBe(0x40_0000_0000);
    expect(io.work.errorCode).toBe(PF_WRITE);
    expect(io.record.advance).toBe(0);
    expect(io.record.rdi).toBe(0x40_0000_0000);
    expect(io.machine.bus.read(COM1, 1)).toBe(0x61); // still there
  });
});

describe("string I/O address sizes and segments", () => {
  it("uses DI in real mode, wrapping at 64 KiB, and keeps the upper bits", () => {
    let io = new Io(16, "f3 6c", NOTHING, 1, IoFlags.In | IoFlags.Rep);
    io.record.esBase = 0x20000;
    io.record.rdi = 0xabcd_fffe;
    io.record.rcx = 0x1111_0004;
    io.run();
    expect(io.work.elements).toBe(2);
    expect(peek(io.platform, 0x2fffe, 2)).toBe(0xffff);
    expect(io.record.rdi).toBe(0xabcd_0000);
    expect(io.record.rcx).toBe(0x1111_0002);
    expect(io.record.advance).toBe(0);
    io.run();
    expect(peek(io.platform, 0x20000, 2)).toBe(0xffff);
    expect(io.record.rcx).toBe(0x1111_0000);
    expect(io.record.advance).toBe(2);
  });

  it("uses EDI with 67 in real mode", () => {
    let io = new Io(16, "67 6c", NOTHING, 1, IoFlags.In);
    io.record.esBase = 0;
    io.record.esLimit = 0xffffffff;
    io.record.rdi = 0x0012_3456;
    io.run();
    expect(peek(io.platform, 0x123456, 1)).toBe(0xff);
    expect(io.record.rdi).toBe(0x123457);
    expect(io.record.advance).toBe(2);
  });

  it("raises #GP past the segment limit in real mode", () => {
    let io = new Io(16, "67 6c", NOTHING, 1, IoFlags.In);
    io.record.rdi = 0x1_0000;
    expect(io.run()).toBe(EmulationResult.GeneralProtection);
    expect(io.record.rdi).toBe(0x1_0000);
  });

  it("uses EDI with 67 in 64-bit mode, zero-extending RDI", () => {
    let io = new Io(64, "67 f3 6c", NOTHING, 1, IoFlags.In | IoFlags.Rep);
    io.record.rdi = 0xffff_ffff_0020_0000;
    io.record.rcx = 0xffff_ffff_0000_0001;
    io.run();
    expect(peek(io.platform, 0x200000, 1)).toBe(0xff);
    expect(io.record.rdi).toBe(0x200001);
    expect(io.record.rcx).toBe(0);
    expect(io.record.advance).toBe(3);
  });

  it("raises #GP past an expand-up limit in 32-bit code, and #GP for non-canonical RSI", () => {
    let io = new Io(32, "6f", EXIT_PORT, 4, 0);
    io.record.dsLimit = 0xfff;
    io.record.rsi = 0xffd;
    expect(io.run()).toBe(EmulationResult.GeneralProtection);
    expect(io.machine.debugExit.requested).toBe(false);
    io = new Io(64, "6e", EXIT_PORT, 1, 0);
    io.record.rsi = 0x8000_0000_0000;
    expect(io.run()).toBe(EmulationResult.GeneralProtection);
  });

  it("checks an expand-down segment from above its limit", () => {
    let io = new Io(32, "6c", NOTHING, 1, IoFlags.In);
    io.record.esAttributes = 0xc97; // data, expand-down, B
    io.record.esLimit = 0x1fff;
    io.record.rdi = 0x1000;
    expect(io.run()).toBe(EmulationResult.GeneralProtection);
    io.record.rdi = 0x2000;
    expect(io.run()).toBe(EmulationResult.Done);
  });
});

describe("string I/O's other answers", () => {
  it("does nothing for REP with RCX 0 but move on", () => {
    let io = new Io(32, "f3 6f", EXIT_PORT, 4, IoFlags.Rep);
    io.record.rcx = 0;
    expect(io.run()).toBe(EmulationResult.Done);
    expect(io.machine.debugExit.requested).toBe(false);
    expect(io.record.advance).toBe(2);
  });

  it("says Unknown when the bytes disagree with the exit or are no INS/OUTS", () => {
    let io = new Io(32, "6e", COM1, 1, IoFlags.In);
    expect(io.run()).toBe(EmulationResult.Unknown);
    io = new Io(32, "ee", COM1, 1, 0);             // OUT DX, AL
    expect(io.run()).toBe(EmulationResult.Unknown);
    io = new Io(32, "6e", COM1, 3, 0);
    expect(io.run()).toBe(EmulationResult.Unknown);
    expect(io.record.advance).toBe(0);
  });

  it("raises the fetch's #PF for an instruction on an unmapped page", () => {
    let io = new Io(64, "6c", COM1, 1, IoFlags.In);
    io.record.rip = 0x40_0000_0000;
    expect(io.run()).toBe(EmulationResult.PageFault);
    expect(io.work.faultAddress).toBe(0x40_0000_0000);
  });
});
