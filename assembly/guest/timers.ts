// The guest's time at each exit: the clock is set once (guest TSC = host
// TSC + the guest's offset), every timed device catches up with it, and
// the answer tells the stub when the next of them is due, in host TSC, so
// the host timer fires by then even if the guest makes no exit.

import { Platform } from "./platform";
import { Machine } from "./machine";
import { NO_DEADLINE, earlier } from "../devices/clock";
import { vcpuLapic } from "./vcpus";

// Starts an exit: sets the clock and fires whatever became due.
export function startExitClock(machine: Machine, platform: Platform): void {
  machine.clock.now = platform.readTsc() + <u64>machine.state.tscOffset;
  machine.pit.advance();
  machine.rtc.advance();
  machine.pm.advance();
  // Every vCPU's local APIC timer: a halted vCPU's fires while another runs.
  for (let v: u32 = 0; v < machine.vcpuCount; v++) vcpuLapic(machine, v).advance();
}

// The host TSC at which the next timed device needs to run, NO_DEADLINE
// when none is armed.
export function nextHostDeadline(machine: Machine): u64 {
  let deadline = earlier(earlier(machine.pit.deadline(), machine.rtc.deadline()), machine.pm.deadline());
  for (let v: u32 = 0; v < machine.vcpuCount; v++) deadline = earlier(deadline, vcpuLapic(machine, v).deadline());
  if (deadline == NO_DEADLINE) return NO_DEADLINE;
  return deadline - <u64>machine.state.tscOffset;   // host TSC = guest TSC - offset
}
