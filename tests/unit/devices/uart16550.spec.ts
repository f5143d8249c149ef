import {
  Uart16550, UART_RBR_THR, UART_IER, UART_IIR_FCR, UART_LCR, UART_MCR, UART_LSR, UART_MSR, UART_SCR,
  IIR_NONE, IIR_THR_EMPTY, IIR_RECEIVED_DATA, IIR_LINE_STATUS, IIR_MODEM_STATUS, IIR_CHARACTER_TIMEOUT,
  RECEIVE_FIFO_BYTES,
} from "../../../assembly/devices/uart16550";
import { ConsoleLine, CONSOLE_LINE_BYTES } from "../../../assembly/devices/console_line";
import { InterruptLines, IRQ_COM1 } from "../../../assembly/devices/interrupt_lines";
import { FakePlatform } from "../guest/helpers";

const UART: usize = memory.data(offsetof<Uart16550>(), 16);
const CONSOLE: usize = memory.data(CONSOLE_LINE_BYTES, 16);
const LINES: usize = memory.data(offsetof<InterruptLines>(), 16);

function newUart(): Uart16550 {
  memory.fill(CONSOLE, 0, CONSOLE_LINE_BYTES);
  let console = changetype<ConsoleLine>(CONSOLE);
  let name = String.UTF8.encode("web");
  console.init(changetype<usize>(name), name.byteLength);
  let uart = changetype<Uart16550>(UART);
  memory.fill(UART, 0xee, offsetof<Uart16550>()); // reset() must set every field
  memory.fill(LINES, 0, offsetof<InterruptLines>()); // no PIC, no I/O APIC: levels only
  uart.output = console;
  uart.lines = changetype<InterruptLines>(LINES);
  uart.irq = IRQ_COM1;
  uart.reset();
  return uart;
}

function irq4(): bool {
  return changetype<InterruptLines>(LINES).level(IRQ_COM1);
}

function send(uart: Uart16550, text: string): void {
  for (let i = 0; i < text.length; i++) uart.write(UART_RBR_THR, 1, text.charCodeAt(i));
}

// Offers `text` as typed on the host; answers how many bytes were taken.
function type(uart: Uart16550, text: string): u32 {
  let taken: u32 = 0;
  for (let i = 0; i < text.length; i++) {
    if (uart.receiveFromHost(<u8>text.charCodeAt(i))) taken++;
  }
  return taken;
}

// Reads RBR while LSR says data is ready.
function drain(uart: Uart16550): string {
  let text = "";
  while ((uart.read(UART_LSR, 1) & 0x01) != 0) text += String.fromCharCode(uart.read(UART_RBR_THR, 1));
  return text;
}

