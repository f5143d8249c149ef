// The 8042 keyboard controller (data port 0x60, command/status port 0x64)
// and the keyboard behind it: enough for a kernel to probe both (Linux's
// i8042 driver and atkbd) and to reset the machine through it. From the IBM
// PS/2 Hardware Interface Technical Reference (keyboard/auxiliary device
// controller), as summarised on OSDev ("8042 PS/2 Controller", "PS/2
// Keyboard").
//
// Commands complete instantly, so the input buffer is never full (status
// IBF always 0) and every reply is ready when the command's write returns.
// What port 0x60 reads is the output buffer, one byte; behind it wait the
// controller's own replies (first) and the keyboard's bytes, each in a
// queue of 8. A disabled keyboard interface (command byte bit 4, command
// 0xAD) holds the keyboard's bytes back, as the clock line held low does;
// sending the keyboard a command enables the interface again, as the 8042
// firmware does. With translation on (command byte bit 6, the PC default)
// the keyboard's bytes pass the set 2 -> set 1 translation; this keyboard
// sends no scan codes (no host keyboard input reaches it yet), only
// replies, and of those translation changes the ID byte 0x83 (to 0x41) and
// the scan code set numbers.
//
// The auxiliary (mouse) port is present with no mouse plugged in, the
// common desktop case: its interface test (0xA9) passes (0x00), the
// controller's aux loopback (0xD3) works (Linux uses it to find the port
// and to test IRQ 12), and a byte sent to the mouse (0xD4) times out: 0xFE
// with status bits 5 and 6 (aux, time-out), which fails the driver's first
// mouse command at once instead of after its timeout. Reporting no aux port
// at all would cost Linux a 0.5 s wait for the loopback reply.
//
// Interrupts: IRQ 1 is high while the output buffer holds a keyboard (or
// controller) byte and command byte bit 0 is set; IRQ 12 likewise for an
// aux byte and bit 1. A read of port 0x60 empties the buffer, so the line
// drops before the next byte moves in and raises it again: each byte is an
// edge, as the 8042 makes it. With `lines` null nothing is raised.
//
// Resets (output port bit 0 written 0 by 0xD1, or pulsed by 0xF0-0xFE)
// set `resetRequested`; the exit handler acts on it.
//
// read/write take the absolute port (0x60 or 0x64; any other port reads
// all ones and drops writes) and byte values.

import { InterruptLines, IRQ_KEYBOARD, IRQ_MOUSE } from "./interrupt_lines";
import { PORT_I8042_DATA, PORT_I8042_COMMAND } from "./pc_layout";

// Status register (read at 0x64).
export const STATUS_OUTPUT_FULL: u8 = 0x01;
export const STATUS_INPUT_FULL: u8 = 0x02;  // never set: commands complete instantly
export const STATUS_SYSTEM_FLAG: u8 = 0x04; // command byte bit 2
export const STATUS_COMMAND: u8 = 0x08;     // the last write was to 0x64
export const STATUS_UNLOCKED: u8 = 0x10;    // keyboard not inhibited by the key lock
export const STATUS_AUX_DATA: u8 = 0x20;    // the output buffer's byte is from the aux port
export const STATUS_TIMEOUT: u8 = 0x40;
export const STATUS_PARITY: u8 = 0x80;      // never set

// Command byte (controller RAM byte 0).
export const CTR_KEYBOARD_INTERRUPT: u8 = 0x01;
export const CTR_AUX_INTERRUPT: u8 = 0x02;
export const CTR_SYSTEM_FLAG: u8 = 0x04;
export const CTR_KEYBOARD_DISABLED: u8 = 0x10;
export const CTR_AUX_DISABLED: u8 = 0x20;
export const CTR_TRANSLATE: u8 = 0x40;
// As a PC BIOS leaves it (no BIOS runs before this guest's kernel):
// keyboard interrupt on, POST passed, aux disabled, translation on.
export const CTR_POWER_ON: u8 = CTR_KEYBOARD_INTERRUPT | CTR_SYSTEM_FLAG | CTR_AUX_DISABLED | CTR_TRANSLATE;

