// The crash policy's entry point for the stub: called when a guest has
// stopped; answers whether to restart it (with a fresh guest VMM instance,
// fresh RAM and its image loaded again) and says so on the console:
//   "[hv] guest <name> restarted (n of N)"                a VMM trap, an invalid state
//   "[hv] guest <name> rebooted (triple fault, n of N)"   a triple fault (a PC's reset)
// A reset the guest asked for ("[hv] guest <name> rebooted", printed by
// its guest VMM) is restarted always and not counted.

import { consoleWrite } from "./host";
import { configGuest } from "../config/guest_config";
import { configGuestCount } from "../config/schema";
import { LineSink } from "../config/report";
import { decideRestart, restartIsReboot } from "../sched/crash_policy";
import { TextWriter } from "../lib/text";
import { monitorNoteStop } from "./monitor";
import { StopReason } from "../vcpu/exit_record";

const LINE_CAPACITY: u32 = 256;
const LINE: usize = memory.data(<i32>LINE_CAPACITY);
const line = new TextWriter(LINE, LINE_CAPACITY - 1);

function writeConsole(pointer: usize, length: u32): void {
  consoleWrite(pointer, length);
}

// 1: restart it now; 0: it stays stopped.
export function guestStopped(guest: u32, stopReason: u32): u32 {
  return guestStoppedTo(guest, stopReason, writeConsole);
}

// guestStopped, its line going to `sink` (the specs' way in).
export function guestStoppedTo(guest: u32, stopReason: u32, sink: LineSink): u32 {
  if (guest >= configGuestCount()) return 0;
  let config = configGuest(guest);
  // A reset is the guest's own wish to start again ("[hv] guest <name>
  // rebooted" was printed): not a crash, and not counted.
  if (stopReason == <u32>StopReason.Reboot) {
    monitorNoteStop(guest, 0);
    return 1;
  }
  let restart = decideRestart(guest, stopReason, config.onCrashRestart, config.maxRestarts);
  monitorNoteStop(guest, restart == 0 ? stopReason : 0); // for the prompt's `list`
  if (restart == 0) return 0;
  line.clear().text("[hv] guest ").bytes(config.namePointer, config.nameLength);
  if (restartIsReboot(stopReason)) line.text(" rebooted (triple fault, ");
  else line.text(" restarted (");
  line.decimal(restart).text(" of ").decimal(config.maxRestarts).text(")\n");
  sink(LINE, line.length);
  return 1;
}