describe("the 16550 UART", () => {
  it("sends bytes written to THR to the guest's console, a line at a time", () => {
    let platform = new FakePlatform();
    let uart = newUart();
    send(uart, "Hello, world\r\n");
    changetype<ConsoleLine>(CONSOLE).drain(platform);
    expect(platform.console.length).toBe(1);
    expect(platform.console[0]).toBe("[web] Hello, world\n");
  });

  it("always reports THR and the transmitter empty in LSR", () => {
    let uart = newUart();
    expect(uart.read(UART_LSR, 1) & 0x60).toBe(0x60);
    send(uart, "x");
    expect(uart.read(UART_LSR, 1)).toBe(0x60);
  });

  it("keeps a value in the scratch register", () => {
    let uart = newUart();
    uart.write(UART_SCR, 1, 0xa5);
    expect(uart.read(UART_SCR, 1)).toBe(0xa5);
  });

  it("reaches the divisor latch with DLAB set, without transmitting", () => {
    let platform = new FakePlatform();
    let uart = newUart();
    uart.write(UART_LCR, 1, 0x83);
    uart.write(UART_RBR_THR, 1, 0x01);
    uart.write(UART_IER, 1, 0x00);
    expect(uart.read(UART_RBR_THR, 1)).toBe(0x01);
    expect(uart.read(UART_IER, 1)).toBe(0x00);
    uart.write(UART_LCR, 1, 0x03);
    expect(uart.read(UART_LCR, 1)).toBe(0x03);
    expect(uart.ier).toBe(0);
    changetype<ConsoleLine>(CONSOLE).flush(platform);
    expect(platform.console.length).toBe(0);
  });

  it("says no interrupt is pending after reset", () => {
    let uart = newUart();
    expect(uart.read(UART_IIR_FCR, 1)).toBe(IIR_NONE);
    expect(uart.interruptPending()).toBe(false);
  });

  it("raises the THR-empty interrupt when it is enabled, and a read of IIR clears it", () => {
    let uart = newUart();
    uart.write(UART_IER, 1, 0x02);
    expect(uart.read(UART_IIR_FCR, 1)).toBe(IIR_THR_EMPTY);
    expect(uart.read(UART_IIR_FCR, 1)).toBe(IIR_NONE);
  });

  it("raises the THR-empty interrupt again after each byte sent", () => {
    let uart = newUart();
    uart.write(UART_IER, 1, 0x02);
    uart.read(UART_IIR_FCR, 1);
    send(uart, "a");
    expect(uart.read(UART_IIR_FCR, 1)).toBe(IIR_THR_EMPTY);
  });

  it("drops a pending THR-empty interrupt when IER disables it", () => {
    let uart = newUart();
    uart.write(UART_IER, 1, 0x02);
    uart.write(UART_IER, 1, 0x00);
    expect(uart.read(UART_IIR_FCR, 1)).toBe(IIR_NONE);
  });

  it("keeps only IER's four defined bits", () => {
    let uart = newUart();
    uart.write(UART_IER, 1, 0xff);
    expect(uart.read(UART_IER, 1)).toBe(0x0f);
  });

  it("reports enabled FIFOs in IIR bits 6-7, as a 16550A", () => {
    let uart = newUart();
    uart.write(UART_IIR_FCR, 1, 0x07);
    expect(uart.read(UART_IIR_FCR, 1)).toBe(0xc0 | IIR_NONE);
    uart.write(UART_IIR_FCR, 1, 0x00);
    expect(uart.read(UART_IIR_FCR, 1)).toBe(IIR_NONE);
  });

  it("asserts its IRQ only with OUT2 set, as a PC wires it", () => {
    let uart = newUart();
    uart.write(UART_IER, 1, 0x02);
    expect(uart.interruptPending()).toBe(false);
    uart.write(UART_MCR, 1, 0x08);
    expect(uart.interruptPending()).toBe(true);
  });

  it("reports a connected terminal (DCD, DSR, CTS) outside loopback", () => {
    let uart = newUart();
    expect(uart.read(UART_MSR, 1)).toBe(0xb0);
  });

  it("wires the modem outputs to the inputs in loopback, as Linux's probe expects", () => {
    let uart = newUart();
    uart.write(UART_MCR, 1, 0x10 | 0x0a); // loop, OUT2, RTS
    expect(uart.read(UART_MSR, 1) & 0xf0).toBe(0x90); // DCD, CTS
    uart.write(UART_MCR, 1, 0x1f);
    expect(uart.read(UART_MSR, 1) & 0xf0).toBe(0xf0);
  });

  it("flags modem line changes in MSR bits 0-3 until MSR is read", () => {
    let uart = newUart();
    uart.write(UART_MCR, 1, 0x10 | 0x0f); // all inputs on
    uart.read(UART_MSR, 1);
    uart.write(UART_MCR, 1, 0x10);        // all off
    expect(uart.read(UART_MSR, 1)).toBe(0x0f); // DCTS, DDSR, TERI, DDCD
    expect(uart.read(UART_MSR, 1)).toBe(0x00);
  });

  it("raises the modem status interrupt on a line change when enabled", () => {
    let uart = newUart();
    uart.write(UART_IER, 1, 0x08);
    uart.write(UART_MCR, 1, 0x10 | 0x01);
    expect(uart.read(UART_IIR_FCR, 1)).toBe(IIR_MODEM_STATUS);
    uart.read(UART_MSR, 1);
    expect(uart.read(UART_IIR_FCR, 1)).toBe(IIR_NONE);
  });

  it("receives its own bytes in loopback instead of printing them", () => {
    let platform = new FakePlatform();
    let uart = newUart();
    uart.write(UART_MCR, 1, 0x10);
    send(uart, "Z\n");
    expect(uart.read(UART_LSR, 1) & 0x03).toBe(0x03); // data ready, overrun
    expect(uart.read(UART_RBR_THR, 1)).toBe(0x0a);
    expect(uart.read(UART_LSR, 1) & 0x03).toBe(0x00);
    changetype<ConsoleLine>(CONSOLE).flush(platform);
    expect(platform.console.length).toBe(0);
  });

  it("orders interrupts: line status, received data, THR empty, modem status", () => {
    let uart = newUart();
    uart.write(UART_MCR, 1, 0x10);
    uart.write(UART_IER, 1, 0x0f);
    send(uart, "a");
    send(uart, "b"); // overrun
    uart.write(UART_MCR, 1, 0x11); // DTR: a modem line change
    expect(uart.read(UART_IIR_FCR, 1)).toBe(IIR_LINE_STATUS);
    uart.read(UART_LSR, 1);
    expect(uart.read(UART_IIR_FCR, 1)).toBe(IIR_RECEIVED_DATA);
    uart.read(UART_RBR_THR, 1);
    expect(uart.read(UART_IIR_FCR, 1)).toBe(IIR_THR_EMPTY);
    expect(uart.read(UART_IIR_FCR, 1)).toBe(IIR_MODEM_STATUS);
  });

  it("clears the receiver when FCR asks", () => {
    let uart = newUart();
    uart.write(UART_MCR, 1, 0x10);
    send(uart, "q");
    uart.write(UART_IIR_FCR, 1, 0x03);
    expect(uart.read(UART_LSR, 1) & 0x01).toBe(0);
  });

  it("returns to its power-on state on reset", () => {
    let uart = newUart();
    uart.write(UART_LCR, 1, 0x03);
    uart.write(UART_IER, 1, 0x0f);
    uart.write(UART_SCR, 1, 0x55);
    uart.reset();
    expect(uart.read(UART_LCR, 1)).toBe(0);
    expect(uart.read(UART_IER, 1)).toBe(0);
    expect(uart.read(UART_SCR, 1)).toBe(0);
    expect(uart.read(UART_IIR_FCR, 1)).toBe(IIR_NONE);
  });
});

