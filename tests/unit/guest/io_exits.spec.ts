import { dispatchExit, mergeInput } from "../../../assembly/guest/exits";
import { ExitReason, ExitAction, StopReason, IoFlags } from "../../../assembly/vcpu/exit_record";
import { Machine } from "../../../assembly/guest/machine";
import { ExitRecord } from "../../../assembly/vcpu/exit_record";
import { FakePlatform, newGuest, newRecord, flatRecord } from "./helpers";

function io(port: u32, size: u32, flags: u32, rax: u64): ExitRecord {
  let record = newRecord(ExitReason.Io);
  record.port = <u16>port;
  record.ioSize = <u8>size;
  record.ioFlags = <u8>flags;
  record.rax = rax;
  record.instructionLength = 1;
  return record;
}

// REP OUTSB to COM1's THR at a flat RIP.
function repOutsb(platform: FakePlatform): ExitRecord {
  let record = flatRecord(ExitReason.Io, platform, [0xf3, 0x6e]);
  record.port = 0x3f8;
  record.ioSize = 1;
  record.ioFlags = <u8>(IoFlags.String | IoFlags.Rep);
  record.instructionLength = 2;
  return record;
}

function outText(machine: Machine, platform: FakePlatform, text: string): void {
  for (let i = 0; i < text.length; i++) dispatchExit(io(0x3f8, 1, 0, text.charCodeAt(i)), machine, platform);
}