// Output port (0xD0/0xD1).
export const OUTPUT_PORT_RUN: u8 = 0x01;     // 0: system reset
export const OUTPUT_PORT_A20: u8 = 0x02;     // kept; the guest's RAM has no A20 wrap
const OUTPUT_PORT_KEYBOARD_FULL: u8 = 0x10;  // bits 4-5 mirror the output buffer
const OUTPUT_PORT_AUX_FULL: u8 = 0x20;
const OUTPUT_PORT_POWER_ON: u8 = 0xcf;       // running, A20 on, clock and data lines idle high

// Controller commands (written to 0x64).
export const CMD_READ_COMMAND_BYTE: u8 = 0x20;   // 0x21-0x3F read other RAM bytes
export const CMD_WRITE_COMMAND_BYTE: u8 = 0x60;  // 0x61-0x7F write other RAM bytes
export const CMD_DISABLE_AUX: u8 = 0xa7;
export const CMD_ENABLE_AUX: u8 = 0xa8;
export const CMD_TEST_AUX: u8 = 0xa9;
export const CMD_SELF_TEST: u8 = 0xaa;
export const CMD_TEST_KEYBOARD: u8 = 0xab;
export const CMD_DISABLE_KEYBOARD: u8 = 0xad;
export const CMD_ENABLE_KEYBOARD: u8 = 0xae;
export const CMD_READ_OUTPUT_PORT: u8 = 0xd0;
export const CMD_WRITE_OUTPUT_PORT: u8 = 0xd1;
export const CMD_WRITE_KEYBOARD_OUTPUT: u8 = 0xd2; // the next byte comes back as from the keyboard
export const CMD_WRITE_AUX_OUTPUT: u8 = 0xd3;      // ... as from the aux device (loopback)
export const CMD_WRITE_AUX: u8 = 0xd4;             // the next byte goes to the aux device
export const CMD_DISABLE_A20: u8 = 0xdd;
export const CMD_ENABLE_A20: u8 = 0xdf;
export const CMD_PULSE_FIRST: u8 = 0xf0;           // 0xF0-0xFF: bits 0-3 clear pulse those lines
export const SELF_TEST_PASSED: u8 = 0x55;
export const INTERFACE_TEST_PASSED: u8 = 0x00;

// Keyboard commands (written to 0x60) and its replies.
export const KBD_SET_LEDS: u8 = 0xed;
export const KBD_ECHO: u8 = 0xee;
export const KBD_SCAN_CODE_SET: u8 = 0xf0;
export const KBD_IDENTIFY: u8 = 0xf2;
export const KBD_TYPEMATIC: u8 = 0xf3;
export const KBD_ENABLE_SCANNING: u8 = 0xf4;
export const KBD_DISABLE_SCANNING: u8 = 0xf5;
export const KBD_SET_DEFAULTS: u8 = 0xf6;
export const KBD_RESEND: u8 = 0xfe;
export const KBD_RESET: u8 = 0xff;
export const KBD_ACK: u8 = 0xfa;
export const KBD_RESEND_REPLY: u8 = 0xfe;
export const KBD_SELF_TEST_PASSED: u8 = 0xaa;
export const KBD_ID_FIRST: u8 = 0xab;
export const KBD_ID_SECOND: u8 = 0x83;        // 0x41 translated
const KBD_DEFAULT_TYPEMATIC: u8 = 0x2b;       // 10.9 characters/s after 500 ms
const KBD_DEFAULT_SET: u8 = 2;

export const OUTPUT_QUEUE_BYTES: u32 = 8;      // each of the two queues
const QUEUE_MASK: u32 = OUTPUT_QUEUE_BYTES - 1;

@unmanaged
export class I8042 {
  lines: InterruptLines;  // null: nothing raised
  resetRequested: bool;
  commandByte: u8;
  outputPort: u8;         // bits 4-5 are computed on reads
  lastWriteCommand: bool; // status bit 3
  awaitingData: u8;       // a controller command waiting for its byte at 0x60, or 0
  // The output buffer: what port 0x60 reads.
  output: u8;
  outputFull: bool;
  outputAux: bool;
  outputTimeout: bool;
  // The controller's replies, a ring of 8 bytes (byte i in bits 8i-8i+7),
  // with a bit per slot for "from the aux port" and "time-out".
  controllerHead: u8;
  controllerCount: u8;
  controllerAux: u8;
  controllerTimeout: u8;
  controllerQueue: u64;
  // The keyboard's bytes, waiting for the interface.
  keyboardHead: u8;
  keyboardCount: u8;
  keyboardQueue: u64;
  // The keyboard itself.
  keyboardAwaiting: u8;   // a keyboard command waiting for its argument, or 0
  keyboardLastSent: u8;   // for KBD_RESEND
  scanCodeSet: u8;
  leds: u8;
  typematic: u8;
  scanning: bool;

