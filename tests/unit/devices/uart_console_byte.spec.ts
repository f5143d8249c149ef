// Uart16550.writeConsoleByte, the port bus's inline path for a console
// byte with the UART's interrupts off, does what Uart16550.write does, or
// declines and does nothing: two UARTs, each with its own console line,
// IRQ lines and clock, are brought to the same state by the same register
// writes; then one takes a byte through the bus's way (writeConsoleByte,
// else write), the other through write, and every field must agree.
import {
  Uart16550, UART_RBR_THR, UART_IER, UART_LCR, UART_MCR, UART_IIR_FCR,
  IER_THR_EMPTY, IER_RECEIVED_DATA, LCR_DLAB, MCR_OUT2, MCR_LOOP,
} from "../../../assembly/devices/uart16550";
import { ConsoleLine, CONSOLE_LINE_BYTES, LINE_BYTES, OUTBOX_BYTES } from "../../../assembly/devices/console_line";
import { GuestClock } from "../../../assembly/devices/clock";
import { InterruptLines, IRQ_COM1 } from "../../../assembly/devices/interrupt_lines";

const HZ: u64 = 1000000000;
const UARTS: usize = memory.data(<i32>offsetof<Uart16550>() * 2, 16);
const CONSOLES: usize = memory.data(CONSOLE_LINE_BYTES * 2, 16);
const LINES: usize = memory.data(<i32>offsetof<InterruptLines>() * 2, 16);
const CLOCKS: usize = memory.data(<i32>offsetof<GuestClock>() * 2, 16);

function uart(i: usize): Uart16550 { return changetype<Uart16550>(UARTS + i * offsetof<Uart16550>()); }
function line(i: usize): ConsoleLine { return changetype<ConsoleLine>(CONSOLES + i * <usize>CONSOLE_LINE_BYTES); }
function irqLines(i: usize): InterruptLines { return changetype<InterruptLines>(LINES + i * offsetof<InterruptLines>()); }
function clock(i: usize): GuestClock { return changetype<GuestClock>(CLOCKS + i * offsetof<GuestClock>()); }

function setUp(i: usize, budgetSpent: bool): void {
  memory.fill(changetype<usize>(clock(i)), 0, offsetof<GuestClock>());
  clock(i).init(HZ, 0);
  clock(i).now = 5000000;
  memory.fill(changetype<usize>(line(i)), 0, CONSOLE_LINE_BYTES);
  let name = String.UTF8.encode("eq");
  line(i).init(changetype<usize>(name), name.byteLength);
  line(i).clock = clock(i);
  if (budgetSpent) {
    line(i).budget = 0;
    line(i).budgetAt = clock(i).now;
  }
  memory.fill(changetype<usize>(irqLines(i)), 0, offsetof<InterruptLines>());
  let u = uart(i);
  memory.fill(changetype<usize>(u), 0, offsetof<Uart16550>());
  u.output = line(i);
  u.lines = irqLines(i);
  u.irq = IRQ_COM1;
  u.reset();
}

// The state both UARTs are brought to: registers written in order.
const SETUPS: u32[][] = [
  [],                                                        // after reset: IER 0
  [UART_MCR, MCR_OUT2],                                      // a PC's console: OUT2 on, IER 0
  [UART_IIR_FCR, 0x01],                                      // FIFOs on, IER 0
  [UART_IER, IER_THR_EMPTY],                                 // THR-empty interrupt on
  [UART_MCR, MCR_OUT2, UART_IER, IER_THR_EMPTY],             // ... and reaching the IRQ line
  [UART_MCR, MCR_OUT2, UART_IER, IER_RECEIVED_DATA],         // only the receiver's interrupt
  [UART_LCR, LCR_DLAB],                                      // THR is the divisor latch now
  [UART_MCR, MCR_LOOP],                                      // loopback
];
const BYTES: u32[] = [0x41, 0x0a, 0x0d, 0x09, 0x1b, 0xff];

function sameState(): bool {
  let a = uart(0), b = uart(1);
  // Every field after the three wiring ones (output, lines, irq).
  let from = offsetof<Uart16550>("divisorLow");
  if (memory.compare(changetype<usize>(a) + from, changetype<usize>(b) + from, offsetof<Uart16550>() - from) != 0) return false;
  let x = line(0), y = line(1);
  if (x.lineLength != y.lineLength || x.outboxLength != y.outboxLength || x.lostLines != y.lostLines) return false;
  if (x.budget != y.budget || x.budgetAt != y.budgetAt || x.perByte != y.perByte) return false;
  if (x.refused != y.refused || x.waits != y.waits) return false;
  if (memory.compare(x.line, y.line, LINE_BYTES) != 0 || memory.compare(x.outbox, y.outbox, OUTBOX_BYTES) != 0) return false;
  if (irqLines(0).levels != irqLines(1).levels) return false;
  return clock(0).rearmed == clock(1).rearmed;
}

describe("the port bus's console byte (Uart16550.writeConsoleByte)", () => {
  it("does what write() does, in every state it is tried in, or declines and does nothing", () => {
    let taken = 0, declined = 0;
    for (let s = 0; s < SETUPS.length; s++) {
      for (let spent = 0; spent < 2; spent++) {
        for (let k = 0; k < BYTES.length; k++) {
          for (let i: usize = 0; i < 2; i++) {
            setUp(i, spent != 0);
            let setup = SETUPS[s];
            for (let w = 0; w < setup.length; w += 2) uart(i).write(setup[w], 1, setup[w + 1]);
          }
          let byte = BYTES[k];
          if (uart(0).writeConsoleByte(UART_RBR_THR, byte)) taken++;
          else {
            declined++;
            expect(sameState()).toBe(true, "a declined byte changed nothing");
            uart(0).write(UART_RBR_THR, 1, byte);
          }
          uart(1).write(UART_RBR_THR, 1, byte);
          expect(sameState()).toBe(true, "setup " + s.toString() + ", budget spent " + spent.toString() + ", byte " + byte.toString());
        }
      }
    }
    // Both ways were tried: the first three setups take the byte, the rest decline it.
    expect(taken).toBe(3 * 2 * BYTES.length);
    expect(declined).toBe((SETUPS.length - 3) * 2 * BYTES.length);
  });

  it("declines a register other than THR", () => {
    setUp(0, false);
    expect(uart(0).writeConsoleByte(UART_IER, 0x41)).toBe(false);
    expect(uart(0).writeConsoleByte(UART_RBR_THR, 0x41)).toBe(true);
  });
});
