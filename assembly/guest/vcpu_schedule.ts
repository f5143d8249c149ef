// Which of a guest's vCPUs runs next on the host CPU the guest has: the
// supervisor shares the host CPU between guests, this shares the guest's
// turn between its vCPUs (they time-share that one CPU, so the exit path
// of an instance never runs on two CPUs at once and needs no lock).
//
// Round-robin from the vCPU after the last one, among those runnable; a
// halted vCPU whose HLT has ended (an interrupt, an NMI, an IPI, its
// timer) is answered here, as the stub would ask with a Wake, and runs.

import { Machine } from "./machine";
import { Platform } from "./platform";
import { ExitReason, ExitAction } from "../vcpu/exit_record";
import { VcpuRun, vcpuRecord, runState, selectVcpu, haltEnds } from "./vcpus";
import { startExitClock, nextHostDeadline } from "./timers";
import { handleVcpuExit } from "./exits";

export const NEXT_VCPU_NONE: i32 = -1;
// Flags beside the vCPU number in nextVcpu's answer:
export const NEXT_VCPU_LOAD: i32 = 0x100;   // a STARTUP IPI started it: load its first state
export const NEXT_VCPU_APPLY: i32 = 0x200;  // its HLT ended: apply its record's answer

// The vCPU to run after `last` (-1: from the first), with its flags, or
// NEXT_VCPU_NONE when every vCPU is halted or waits for a STARTUP (the
// guest waits, until nextDeadline() or an event for it).
export function nextVcpu(machine: Machine, platform: Platform, last: i32): i32 {
  if (machine.state.stopped || !machine.state.loaded) return NEXT_VCPU_NONE;
  let count = machine.vcpuCount;
  startExitClock(machine, platform);     // timers of halted vCPUs fire now
  let start: u32 = last < 0 || <u32>last >= count ? 0 : <u32>last + 1;
  for (let k: u32 = 0; k < count; k++) {
    let v = (start + k) % count;
    let state = runState(machine, v);
    if (state == VcpuRun.Runnable) {
      let bit: u32 = 1 << v;
      let load = (machine.loadPending & bit) != 0;
      machine.loadPending &= ~bit;
      selectVcpu(machine, v);
      return <i32>v | (load ? NEXT_VCPU_LOAD : 0);
    }
    if (!haltEnds(machine, v)) continue;
    // Its HLT retires: the answer goes in its record, for the stub to apply.
    let record = vcpuRecord(machine, v);
    record.reason = <u32>ExitReason.Wake;
    handleVcpuExit(machine, platform, v);
    if (record.action == ExitAction.Stop) return NEXT_VCPU_NONE;
    if (record.action == ExitAction.Wait) continue;
    return <i32>v | NEXT_VCPU_APPLY;
  }
  return NEXT_VCPU_NONE;
}

// The host TSC by which the guest's next timer event is due.
export function nextDeadline(machine: Machine): u64 {
  return nextHostDeadline(machine);
}