describe("the 16550 UART's receiver", () => {
  it("holds one byte in 16450 mode (FIFOs off) and refuses the next until RBR is read", () => {
    let uart = newUart();
    expect(uart.read(UART_LSR, 1) & 0x01).toBe(0);
    expect(type(uart, "ab")).toBe(1);
    expect(uart.read(UART_LSR, 1) & 0x03).toBe(0x01); // data ready, no overrun
    expect(uart.read(UART_RBR_THR, 1)).toBe(0x61);
    expect(uart.read(UART_LSR, 1) & 0x01).toBe(0);
    expect(type(uart, "b")).toBe(1);
    expect(drain(uart)).toBe("b");
  });

  it("holds 16 bytes in order with the FIFOs on, and refuses the 17th without an overrun", () => {
    let uart = newUart();
    uart.write(UART_IIR_FCR, 1, 0x01);
    expect(type(uart, "0123456789abcdefg")).toBe(RECEIVE_FIFO_BYTES);
    expect(uart.read(UART_LSR, 1) & 0x03).toBe(0x01);
    expect(drain(uart)).toBe("0123456789abcdef");
    expect(type(uart, "gh")).toBe(2); // room again, and the ring wraps
    expect(drain(uart)).toBe("gh");
  });

  it("gives the last byte again when RBR is read empty, with DR clear", () => {
    let uart = newUart();
    type(uart, "x");
    uart.read(UART_RBR_THR, 1);
    expect(uart.read(UART_RBR_THR, 1)).toBe(0x78);
    expect(uart.read(UART_LSR, 1) & 0x01).toBe(0);
  });

  it("counts a byte arriving at a full FIFO as an overrun and loses that byte", () => {
    let uart = newUart();
    uart.write(UART_IIR_FCR, 1, 0x01);
    for (let i: u32 = 0; i < RECEIVE_FIFO_BYTES; i++) uart.receive(<u8>(0x41 + i));
    uart.receive(0x7a); // the line does not wait
    expect(uart.read(UART_LSR, 1) & 0x03).toBe(0x03);
    expect(uart.read(UART_LSR, 1) & 0x02).toBe(0); // OE clears when LSR is read
    expect(drain(uart)).toBe("ABCDEFGHIJKLMNOP");
  });

  it("fills the FIFO from its own transmitter in loopback, and drops the byte past 16", () => {
    let platform = new FakePlatform();
    let uart = newUart();
    uart.write(UART_IIR_FCR, 1, 0x01);
    uart.write(UART_MCR, 1, 0x10);
    send(uart, "ABCDEFGHIJKLMNOPQ");
    expect(uart.read(UART_LSR, 1) & 0x03).toBe(0x03);
    expect(drain(uart)).toBe("ABCDEFGHIJKLMNOP");
    changetype<ConsoleLine>(CONSOLE).flush(platform);
    expect(platform.console.length).toBe(0);
  });

  it("refuses host bytes in loopback, where the serial input is cut off", () => {
    let uart = newUart();
    uart.write(UART_MCR, 1, 0x10);
    expect(uart.canReceiveFromHost()).toBe(false);
    expect(type(uart, "a")).toBe(0);
    uart.write(UART_MCR, 1, 0x00);
    expect(type(uart, "a")).toBe(1);
  });

  it("raises the received-data interrupt while data is there, when IER enables it", () => {
    let uart = newUart();
    type(uart, "k");
    expect(uart.read(UART_IIR_FCR, 1)).toBe(IIR_NONE);
    uart.write(UART_IER, 1, 0x01);
    expect(uart.read(UART_IIR_FCR, 1)).toBe(IIR_RECEIVED_DATA);
    uart.write(UART_MCR, 1, 0x08);
    expect(uart.interruptPending()).toBe(true);
    uart.read(UART_RBR_THR, 1);
    expect(uart.read(UART_IIR_FCR, 1)).toBe(IIR_NONE);
    expect(uart.interruptPending()).toBe(false);
  });

  it("with the FIFOs on, reports a character timeout below the trigger level and received data at it", () => {
    let uart = newUart();
    uart.write(UART_IIR_FCR, 1, 0x41); // FIFOs on, trigger level 4
    uart.write(UART_IER, 1, 0x01);
    type(uart, "abc");
    expect(uart.read(UART_IIR_FCR, 1)).toBe(0xc0 | IIR_CHARACTER_TIMEOUT);
    type(uart, "d");
    expect(uart.read(UART_IIR_FCR, 1)).toBe(0xc0 | IIR_RECEIVED_DATA);
    uart.read(UART_RBR_THR, 1);
    expect(uart.read(UART_IIR_FCR, 1)).toBe(0xc0 | IIR_CHARACTER_TIMEOUT);
    drain(uart);
    expect(uart.read(UART_IIR_FCR, 1)).toBe(0xc0 | IIR_NONE);
  });

  it("reports an overrun as a line status interrupt, ahead of the received data", () => {
    let uart = newUart();
    uart.write(UART_IER, 1, 0x05);
    type(uart, "a");
    uart.receive(0x62);
    expect(uart.read(UART_IIR_FCR, 1)).toBe(IIR_LINE_STATUS);
    uart.read(UART_LSR, 1);
    expect(uart.read(UART_IIR_FCR, 1)).toBe(IIR_RECEIVED_DATA);
  });

  it("empties the receive FIFO on an FCR receive reset", () => {
    let uart = newUart();
    uart.write(UART_IIR_FCR, 1, 0x01);
    type(uart, "hello");
    uart.write(UART_IIR_FCR, 1, 0x03);
    expect(uart.read(UART_LSR, 1) & 0x01).toBe(0);
    expect(uart.read(UART_IIR_FCR, 1)).toBe(0xc0 | IIR_NONE);
    expect(type(uart, "x")).toBe(1);
    expect(drain(uart)).toBe("x");
  });

  it("ignores the FCR reset bits without the FIFO enable bit, as the chip does", () => {
    let uart = newUart();
    type(uart, "q");
    uart.write(UART_IIR_FCR, 1, 0x02);
    expect(drain(uart)).toBe("q");
  });

  it("empties the receiver when the FIFOs are switched on or off", () => {
    let uart = newUart();
    type(uart, "a");
    uart.write(UART_IIR_FCR, 1, 0x01);
    expect(uart.read(UART_LSR, 1) & 0x01).toBe(0);
    type(uart, "bc");
    uart.write(UART_IIR_FCR, 1, 0x00);
    expect(uart.read(UART_LSR, 1) & 0x01).toBe(0);
  });

  it("empties the receiver on reset", () => {
    let uart = newUart();
    uart.write(UART_IIR_FCR, 1, 0x01);
    type(uart, "abc");
    uart.reset();
    expect(uart.read(UART_LSR, 1) & 0x01).toBe(0);
    expect(type(uart, "z")).toBe(1);
    expect(drain(uart)).toBe("z");
  });
});

