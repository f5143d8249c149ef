// The supervisor's exports for scheduling: where each guest runs, and which
// have stopped (for the console focus and the monitor). Which guest runs
// next on a CPU is that CPU's own scheduler instance's to decide
// (../sched/index.ts, no lock); the policy is round-robin
// (../sched/round_robin.ts). Every argument is checked, answers are
// values, never traps.

import {
  roundRobinCpuOf, roundRobinNext, roundRobinReset, roundRobinRunnable,
  roundRobinSpread, roundRobinUnmet, roundRobinStop,
} from "../sched/round_robin";
import { consoleFocusGuestStopped, consoleFocusReset } from "./console_focus";
import { configGuest } from "../config/guest_config";
import { configGuestCount } from "../config/schema";
import { consoleWrite } from "./host";
import { TextWriter } from "../lib/text";

// Guests 0..count-1 become runnable (at most 64), none stopped.
export function schedulerReset(count: u32): void {
  roundRobinReset(count);
  consoleFocusReset();
}

// The guest to run next, given that the last run of `current` (-1 at the
// start) ended with `action`: 0 resume (preempted, still runnable), 1 yield
// (halted or yielded), 2 stop (finished for good). Round-robin from the
// guest after `current`, skipping stopped guests; -1 when all are stopped.
export function scheduleNext(current: i32, action: u32): i32 {
  return roundRobinNext(current, action);
}

// Takes a guest out of the rotation (crashed, powered off, being restarted
// in a new slot); unknown guests are ignored.
export function guestMarkStopped(guest: u32): void {
  roundRobinStop(guest);
  consoleFocusGuestStopped(guest);
}

// How many guests are not stopped.
export function runnableCount(): u32 {
  return roundRobinRunnable();
}

// Where each guest runs: the least loaded of the CPUs its `cpus` key
// allows, or of all `cpuCount` CPUs. Prints one line per CPU with guests,
// and a warning for a guest pinned only to CPUs this host does not have.
export function assignCpus(cpuCount: u32): void {
  roundRobinSpread(cpuCount, guestMask);
  let count = configGuestCount();
  for (let guest: u32 = 0; guest < count; guest++) {
    if (!roundRobinUnmet(guest)) continue;
    let config = configGuest(guest);
    line.clear().text("[hv] guest ").bytes(config.namePointer, config.nameLength)
      .text(": its cpus are not on this host (").decimal(cpuCount).text(" CPUs): running it on CPU ")
      .decimal(roundRobinCpuOf(guest)).text("\n");
    consoleWrite(LINE, line.length);
  }
  if (cpuCount <= 1) return;
  for (let cpu: u32 = 0; cpu < cpuCount; cpu++) {
    line.clear().text("[hv] CPU ").decimal(cpu).text(":");
    let any = false;
    for (let guest: u32 = 0; guest < count; guest++) {
      if (roundRobinCpuOf(guest) != cpu) continue;
      let config = configGuest(guest);
      line.text(any ? ", " : " ").bytes(config.namePointer, config.nameLength);
      any = true;
    }
    if (!any) line.text(" no guests");
    line.text("\n");
    consoleWrite(LINE, line.length);
  }
}

export function guestCpu(guest: u32): u32 {
  return roundRobinCpuOf(guest);
}

const LINE_CAPACITY: u32 = 512;
const LINE: usize = memory.data(<i32>LINE_CAPACITY);
const line = new TextWriter(LINE, LINE_CAPACITY - 1);

function guestMask(guest: u32): u64 {
  return guest < configGuestCount() ? configGuestCpuMask(guest) : 0;
}

// The guest's `cpus` key as a mask (0: any CPU).
function configGuestCpuMask(guest: u32): u64 {
  return configGuest(guest).cpuMask;
}
