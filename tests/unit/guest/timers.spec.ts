// The exit path advances the timed devices only once the earliest of their
// events is due (guest/timers.ts): what a guest sees must not change.

import { dispatchExit } from "../../../assembly/guest/exits";
import { ExitReason, IoFlags, NO_DEADLINE, INJECT_VALID } from "../../../assembly/vcpu/exit_record";
import { Machine } from "../../../assembly/guest/machine";
import { ExitRecord } from "../../../assembly/vcpu/exit_record";
import { FakePlatform, newGuest, newRecord } from "./helpers";

function io(port: u32, flags: u32, rax: u64): ExitRecord {
  let record = newRecord(ExitReason.Io);
  record.port = <u16>port;
  record.ioSize = 1;
  record.ioFlags = <u8>flags;
  record.rax = rax;
  record.instructionLength = 1;
  return record;
}

function out(machine: Machine, platform: FakePlatform, port: u32, value: u32): ExitRecord {
  let record = io(port, 0, value);
  dispatchExit(record, machine, platform);
  return record;
}

function wrmsr(machine: Machine, platform: FakePlatform, msr: u32, value: u64): ExitRecord {
  let record = newRecord(ExitReason.MsrWrite);
  record.msr = msr;
  record.rax = value & 0xffffffff;
  record.rdx = value >> 32;
  record.instructionLength = 2;
  dispatchExit(record, machine, platform);
  return record;
}

function windowExit(machine: Machine, platform: FakePlatform): ExitRecord {
  let record = newRecord(ExitReason.InterruptWindow);
  dispatchExit(record, machine, platform);
  return record;
}

describe("timers at exits", () => {
  it("fires the PIT a port write armed at its deadline, not before", () => {
    let platform = new FakePlatform();
    let machine = newGuest();
    expect(windowExit(machine, platform).deadline).toBe(NO_DEADLINE);
    out(machine, platform, 0x43, 0x34);        // channel 0, LSB then MSB, mode 2
    out(machine, platform, 0x40, 0xe8);
    let deadline = out(machine, platform, 0x40, 0x03).deadline; // 1000 clocks
    expect(deadline).toBeGreaterThan(platform.tsc);
    expect(deadline).toBeLessThan(NO_DEADLINE);
    platform.tsc = deadline - 1;
    expect(windowExit(machine, platform).deadline).toBe(deadline);
    expect(machine.pit.pulses).toBe(0);
    platform.tsc = deadline;
    let next = windowExit(machine, platform).deadline;
    expect(machine.pit.pulses).toBe(1);
    expect(machine.pic.master().irr & 1).toBe(1);
    expect(next).toBeGreaterThan(deadline);
  });

  it("fires a TSC-deadline timer an MSR write armed", () => {
    let platform = new FakePlatform();
    let machine = newGuest();
    windowExit(machine, platform);
    wrmsr(machine, platform, 0x1b, 0xfee00000 | 1 << 8 | 1 << 10 | 1 << 11); // x2APIC on
    wrmsr(machine, platform, 0x832, 2 << 17 | 0x40);                       // LVT timer: TSC-deadline, 0x40
    let due = platform.tsc + 5000;
    expect(wrmsr(machine, platform, 0x6e0, due).deadline).toBe(due);        // guest TSC = host TSC here
    platform.tsc = due - 1;
    expect(windowExit(machine, platform).inject).toBe(0);
    platform.tsc = due;
    let record = windowExit(machine, platform);
    expect(record.inject).toBe(INJECT_VALID | 0x40);
    expect(record.deadline).toBe(NO_DEADLINE);
  });

  it("keeps AF of an alarm matched at an exit, with AIE off", () => {
    let platform = new FakePlatform();
    let machine = newGuest();
    let hz = machine.clock.tscHz;
    let second = platform.tsc / hz + 1;        // the next second of guest time (offset and epoch 0)
    let bcd = <u32>(second % 60 / 10) << 4 | <u32>(second % 10);
    out(machine, platform, 0x70, 0x01);        // seconds alarm: that second
    out(machine, platform, 0x71, bcd);
    out(machine, platform, 0x70, 0x03);        // minutes and hours: don't care
    out(machine, platform, 0x71, 0xff);
    out(machine, platform, 0x70, 0x05);
    out(machine, platform, 0x71, 0xff);
    out(machine, platform, 0x70, 0x0c);
    dispatchExit(io(0x71, IoFlags.In, 0), machine, platform); // flags cleared
    platform.tsc = second * hz + 10;
    windowExit(machine, platform);             // the exit in the matching second
    platform.tsc = (second + 2) * hz + 10;
    out(machine, platform, 0x70, 0x0c);
    let read = io(0x71, IoFlags.In, 0);
    dispatchExit(read, machine, platform);
    expect(<u32>read.rax & 0x30).toBe(0x30);   // AF and UF
  });
});
