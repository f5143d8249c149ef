// Console input focus, as in Xen: what is typed on the host's serial
// console goes to one guest at a time, or to the hypervisor's prompt
// (monitor.ts). Pressing Ctrl-A three times in a row moves the focus on:
// through the guests in config order, skipping stopped ones, then the
// prompt, then the first running guest again. One or two Ctrl-As followed
// by another byte are no switch: they go where the focus is, before that
// byte. They are held back until that byte comes, so a switch never leaks
// Ctrl-As to the guest left behind (Xen's serial_rx does the same).
//
// The focus starts on the first guest. When the focused guest stops, it
// moves to the next running guest; when none is left it goes to the
// prompt without a word (the machine is about to power off).
//
// The stub reads COM1 and hands every byte to consoleInput(), which says
// where it goes; the stub queues it for that guest's UART. Guest states
// are the scheduler's (../sched/round_robin.ts). Lines are printed through
// a sink (console_input.ts makes it the host console), so the unit tests
// read what is printed.

import { LineSink } from "../config/report";
import { TextWriter } from "../lib/text";
import { roundRobinGuestCount, roundRobinStopped } from "../sched/round_robin";
import { monitorEnter, monitorInput, monitorLeave, monitorReset, writeGuestName } from "./monitor";

export const CTRL_A: u32 = 0x01;
// Consecutive Ctrl-As that move the focus.
export const SWITCH_PRESSES: u32 = 3;
// consoleInput's answer for a byte the hypervisor took (or holds back),
// and consoleFocus's for the prompt.
export const TO_HYPERVISOR: i32 = -1;

let focus: i32 = TO_HYPERVISOR;
let ctrlAPresses: u32 = 0;
let released: u32 = 0;

function discard(pointer: usize, length: u32): void {}
let sink: LineSink = discard;

const OUTPUT_BYTES: u32 = 256;
const OUTPUT: usize = memory.data(<i32>OUTPUT_BYTES);
const out = new TextWriter(OUTPUT, OUTPUT_BYTES);

// Where focus lines and the prompt print (until set: nowhere).
export function setConsoleOutput(output: LineSink): void {
  sink = output;
}

// The scheduler was reset: the focus goes to the first guest (and says so).
export function consoleFocusReset(): void {
  ctrlAPresses = 0;
  released = 0;
  monitorReset();
  focus = TO_HYPERVISOR;
  let first = runningGuestFrom(0, false);
  if (first != TO_HYPERVISOR) moveFocus(first);
}

// A guest stopped: if it had the focus, the focus moves on.
export function consoleFocusGuestStopped(guest: u32): void {
  if (<i32>guest == focus) leaveStoppedGuest();
}

// One byte typed on the host's console: the guest it goes to, or -1 when
// the hypervisor took it (Ctrl-A counting, the prompt). For a guest,
// consoleInputReleased() says how many held-back Ctrl-As go before it.
export function consoleInput(byte: u32): i32 {
  released = 0;
  byte &= 0xff;
  if (focus >= 0 && roundRobinStopped(<u32>focus)) leaveStoppedGuest();
  if (byte == CTRL_A) {
    ctrlAPresses++;
    if (ctrlAPresses < SWITCH_PRESSES) return TO_HYPERVISOR; // held back for now
    switchFocus();
    return TO_HYPERVISOR;
  }
  let held = ctrlAPresses;
  ctrlAPresses = 0;
  if (focus == TO_HYPERVISOR) {
    for (let i: u32 = 0; i < held; i++) monitorInput(CTRL_A, sink);
    monitorInput(byte, sink);
    return TO_HYPERVISOR;
  }
  released = held;
  return focus;
}

// How many held-back Ctrl-As (0..2) the last consoleInput released: the
// stub delivers that many 0x01 bytes to the same guest before the byte.
export function consoleInputReleased(): u32 {
  return released;
}

// Where typed bytes go now: a guest, or -1 for the prompt.
export function consoleFocus(): i32 {
  if (focus >= 0 && roundRobinStopped(<u32>focus)) leaveStoppedGuest();
  return focus;
}

// Ctrl-A three times: the next running guest after the focused one (the
// first from the prompt); after the last, the prompt.
function switchFocus(): void {
  moveFocus(runningGuestFrom(focus == TO_HYPERVISOR ? 0 : <u32>focus + 1, false));
}

function leaveStoppedGuest(): void {
  let next = runningGuestFrom(<u32>focus + 1, true);
  if (next != TO_HYPERVISOR) {
    moveFocus(next);
  } else {
    ctrlAPresses = 0;
    focus = TO_HYPERVISOR;
  }
}

function moveFocus(next: i32): void {
  ctrlAPresses = 0;
  if (focus == TO_HYPERVISOR) monitorLeave(sink);
  focus = next;
  out.clear().text("[hv] input focus: ");
  if (next == TO_HYPERVISOR) {
    out.text("hypervisor prompt (type help; press Ctrl-A three times to switch)\n");
  } else {
    out.text("guest ");
    writeGuestName(out, <u32>next);
    out.text(" (press Ctrl-A three times to switch)\n");
  }
  sink(out.pointer, out.length);
  if (next == TO_HYPERVISOR) monitorEnter(sink);
}

// The first guest from `start` (wrapping around if asked) that is not
// stopped; -1 when there is none.
function runningGuestFrom(start: u32, wrap: bool): i32 {
  let count = roundRobinGuestCount();
  for (let step: u32 = 0; step < count; step++) {
    let guest = start + step;
    if (guest >= count) {
      if (!wrap) break;
      guest -= count;
    }
    if (!roundRobinStopped(guest)) return <i32>guest;
  }
  return TO_HYPERVISOR;
}