  // Power-on, with the command byte as a BIOS leaves it. `lines` stays.
  reset(): void {
    this.resetRequested = false;
    this.commandByte = CTR_POWER_ON;
    this.outputPort = OUTPUT_PORT_POWER_ON;
    this.lastWriteCommand = false;
    this.awaitingData = 0;
    this.output = 0;
    this.outputFull = false;
    this.outputAux = false;
    this.outputTimeout = false;
    this.controllerHead = 0;
    this.controllerCount = 0;
    this.controllerAux = 0;
    this.controllerTimeout = 0;
    this.controllerQueue = 0;
    this.keyboardHead = 0;
    this.keyboardCount = 0;
    this.keyboardQueue = 0;
    this.keyboardAwaiting = 0;
    this.keyboardLastSent = 0;
    this.leds = 0;
    this.resetKeyboardDefaults();
    this.scanning = true;
    this.updateInterrupts();
  }

  read(port: u32): u32 {
    if (port == PORT_I8042_COMMAND) return this.status();
    if (port != PORT_I8042_DATA) return 0xff;
    let value = this.output;
    if (this.outputFull) {
      this.outputFull = false;
      this.updateInterrupts(); // the line drops: the next byte is a new edge
      this.fillOutput();
      this.updateInterrupts();
    }
    return value;
  }

  write(port: u32, value: u32): void {
    let byte = <u8>value;
    if (port == PORT_I8042_COMMAND) {
      this.lastWriteCommand = true;
      this.controllerCommand(byte);
    } else if (port == PORT_I8042_DATA) {
      this.lastWriteCommand = false;
      this.dataWrite(byte);
    } else {
      return;
    }
    this.fillOutput();
    this.updateInterrupts();
  }

  status(): u8 {
    let value: u8 = STATUS_UNLOCKED | (this.commandByte & CTR_SYSTEM_FLAG);
    if (this.lastWriteCommand) value |= STATUS_COMMAND;
    if (this.outputFull) {
      value |= STATUS_OUTPUT_FULL;
      if (this.outputAux) value |= STATUS_AUX_DATA;
      if (this.outputTimeout) value |= STATUS_TIMEOUT;
    }
    return value;
  }

  private controllerCommand(command: u8): void {
    this.awaitingData = 0; // a new command replaces one still waiting for its byte
    if (command >= CMD_PULSE_FIRST) {
      // Bits 0-3 clear pulse output port lines 0-3 low; line 0 is reset.
      if ((command & OUTPUT_PORT_RUN) == 0) this.resetRequested = true;
      return;
    }
    if (command >= 0x20 && command <= 0x3f) {
      // Other RAM bytes than the command byte are not modelled: 0.
      this.reply(command == CMD_READ_COMMAND_BYTE ? this.commandByte : 0, false, false);
      return;
    }
    if (command >= 0x60 && command <= 0x7f) {
      this.awaitingData = command;
      return;
    }
    switch (command) {
      case CMD_DISABLE_AUX: { this.commandByte |= CTR_AUX_DISABLED; break; }
      case CMD_ENABLE_AUX: { this.commandByte &= ~CTR_AUX_DISABLED; break; }
      case CMD_TEST_AUX: { this.reply(INTERFACE_TEST_PASSED, false, false); break; }
      case CMD_SELF_TEST: {
        this.commandByte |= CTR_SYSTEM_FLAG;
        this.reply(SELF_TEST_PASSED, false, false);
        break;
      }
      case CMD_TEST_KEYBOARD: { this.reply(INTERFACE_TEST_PASSED, false, false); break; }
      case CMD_DISABLE_KEYBOARD: { this.commandByte |= CTR_KEYBOARD_DISABLED; break; }
      case CMD_ENABLE_KEYBOARD: { this.commandByte &= ~CTR_KEYBOARD_DISABLED; break; }
      case CMD_READ_OUTPUT_PORT: { this.reply(this.readOutputPort(), false, false); break; }
      case CMD_WRITE_OUTPUT_PORT:
      case CMD_WRITE_KEYBOARD_OUTPUT:
      case CMD_WRITE_AUX_OUTPUT:
      case CMD_WRITE_AUX: { this.awaitingData = command; break; }
      case CMD_DISABLE_A20: { this.outputPort &= ~OUTPUT_PORT_A20; break; }
      case CMD_ENABLE_A20: { this.outputPort |= OUTPUT_PORT_A20; break; }
      default: break; // unknown commands are ignored, as the 8042 does
    }
  }

