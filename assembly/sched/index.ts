// The scheduler module: one instance per host CPU, holding the run queue of
// that CPU's guests (round_robin.ts). Each CPU decides what runs next on its
// own instance, so a scheduling decision (a slice's end, a halt, a wake)
// takes no lock: the supervisor, one instance behind one lock, is entered
// only when a guest starts, stops or is restarted. Guests on other CPUs are
// taken out of this queue at the start and never come back: placement is
// fixed for the run (the supervisor's assignCpus).
//
// Every argument is checked and answers are values, as in the supervisor's
// schedule.ts: a trap here would be a hypervisor bug.

// The abort --use abort=assembly/lib/abort/coreAbort names must be part of
// the program.
import "../lib/abort";
import {
  roundRobinNextOn, roundRobinReset, roundRobinStop, roundRobinWake, roundRobinWaiting, roundRobinStopped,
} from "./round_robin";

// Guests 0..count-1 (at most 256) in this CPU's queue, none stopped; the
// stub then makes each guest of another CPU leave it.
export function reset(count: u32): void {
  roundRobinReset(count);
}

// Takes `guest` out of this CPU's queue for good (it runs elsewhere, or it
// stopped). Unknown or gone guests are ignored.
export function leave(guest: u32): void {
  roundRobinStop(guest);
}

// The guest to run next here after `current`'s run ended with `action`
// (ExitAction), -1 at the start: -1 when none is left, -2 when all that are
// left wait.
export function next(current: i32, action: u32): i32 {
  return roundRobinNextOn(0, current, action);
}

// Ends a waiting guest's wait (its deadline passed, or input came for it).
export function wake(guest: u32): void {
  roundRobinWake(guest);
}

// For the stub's checks: true while `guest` waits, and once it left.
export function waiting(guest: u32): bool {
  return roundRobinWaiting(guest);
}

export function gone(guest: u32): bool {
  return roundRobinStopped(guest);
}