describe("port I/O", () => {
  it("reads all ones into AL from an unmapped port, keeping the rest of RAX", () => {
    let platform = new FakePlatform();
    let machine = newGuest();
    let record = io(0x2f0, 1, IoFlags.In, 0x1122334455667700);
    dispatchExit(record, machine, platform);
    expect(record.rax).toBe(0x11223344556677ff);
    expect(record.advance).toBe(1);
    expect(record.action).toBe(ExitAction.Resume);
  });

  it("reads all ones into AX from an unmapped port, keeping the rest of RAX", () => {
    let platform = new FakePlatform();
    let machine = newGuest();
    let record = io(0x2f0, 2, IoFlags.In, 0x1122334455667788);
    dispatchExit(record, machine, platform);
    expect(record.rax).toBe(0x112233445566ffff);
  });

  it("zero-extends a 32-bit IN into RAX", () => {
    let platform = new FakePlatform();
    let machine = newGuest();
    let record = io(0x2f0, 4, IoFlags.In, 0x1122334455667788);
    dispatchExit(record, machine, platform);
    expect(record.rax).toBe(0xffffffff);
  });

  it("merges IN values as hardware does", () => {
    expect(mergeInput(0xaaaaaaaaaaaaaaaa, 0x12345678, 1)).toBe(0xaaaaaaaaaaaaaa78);
    expect(mergeInput(0xaaaaaaaaaaaaaaaa, 0x12345678, 2)).toBe(0xaaaaaaaaaaaa5678);
    expect(mergeInput(0xaaaaaaaaaaaaaaaa, 0x12345678, 4)).toBe(0x12345678);
  });

  it("drops an OUT to an unmapped port and moves past the instruction", () => {
    let platform = new FakePlatform();
    let machine = newGuest();
    let record = io(0x80, 1, 0, 0x55);
    record.instructionLength = 2;
    dispatchExit(record, machine, platform);
    expect(record.action).toBe(ExitAction.Resume);
    expect(record.advance).toBe(2);
  });

  it("stops the guest with the value written to port 0xf4", () => {
    let platform = new FakePlatform();
    let machine = newGuest();
    let record = io(0xf4, 4, 0, 0xffffffff00000007);
    dispatchExit(record, machine, platform);
    expect(record.action).toBe(ExitAction.Stop);
    expect(record.stopReason).toBe(StopReason.ExitCode);
    expect(record.stopCode).toBe(7);
    expect(platform.console[0]).toBe("[hv] guest web stopped: exit code 7\n");
  });

  it("takes only the access size of RAX as the exit code", () => {
    let platform = new FakePlatform();
    let machine = newGuest();
    let record = io(0xf4, 1, 0, 0x1234);
    dispatchExit(record, machine, platform);
    expect(record.stopCode).toBe(0x34);
    expect(platform.console[0]).toBe("[hv] guest web stopped: exit code 52\n");
  });

  it("reads all ones from the exit port", () => {
    let platform = new FakePlatform();
    let machine = newGuest();
    let record = io(0xf4, 1, IoFlags.In, 0);
    dispatchExit(record, machine, platform);
    expect(record.rax).toBe(0xff);
    expect(record.action).toBe(ExitAction.Resume);
  });

  it("prints what the guest writes to COM1, one line per call", () => {
    let platform = new FakePlatform();
    let machine = newGuest("web");
    outText(machine, platform, "Hello");
    expect(platform.console.length).toBe(0);
    outText(machine, platform, " world\r\nbye\n");
    expect(platform.console.length).toBe(2);
    expect(platform.console[0]).toBe("[web] Hello world\n");
    expect(platform.console[1]).toBe("[web] bye\n");
  });

  it("flushes the guest's partial line before the exit code line", () => {
    let platform = new FakePlatform();
    let machine = newGuest("web");
    outText(machine, platform, "io: a line without a newline at the end");
    dispatchExit(io(0xf4, 4, 0, 7), machine, platform);
    expect(platform.console.length).toBe(2);
    expect(platform.console[0]).toBe("[web] io: a line without a newline at the end\n");
    expect(platform.console[1]).toBe("[hv] guest web stopped: exit code 7\n");
  });

  it("keeps a value in the UART's scratch register across exits", () => {
    let platform = new FakePlatform();
    let machine = newGuest();
    dispatchExit(io(0x3ff, 1, 0, 0xa5), machine, platform);
    let record = io(0x3ff, 1, IoFlags.In, 0);
    dispatchExit(record, machine, platform);
    expect(record.rax).toBe(0xa5);
  });

  it("emulates REP OUTSB to the UART from guest memory, RSI and RCX stepped", () => {
    let platform = new FakePlatform();
    let machine = newGuest();
    let record = repOutsb(platform);
    let text = String.UTF8.encode("hi\n");
    platform.guestWrite(0x200000, changetype<usize>(text), 3);
    record.rsi = 0x200000;
    record.rcx = 3;
    dispatchExit(record, machine, platform);
    expect(record.action).toBe(ExitAction.Resume);
    expect(record.rcx).toBe(0);
    expect(record.rsi).toBe(0x200003);
    expect(record.advance).toBe(2);
    expect(platform.console[0]).toBe("[web] hi\n");
  });

  it("stops the guest whose page tables reach outside RAM at a string I/O exit, naming the entry", () => {
    let platform = new FakePlatform();
    let machine = newGuest();
    let record = repOutsb(platform);
    record.rsi = 0x200000;
    record.rcx = 3;
    // 4-level paging with CR3 beyond RAM: our own fetch walk reads no RAM.
    record.cr0 |= 0x8000_0001;
    record.cr4 |= 0x20;
    record.efer |= 0x500;
    record.cr3 = 0x4000_0000;
    dispatchExit(record, machine, platform);
    expect(record.action).toBe(ExitAction.Stop);
    expect(record.stopReason).toBe(StopReason.OutsideRam);
    expect(record.inject).toBe(0);
    expect(platform.console[0].startsWith("[hv] guest web stopped: its page tables reach outside RAM at guest-physical 0x40000000 (")).toBe(true);
  });

  it("stops the guest on string port I/O whose bytes are no INS/OUTS, printing them", () => {
    let platform = new FakePlatform();
    let machine = newGuest();
    let record = flatRecord(ExitReason.Io, platform, [0x90, 0x90]);
    record.port = 0x3f8;
    record.ioSize = 1;
    record.ioFlags = <u8>IoFlags.String;
    record.instructionLength = 1;
    dispatchExit(record, machine, platform);
    expect(record.action).toBe(ExitAction.Stop);
    expect(platform.console[0].startsWith("[hv] guest web stopped: string port I/O: an instruction the emulator does not know (bytes 90 90")).toBe(true);
  });

  it("stops the guest cleanly on an access size the CPU cannot produce", () => {
    let platform = new FakePlatform();
    let machine = newGuest();
    let record = io(0x3f8, 3, IoFlags.In, 0);
    dispatchExit(record, machine, platform);
    expect(record.action).toBe(ExitAction.Stop);
    expect(platform.console[0]).toBe("[hv] guest web stopped: bug: port I/O exit of 3 bytes at port 0x3f8 (RIP 0x100000)\n");
  });

  it("stops the guest when the stub gave no instruction length", () => {
    let platform = new FakePlatform();
    let machine = newGuest();
    let record = io(0x3f8, 1, 0, 0x41);
    record.instructionLength = 0;
    dispatchExit(record, machine, platform);
    expect(record.action).toBe(ExitAction.Stop);
    expect(record.stopReason).toBe(StopReason.Unsupported);
  });

  it("lets the guest read a byte typed on the host from COM1: LSR says ready, RBR gives it", () => {
    let platform = new FakePlatform();
    let machine = newGuest();
    expect(machine.uart.receiveFromHost(0x71)).toBe(true);
    let status = io(0x3fd, 1, IoFlags.In, 0);
    dispatchExit(status, machine, platform);
    expect(status.rax & 0x01).toBe(1);
    let data = io(0x3f8, 1, IoFlags.In, 0);
    dispatchExit(data, machine, platform);
    expect(data.rax).toBe(0x71);
    let after = io(0x3fd, 1, IoFlags.In, 0);
    dispatchExit(after, machine, platform);
    expect(after.rax & 0x01).toBe(0);
  });
});

