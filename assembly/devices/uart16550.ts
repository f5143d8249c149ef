// A 16550A UART (COM1 at 0x3F8-0x3FF on a PC, IRQ 4): registers, modem
// lines, interrupts. Register layout and behaviour from the National
// Semiconductor PC16550D datasheet (June 1995): Table II (registers),
// 8.4-8.10 (LCR, LSR, IIR, IER, MCR, MSR), Table IV (interrupt priorities).
//
// Transmission: a byte written to THR goes straight to the guest's console
// line while the guest's share of the host console allows (console_line.ts,
// its budget): then THR and the transmitter are empty (LSR THRE and TEMT
// set; with the FIFOs on, only while the budget holds a whole FIFO of 16
// bytes, which a driver may write after one THRE). With the budget spent,
// LSR says both are busy, the THR-empty interrupt waits for the budget
// (deadline() and advance(), as a timer), and a byte written anyway is
// refused: `output.refused` tells the exit handler to run the OUT again
// later, so nothing is dropped. Reception: the host's console input (the stub offers this
// guest's typed bytes through receiveFromHost) fills the receive FIFO, 16
// bytes with the FIFOs enabled, one byte (the RBR) in 16450 mode; in
// loopback mode (MCR bit 4) a transmitted byte is received instead and the
// serial input is cut off, as on the chip.
//
// Interrupts: the chip's INTRPT output is high while an enabled source is
// pending (interruptSource(), Table IV). On a PC that output reaches the IRQ
// line through a buffer that MCR OUT2 enables; in loopback the chip forces
// its OUT pins inactive (8.7), so the line stays low there even with OUT2
// set in MCR. The line (`lines`, IRQ `irq`) is brought up to date after
// every register read and write and after every received byte, so reading
// RBR, IIR, LSR or MSR lowers it the moment the chip would. With no lines
// wired (`lines` null) the UART works the same and raises nothing.
//
// The bus hands this device single bytes (its registers are 8 bits wide).

import { ConsoleLine } from "./console_line";
import { InterruptLines } from "./interrupt_lines";
import { NO_DEADLINE, rearmed } from "./clock";

// Register offsets from the base port (DLAB = LCR bit 7 selects DLL/DLM).
export const UART_RBR_THR: u32 = 0; // DLAB=1: DLL, divisor latch low
export const UART_IER: u32 = 1;     // DLAB=1: DLM, divisor latch high
export const UART_IIR_FCR: u32 = 2;
export const UART_LCR: u32 = 3;
export const UART_MCR: u32 = 4;
export const UART_LSR: u32 = 5;
export const UART_MSR: u32 = 6;
export const UART_SCR: u32 = 7;

// IER (8.6): which sources may interrupt.
export const IER_RECEIVED_DATA: u8 = 0x01;
export const IER_THR_EMPTY: u8 = 0x02;
export const IER_LINE_STATUS: u8 = 0x04;
export const IER_MODEM_STATUS: u8 = 0x08;

// IIR (8.5, Table IV): bit 0 = no interrupt pending; bits 1-3 the source,
// in priority order; bits 6-7 set when the FIFOs are enabled.
export const IIR_NONE: u8 = 0x01;
export const IIR_LINE_STATUS: u8 = 0x06;
export const IIR_RECEIVED_DATA: u8 = 0x04;
export const IIR_CHARACTER_TIMEOUT: u8 = 0x0c; // FIFO mode: data below the trigger level
export const IIR_THR_EMPTY: u8 = 0x02;
export const IIR_MODEM_STATUS: u8 = 0x00;
export const IIR_FIFOS_ENABLED: u8 = 0xc0;

// FCR (8.3): bits 1-7 are programmed only together with bit 0.
export const FCR_ENABLE_FIFOS: u8 = 0x01;
export const FCR_CLEAR_RECEIVE: u8 = 0x02;
const FCR_KEPT_BITS: u8 = 0xc9;       // enable, DMA mode, trigger level; the clear bits self-reset
const FCR_TRIGGER_SHIFT: u8 = 6;

