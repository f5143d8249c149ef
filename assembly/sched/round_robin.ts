// Round-robin scheduling of guests on one core: after a guest's run ends,
// the next runnable guest after it (in index order, wrapping) runs. A guest
// that yielded (halted) and one that was preempted by its time slice go to
// the back of the same queue, so every runnable guest gets one turn per
// round whatever the others do. Stopped guests are skipped; a guest stays
// stopped until the next reset. O(guests) per decision, no allocation.

import { ExitAction } from "../vcpu/exit_record";

// The most guests the scheduler tracks (the config's MAX_GUESTS).
export const SCHEDULER_CAPACITY: u32 = 64;

// The answer when no guest can run.
export const NO_GUEST: i32 = -1;

// One byte per guest: 1 = stopped.
const STOPPED: usize = memory.data(<i32>SCHEDULER_CAPACITY, 8);
let guestCount: u32 = 0;
let runnable: u32 = 0;

// Guests 0..count-1 become runnable (count is capped at the capacity).
export function roundRobinReset(count: u32): void {
  guestCount = count < SCHEDULER_CAPACITY ? count : SCHEDULER_CAPACITY;
  memory.fill(STOPPED, 0, <usize>SCHEDULER_CAPACITY);
  runnable = guestCount;
}

// Takes `guest` out of the rotation. Ignores unknown or stopped guests.
export function roundRobinStop(guest: u32): void {
  if (guest >= guestCount) return;
  let flag = STOPPED + <usize>guest;
  if (load<u8>(flag) != 0) return;
  store<u8>(flag, 1);
  runnable--;
}

export function roundRobinRunnable(): u32 {
  return runnable;
}

// The guest to run after `current`'s run ended with `action` (an
// ExitAction: Resume, Yield or Stop; anything else counts as Resume). For
// current = -1 (nothing ran yet) or any value that is not a guest, the
// search starts at guest 0. NO_GUEST when every guest is stopped.
export function roundRobinNext(current: i32, action: u32): i32 {
  let start: u32 = 0;
  if (current >= 0 && <u32>current < guestCount) {
    if (action == ExitAction.Stop) roundRobinStop(<u32>current);
    start = <u32>current + 1;
  }
  if (runnable == 0) return NO_GUEST;
  // `current` itself comes last: it runs again only if nobody else can.
  for (let step: u32 = 0; step < guestCount; step++) {
    let guest = start + step;
    if (guest >= guestCount) guest -= guestCount;
    if (load<u8>(STOPPED + <usize>guest) == 0) return <i32>guest;
  }
  return NO_GUEST; // not reached while runnable > 0
}
