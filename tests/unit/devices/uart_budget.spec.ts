// The UART's share of the host console (devices/console_line.ts): a budget
// of bytes refilled by the guest's clock; while it is spent LSR says THR is
// busy, a byte written anyway is refused (and retried by the exit), and the
// THR-empty interrupt waits for the budget as a timer would.
import {
  Uart16550, UART_RBR_THR, UART_IER, UART_IIR_FCR, UART_MCR, UART_LSR,
  IIR_NONE, IIR_THR_EMPTY, IER_THR_EMPTY, LSR_THR_EMPTY, LSR_TRANSMITTER_EMPTY, MCR_OUT2, MCR_LOOP,
} from "../../../assembly/devices/uart16550";
import {
  ConsoleLine, CONSOLE_LINE_BYTES, CONSOLE_BYTES_PER_SECOND, CONSOLE_BURST_BYTES,
} from "../../../assembly/devices/console_line";
import { GuestClock, NO_DEADLINE } from "../../../assembly/devices/clock";
import { InterruptLines, IRQ_COM1 } from "../../../assembly/devices/interrupt_lines";
import { dispatchExit } from "../../../assembly/guest/exits";
import { ExitReason, ExitAction } from "../../../assembly/vcpu/exit_record";
import { FakePlatform, newGuest, newRecord } from "../guest/helpers";
import { Machine } from "../../../assembly/guest/machine";

const UART: usize = memory.data(offsetof<Uart16550>(), 16);
const CONSOLE: usize = memory.data(CONSOLE_LINE_BYTES, 16);
const LINES: usize = memory.data(offsetof<InterruptLines>(), 16);
const CLOCK: usize = memory.data(offsetof<GuestClock>(), 16);
const HZ: u64 = 1000000000; // 1 GHz: a byte is 173611 ticks at 5760 bytes/s
const PER_BYTE: u64 = HZ / <u64>CONSOLE_BYTES_PER_SECOND;

function clock(): GuestClock {
  return changetype<GuestClock>(CLOCK);
}

function newUart(): Uart16550 {
  clock().init(HZ, 0);
  clock().now = 1000;
  memory.fill(CONSOLE, 0, CONSOLE_LINE_BYTES);
  let console = changetype<ConsoleLine>(CONSOLE);
  let name = String.UTF8.encode("web");
  console.init(changetype<usize>(name), name.byteLength);
  console.clock = clock();
  let uart = changetype<Uart16550>(UART);
  memory.fill(UART, 0xee, offsetof<Uart16550>());
  memory.fill(LINES, 0, offsetof<InterruptLines>());
  uart.output = console;
  uart.lines = changetype<InterruptLines>(LINES);
  uart.irq = IRQ_COM1;
  uart.reset();
  return uart;
}

function console(): ConsoleLine {
  return changetype<ConsoleLine>(CONSOLE);
}

function thrEmpty(uart: Uart16550): bool {
  return (uart.read(UART_LSR, 1) & (LSR_THR_EMPTY | LSR_TRANSMITTER_EMPTY)) == (LSR_THR_EMPTY | LSR_TRANSMITTER_EMPTY);
}

// A polling driver: waits for THRE, then writes; answers false if the
// write was refused all the same.
function putc(uart: Uart16550, c: u32): bool {
  uart.write(UART_RBR_THR, 1, c);
  if (!console().refused) return true;
  console().refused = false;
  return false;
}

function irq4(): bool {
  return changetype<InterruptLines>(LINES).level(IRQ_COM1);
}