// The receive FIFO holds 16 bytes (8.3); in 16450 mode only the RBR.
export const RECEIVE_FIFO_BYTES: u32 = 16;
export const TRANSMIT_FIFO_BYTES: u32 = 16;

export const LCR_DLAB: u8 = 0x80;

// MCR (8.7)
export const MCR_DTR: u8 = 0x01;
export const MCR_RTS: u8 = 0x02;
export const MCR_OUT1: u8 = 0x04;
export const MCR_OUT2: u8 = 0x08; // on a PC, gates the UART's IRQ line
export const MCR_LOOP: u8 = 0x10;

// LSR (8.4)
export const LSR_DATA_READY: u8 = 0x01;
export const LSR_OVERRUN: u8 = 0x02;
export const LSR_THR_EMPTY: u8 = 0x20;
export const LSR_TRANSMITTER_EMPTY: u8 = 0x40;

// MSR (8.8): bits 0-3 say which input changed since the last read.
export const MSR_DELTA_CTS: u8 = 0x01;
export const MSR_DELTA_DSR: u8 = 0x02;
export const MSR_TRAILING_EDGE_RI: u8 = 0x04;
export const MSR_DELTA_DCD: u8 = 0x08;
export const MSR_CTS: u8 = 0x10;
export const MSR_DSR: u8 = 0x20;
export const MSR_RI: u8 = 0x40;
export const MSR_DCD: u8 = 0x80;
// Outside loopback the port sees a terminal that is attached and ready.
const MSR_LINES_CONNECTED: u8 = MSR_DCD | MSR_DSR | MSR_CTS;

@unmanaged
export class Uart16550 {
  output: ConsoleLine;
  lines: InterruptLines; // null: interrupts are computed, not delivered
  irq: u32;              // the ISA IRQ the output reaches (4 for COM1)
  divisorLow: u8;
  divisorHigh: u8;
  ier: u8;
  fcr: u8;
  lcr: u8;
  mcr: u8;
  scr: u8;
  receiveBuffer: u8;     // the byte RBR last gave, given again when it is empty
  receiveHead: u8;       // the oldest byte in the receive FIFO
  receiveCount: u8;      // bytes in it: LSR DR is set while it is not 0
  lineStatus: u8;        // OE; DR follows receiveCount; THRE and TEMT are always set on reads
  modemDeltas: u8;       // MSR bits 0-3
  // The THR-empty interrupt is raised when THR empties with IER bit 1 set
  // (or when that bit is set while THR is empty) and is cleared by a read of
  // IIR that reports it or by a write to THR (8.5, Table IV).
  thrEmptyPending: bool;
  // THR went busy for want of console budget with the THR-empty interrupt
  // enabled: it is raised when the budget allows a byte again.
  thrEmptyWaiting: bool;
  // The level updateInterrupt last drove the IRQ line to.
  driven: bool;
  // The receive FIFO's 16 bytes, a ring from receiveHead (reached by
  // address: an @unmanaged class has no inline arrays).
  receiveFifoLow: u64;
  receiveFifoHigh: u64;

  // The power-on state (datasheet Table III, "RESET"), the IRQ line low.
  // The wiring (output, lines, irq) is the machine's and stays.
  reset(): void {
    this.divisorLow = 12; // undefined at reset; 12 = 9600 baud at 1.8432 MHz
    this.divisorHigh = 0;
    this.ier = 0;
    this.fcr = 0;
    this.lcr = 0;
    this.mcr = 0;
    this.scr = 0;
    this.receiveBuffer = 0;
    this.clearReceiveFifo();
    this.lineStatus = 0;
    this.modemDeltas = 0;
    this.thrEmptyPending = false;
    this.thrEmptyWaiting = false;
    this.driven = true; // so that the line is driven low now
    this.updateInterrupt();
  }

  // The guest TSC at which the THR-empty interrupt waits for the budget.
  deadline(): u64 {
    return this.thrEmptyWaiting ? this.output.sendDeadline(this.fifoBytes()) : NO_DEADLINE;
  }

