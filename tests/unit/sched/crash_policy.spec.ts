import { crashPolicyReset, decideRestart, isCrash, restartIsReboot, restartsUsed } from "../../../assembly/sched/crash_policy";
import { StopReason } from "../../../assembly/vcpu/exit_record";

describe("crash policy", () => {
  beforeEach(() => { crashPolicyReset(); });

  it("counts a triple fault, a trap in the guest VMM and an invalid state as crashes", () => {
    expect(isCrash(<u32>StopReason.TripleFault)).toBe(true);
    expect(isCrash(<u32>StopReason.VmmTrap)).toBe(true);
    expect(isCrash(<u32>StopReason.InvalidState)).toBe(true);
  });

  it("does not count an exit code, halting or an access outside RAM as a crash", () => {
    expect(isCrash(<u32>StopReason.ExitCode)).toBe(false);
    expect(isCrash(<u32>StopReason.Halted)).toBe(false);
    expect(isCrash(<u32>StopReason.OutsideRam)).toBe(false);
    expect(isCrash(<u32>StopReason.LoadFailed)).toBe(false);
  });

  it("calls only a triple fault's restart a reboot (a PC resets on one)", () => {
    expect(restartIsReboot(<u32>StopReason.TripleFault)).toBe(true);
    expect(restartIsReboot(<u32>StopReason.VmmTrap)).toBe(false);
    expect(restartIsReboot(<u32>StopReason.InvalidState)).toBe(false);
    expect(restartIsReboot(<u32>StopReason.Reboot)).toBe(false);
  });

  it("counts triple faults against max_restarts, so a guest faulting in a loop stops", () => {
    let restarts = 0;
    for (let i = 0; i < 100; i++) {
      if (decideRestart(5, <u32>StopReason.TripleFault, true, 3) == 0) break;
      restarts++;
    }
    expect(restarts).toBe(3);
    expect(restartsUsed(5)).toBe(3);
  });

  it("does not restart a guest that powered off", () => {
    expect(decideRestart(0, <u32>StopReason.PowerOff, true, 9)).toBe(0);
  });

  it("never restarts a guest whose on_crash is stop", () => {
    expect(decideRestart(0, <u32>StopReason.TripleFault, false, 5)).toBe(0);
  });

  it("restarts a crashed guest up to max_restarts times, numbering the restarts", () => {
    expect(decideRestart(3, <u32>StopReason.TripleFault, true, 2)).toBe(1);
    expect(decideRestart(3, <u32>StopReason.VmmTrap, true, 2)).toBe(2);
    expect(decideRestart(3, <u32>StopReason.TripleFault, true, 2)).toBe(0);
    expect(restartsUsed(3)).toBe(2);
  });

  it("keeps each guest's count apart", () => {
    expect(decideRestart(1, <u32>StopReason.TripleFault, true, 1)).toBe(1);
    expect(decideRestart(2, <u32>StopReason.TripleFault, true, 1)).toBe(1);
    expect(decideRestart(1, <u32>StopReason.TripleFault, true, 1)).toBe(0);
  });

  it("does not restart a guest that ended itself", () => {
    expect(decideRestart(0, <u32>StopReason.ExitCode, true, 9)).toBe(0);
    expect(restartsUsed(0)).toBe(0);
  });

  it("answers 0 for a guest index beyond the table", () => {
    expect(decideRestart(256, <u32>StopReason.TripleFault, true, 9)).toBe(0);
    expect(restartsUsed(1000)).toBe(0);
  });
});
