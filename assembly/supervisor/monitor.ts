// The hypervisor's prompt: a tiny monitor on the host's serial console,
// reached by moving the input focus to it (console_focus.ts). A line is
// typed (echoed as it comes; Backspace or DEL erases) and Enter runs it;
// a serial console sends "\r" for Enter, so "\r", "\n" and the pair
// "\r\n" each end one line.
//
//   help         lists the commands
//   list         one line per guest: running, or stopped (why)
//   stop <name>  stops a running guest (as `xl destroy` does), whatever it
//                is doing: the stub acts on it between time slices
//
// Every line it prints starts with "[hv] "; the prompt is "[hv] > ". It
// prints through the sink it is handed, so the unit tests read it.

import { LineSink } from "../config/report";
import { configGuest } from "../config/guest_config";
import { configGuestCount } from "../config/schema";
import { TextWriter } from "../lib/text";
import { roundRobinGuestCount, roundRobinStopped } from "../sched/round_robin";
import { StopReason } from "../vcpu/exit_record";

const RETURN: u32 = 0x0d;
const NEWLINE: u32 = 0x0a;
const BACKSPACE: u32 = 0x08;
const DELETE: u32 = 0x7f;
const SPACE: u32 = 0x20;
const TILDE: u32 = 0x7e;

// A typed line keeps this many bytes; more are neither kept nor echoed.
export const MONITOR_LINE_BYTES: u32 = 64;
const TYPED: usize = memory.data(<i32>MONITOR_LINE_BYTES);
let typedLength: u32 = 0;
// The prompt (and what was typed after it) is on the console, unfinished.
let lineOpen = false;
// The last byte was "\r": a "\n" right after it ends no second line.
let afterReturn = false;

const OUTPUT_BYTES: u32 = 256;
const OUTPUT: usize = memory.data(<i32>OUTPUT_BYTES);
const out = new TextWriter(OUTPUT, OUTPUT_BYTES);

// Why each guest stopped, for `list` (a StopReason; 0: none told).
const MAX_GUESTS: u32 = 256;   // the config's MAX_GUESTS
const STOP_REASONS: usize = memory.data(<i32>MAX_GUESTS);

// Guests the operator asked to stop, a byte each (1: stop it): the stub
// reads them between time slices (stopRequests()), without a lock.
const STOP_REQUESTS: usize = memory.data(<i32>MAX_GUESTS);

export function stopRequests(): usize {
  return STOP_REQUESTS;
}

// Forgets the typed line and every stop reason (the guests start anew).
export function monitorReset(): void {
  typedLength = 0;
  lineOpen = false;
  afterReturn = false;
  memory.fill(STOP_REASONS, 0, <usize>MAX_GUESTS);
  memory.fill(STOP_REQUESTS, 0, <usize>MAX_GUESTS);
}

// The crash policy tells why a guest stopped (0 when it is restarted).
export function monitorNoteStop(guest: u32, reason: u32): void {
  if (guest >= MAX_GUESTS) return;
  store<u8>(STOP_REASONS + <usize>guest, <u8>(reason < 256 ? reason : 0));
  store<u8>(STOP_REQUESTS + <usize>guest, 0);
}

// The input focus came here: a fresh prompt.
export function monitorEnter(sink: LineSink): void {
  typedLength = 0;
  afterReturn = false;
  openLine(sink);
}

// The input focus leaves: the unfinished line is ended and forgotten.
export function monitorLeave(sink: LineSink): void {
  if (lineOpen) emit(sink, out.clear().byte(NEWLINE));
  lineOpen = false;
  typedLength = 0;
}

// One typed byte.
export function monitorInput(byte: u32, sink: LineSink): void {
  if (byte == NEWLINE && afterReturn) {
    afterReturn = false;
    return;
  }
  afterReturn = byte == RETURN;
  if (byte == RETURN || byte == NEWLINE) {
    openLine(sink);
    emit(sink, out.clear().byte(NEWLINE));
    lineOpen = false;
    runCommand(sink);
    typedLength = 0;
    openLine(sink);
  } else if (byte == BACKSPACE || byte == DELETE) {
    if (typedLength == 0) return;
    typedLength--;
    emit(sink, out.clear().byte(BACKSPACE).byte(SPACE).byte(BACKSPACE));
  } else if (byte >= SPACE && byte <= TILDE && typedLength < MONITOR_LINE_BYTES) {
    openLine(sink);
    store<u8>(TYPED + <usize>typedLength, <u8>byte);
    typedLength++;
    emit(sink, out.clear().byte(byte));
  }
  // Other control bytes and non-ASCII are not taken.
}

