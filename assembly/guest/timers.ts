// The guest's time at each exit: the clock is set once (guest TSC = host
// TSC + the guest's offset), every timed device catches up with it, and
// the answer tells the stub when the next of them is due, in host TSC, so
// the host timer fires by then even if the guest makes no exit.
//
// Most exits come before any device is due: each device's advance() does
// nothing before its deadline() (and what the guest reads is computed
// from clock.now), so an exit skips them until the earliest deadline,
// gathered after any exit that re-armed a device (clock.rearmed).

import { Platform } from "./platform";
import { Machine } from "./machine";
import { NO_DEADLINE, earlier } from "../devices/clock";
import { vcpuLapic } from "./vcpus";

// Starts an exit: sets the clock and fires whatever became due.
@inline export function startExitClock(machine: Machine, platform: Platform): void {
  let clock = machine.clock;
  clock.now = platform.readTsc() + <u64>machine.state.tscOffset;
  if (clock.now >= machine.timersDue) advanceTimers(machine);
}

function advanceTimers(machine: Machine): void {
  machine.pit.advance();
  machine.rtc.advance();
  machine.pm.advance();
  machine.uart.advance();
  // Every vCPU's local APIC timer: a halted vCPU's fires while another runs.
  for (let v: u32 = 0; v < machine.vcpuCount; v++) vcpuLapic(machine, v).advance();
  machine.clock.rearmed = true;
}

// The host TSC at which the next timed device needs to run, NO_DEADLINE
// when none is armed. Gathered again only when a device was re-armed.
@inline export function nextHostDeadline(machine: Machine): u64 {
  return machine.clock.rearmed ? gatherDeadlines(machine) : machine.hostDeadline;
}

function gatherDeadlines(machine: Machine): u64 {
  machine.clock.rearmed = false;
  let deadline = earlier(earlier(machine.pit.deadline(), machine.rtc.deadline()), earlier(machine.pm.deadline(), machine.uart.deadline()));
  for (let v: u32 = 0; v < machine.vcpuCount; v++) deadline = earlier(deadline, vcpuLapic(machine, v).deadline());
  // The RTC's alarm check needs an exit at its update, not a host wake.
  machine.timersDue = earlier(deadline, machine.rtc.alarmCheck());
  // host TSC = guest TSC - offset
  machine.hostDeadline = deadline == NO_DEADLINE ? NO_DEADLINE : deadline - <u64>machine.state.tscOffset;
  return machine.hostDeadline;
}

// Device state changed outside an exit (create, load): advance and gather
// on the next one.
export function timersChanged(machine: Machine): void {
  machine.timersDue = 0;
  machine.clock.rearmed = true;
}