describe("the 16550 UART's interrupt line (IRQ 4 on a PC)", () => {
  it("raises IRQ 4 when a received byte arrives with IER bit 0 and OUT2 set", () => {
    let uart = newUart();
    uart.write(UART_IER, 1, 0x01);
    uart.write(UART_MCR, 1, 0x0b); // DTR, RTS, OUT2: what Linux's 8250 driver sets
    expect(irq4()).toBe(false);
    expect(type(uart, "k")).toBe(1);
    expect(irq4()).toBe(true);
  });

  it("lowers IRQ 4 when RBR is read empty of data", () => {
    let uart = newUart();
    uart.write(UART_IIR_FCR, 1, 0x01);
    uart.write(UART_IER, 1, 0x01);
    uart.write(UART_MCR, 1, 0x08);
    type(uart, "ab");
    uart.read(UART_RBR_THR, 1);
    expect(irq4()).toBe(true); // one byte left: still pending (character timeout)
    uart.read(UART_RBR_THR, 1);
    expect(irq4()).toBe(false);
  });

  it("keeps IRQ 4 low without OUT2", () => {
    let uart = newUart();
    uart.write(UART_IER, 1, 0x0f);
    uart.write(UART_MCR, 1, 0x03);
    type(uart, "k");
    expect(uart.read(UART_IIR_FCR, 1)).toBe(IIR_RECEIVED_DATA); // pending inside the chip
    expect(irq4()).toBe(false);
    uart.write(UART_MCR, 1, 0x0b);
    expect(irq4()).toBe(true);  // OUT2 opens the gate on the pending interrupt
    uart.write(UART_MCR, 1, 0x03);
    expect(irq4()).toBe(false);
  });

  it("keeps IRQ 4 low in loopback, where the OUT pins are forced inactive", () => {
    let uart = newUart();
    uart.write(UART_IER, 1, 0x01);
    uart.write(UART_MCR, 1, 0x18); // loop, OUT2
    send(uart, "x");
    expect(uart.read(UART_IIR_FCR, 1)).toBe(IIR_RECEIVED_DATA);
    expect(irq4()).toBe(false);
    uart.write(UART_MCR, 1, 0x08); // leave loopback: the byte is still there
    expect(irq4()).toBe(true);
  });

  it("raises the THR-empty interrupt when IER bit 1 is set and lowers it when IIR is read", () => {
    let uart = newUart();
    uart.write(UART_MCR, 1, 0x08);
    uart.write(UART_IER, 1, 0x02);
    expect(irq4()).toBe(true);
    expect(uart.read(UART_IIR_FCR, 1)).toBe(IIR_THR_EMPTY);
    expect(irq4()).toBe(false);
  });

  it("raises the THR-empty interrupt only when IER bit 1 goes from 0 to 1", () => {
    let uart = newUart();
    uart.write(UART_MCR, 1, 0x08);
    uart.write(UART_IER, 1, 0x02);
    uart.read(UART_IIR_FCR, 1);
    uart.write(UART_IER, 1, 0x03); // bit 1 already set: no new interrupt
    expect(irq4()).toBe(false);
    uart.write(UART_IER, 1, 0x01);
    uart.write(UART_IER, 1, 0x03); // 0 -> 1 again: THR is empty, so it is raised
    expect(irq4()).toBe(true);
  });

  it("raises the THR-empty interrupt again after each THR write, the byte leaving at once", () => {
    let uart = newUart();
    uart.write(UART_MCR, 1, 0x08);
    uart.write(UART_IER, 1, 0x02);
    uart.read(UART_IIR_FCR, 1);
    expect(irq4()).toBe(false);
    send(uart, "a");
    expect(irq4()).toBe(true);
  });

  it("leaves a THR-empty interrupt pending when IIR reports a higher source", () => {
    let uart = newUart();
    uart.write(UART_MCR, 1, 0x08);
    uart.write(UART_IER, 1, 0x03);
    type(uart, "r");
    expect(uart.read(UART_IIR_FCR, 1)).toBe(IIR_RECEIVED_DATA);
    uart.read(UART_RBR_THR, 1);
    expect(irq4()).toBe(true);
    expect(uart.read(UART_IIR_FCR, 1)).toBe(IIR_THR_EMPTY);
    expect(irq4()).toBe(false);
  });

  it("lowers IRQ 4 when IER disables the pending source", () => {
    let uart = newUart();
    uart.write(UART_MCR, 1, 0x08);
    uart.write(UART_IER, 1, 0x01);
    type(uart, "z");
    expect(irq4()).toBe(true);
    uart.write(UART_IER, 1, 0x00);
    expect(irq4()).toBe(false);
    uart.write(UART_IER, 1, 0x01);
    expect(irq4()).toBe(true);
  });

  it("raises a line status interrupt on an overrun and lowers it when LSR is read", () => {
    let uart = newUart();
    uart.write(UART_MCR, 1, 0x08);
    uart.write(UART_IER, 1, 0x04);
    type(uart, "a");
    expect(irq4()).toBe(false);
    uart.receive(0x62); // the line does not wait: overrun
    expect(irq4()).toBe(true);
    uart.read(UART_LSR, 1);
    expect(irq4()).toBe(false);
  });

  it("raises a modem status interrupt on a loopback line change and lowers it when MSR is read", () => {
    let uart = newUart();
    uart.write(UART_IER, 1, 0x08);
    uart.write(UART_MCR, 1, 0x10); // into loopback: DCD, DSR, CTS drop
    uart.read(UART_MSR, 1);
    uart.write(UART_MCR, 1, 0x12); // RTS -> CTS
    expect(uart.read(UART_IIR_FCR, 1)).toBe(IIR_MODEM_STATUS);
    uart.write(UART_MCR, 1, 0x0a); // out of loopback, OUT2 on: the delta is still pending
    expect(irq4()).toBe(true);
    expect(uart.read(UART_MSR, 1) & 0x0f).not.toBe(0);
    expect(irq4()).toBe(false);
    expect(uart.read(UART_IIR_FCR, 1)).toBe(IIR_NONE);
  });

  it("reports RI's trailing edge only, from OUT1 in loopback", () => {
    let uart = newUart();
    uart.write(UART_MCR, 1, 0x10);
    uart.read(UART_MSR, 1);
    uart.write(UART_MCR, 1, 0x14); // OUT1 -> RI on: no delta
    expect(uart.read(UART_MSR, 1)).toBe(0x40);
    uart.write(UART_MCR, 1, 0x10); // RI off: TERI
    expect(uart.read(UART_MSR, 1)).toBe(0x04);
  });

  it("lowers IRQ 4 on reset", () => {
    let uart = newUart();
    uart.write(UART_MCR, 1, 0x08);
    uart.write(UART_IER, 1, 0x02);
    expect(irq4()).toBe(true);
    uart.reset();
    expect(irq4()).toBe(false);
  });

  it("works without lines wired, raising nothing", () => {
    let uart = newUart();
    uart.lines = changetype<InterruptLines>(0);
    uart.write(UART_MCR, 1, 0x08);
    uart.write(UART_IER, 1, 0x0f);
    type(uart, "q");
    expect(uart.interruptPending()).toBe(true);
    expect(uart.read(UART_RBR_THR, 1)).toBe(0x71);
    uart.reset();
    expect(irq4()).toBe(false);
  });

  it("never traps and keeps IRQ 4 consistent whatever is written to any register", () => {
    let uart = newUart();
    for (let size: u32 = 1; size <= 4; size <<= 1) {
      for (let offset: u32 = 0; offset < 8; offset++) {
        for (let value: u32 = 0; value < 256; value++) {
          uart.write(offset, size, value | (value << 8) | (value << 16) | (value << 24));
          uart.read((offset + value) & 7, size);
          uart.receiveFromHost(<u8>value);
          expect(irq4()).toBe(uart.interruptPending());
        }
      }
    }
    uart.write(8, 1, 0x55); // an offset past the eight registers wraps, as the chip's 3 address lines do
    uart.read(0xffffffff, 4);
  });
});
