// Round-robin scheduling of guests on one core: after a guest's run ends,
// the next runnable guest after it (in index order, wrapping) runs. A guest
// that yielded (halted) and one that was preempted by its time slice go to
// the back of the same queue, so every runnable guest gets one turn per
// round whatever the others do. Stopped guests are skipped; a guest stays
// stopped until the next reset. A guest that waits (halted with nothing
// pending: ExitAction.Wait) is skipped until it is woken; when every guest
// of a CPU that is not stopped waits, the answer is IDLE and the CPU halts.
// O(guests) per decision, no allocation.

import { ExitAction } from "../vcpu/exit_record";

// The most guests the scheduler tracks (the config's MAX_GUESTS).
export const SCHEDULER_CAPACITY: u32 = 256;

// The answer when no guest is left.
export const NO_GUEST: i32 = -1;
// The answer when guests are left but all of them wait.
export const IDLE: i32 = -2;

// One byte per guest: 1 = stopped.
const STOPPED: usize = memory.data(<i32>SCHEDULER_CAPACITY, 8);
// One byte per guest: 1 = waiting to be woken.
const WAITING: usize = memory.data(<i32>SCHEDULER_CAPACITY, 8);
// One byte per guest: the host CPU it runs on (each CPU round-robins over
// its own guests; 0 for all on a single CPU).
const CPU_OF: usize = memory.data(<i32>SCHEDULER_CAPACITY, 8);
// One byte per guest: 1 = its mask named no CPU of this host (spread).
const UNMET: usize = memory.data(<i32>SCHEDULER_CAPACITY, 8);
let guestCount: u32 = 0;
let runnable: u32 = 0;

// Guests 0..count-1 become runnable (count is capped at the capacity).
export function roundRobinReset(count: u32): void {
  guestCount = count < SCHEDULER_CAPACITY ? count : SCHEDULER_CAPACITY;
  memory.fill(STOPPED, 0, <usize>SCHEDULER_CAPACITY);
  memory.fill(WAITING, 0, <usize>SCHEDULER_CAPACITY);
  memory.fill(CPU_OF, 0, <usize>SCHEDULER_CAPACITY);
  runnable = guestCount;
}

// Puts `guest` on host CPU `cpu` (0..255). Ignores unknown guests.
export function roundRobinAssign(guest: u32, cpu: u32): void {
  if (guest < guestCount && cpu < 256) store<u8>(CPU_OF + <usize>guest, <u8>cpu);
}

export function roundRobinCpuOf(guest: u32): u32 {
  return guest < guestCount ? <u32>load<u8>(CPU_OF + <usize>guest) : 0;
}

// Takes `guest` out of the rotation. Ignores unknown or stopped guests.
export function roundRobinStop(guest: u32): void {
  if (guest >= guestCount) return;
  let flag = STOPPED + <usize>guest;
  if (load<u8>(flag) != 0) return;
  store<u8>(flag, 1);
  store<u8>(WAITING + <usize>guest, 0);
  runnable--;
}

// Ends the wait of `guest`. Ignores unknown, stopped or running guests.
export function roundRobinWake(guest: u32): void {
  if (guest < guestCount) store<u8>(WAITING + <usize>guest, 0);
}

// True while `guest` waits to be woken.
export function roundRobinWaiting(guest: u32): bool {
  return guest < guestCount && load<u8>(WAITING + <usize>guest) != 0;
}

export function roundRobinRunnable(): u32 {
  return runnable;
}

// The guest to run after `current`'s run ended with `action` (an
// ExitAction: Resume, Yield, Stop or Wait; anything else counts as Resume). For
// current = -1 (nothing ran yet) or any value that is not a guest, the
// search starts at guest 0. NO_GUEST when every guest is stopped.
export function roundRobinNext(current: i32, action: u32): i32 {
  return roundRobinNextOn(0, current, action);
}

// The same, among the guests of host CPU `cpu` only. NO_GUEST when every
// guest of that CPU is stopped, IDLE when the others all wait.
export function roundRobinNextOn(cpu: u32, current: i32, action: u32): i32 {
  let start: u32 = 0;
  if (current >= 0 && <u32>current < guestCount) {
    if (action == ExitAction.Stop) roundRobinStop(<u32>current);
    else if (action == ExitAction.Wait) store<u8>(WAITING + <usize>current, 1);
    start = <u32>current + 1;
  }
  if (runnable == 0) return NO_GUEST;
  let waiting = false;
  // `current` itself comes last: it runs again only if nobody else can.
  for (let step: u32 = 0; step < guestCount; step++) {
    let guest = start + step;
    if (guest >= guestCount) guest -= guestCount;
    if (load<u8>(STOPPED + <usize>guest) != 0 || <u32>load<u8>(CPU_OF + <usize>guest) != cpu) continue;
    if (load<u8>(WAITING + <usize>guest) != 0) {
      waiting = true;
      continue;
    }
    return <i32>guest;
  }
  return waiting ? IDLE : NO_GUEST;
}

// Spreads guests over `cpuCount` CPUs: each goes to the least loaded CPU
// its mask allows (bit n = CPU n; a mask with no CPU of this host, or 0,
// allows all), ties to the lowest CPU. `maskOf` gives each guest's mask.
// Answers how many guests' masks named no CPU of this host
// (roundRobinUnmet tells which).
export function roundRobinSpread(cpuCount: u32, maskOf: (guest: u32) => u64): u32 {
  if (cpuCount == 0) cpuCount = 1;
  if (cpuCount > 64) cpuCount = 64;
  let all: u64 = cpuCount == 64 ? <u64>-1 : (<u64>1 << cpuCount) - 1;
  let load_ = memory.data(64 * 4, 4);
  memory.fill(load_, 0, 64 * 4);
  let unmet: u32 = 0;
  memory.fill(UNMET, 0, <usize>SCHEDULER_CAPACITY);
  for (let guest: u32 = 0; guest < guestCount; guest++) {
    let mask = maskOf(guest) & all;
    if (mask == 0) {
      if (maskOf(guest) != 0) {
        store<u8>(UNMET + <usize>guest, 1);
        unmet++;
      }
      mask = all;
    }
    let best: u32 = 0;
    let bestLoad: u32 = 0xffffffff;
    for (let cpu: u32 = 0; cpu < cpuCount; cpu++) {
      if ((mask & (<u64>1 << cpu)) == 0) continue;
      let l = load<u32>(load_ + (<usize>cpu << 2));
      if (l < bestLoad) { best = cpu; bestLoad = l; }
    }
    store<u32>(load_ + (<usize>best << 2), bestLoad + 1);
    store<u8>(CPU_OF + <usize>guest, <u8>best);
  }
  return unmet;
}

// True for a guest whose mask named no CPU of this host at the last spread.
export function roundRobinUnmet(guest: u32): bool {
  return guest < guestCount && load<u8>(UNMET + <usize>guest) != 0;
}

// The number of guests of the last reset.
export function roundRobinGuestCount(): u32 {
  return guestCount;
}

// True for a guest taken out of the rotation (and for unknown guests).
export function roundRobinStopped(guest: u32): bool {
  return guest >= guestCount || load<u8>(STOPPED + <usize>guest) != 0;
}
