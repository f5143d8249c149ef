// A 16550A UART (COM1 at 0x3F8-0x3FF on a PC): registers, modem lines,
// interrupt identification. Register layout and behaviour from the
// National Semiconductor PC16550D datasheet (June 1995): Table II (registers),
// 8.4-8.10 (LCR, LSR, IIR, IER, MCR, MSR), Table IV (interrupt priorities).
//
// Transmission is instant: a byte written to THR goes straight to the guest's
// console line, so THR and the transmitter are always empty (LSR THRE and
// TEMT set). There is no receive path from the host yet; in loopback mode
// (MCR bit 4) a transmitted byte is received instead, as on the chip.
// Interrupts are computed (IIR, interruptPending) but not yet delivered:
// that comes with the PIC.
//
// The bus hands this device single bytes (its registers are 8 bits wide).

import { ConsoleLine } from "./console_line";

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
export const IIR_THR_EMPTY: u8 = 0x02;
export const IIR_MODEM_STATUS: u8 = 0x00;
export const IIR_FIFOS_ENABLED: u8 = 0xc0;

export const FCR_ENABLE_FIFOS: u8 = 0x01;
export const FCR_CLEAR_RECEIVE: u8 = 0x02;

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
  divisorLow: u8;
  divisorHigh: u8;
  ier: u8;
  fcr: u8;
  lcr: u8;
  mcr: u8;
  scr: u8;
  receiveBuffer: u8;
  lineStatus: u8;        // DR and OE; THRE and TEMT are always set on reads
  modemDeltas: u8;       // MSR bits 0-3
  // The THR-empty interrupt is raised when THR empties with IER bit 1 set
  // (or when that bit is set while THR is empty) and is cleared by a read of
  // IIR that reports it or by a write to THR (8.5, Table IV).
  thrEmptyPending: bool;

  // The power-on state (datasheet Table III, "RESET").
  reset(): void {
    this.divisorLow = 12; // undefined at reset; 12 = 9600 baud at 1.8432 MHz
    this.divisorHigh = 0;
    this.ier = 0;
    this.fcr = 0;
    this.lcr = 0;
    this.mcr = 0;
    this.scr = 0;
    this.receiveBuffer = 0;
    this.lineStatus = 0;
    this.modemDeltas = 0;
    this.thrEmptyPending = false;
  }

  read(offset: u32, size: u32): u32 {
    let dlab = (this.lcr & LCR_DLAB) != 0;
    switch (offset & 7) {
      case UART_RBR_THR: {
        if (dlab) return this.divisorLow;
        this.lineStatus &= ~LSR_DATA_READY;
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
        let value = this.lineStatus | LSR_THR_EMPTY | LSR_TRANSMITTER_EMPTY;
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

  write(offset: u32, size: u32, value: u32): void {
    let byte = <u8>value;
    let dlab = (this.lcr & LCR_DLAB) != 0;
    switch (offset & 7) {
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
          // THR is always empty: enabling its interrupt raises it at once.
          if (enabling) this.thrEmptyPending = true;
          if ((this.ier & IER_THR_EMPTY) == 0) this.thrEmptyPending = false;
        }
        break;
      }
      case UART_IIR_FCR: {
        if ((byte & FCR_CLEAR_RECEIVE) != 0) this.lineStatus &= ~LSR_DATA_READY;
        this.fcr = byte & 0xc9; // enable, DMA mode, trigger level; the clear bits self-reset
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
    if ((this.ier & IER_RECEIVED_DATA) != 0 && (this.lineStatus & LSR_DATA_READY) != 0) return IIR_RECEIVED_DATA;
    if ((this.ier & IER_THR_EMPTY) != 0 && this.thrEmptyPending) return IIR_THR_EMPTY;
    if ((this.ier & IER_MODEM_STATUS) != 0 && this.modemDeltas != 0) return IIR_MODEM_STATUS;
    return IIR_NONE;
  }

  // True when the UART asserts its interrupt output and a PC would see it
  // (OUT2 connects the output to the IRQ line).
  interruptPending(): bool {
    return this.interruptSource() != IIR_NONE && (this.mcr & MCR_OUT2) != 0;
  }

  private transmit(byte: u8): void {
    if ((this.mcr & MCR_LOOP) != 0) {
      // Loopback (8.7): the byte comes back on the receiver, not the wire.
      if ((this.lineStatus & LSR_DATA_READY) != 0) this.lineStatus |= LSR_OVERRUN;
      this.receiveBuffer = byte;
      this.lineStatus |= LSR_DATA_READY;
    } else {
      this.output.put(byte);
    }
    // Writing THR clears its interrupt; the byte leaves at once, so THR is
    // empty again and the interrupt is raised again.
    this.thrEmptyPending = (this.ier & IER_THR_EMPTY) != 0;
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