describe("the UART's console budget", () => {
  it("takes a burst at once, then says THR is busy and refuses a byte until the clock earns one", () => {
    let uart = newUart();
    for (let i: u32 = 0; i < CONSOLE_BURST_BYTES; i++) {
      expect(thrEmpty(uart)).toBe(true);
      expect(putc(uart, 0x61)).toBe(true);
    }
    expect(thrEmpty(uart)).toBe(false);
    expect(putc(uart, 0x62)).toBe(false);
    expect(console().waits).toBe(1);
    expect(console().lineLength - console().prefixLength).toBe(CONSOLE_BURST_BYTES); // 'b' not taken
    clock().now += PER_BYTE - 1;
    expect(thrEmpty(uart)).toBe(false);
    clock().now += 1;
    expect(thrEmpty(uart)).toBe(true);
    expect(putc(uart, 0x62)).toBe(true);
    expect(thrEmpty(uart)).toBe(false);
  });

  it("refills at the rate the stub sets (setRate), never below 100 bytes/s", () => {
    let uart = newUart();
    console().setRate(57600);
    for (let i: u32 = 0; i < CONSOLE_BURST_BYTES; i++) expect(putc(uart, 0x61)).toBe(true);
    expect(thrEmpty(uart)).toBe(false);
    clock().now += HZ / 57600;
    expect(thrEmpty(uart)).toBe(true);
    expect(putc(uart, 0x62)).toBe(true);
    expect(thrEmpty(uart)).toBe(false);
    console().setRate(0);
    expect(console().bytesPerSecond).toBe(100);
  });

  it("paces by the clock's rate as it is at load (clockChanged), not as it was worked out before", () => {
    let uart = newUart();
    for (let i: u32 = 0; i < CONSOLE_BURST_BYTES; i++) expect(putc(uart, 0x61)).toBe(true);
    expect(console().sendDeadline()).toBe(console().budgetAt + PER_BYTE);
    clock().init(2 * HZ, 0);      // what loadGuest's initFrom may bring
    console().clockChanged();
    expect(console().sendDeadline()).toBe(console().budgetAt + 2 * PER_BYTE);
  });

  it("lets a guest that polls LSR print CONSOLE_BYTES_PER_SECOND (plus the burst) in a second, losing nothing", () => {
    let uart = newUart();
    let platform = new FakePlatform();
    let start = clock().now;
    let sent: u32 = 0, polls: u32 = 0;
    // A poll every 20 us of guest time for one second.
    while (clock().now - start < HZ) {
      polls++;
      if (thrEmpty(uart)) {
        expect(putc(uart, sent % 50 == 49 ? 0x0a : 0x30 + sent % 10)).toBe(true);
        sent++;
        console().drain(platform);
      }
      clock().now += 20000;
    }
    expect(sent).toBeGreaterThanOrEqual(<u32>CONSOLE_BYTES_PER_SECOND + CONSOLE_BURST_BYTES - 2);
    expect(sent).toBeLessThanOrEqual(<u32>CONSOLE_BYTES_PER_SECOND + CONSOLE_BURST_BYTES);
    // Every line whole: 49 digits and the newline each.
    expect(platform.console.length).toBe(<i32>(sent / 50));
    for (let i = 0; i < platform.console.length; i++) expect(platform.console[i].length).toBe(6 + 49 + 1);
    expect(console().lostLines).toBe(0);
  });

  it("saves at most the burst while the guest does not print", () => {
    let uart = newUart();
    for (let i: u32 = 0; i < CONSOLE_BURST_BYTES; i++) putc(uart, 0x61);
    clock().now += 10 * HZ; // ten seconds away (other guests ran)
    let taken: u32 = 0;
    while (putc(uart, 0x61)) taken++;
    expect(taken).toBe(CONSOLE_BURST_BYTES);
  });

  it("raises the THR-empty interrupt only when the budget allows a byte, at the deadline it gives", () => {
    let uart = newUart();
    uart.write(UART_MCR, 1, MCR_OUT2);
    uart.write(UART_IER, 1, IER_THR_EMPTY);
    expect(irq4()).toBe(true);
    expect(uart.deadline()).toBe(NO_DEADLINE);
    for (let i: u32 = 0; i < CONSOLE_BURST_BYTES; i++) putc(uart, 0x61);
    // The last byte spent the budget: no interrupt, a deadline instead.
    expect(irq4()).toBe(false);
    expect(uart.read(UART_IIR_FCR, 1) & 0x0f).toBe(IIR_NONE);
    let due = uart.deadline();
    expect(due).toBe(console().budgetAt + PER_BYTE);
    expect(clock().rearmed).toBe(true);
    clock().now = due - 1;
    uart.advance();
    expect(irq4()).toBe(false);
    clock().now = due;
    uart.advance();
    expect(irq4()).toBe(true);
    expect(uart.read(UART_IIR_FCR, 1) & 0x0f).toBe(IIR_THR_EMPTY);
    expect(uart.deadline()).toBe(NO_DEADLINE);
  });

  it("enabling the THR-empty interrupt with the budget spent waits for it too", () => {
    let uart = newUart();
    uart.write(UART_MCR, 1, MCR_OUT2);
    for (let i: u32 = 0; i < CONSOLE_BURST_BYTES; i++) putc(uart, 0x61);
    uart.write(UART_IER, 1, IER_THR_EMPTY);
    expect(irq4()).toBe(false);
    expect(uart.deadline()).not.toBe(NO_DEADLINE);
    uart.write(UART_IER, 1, 0); // disabling it forgets the wait
    expect(uart.deadline()).toBe(NO_DEADLINE);
  });

  it("with the FIFOs on, says THR is empty only while the budget holds a whole FIFO (16 bytes)", () => {
    let uart = newUart();
    uart.write(UART_IIR_FCR, 1, 0x01);
    uart.write(UART_MCR, 1, MCR_OUT2);
    uart.write(UART_IER, 1, IER_THR_EMPTY);
    for (let i: u32 = 0; i < CONSOLE_BURST_BYTES - 16; i++) putc(uart, 0x61);
    expect(thrEmpty(uart)).toBe(true);
    expect(putc(uart, 0x61)).toBe(true);    // 15 left: busy, though a byte still goes
    expect(thrEmpty(uart)).toBe(false);
    expect(irq4()).toBe(false);
    for (let i = 0; i < 15; i++) expect(putc(uart, 0x61)).toBe(true);
    expect(putc(uart, 0x61)).toBe(false);
    console().refused = false;
    let due = uart.deadline();
    expect(due).toBe(console().budgetAt + 16 * PER_BYTE);
    clock().now = due;
    uart.advance();
    expect(irq4()).toBe(true);
    expect(thrEmpty(uart)).toBe(true);
  });

  it("does not limit loopback, which never reaches the host console", () => {
    let uart = newUart();
    uart.write(UART_MCR, 1, MCR_LOOP);
    for (let i: u32 = 0; i < 4 * CONSOLE_BURST_BYTES; i++) {
      expect(thrEmpty(uart)).toBe(true);
      expect(putc(uart, 0x61)).toBe(true);
      uart.read(UART_RBR_THR, 1);
    }
  });

  it("starts counting again when the guest's clock restarts (a reboot)", () => {
    let uart = newUart();
    clock().now = 50 * HZ;
    for (let i: u32 = 0; i < CONSOLE_BURST_BYTES; i++) putc(uart, 0x61);
    clock().now = 100; // earlier than budgetAt
    expect(thrEmpty(uart)).toBe(false);
    clock().now += PER_BYTE;
    expect(thrEmpty(uart)).toBe(true);
  });

  it("is unlimited without a clock (a console line on its own)", () => {
    let uart = newUart();
    console().clock = changetype<GuestClock>(0);
    for (let i: u32 = 0; i < 4 * CONSOLE_BURST_BYTES; i++) expect(putc(uart, 0x61)).toBe(true);
  });
});

