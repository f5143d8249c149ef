// Where a guest's UART output goes: whole lines, each printed by one
// consoleWrite call as "[<name>] <text>\n", so lines from several guests
// never interleave inside a line on the host console.
//
// A line ends at '\n' ('\r' is dropped) or after LINE_TEXT_BYTES bytes.
// A tab becomes a space and any other byte that is not printable ASCII a
// '.', so a guest cannot send escape sequences to the host's terminal.
//
// Devices never call the host: a finished line waits in the outbox until
// the exit handler drains it (exits.ts, at the end of every exit). An OUT
// writes one byte; a REP OUTSB may write many in one exit, so string I/O
// ends its run once the outbox could not take another whole line
// (x86/string_io.ts) and the rest runs at the next exit: it never overflows.
//
// Each guest gets a fair share of the host console (issue 11, hole 7): a
// budget of bytes, refilled by the guest's own clock at its share
// (`bytesPerSecond`, set by the stub from the supervisor's decision:
// supervisor/console_share.ts; CONSOLE_BYTES_PER_SECOND until then) up to CONSOLE_BURST_BYTES. While it is empty the
// UART says THR is not empty and refuses a byte written anyway (the
// instruction is run again later), so the guest waits and nothing it wrote
// is dropped. No state is shared between guests: a guest uses its budget
// only while it runs, and what it saves while the others run is capped by
// the burst, so the guests of one host CPU together get about
// CONSOLE_BYTES_PER_SECOND + CONSOLE_BURST_BYTES per slice switch.

import { Platform } from "../guest/platform";
import { GuestClock } from "./clock";

export const LINE_TEXT_BYTES: u32 = 200;
// The guest's name is cut to this many bytes in the prefix.
export const NAME_PREFIX_BYTES: u32 = 32;
// "[" name "] " text "\n"
export const LINE_BYTES: u32 = 1 + NAME_PREFIX_BYTES + 2 + LINE_TEXT_BYTES + 1;
export const OUTBOX_BYTES: u32 = 4 * LINE_BYTES;
// The most a consoleWrite takes (linker/imports.c: CONSOLE_WRITE_MAX).
if (OUTBOX_BYTES > 1024) ERROR("the outbox must fit one consoleWrite (CONSOLE_WRITE_MAX)");
// What a ConsoleLine needs in all: its fields, its line, its outbox.
const FIELDS_BYTES: u32 = (<u32>offsetof<ConsoleLine>() + 15) & ~15;
export const CONSOLE_LINE_BYTES: u32 = FIELDS_BYTES + LINE_BYTES + OUTBOX_BYTES;