  // A byte at 0x60: the data of a controller command, else for the keyboard.
  private dataWrite(byte: u8): void {
    let command = this.awaitingData;
    this.awaitingData = 0;
    switch (command) {
      case 0: {
        this.commandByte &= ~CTR_KEYBOARD_DISABLED;
        this.keyboardCommand(byte);
        break;
      }
      case CMD_WRITE_COMMAND_BYTE: { this.commandByte = byte; break; }
      case CMD_WRITE_OUTPUT_PORT: {
        this.outputPort = byte & ~(OUTPUT_PORT_KEYBOARD_FULL | OUTPUT_PORT_AUX_FULL);
        if ((byte & OUTPUT_PORT_RUN) == 0) this.resetRequested = true;
        break;
      }
      case CMD_WRITE_KEYBOARD_OUTPUT: { this.reply(byte, false, false); break; }
      case CMD_WRITE_AUX_OUTPUT: { this.reply(byte, true, false); break; }
      case CMD_WRITE_AUX: {
        // No mouse answers: the transmission times out.
        this.reply(KBD_RESEND_REPLY, true, true);
        break;
      }
      default: break; // 0x61-0x7F: RAM bytes not modelled
    }
  }

  private keyboardCommand(byte: u8): void {
    let awaiting = this.keyboardAwaiting;
    if (awaiting != 0) {
      this.keyboardAwaiting = 0;
      if (awaiting == KBD_SET_LEDS) {
        this.leds = byte & 0x07;
      } else if (awaiting == KBD_TYPEMATIC) {
        this.typematic = byte & 0x7f;
      } else if (byte == 0) { // KBD_SCAN_CODE_SET 0: which set?
        this.keyboardSend(KBD_ACK);
        this.keyboardSend(this.scanCodeSet);
        return;
      } else if (byte <= 3) {
        this.scanCodeSet = byte;
      }
      this.keyboardSend(KBD_ACK);
      return;
    }
    switch (byte) {
      case KBD_SET_LEDS:
      case KBD_SCAN_CODE_SET:
      case KBD_TYPEMATIC: {
        this.keyboardAwaiting = byte;
        this.keyboardSend(KBD_ACK);
        break;
      }
      case KBD_ECHO: { this.keyboardSend(KBD_ECHO); break; }
      case KBD_IDENTIFY: {
        this.keyboardSend(KBD_ACK);
        this.keyboardSend(KBD_ID_FIRST);
        this.keyboardSend(KBD_ID_SECOND);
        break;
      }
      case KBD_ENABLE_SCANNING: {
        this.scanning = true;
        this.keyboardSend(KBD_ACK);
        break;
      }
      case KBD_DISABLE_SCANNING: {
        this.resetKeyboardDefaults();
        this.scanning = false;
        this.keyboardSend(KBD_ACK);
        break;
      }
      case KBD_SET_DEFAULTS: {
        this.resetKeyboardDefaults();
        this.keyboardSend(KBD_ACK);
        break;
      }
      case 0xf7: case 0xf8: case 0xf9: case 0xfa: case 0xfb: case 0xfc: case 0xfd: {
        this.keyboardSend(KBD_ACK); // set 3 key types: nothing to change here
        break;
      }
      case KBD_RESEND: {
        this.keyboardSend(this.keyboardLastSent);
        break;
      }
      case KBD_RESET: {
        this.resetKeyboardDefaults();
        this.leds = 0;
        this.scanning = true;
        this.keyboardSend(KBD_ACK);
        this.keyboardSend(KBD_SELF_TEST_PASSED);
        break;
      }
      default: { this.keyboardSend(KBD_RESEND_REPLY); break; }
    }
  }