  // The clock moved on: a waiting THR-empty interrupt is raised once the
  // budget allows a byte.
  advance(): void {
    if (!this.thrEmptyWaiting || !this.thrEmpty()) return;
    this.thrEmptyWaiting = false;
    this.thrEmptyPending = (this.ier & IER_THR_EMPTY) != 0;
    this.updateInterrupt();
  }

  read(offset: u32, size: u32): u32 {
    let value = this.readRegister(offset & 7);
    this.updateInterrupt();
    return value;
  }

  write(offset: u32, size: u32, value: u32): void {
    this.writeRegister(offset & 7, <u8>value);
    this.updateInterrupt();
  }

  // The console's byte with the UART's interrupts off (a Linux printk:
  // serial8250_console_write clears IER around its writes; an early or a
  // polling console never sets it): a THR write outside loopback that
  // leaves the IRQ line low, as it was. What write() would do, inline in
  // the port bus so that the exit pays no call (make bench P1, io); false,
  // and nothing done, for any other write.
  @inline writeConsoleByte(offset: u32, value: u32): bool {
    if ((offset & 7) != UART_RBR_THR || this.ier != 0 || this.driven) return false;
    if (((this.lcr & LCR_DLAB) | (this.mcr & MCR_LOOP)) != 0) return false;
    // Refused for want of budget: THR's interrupt state stays, as in transmit().
    if (this.output.send(value)) this.thrEmptyPending = false;
    return true;
  }

  private readRegister(register: u32): u32 {
    let dlab = (this.lcr & LCR_DLAB) != 0;
    switch (register) {
      case UART_RBR_THR: {
        if (dlab) return this.divisorLow;
        if (this.receiveCount != 0) {
          this.receiveBuffer = load<u8>(this.receiveFifo() + <usize>this.receiveHead);
          this.receiveHead = (this.receiveHead + 1) & <u8>(RECEIVE_FIFO_BYTES - 1);
          this.receiveCount--;
        }
        return this.receiveBuffer;
      }
      case UART_IER: return dlab ? this.divisorHigh : this.ier;
      case UART_IIR_FCR: {
        let source = this.interruptSource();
        // Reading IIR acknowledges a THR-empty interrupt it reports.
        if (source == IIR_THR_EMPTY) this.thrEmptyPending = false;
        return <u32>source | ((this.fcr & FCR_ENABLE_FIFOS) != 0 ? IIR_FIFOS_ENABLED : 0);
      }
      case UART_LCR: return this.lcr;
      case UART_MCR: return this.mcr;
      case UART_LSR: {
        let value = this.lineStatus;
        if (this.thrEmpty()) value |= LSR_THR_EMPTY | LSR_TRANSMITTER_EMPTY;
        if (this.receiveCount != 0) value |= LSR_DATA_READY;
        this.lineStatus &= ~LSR_OVERRUN; // error bits clear on read (8.4)
        return value;
      }
      case UART_MSR: {
        let value = this.modemLines() | this.modemDeltas;
        this.modemDeltas = 0;
        return value;
      }
      default: return this.scr;
    }
  }

  private writeRegister(register: u32, byte: u8): void {
    let dlab = (this.lcr & LCR_DLAB) != 0;
    switch (register) {
      case UART_RBR_THR: {
        if (dlab) {
          this.divisorLow = byte;
        } else {
          this.transmit(byte);
        }
        break;
      }
      case UART_IER: {
        if (dlab) {
          this.divisorHigh = byte;
        } else {
          let enabling = (byte & ~this.ier & IER_THR_EMPTY) != 0;
          this.ier = byte & 0x0f;
          // Enabling its interrupt with THR empty raises it at once.
          if (enabling) this.thrBecameEmpty();
          if ((this.ier & IER_THR_EMPTY) == 0) {
            this.thrEmptyPending = false;
            this.thrEmptyWaiting = false;
          }
        }
        break;
      }
      case UART_IIR_FCR: {
        // Switching between FIFO and 16450 mode empties the FIFOs (8.3).
        let modeChange = ((byte ^ this.fcr) & FCR_ENABLE_FIFOS) != 0;
        if (modeChange || (byte & (FCR_ENABLE_FIFOS | FCR_CLEAR_RECEIVE)) == (FCR_ENABLE_FIFOS | FCR_CLEAR_RECEIVE)) {
          this.clearReceiveFifo();
        }
        this.fcr = (byte & FCR_ENABLE_FIFOS) != 0 ? byte & FCR_KEPT_BITS : 0;
        break;
      }
      case UART_LCR: {
        this.lcr = byte;
        break;
      }
      case UART_MCR: {
        let before = this.modemLines();
        this.mcr = byte & 0x1f;
        this.noteModemChange(before, this.modemLines());
        break;
      }
      case UART_LSR:
      case UART_MSR:
        break; // read-only (LSR writes are a factory test mode)
      default: {
        this.scr = byte;
      }
    }
  }

