// Where a guest's UART output goes: whole lines, each printed by one
// consoleWrite call as "[<name>] <text>\n", so lines from several guests
// never interleave inside a line on the host console.
//
// A line ends at '\n' ('\r' is dropped) or after LINE_TEXT_BYTES bytes.
// Bytes other than printable ASCII and tab become '.', so a guest cannot
// send escape sequences to the host's terminal.
//
// Devices never call the host: a finished line waits in the outbox until
// the exit handler drains it (exits.ts, at the end of every exit). One exit
// writes at most one byte to the UART's THR, so the outbox never fills.

import { Platform } from "../guest/platform";

export const LINE_TEXT_BYTES: u32 = 200;
// The guest's name is cut to this many bytes in the prefix.
export const NAME_PREFIX_BYTES: u32 = 32;
// "[" name "] " text "\n"
export const LINE_BYTES: u32 = 1 + NAME_PREFIX_BYTES + 2 + LINE_TEXT_BYTES + 1;
export const OUTBOX_BYTES: u32 = 4 * LINE_BYTES;
// What a ConsoleLine needs in all: its fields, its line, its outbox.
const FIELDS_BYTES: u32 = (<u32>offsetof<ConsoleLine>() + 15) & ~15;
export const CONSOLE_LINE_BYTES: u32 = FIELDS_BYTES + LINE_BYTES + OUTBOX_BYTES;

const NEWLINE: u32 = 0x0a;
const RETURN: u32 = 0x0d;
const TAB: u32 = 0x09;

@unmanaged
export class ConsoleLine {
  line: usize;          // LINE_BYTES: the prefix, then the text so far
  outbox: usize;        // OUTBOX_BYTES: finished lines, each ending in '\n'
  prefixLength: u32;
  lineLength: u32;      // bytes in `line`, prefix included
  outboxLength: u32;
  lostLines: u32;       // lines dropped on a full outbox (none by construction)

  // Points the console at its buffers (static memory, CONSOLE_LINE_BYTES
  // from `this`) and names the guest.
  init(name: usize, nameLength: u32): void {
    let base = changetype<usize>(this);
    this.line = base + <usize>FIELDS_BYTES;
    this.outbox = this.line + <usize>LINE_BYTES;
    this.outboxLength = 0;
    this.lostLines = 0;
    let n = nameLength < NAME_PREFIX_BYTES ? nameLength : NAME_PREFIX_BYTES;
    store<u8>(this.line, 0x5b); // '['
    for (let i: u32 = 0; i < n; i++) {
      store<u8>(this.line + 1 + <usize>i, printable(<u32>load<u8>(name + <usize>i)));
    }
    store<u8>(this.line + 1 + <usize>n, 0x5d);     // ']'
    store<u8>(this.line + 2 + <usize>n, 0x20);     // ' '
    this.prefixLength = n + 3;
    this.lineLength = this.prefixLength;
  }

  // One byte from the guest.
  put(value: u32): void {
    value &= 0xff;
    if (value == RETURN) return;
    if (value == NEWLINE) {
      this.finishLine();
      return;
    }
    store<u8>(this.line + <usize>this.lineLength, printable(value));
    this.lineLength++;
    if (this.lineLength - this.prefixLength >= LINE_TEXT_BYTES) this.finishLine();
  }

  // True when text is waiting for its '\n'.
  hasPartialLine(): bool {
    return this.lineLength > this.prefixLength;
  }

  // Ends the current line (even an empty one) and queues it in the outbox.
  finishLine(): void {
    store<u8>(this.line + <usize>this.lineLength, NEWLINE);
    let length = this.lineLength + 1;
    if (this.outboxLength + length <= OUTBOX_BYTES) {
      memory.copy(this.outbox + <usize>this.outboxLength, this.line, <usize>length);
      this.outboxLength += length;
    } else {
      this.lostLines++;
    }
    this.lineLength = this.prefixLength;
  }

  // Prints each finished line with its own consoleWrite.
  drain(platform: Platform): void {
    if (this.outboxLength == 0) return;
    let start: u32 = 0;
    for (let i: u32 = 0; i < this.outboxLength; i++) {
      if (<u32>load<u8>(this.outbox + <usize>i) == NEWLINE) {
        platform.consoleWrite(this.outbox + <usize>start, i + 1 - start);
        start = i + 1;
      }
    }
    this.outboxLength = 0;
  }

  // Prints everything, a partial line too (with a '\n' added): the guest is
  // stopping and nothing it wrote may be lost.
  flush(platform: Platform): void {
    if (this.hasPartialLine()) this.finishLine();
    this.drain(platform);
  }
}

@inline function printable(value: u32): u8 {
  return value == TAB || (value >= 0x20 && value < 0x7f) ? <u8>value : <u8>0x2e;
}