  private resetKeyboardDefaults(): void {
    this.scanCodeSet = KBD_DEFAULT_SET;
    this.typematic = KBD_DEFAULT_TYPEMATIC;
  }

  private readOutputPort(): u8 {
    let value = this.outputPort;
    if (this.outputFull) value |= this.outputAux ? OUTPUT_PORT_AUX_FULL : OUTPUT_PORT_KEYBOARD_FULL;
    return value;
  }

  // A byte the controller itself puts out. A full queue drops it.
  private reply(byte: u8, aux: bool, timeout: bool): void {
    if (<u32>this.controllerCount >= OUTPUT_QUEUE_BYTES) return;
    let slot = (<u32>this.controllerHead + <u32>this.controllerCount) & QUEUE_MASK;
    let bit = <u8>(<u32>1 << slot);
    this.controllerQueue = putByte(this.controllerQueue, slot, byte);
    this.controllerAux = aux ? this.controllerAux | bit : this.controllerAux & ~bit;
    this.controllerTimeout = timeout ? this.controllerTimeout | bit : this.controllerTimeout & ~bit;
    this.controllerCount++;
  }

  // A byte from the keyboard. A full queue drops it (the keyboard's own
  // buffer would have overflowed too).
  private keyboardSend(byte: u8): void {
    this.keyboardLastSent = byte;
    if (<u32>this.keyboardCount >= OUTPUT_QUEUE_BYTES) return;
    let slot = (<u32>this.keyboardHead + <u32>this.keyboardCount) & QUEUE_MASK;
    this.keyboardQueue = putByte(this.keyboardQueue, slot, byte);
    this.keyboardCount++;
  }

  // Moves the next waiting byte into an empty output buffer: the
  // controller's first, then the keyboard's while its interface is enabled.
  private fillOutput(): void {
    if (this.outputFull) return;
    if (this.controllerCount != 0) {
      let slot = <u32>this.controllerHead;
      let bit = <u8>(<u32>1 << slot);
      this.output = getByte(this.controllerQueue, slot);
      this.outputAux = (this.controllerAux & bit) != 0;
      this.outputTimeout = (this.controllerTimeout & bit) != 0;
      this.outputFull = true;
      this.controllerHead = <u8>((slot + 1) & QUEUE_MASK);
      this.controllerCount--;
      return;
    }
    if (this.keyboardCount != 0 && (this.commandByte & CTR_KEYBOARD_DISABLED) == 0) {
      let slot = <u32>this.keyboardHead;
      let byte = getByte(this.keyboardQueue, slot);
      this.output = (this.commandByte & CTR_TRANSLATE) != 0 ? translate(byte) : byte;
      this.outputAux = false;
      this.outputTimeout = false;
      this.outputFull = true;
      this.keyboardHead = <u8>((slot + 1) & QUEUE_MASK);
      this.keyboardCount--;
    }
  }

  private updateInterrupts(): void {
    if (changetype<usize>(this.lines) == 0) return;
    let keyboard = this.outputFull && !this.outputAux && (this.commandByte & CTR_KEYBOARD_INTERRUPT) != 0;
    let aux = this.outputFull && this.outputAux && (this.commandByte & CTR_AUX_INTERRUPT) != 0;
    this.lines.set(IRQ_KEYBOARD, keyboard);
    this.lines.set(IRQ_MOUSE, aux);
  }
}

@inline function getByte(queue: u64, slot: u32): u8 {
  return <u8>(queue >> (<u64>slot * 8));
}

@inline function putByte(queue: u64, slot: u32, byte: u8): u64 {
  let shift = <u64>slot * 8;
  return (queue & ~(<u64>0xff << shift)) | (<u64>byte << shift);
}

// The 8042's set 2 -> set 1 translation for the bytes this keyboard sends:
// the replies at 0x84 and above (ACK, BAT, echo, resend, ID 0xAB) pass
// unchanged; the ID's 0x83 and the scan code set numbers 1-3 change.
function translate(byte: u8): u8 {
  switch (byte) {
    case 0x01: return 0x43;
    case 0x02: return 0x41;
    case 0x03: return 0x3f;
    case 0x83: return 0x41;
    default: return byte;
  }
}