function runCommand(sink: LineSink): void {
  let start: u32 = 0;
  let end = typedLength;
  while (start < end && load<u8>(TYPED + <usize>start) == SPACE) start++;
  while (end > start && load<u8>(TYPED + <usize>(end - 1)) == SPACE) end--;
  let command = TYPED + <usize>start;
  let length = end - start;
  if (length == 0) return;
  if (typedIs(command, length, "help")) {
    emit(sink, out.clear().text("[hv] help   this list\n"));
    emit(sink, out.clear().text("[hv] list   the guests, running or stopped (why)\n"));
    emit(sink, out.clear().text("[hv] stop <name>   stop that guest\n"));
    emit(sink, out.clear().text("[hv] Ctrl-A three times moves the input to the next guest\n"));
  } else if (typedIs(command, length, "list")) {
    listGuests(sink);
  } else if (length > 5 && typedIs(command, 5, "stop ")) {
    stopGuestNamed(command + 5, length - 5, sink);
  } else {
    emit(sink, out.clear().text("[hv] unknown command ").quoted(command, length).text(" (try help)\n"));
  }
}

function stopGuestNamed(name: usize, length: u32, sink: LineSink): void {
  while (length > 0 && load<u8>(name) == SPACE) { name++; length--; }
  let count = roundRobinGuestCount();
  for (let guest: u32 = 0; guest < count; guest++) {
    let config = configGuest(guest);
    if (config.nameLength != length || memory.compare(config.namePointer, name, <usize>length) != 0) continue;
    out.clear().text("[hv] guest ");
    writeGuestName(out, guest);
    if (roundRobinStopped(guest)) {
      emit(sink, out.text(" is not running\n"));
    } else {
      store<u8>(STOP_REQUESTS + <usize>guest, 1);
      emit(sink, out.text(": stopping it\n"));
    }
    return;
  }
  emit(sink, out.clear().text("[hv] no guest named ").quoted(name, length).text("\n"));
}

function listGuests(sink: LineSink): void {
  let count = roundRobinGuestCount();
  if (count == 0) emit(sink, out.clear().text("[hv] no guests\n"));
  for (let guest: u32 = 0; guest < count; guest++) {
    out.clear().text("[hv] guest ");
    writeGuestName(out, guest);
    if (roundRobinStopped(guest)) {
      out.text(": stopped (").text(stopReasonText(guest < MAX_GUESTS ? load<u8>(STOP_REASONS + <usize>guest) : 0)).text(")\n");
    } else {
      out.text(": running\n");
    }
    emit(sink, out);
  }
}

// "<name>", or "#<index>" for a guest the config does not name.
export function writeGuestName(writer: TextWriter, guest: u32): void {
  if (guest < configGuestCount()) {
    let config = configGuest(guest);
    writer.bytes(config.namePointer, config.nameLength);
  } else {
    writer.byte(0x23).decimal(guest);
  }
}

function stopReasonText(reason: u32): string {
  switch (reason) {
    case StopReason.ExitCode: return "exited";
    case StopReason.TripleFault: return "triple fault";
    case StopReason.OutsideRam: return "access outside its RAM";
    case StopReason.InvalidState: return "invalid state";
    case StopReason.Halted: return "halted with interrupts off";
    case StopReason.Unsupported: return "unsupported exit";
    case StopReason.LoadFailed: return "kernel not loaded";
    case StopReason.VmmTrap: return "its guest VMM trapped";
    case StopReason.PowerOff: return "powered off";
    case StopReason.Operator: return "stopped at the prompt";
    default: return "did not start";
  }
}

function typedIs(pointer: usize, length: u32, word: string): bool {
  if (length != <u32>word.length) return false;
  for (let i: u32 = 0; i < length; i++) {
    if (<u32>load<u8>(pointer + <usize>i) != <u32>word.charCodeAt(i)) return false;
  }
  return true;
}

function openLine(sink: LineSink): void {
  if (lineOpen) return;
  emit(sink, out.clear().text("[hv] > "));
  lineOpen = true;
}

function emit(sink: LineSink, writer: TextWriter): void {
  sink(writer.pointer, writer.length);
}
