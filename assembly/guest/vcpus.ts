// A guest's vCPUs: each has its own ExitRecord, first state, local APIC
// and MSRs at a fixed place in the machine, and a run state. The exit
// handler works on one vCPU at a time, the current one (selectVcpu points
// machine.lapic and machine.msrs at its own); the devices behind the APIC
// bus reach all of them.
//
// Run states: the bootstrap processor (vCPU 0) starts runnable; the others
// wait for a STARTUP IPI, as application processors do after the INIT a
// PC's firmware sends them (Intel SDM vol. 3A, 10.4). A vCPU halts in HLT
// until an interrupt it can take (with RFLAGS.IF clear: only an NMI).

import { Machine } from "./machine";
import { Platform } from "./platform";
import { ExitRecord, VcpuState, EXIT_RECORD_BYTES, VCPU_STATE_BYTES } from "../vcpu/exit_record";
import { MsrFile, MSR_FILE_BYTES } from "../vcpu/msr";
import { Lapic } from "../devices/lapic";
import { MmioKind } from "../devices/mmio_bus";
import { lapicAt, routeIpi } from "../devices/apic_bus";
import { interruptPending, nmiPending } from "../vcpu/interrupts";
import { startupState } from "../vcpu/reset_state";

export const enum VcpuRun {
  WaitForSipi = 0,
  Runnable = 1,
  Halted = 2,                // HLT with RFLAGS.IF set: an interrupt or an NMI ends it
  HaltedInterruptsOff = 3,   // HLT with IF clear: only an NMI ends it
}

// MsrFiles sit this many bytes apart, one per vCPU.
export const MSR_FILE_STRIDE: u32 = (MSR_FILE_BYTES + 15) & ~15;

// Scratch for CPUID leaf 1, whose EAX a vCPU holds in EDX after INIT.
const SIGNATURE_OUT: usize = memory.data(16, 16);

@inline export function vcpuRecord(machine: Machine, vcpu: u32): ExitRecord {
  return changetype<ExitRecord>(machine.records + <usize>vcpu * <usize>EXIT_RECORD_BYTES);
}

@inline export function vcpuInitialState(machine: Machine, vcpu: u32): VcpuState {
  return changetype<VcpuState>(machine.initialStates + <usize>vcpu * <usize>VCPU_STATE_BYTES);
}

@inline export function vcpuLapic(machine: Machine, vcpu: u32): Lapic {
  return lapicAt(changetype<usize>(machine.lapics), vcpu);
}

@inline export function vcpuMsrs(machine: Machine, vcpu: u32): MsrFile {
  return changetype<MsrFile>(machine.msrFiles + <usize>vcpu * <usize>MSR_FILE_STRIDE);
}

@inline export function runState(machine: Machine, vcpu: u32): u32 {
  return <u32>load<u8>(machine.runStates + <usize>vcpu);
}

@inline export function setRunState(machine: Machine, vcpu: u32, state: u32): void {
  store<u8>(machine.runStates + <usize>vcpu, <u8>state);
}

// Makes `vcpu` the one the exit handler works on. Already selected on
// every exit of a guest of one vCPU: one compare, inline.
@inline export function selectVcpu(machine: Machine, vcpu: u32): void {
  if (vcpu != machine.current) retargetVcpu(machine, vcpu);
}

// Points the machine at `vcpu`'s local APIC, MSRs and MMIO range, whether
// or not it was the current one (layoutMachine's first selection: only
// here do machine.current and machine.lapic change, so they agree after).
export function retargetVcpu(machine: Machine, vcpu: u32): void {
  let lapic = vcpuLapic(machine, vcpu);
  machine.current = vcpu;
  machine.lapic = lapic;
  machine.msrs = vcpuMsrs(machine, vcpu);
  machine.mmio.retarget(MmioKind.Lapic, changetype<usize>(machine.lapic));
}

// Whether halted `vcpu` has what ends its HLT now.
export function haltEnds(machine: Machine, vcpu: u32): bool {
  let state = runState(machine, vcpu);
  if (state != VcpuRun.Halted && state != VcpuRun.HaltedInterruptsOff) return false;
  let lapic = vcpuLapic(machine, vcpu);
  if (nmiPending(lapic)) return true;
  return state == VcpuRun.Halted && interruptPending(lapic, machine.pic);
}

// Whether another vCPU than the current one could run now: runnable, or
// halted with its HLT ended (`woken` only: the latter alone).
export function siblingReady(machine: Machine, woken: bool): bool {
  for (let v: u32 = 0; v < machine.vcpuCount; v++) {
    if (v == machine.current) continue;
    if (!woken && runState(machine, v) == VcpuRun.Runnable) return true;
    if (haltEnds(machine, v)) return true;
  }
  return false;
}

// Whether another vCPU than the current one may still run some day by
// itself: runnable, or halted with interrupts on (a timer or an IPI can
// end that). When none may, a HLT with interrupts off ends the guest.
export function siblingAlive(machine: Machine): bool {
  for (let v: u32 = 0; v < machine.vcpuCount; v++) {
    if (v == machine.current) continue;
    let state = runState(machine, v);
    if (state == VcpuRun.Runnable || state == VcpuRun.Halted) return true;
  }
  return false;
}

// After the current vCPU's exit: the IPI its local APIC sent reaches the
// others. INIT puts an application processor back to waiting for a
// STARTUP; a STARTUP starts one that waits, in real mode at the vector's
// page (the stub loads that state before its next entry). INIT and
// STARTUP to the bootstrap processor or to the sender itself are ignored.
export function routeIpis(machine: Machine, platform: Platform): void {
  if (!machine.lapic.ipiPending) return;
  let targets = machine.ipiTargets;
  routeIpi(changetype<usize>(machine.lapics), machine.vcpuCount, machine.current, targets);
  if ((targets.init | targets.startup) == 0) return;
  for (let v: u32 = 1; v < machine.vcpuCount; v++) {
    if (v == machine.current) continue;
    let bit: u32 = 1 << v;
    if ((targets.init & bit) != 0) {
      vcpuLapic(machine, v).initReset();
      setRunState(machine, v, VcpuRun.WaitForSipi);
      machine.loadPending &= ~bit;
    }
    if ((targets.startup & bit) != 0 && runState(machine, v) == VcpuRun.WaitForSipi) {
      platform.cpuid(1, 0, SIGNATURE_OUT);
      startupState(vcpuInitialState(machine, v), targets.vector, load<u32>(SIGNATURE_OUT), machine.state.tscOffset);
      setRunState(machine, v, VcpuRun.Runnable);
      machine.loadPending |= bit;
    }
  }
}
