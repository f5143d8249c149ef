// Guests of several vCPUs: which vCPU runs (nextVcpu), INIT and STARTUP,
// IPIs over the APIC bus, halting and waking, PAUSE, parking a vCPU.
import { Machine, layoutMachine, createGuest, loadGuest } from "../../../assembly/guest/machine";
import { dispatchExit } from "../../../assembly/guest/exits";
import { ExitReason, ExitAction, StopReason } from "../../../assembly/vcpu/exit_record";
import {
  VcpuRun, vcpuRecord, vcpuInitialState, vcpuLapic, runState, selectVcpu, routeIpis,
} from "../../../assembly/guest/vcpus";
import { nextVcpu, NEXT_VCPU_NONE, NEXT_VCPU_LOAD, NEXT_VCPU_APPLY } from "../../../assembly/guest/vcpu_schedule";
import { FakePlatform, multibootElf } from "./helpers";

// ICR low (SDM vol. 3A, 12.6.1): delivery mode, level, shorthand.
const FIXED: u32 = 0 << 8;
const NMI: u32 = 4 << 8;
const INIT: u32 = 5 << 8;
const STARTUP: u32 = 6 << 8;
const LOGICAL: u32 = 1 << 11;
const ASSERT: u32 = 1 << 14;
const ALL_BUT_SELF: u32 = 3 << 18;
const IF: u64 = 0x202;

function newSmpGuest(platform: FakePlatform, vcpus: u32): Machine {
  let machine = layoutMachine();
  store<u8>(machine.setupArea, 0x61); // "a"
  expect(createGuest(machine, 1, 16 << 20, 1, 0, vcpus)).toBe(0);
  platform.kernel = multibootElf().bytes;
  expect(loadGuest(machine, vcpuInitialState(machine, 0), platform)).toBe(0);
  // Software-enable every local APIC (SVR bit 8), as an OS does.
  for (let v: u32 = 0; v < vcpus; v++) vcpuLapic(machine, v).mmioWrite(0xf0, 4, 0x1ff);
  return machine;
}

// vCPU `v` exits for `reason` (RIP 0x100000, RFLAGS `rflags`); answers the action.
function exitOn(machine: Machine, platform: FakePlatform, v: u32, reason: u32, rflags: u64 = IF): u32 {
  selectVcpu(machine, v);
  let record = vcpuRecord(machine, v);
  record.reason = reason;
  record.rip = 0x100000;
  record.rflags = rflags;
  record.instructionLength = 0;
  record.inject = 0;
  record.pendingEvent = 0;
  record.interruptibility = 0;
  dispatchExit(record, machine, platform);
  return record.action;
}

// vCPU `from` sends the IPI of ICR low `command` to xAPIC destination `destination`.
function sendIpi(machine: Machine, platform: FakePlatform, from: u32, command: u32, destination: u32): void {
  selectVcpu(machine, from);
  vcpuLapic(machine, from).sendIpi(command, destination);
  routeIpis(machine, platform);
}

// vCPU 0 starts vCPU 1 (INIT, then STARTUP at page 0x9A).
function startAp(machine: Machine, platform: FakePlatform): void {
  sendIpi(machine, platform, 0, INIT | ASSERT, 1);
  sendIpi(machine, platform, 0, STARTUP | ASSERT | 0x9a, 1);
}

