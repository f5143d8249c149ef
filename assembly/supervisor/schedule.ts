// The supervisor's exports for scheduling: which guest the stub's loop runs
// next on this core. The policy is round-robin (../sched/round_robin.ts);
// every argument is checked, answers are values, never traps.

import {
  roundRobinNext, roundRobinReset, roundRobinRunnable, roundRobinStop,
} from "../sched/round_robin";

// Guests 0..count-1 become runnable (at most 64), none stopped.
export function schedulerReset(count: u32): void {
  roundRobinReset(count);
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
}

// How many guests are not stopped.
export function runnableCount(): u32 {
  return roundRobinRunnable();
}