describe("the machine's own power", () => {
  it("stops the guest with \"power off\" when it writes S5 with SLP_EN to PM1a_CNT", () => {
    let platform = new FakePlatform();
    let machine = newGuest();
    let record = io(0x604, 2, 0, (5 << 10) | (1 << 13));
    dispatchExit(record, machine, platform);
    expect(record.action).toBe(ExitAction.Stop);
    expect(record.stopReason).toBe(StopReason.PowerOff);
    expect(platform.console[platform.console.length - 1]).toBe("[hv] guest web stopped: power off\n");
  });

  it("keeps running on a sleep type it does not offer (S3)", () => {
    let platform = new FakePlatform();
    let machine = newGuest();
    let record = io(0x604, 2, 0, (3 << 10) | (1 << 13));
    dispatchExit(record, machine, platform);
    expect(record.action).toBe(ExitAction.Resume);
  });
});

describe("interrupts from the platform", () => {
  it("injects the PIT's IRQ 0 at the vector the PIC was given, once IF allows", () => {
    let platform = new FakePlatform();
    let machine = newGuest();
    // ICW1-4 for the master at vector 0x20, IRQ 0 unmasked; PIT channel 0, mode 2.
    let writes: u32[] = [0x20, 0x11, 0x21, 0x20, 0x21, 0x04, 0x21, 0x01, 0x21, 0xfe, 0x43, 0x34, 0x40, 100, 0x40, 0];
    for (let i = 0; i < writes.length; i += 2) dispatchExit(io(writes[i], 1, 0, writes[i + 1]), machine, platform);
    // Well past the first period: an interrupt is due.
    platform.tsc += 2000000;
    let record = newRecord(ExitReason.ExternalInterrupt);
    record.rflags = 0x2;                 // IF clear: only the window is asked for
    dispatchExit(record, machine, platform);
    expect(record.inject).toBe(0);
    expect(record.request).toBe(1);
    record = newRecord(ExitReason.InterruptWindow);
    dispatchExit(record, machine, platform);
    expect(record.inject).toBe(0x80000020);  // valid, external, vector 0x20
  });

  it("ends a HLT once an interrupt is pending, and reports the PIT's next deadline", () => {
    let platform = new FakePlatform();
    let machine = newGuest();
    let writes: u32[] = [0x20, 0x11, 0x21, 0x20, 0x21, 0x04, 0x21, 0x01, 0x21, 0xfe, 0x43, 0x34, 0x40, 0, 0x40, 0x10];
    for (let i = 0; i < writes.length; i += 2) dispatchExit(io(writes[i], 1, 0, writes[i + 1]), machine, platform);
    let record = newRecord(ExitReason.Hlt);
    dispatchExit(record, machine, platform);
    expect(record.action).toBe(ExitAction.Wait);
    expect(record.deadline).not.toBe(0xffffffffffffffff);
    platform.tsc = record.deadline + 1;
    record.reason = ExitReason.Wake;
    dispatchExit(record, machine, platform);
    expect(record.action).toBe(ExitAction.Resume);
    expect(record.advance).toBe(1);
    expect(record.inject).toBe(0x80000020);
  });
});

describe("resets", () => {
  it("reboots the guest on the reset control register (0xCF9 = 6)", () => {
    let platform = new FakePlatform();
    let machine = newGuest();
    let record = io(0xcf9, 1, 0, 0x06);
    dispatchExit(record, machine, platform);
    expect(record.action).toBe(ExitAction.Stop);
    expect(record.stopReason).toBe(StopReason.Reboot);
    expect(platform.console[platform.console.length - 1]).toBe("[hv] guest web rebooted\n");
  });

  it("reboots the guest on the i8042's pulse-reset command and on port 0x92 bit 0", () => {
    let platform = new FakePlatform();
    let machine = newGuest();
    let record = io(0x64, 1, 0, 0xfe);
    dispatchExit(record, machine, platform);
    expect(record.stopReason).toBe(StopReason.Reboot);
    platform = new FakePlatform();
    machine = newGuest();
    record = io(0x92, 1, 0, 0x01);
    dispatchExit(record, machine, platform);
    expect(record.stopReason).toBe(StopReason.Reboot);
  });

  it("does not reboot on a dword CONFIG_ADDRESS write at 0xCF8", () => {
    let platform = new FakePlatform();
    let machine = newGuest();
    let record = io(0xcf8, 4, 0, 0x80000000);
    dispatchExit(record, machine, platform);
    expect(record.action).toBe(ExitAction.Resume);
  });
});