describe("a guest of several vCPUs", () => {
  it("starts with vCPU 0 alone runnable; the others wait for a STARTUP", () => {
    let platform = new FakePlatform();
    let machine = newSmpGuest(platform, 3);
    expect(machine.vcpuCount).toBe(3);
    expect(runState(machine, 0)).toBe(VcpuRun.Runnable);
    expect(runState(machine, 1)).toBe(VcpuRun.WaitForSipi);
    expect(nextVcpu(machine, platform, -1)).toBe(0);
    expect(nextVcpu(machine, platform, 0)).toBe(0);
    // vCPU 0 halts with nothing pending: nobody runs, the guest waits.
    expect(exitOn(machine, platform, 0, ExitReason.Hlt)).toBe(ExitAction.Wait);
    expect(nextVcpu(machine, platform, 0)).toBe(NEXT_VCPU_NONE);
  });

  it("refuses 0 vCPUs and more than the machine has room for", () => {
    let machine = layoutMachine();
    expect(createGuest(machine, 1, 16 << 20, 0, 0, 0)).toBe(3);
    expect(createGuest(machine, 1, 16 << 20, 0, 0, 9)).toBe(3);
  });

  it("starts an AP by INIT and STARTUP in real mode at the vector's page", () => {
    let platform = new FakePlatform();
    let machine = newSmpGuest(platform, 2);
    sendIpi(machine, platform, 0, INIT | ASSERT, 1);
    expect(runState(machine, 1)).toBe(VcpuRun.WaitForSipi);
    sendIpi(machine, platform, 0, STARTUP | ASSERT | 0x9a, 1);
    expect(runState(machine, 1)).toBe(VcpuRun.Runnable);
    let state = vcpuInitialState(machine, 1);
    expect(state.csSelector).toBe(0x9a00);
    expect(state.csBase).toBe(0x9a000);
    expect(state.rip).toBe(0);
    expect(state.cr0).toBe(0x60000010);
    expect(state.tscOffset).toBe(machine.state.tscOffset);
    // The next pick after vCPU 0 is the AP, to be loaded first, once.
    expect(nextVcpu(machine, platform, 0)).toBe(1 | NEXT_VCPU_LOAD);
    expect(nextVcpu(machine, platform, 0)).toBe(1);
    // A second STARTUP to a running AP is ignored, as on a CPU.
    sendIpi(machine, platform, 0, STARTUP | ASSERT | 0x10, 1);
    expect(vcpuInitialState(machine, 1).csBase).toBe(0x9a000);
    expect(nextVcpu(machine, platform, 0)).toBe(1);
  });

  it("wakes a halted vCPU with a fixed IPI, its HLT answered for the stub to apply", () => {
    let platform = new FakePlatform();
    let machine = newSmpGuest(platform, 2);
    startAp(machine, platform);
    // INIT left its APIC software-disabled: the AP's OS enables it.
    vcpuLapic(machine, 1).mmioWrite(0xf0, 4, 0x1ff);
    expect(exitOn(machine, platform, 1, ExitReason.Hlt)).toBe(ExitAction.Wait);
    expect(runState(machine, 1)).toBe(VcpuRun.Halted);
    // vCPU 0 sends vector 0x40 by logical flat destination (LDR bit 1).
    vcpuLapic(machine, 1).mmioWrite(0xd0, 4, 0x02000000);
    selectVcpu(machine, 0);
    vcpuLapic(machine, 0).mmioWrite(0x310, 4, 0x02000000);
    // The ICR write is an MMIO exit in life: here the register write and
    // the routing the exit handler does after it.
    vcpuLapic(machine, 0).mmioWrite(0x300, 4, FIXED | LOGICAL | ASSERT | 0x40);
    routeIpis(machine, platform);
    expect(vcpuLapic(machine, 1).ldr).toBe(0x02000000);
    expect(vcpuLapic(machine, 0).icrHigh).toBe(0x02000000);
    expect(vcpuLapic(machine, 1).pendingVector()).toBe(0x40);
    expect(nextVcpu(machine, platform, 0)).toBe(1 | NEXT_VCPU_APPLY);
    let record = vcpuRecord(machine, 1);
    expect(record.advance).toBe(1);                     // past the HLT
    expect(record.inject).toBe(0x80000040);             // the IPI's vector
    expect(runState(machine, 1)).toBe(VcpuRun.Runnable);
  });

  it("sends all-but-self IPIs to every other vCPU, NMIs too", () => {
    let platform = new FakePlatform();
    let machine = newSmpGuest(platform, 3);
    sendIpi(machine, platform, 0, FIXED | ALL_BUT_SELF | ASSERT | 0x50, 0);
    expect(vcpuLapic(machine, 0).pendingVector()).toBe(-1);
    expect(vcpuLapic(machine, 1).pendingVector()).toBe(0x50);
    expect(vcpuLapic(machine, 2).pendingVector()).toBe(0x50);
    sendIpi(machine, platform, 1, NMI | ASSERT, 2);
    expect(vcpuLapic(machine, 2).nmiPending).toBe(true);
    expect(vcpuLapic(machine, 0).nmiPending).toBe(false);
  });

  it("gives way on PAUSE only when a sibling can run", () => {
    let platform = new FakePlatform();
    let machine = newSmpGuest(platform, 2);
    expect(exitOn(machine, platform, 0, ExitReason.Pause)).toBe(ExitAction.Resume);
    expect(vcpuRecord(machine, 0).advance).toBe(2);
    startAp(machine, platform);
    expect(exitOn(machine, platform, 0, ExitReason.Pause)).toBe(ExitAction.Switch);
  });

  it("parks a vCPU that halts with interrupts off while another lives; the last one stops the guest", () => {
    let platform = new FakePlatform();
    let machine = newSmpGuest(platform, 2);
    startAp(machine, platform);
    expect(exitOn(machine, platform, 1, ExitReason.Hlt, 0x2)).toBe(ExitAction.Wait);
    expect(runState(machine, 1)).toBe(VcpuRun.HaltedInterruptsOff);
    // An interrupt does not end it; an NMI does.
    sendIpi(machine, platform, 0, FIXED | ASSERT | 0x40, 1);
    expect(nextVcpu(machine, platform, 0)).toBe(0);
    expect(exitOn(machine, platform, 0, ExitReason.Hlt, 0x2)).toBe(ExitAction.Stop);
    expect(vcpuRecord(machine, 0).stopReason).toBe(<u32>StopReason.Halted);
  });

  it("wakes a parked vCPU with an NMI", () => {
    let platform = new FakePlatform();
    let machine = newSmpGuest(platform, 2);
    startAp(machine, platform);
    expect(exitOn(machine, platform, 1, ExitReason.Hlt, 0x2)).toBe(ExitAction.Wait);
    sendIpi(machine, platform, 0, NMI | ASSERT, 1);
    expect(exitOn(machine, platform, 0, ExitReason.Hlt)).toBe(ExitAction.Wait);
    expect(nextVcpu(machine, platform, 0)).toBe(1 | NEXT_VCPU_APPLY);
    expect(vcpuRecord(machine, 1).inject).toBe(0x80000202); // NMI, vector 2
  });
});
