// The crash policy as the stub meets it (supervisor/crash.ts): what
// guestStopped answers for each stop reason and the line it prints.

import { guestStoppedTo } from "../../../assembly/supervisor/crash";
import { crashPolicyReset, restartsUsed } from "../../../assembly/sched/crash_policy";
import { StopReason } from "../../../assembly/vcpu/exit_record";
import { parse, setModules } from "../config/helpers";
import { capture, output } from "./capture";


const LINUX: u32 = 0;   // on_crash = "restart", max_restarts = 2
const STOPPY: u32 = 1;  // on_crash = "stop"
const ONCE: u32 = 2;    // on_crash = "restart", max_restarts = 1

function stopped(guest: u32, reason: StopReason): u32 {
  return guestStoppedTo(guest, <u32>reason, capture);
}

describe("crash policy at the supervisor", () => {
  beforeEach(() => {
    setModules(["vmlinuz", "a.elf"]);
    expect(parse(
      '[[guest]]\nname = "linux"\nkernel = "vmlinuz"\non_crash = "restart"\nmax_restarts = 2\n' +
      '[[guest]]\nname = "stoppy"\nkernel = "a.elf"\non_crash = "stop"\n' +
      '[[guest]]\nname = "once"\nkernel = "a.elf"\non_crash = "restart"\nmax_restarts = 1\n',
    )).toBe(0);
    crashPolicyReset();
    output();
  });

  it("reboots a guest that triple-faulted, saying so, counted against max_restarts", () => {
    expect(stopped(LINUX, StopReason.TripleFault)).toBe(1);
    expect(output()).toBe("[hv] guest linux rebooted (triple fault, 1 of 2)\n");
    expect(stopped(LINUX, StopReason.TripleFault)).toBe(1);
    expect(output()).toBe("[hv] guest linux rebooted (triple fault, 2 of 2)\n");
    expect(restartsUsed(LINUX)).toBe(2);
  });

  it("leaves a guest that triple-faults in a loop stopped once its restarts are used up", () => {
    expect(stopped(ONCE, StopReason.TripleFault)).toBe(1);
    expect(output()).toBe("[hv] guest once rebooted (triple fault, 1 of 1)\n");
    expect(stopped(ONCE, StopReason.TripleFault)).toBe(0);
    expect(output()).toBe("");
    expect(stopped(ONCE, StopReason.TripleFault)).toBe(0);
  });

  it("keeps a triple-faulting guest stopped when on_crash is stop", () => {
    expect(stopped(STOPPY, StopReason.TripleFault)).toBe(0);
    expect(output()).toBe("");
    expect(restartsUsed(STOPPY)).toBe(0);
  });

  it("restarts after a VMM trap or an invalid state with the restart line", () => {
    expect(stopped(LINUX, StopReason.VmmTrap)).toBe(1);
    expect(output()).toBe("[hv] guest linux restarted (1 of 2)\n");
    expect(stopped(LINUX, StopReason.InvalidState)).toBe(1);
    expect(output()).toBe("[hv] guest linux restarted (2 of 2)\n");
    expect(stopped(LINUX, StopReason.VmmTrap)).toBe(0);
    expect(output()).toBe("");
  });

  it("shares one count between triple faults and the other crashes", () => {
    expect(stopped(LINUX, StopReason.VmmTrap)).toBe(1);
    expect(output()).toBe("[hv] guest linux restarted (1 of 2)\n");
    expect(stopped(LINUX, StopReason.TripleFault)).toBe(1);
    expect(output()).toBe("[hv] guest linux rebooted (triple fault, 2 of 2)\n");
    expect(stopped(LINUX, StopReason.TripleFault)).toBe(0);
  });

  it("always starts a guest again that reset itself, printing nothing and counting nothing", () => {
    for (let i = 0; i < 5; i++) expect(stopped(ONCE, StopReason.Reboot)).toBe(1);
    expect(stopped(STOPPY, StopReason.Reboot)).toBe(1);
    expect(output()).toBe("");
    expect(restartsUsed(ONCE)).toBe(0);
    expect(stopped(ONCE, StopReason.TripleFault)).toBe(1);
    expect(output()).toBe("[hv] guest once rebooted (triple fault, 1 of 1)\n");
  });

  it("lets a guest that powered off or ended itself go", () => {
    expect(stopped(LINUX, StopReason.PowerOff)).toBe(0);
    expect(stopped(LINUX, StopReason.ExitCode)).toBe(0);
    expect(stopped(LINUX, StopReason.Halted)).toBe(0);
    expect(output()).toBe("");
    expect(restartsUsed(LINUX)).toBe(0);
  });

  it("answers 0 for a guest the config does not have", () => {
    expect(stopped(3, StopReason.TripleFault)).toBe(0);
    expect(output()).toBe("");
  });
});