// An OUT of `c` to COM1's THR: Yield when it must run again, else Resume.
function out(machine: Machine, platform: FakePlatform, c: u32): ExitAction {
  let record = newRecord(ExitReason.Io);
  record.port = 0x3f8;
  record.ioSize = 1;
  record.ioFlags = 0;
  record.rax = c;
  record.instructionLength = 1;
  dispatchExit(record, machine, platform);
  if (record.advance == 0) return record.action;
  return ExitAction.Resume;
}

describe("a refused byte at the exit", () => {
  it("runs the OUT again (advance 0) and gives the CPU away, taking nothing", () => {
    let platform = new FakePlatform(); // its TSC stands still: no budget is earned
    let machine = newGuest();
    for (let i: u32 = 0; i < CONSOLE_BURST_BYTES; i++) expect(out(machine, platform, 0x61)).toBe(ExitAction.Resume);
    expect(out(machine, platform, 0x62)).toBe(ExitAction.Yield);
    expect(machine.console.refused).toBe(false); // the exit took the note
    expect(machine.console.lineLength - machine.console.prefixLength).toBe(CONSOLE_BURST_BYTES);
    platform.tsc += platform.hz / <u64>CONSOLE_BYTES_PER_SECOND;
    expect(out(machine, platform, 0x62)).toBe(ExitAction.Resume);
  });
});