  // The IIR source code of the highest-priority pending interrupt, or
  // IIR_NONE (Table IV).
  interruptSource(): u8 {
    if ((this.ier & IER_LINE_STATUS) != 0 && (this.lineStatus & LSR_OVERRUN) != 0) return IIR_LINE_STATUS;
    if ((this.ier & IER_RECEIVED_DATA) != 0 && this.receiveCount != 0) {
      // With the FIFOs on, data below the trigger level is reported as a
      // character timeout; the chip waits 4 character times for it, this
      // model has no line timing and reports it at once.
      if ((this.fcr & FCR_ENABLE_FIFOS) == 0 || <u32>this.receiveCount >= this.triggerLevel()) return IIR_RECEIVED_DATA;
      return IIR_CHARACTER_TIMEOUT;
    }
    if ((this.ier & IER_THR_EMPTY) != 0 && this.thrEmptyPending) return IIR_THR_EMPTY;
    if ((this.ier & IER_MODEM_STATUS) != 0 && this.modemDeltas != 0) return IIR_MODEM_STATUS;
    return IIR_NONE;
  }

  // True when the UART's interrupt reaches a PC's IRQ line: a source is
  // pending and the OUT2 pin is active, which it never is in loopback (8.7).
  interruptPending(): bool {
    return (this.mcr & (MCR_OUT2 | MCR_LOOP)) == MCR_OUT2 && this.interruptSource() != IIR_NONE;
  }

  // Sets the IRQ line to what the chip and the OUT2 gate say now. Low
  // again is not driven: nothing sees it (an asserted level-triggered pin,
  // an active-low one too, is sent again at its EOI and at its unmask:
  // ioapic.ts), and a Linux console's every byte would pay the I/O APIC's
  // trigger-mode test (make bench P1, io). High again is driven: a
  // level-triggered pin re-sends on each assertion.
  @inline private updateInterrupt(): void {
    if (changetype<usize>(this.lines) == 0) return;
    let high = this.interruptPending();
    if (!high && !this.driven) return;
    this.driven = high;
    this.lines.set(this.irq, high);
  }

  // True when a byte from the host's console can be taken now: the
  // receiver has room and is not cut off from the line by loopback.
  canReceiveFromHost(): bool {
    return (this.mcr & MCR_LOOP) == 0 && <u32>this.receiveCount < this.receiveCapacity();
  }

  // A byte typed on the host's console for this guest. False (and nothing
  // changes) when it cannot be taken now: the stub keeps it and offers it
  // again later, so nothing typed is lost.
  receiveFromHost(byte: u8): bool {
    if (!this.canReceiveFromHost()) return false;
    this.receive(byte);
    return true;
  }

  // A byte arrives at the receiver (from the line, or from the transmitter
  // in loopback), and the IRQ line follows.
  receive(byte: u8): void {
    this.receiveByte(byte);
    this.updateInterrupt();
  }