// Half a 115200-baud port (11520 bytes/s): a guest's share until the stub
// sets the one that follows the host port's measured rate.
export const CONSOLE_BYTES_PER_SECOND: u32 = 5760;
// The least setRate takes, whatever the stub passes: a rate of 0 would
// divide by zero (the config's own floor is the same, config/guest_config.ts).
const LEAST_BYTES_PER_SECOND: u32 = 100;
// A 16550's transmit FIFO four times over: a short line goes out at once.
export const CONSOLE_BURST_BYTES: u32 = 64;

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
  // The console budget: `budget` bytes may go now, counted up to guest TSC
  // `budgetAt`. No clock (unit tests of other devices): no limit.
  clock: GuestClock;
  budget: u32;
  budgetAt: u64;
  bytesPerSecond: u32;  // this guest's share of the host console
  perByte: u64;         // guest TSC ticks per byte at that share (0: to work out)
  refused: bool;        // the UART refused a byte for want of budget (the exit retries it)
  waits: u32;           // how often it did

  // Points the console at its buffers (static memory, CONSOLE_LINE_BYTES
  // from `this`) and names the guest.
  init(name: usize, nameLength: u32): void {
    let base = changetype<usize>(this);
    this.line = base + <usize>FIELDS_BYTES;
    this.outbox = this.line + <usize>LINE_BYTES;
    this.outboxLength = 0;
    this.lostLines = 0;
    this.budget = CONSOLE_BURST_BYTES;
    this.budgetAt = 0;
    this.bytesPerSecond = CONSOLE_BYTES_PER_SECOND;
    this.perByte = 0;
    this.refused = false;
    this.waits = 0;
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

  // The guest's share of the host console from now on.
  setRate(bytesPerSecond: u32): void {
    this.bytesPerSecond = bytesPerSecond > LEAST_BYTES_PER_SECOND ? bytesPerSecond : LEAST_BYTES_PER_SECOND;
    this.perByte = 0;
  }

  // The clock's rate may have changed (the guest's time starts at load).
  clockChanged(): void {
    this.perByte = 0;
  }

  // True when the guest may send `bytes` now (its budget, brought up to the
  // clock, holds them). Inline, with refill: the UART asks on every LSR
  // read, and the call cost as much as the test.
  @inline canSend(bytes: u32 = 1): bool {
    if (changetype<usize>(this.clock) == 0) return true;
    let budget = this.budget;
    if (budget < CONSOLE_BURST_BYTES) budget = this.refill(this.clock.now, budget);
    return budget >= bytes;
  }

  // One byte from the guest, taken when its budget (brought up to the
  // clock) holds one: false, and nothing taken, when it does not, which
  // `refused` and `waits` record. No clock: no limit. Inline, the budget
  // in locals: the UART sends every byte through here (make bench P1, io).
  @inline send(value: u32): bool {
    let clock = this.clock;
    if (changetype<usize>(clock) != 0) {
      let now = clock.now;
      let budget = this.budget;
      if (budget < CONSOLE_BURST_BYTES) {
        budget = this.refill(now, budget);
        if (budget == 0) {
          this.refused = true;
          this.waits++;
          return false;
        }
      } else {
        // From a full budget the time counts from now, not from when it
        // filled (a refill to full counts from now already).
        this.budgetAt = now;
      }
      this.budget = budget - 1;
    }
    this.append(value);
    return true;
  }

  // The guest TSC at which the budget holds `bytes` (up to the burst).
  sendDeadline(bytes: u32 = 1): u64 {
    let missing = bytes > this.budget ? bytes - this.budget : 1;
    return this.budgetAt + <u64>missing * this.ticksPerByte();
  }

  // Worked out once per rate: refill() asks on every exit that sends.
  @inline private ticksPerByte(): u64 {
    let ticks = this.perByte;
    return ticks != 0 ? ticks : this.workOutTicksPerByte();
  }

  private workOutTicksPerByte(): u64 {
    let ticks = this.clock.tscHz / <u64>this.bytesPerSecond;
    this.perByte = ticks != 0 ? ticks : 1;
    return this.perByte;
  }

  // Whole bytes earned since budgetAt, up to the burst; the remainder
  // stays for the next. Returns the budget, as it stores it.
  @inline private refill(now: u64, budget: u32): u32 {
    let at = this.budgetAt;
    if (now < at) {
      at = now; // the guest's clock restarted (a reboot)
      this.budgetAt = now;
    }
    let perByte = this.ticksPerByte();
    let earned = (now - at) / perByte;
    if (earned == 0) return budget;
    if (earned >= <u64>(CONSOLE_BURST_BYTES - budget)) {
      budget = CONSOLE_BURST_BYTES;
      this.budgetAt = now;
    } else {
      budget += <u32>earned;
      this.budgetAt = at + earned * perByte;
    }
    this.budget = budget;
    return budget;
  }

  // The byte goes on the line. Inline for a printable byte that leaves
  // the line short of full, nearly every one (make bench P1, io); any
  // other byte out of line.
  @inline private append(value: u32): void {
    value &= 0xff;
    let length = this.lineLength;
    if (value - 0x20 < 0x5f && length - this.prefixLength < LINE_TEXT_BYTES - 1) {
      store<u8>(this.line + <usize>length, <u8>value);
      this.lineLength = length + 1;
      return;
    }
    this.appendByte(value);
  }

  // Any byte (0-255, as append() masked it): a '\n' finishes the line, as
  // does a full line.
  private appendByte(value: u32): void {
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

  // Prints the finished lines. The outbox holds whole lines only, and at
  // most OUTBOX_BYTES, which one consoleWrite takes (linker/imports.c), so
  // it goes in one call: no scan for the newlines (make bench P1, io).
  drain(platform: Platform): void {
    if (this.outboxLength == 0) return;
    platform.consoleWrite(this.outbox, this.outboxLength);
    this.outboxLength = 0;
  }

  // Prints everything, a partial line too (with a '\n' added): the guest is
  // stopping and nothing it wrote may be lost.
  flush(platform: Platform): void {
    if (this.hasPartialLine()) this.finishLine();
    this.drain(platform);
  }
}

// A tab becomes a space: the host's console takes printable text and
// newlines only (linker/imports.c), and a tab is spacing, not garbage.
@inline function printable(value: u32): u8 {
  if (value == TAB) return 0x20;
  return value >= 0x20 && value < 0x7f ? <u8>value : <u8>0x2e;
}