  // With the receiver full a byte is an overrun (8.4, LSR bit 1): in FIFO
  // mode the new byte is lost, in 16450 mode it overwrites the unread one.
  private receiveByte(byte: u8): void {
    let fifo = this.receiveFifo();
    if (<u32>this.receiveCount >= this.receiveCapacity()) {
      this.lineStatus |= LSR_OVERRUN;
      if ((this.fcr & FCR_ENABLE_FIFOS) != 0) return;
      store<u8>(fifo + <usize>this.receiveHead, byte);
      return;
    }
    let tail = (<u32>this.receiveHead + <u32>this.receiveCount) & (RECEIVE_FIFO_BYTES - 1);
    store<u8>(fifo + <usize>tail, byte);
    this.receiveCount++;
  }

  private receiveCapacity(): u32 {
    return (this.fcr & FCR_ENABLE_FIFOS) != 0 ? RECEIVE_FIFO_BYTES : 1;
  }

  // FCR bits 6-7: 1, 4, 8 or 14 bytes (8.3).
  private triggerLevel(): u32 {
    let level = this.fcr >> FCR_TRIGGER_SHIFT;
    return level == 0 ? 1 : level == 1 ? 4 : level == 2 ? 8 : 14;
  }

  private receiveFifo(): usize {
    return changetype<usize>(this) + offsetof<Uart16550>("receiveFifoLow");
  }

  private clearReceiveFifo(): void {
    this.receiveHead = 0;
    this.receiveCount = 0;
  }

  private transmit(byte: u8): void {
    if ((this.mcr & MCR_LOOP) != 0) {
      // Loopback (8.7): the byte comes back on the receiver, not the wire.
      this.receiveByte(byte);
    } else {
      // Over its console share: the byte is not taken (send() says so in
      // `refused`), the OUT runs again.
      if (!this.output.send(byte)) return;
    }
    // Writing THR clears its interrupt; the byte leaves at once, so THR is
    // empty again (budget allowing) and the interrupt is raised again.
    this.thrEmptyPending = false;
    this.thrBecameEmpty();
  }

  // THR is empty: in loopback always, else while the console budget holds
  // a byte (a FIFO's worth with the FIFOs on).
  private thrEmpty(): bool {
    if ((this.mcr & MCR_LOOP) != 0) return true;
    return this.output.canSend(this.fifoBytes());
  }

  private fifoBytes(): u32 {
    return (this.fcr & FCR_ENABLE_FIFOS) != 0 ? TRANSMIT_FIFO_BYTES : 1;
  }

  // Raises the THR-empty interrupt (if enabled) now, or once the budget
  // allows a byte. The test inline: every byte written asks, and most
  // guests write with the interrupt off.
  @inline private thrBecameEmpty(): void {
    if ((this.ier & IER_THR_EMPTY) != 0) this.raiseThrEmpty();
  }

  private raiseThrEmpty(): void {
    if (this.thrEmpty()) {
      this.thrEmptyPending = true;
    } else if (!this.thrEmptyWaiting) {
      this.thrEmptyWaiting = true;
      rearmed(this.output.clock);
    }
  }

  // MSR bits 4-7: in loopback the outputs are wired to the inputs
  // (DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD).
  private modemLines(): u8 {
    if ((this.mcr & MCR_LOOP) == 0) return MSR_LINES_CONNECTED;
    let lines: u8 = 0;
    if ((this.mcr & MCR_DTR) != 0) lines |= MSR_DSR;
    if ((this.mcr & MCR_RTS) != 0) lines |= MSR_CTS;
    if ((this.mcr & MCR_OUT1) != 0) lines |= MSR_RI;
    if ((this.mcr & MCR_OUT2) != 0) lines |= MSR_DCD;
    return lines;
  }

  private noteModemChange(before: u8, after: u8): void {
    let changed = before ^ after;
    if ((changed & MSR_CTS) != 0) this.modemDeltas |= MSR_DELTA_CTS;
    if ((changed & MSR_DSR) != 0) this.modemDeltas |= MSR_DELTA_DSR;
    if ((changed & MSR_DCD) != 0) this.modemDeltas |= MSR_DELTA_DCD;
    // RI reports only its trailing edge (on to off).
    if ((before & MSR_RI) != 0 && (after & MSR_RI) == 0) this.modemDeltas |= MSR_TRAILING_EDGE_RI;
  }
}
