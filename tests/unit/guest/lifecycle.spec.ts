import { layoutMachine, createGuest, loadGuest, SETUP_AREA_BYTES } from "../../../assembly/guest/machine";
import { dispatchExit } from "../../../assembly/guest/exits";
import { loadKernel } from "../../../assembly/loaders/kernel";
import { TextWriter } from "../../../assembly/lib/text";
import { ExitReason, ExitAction, StopReason, VcpuState, VCPU_STATE_BYTES } from "../../../assembly/vcpu/exit_record";
import { FakePlatform, Image, multibootElf, newGuest, newRecord } from "./helpers";

const STATE: usize = memory.data(VCPU_STATE_BYTES, 16);
const WHY: usize = memory.data(256);

describe("a guest's life", () => {
  it("is given once: a second create is refused", () => {
    let machine = layoutMachine();
    expect(createGuest(machine, 1, 16 << 20, 0, 0)).toBe(0);
    expect(createGuest(machine, 2, 16 << 20, 0, 0)).toBe(1);
    expect(machine.state.guestId).toBe(1);
  });

  it("refuses a name and command line longer than the setup area", () => {
    let machine = layoutMachine();
    expect(createGuest(machine, 1, 16 << 20, 4096, 4097)).toBe(2);
    expect(createGuest(machine, 1, 16 << 20, 0xffffffff, 2)).toBe(2);
    expect(createGuest(machine, 1, 16 << 20, 4096, SETUP_AREA_BYTES - 4096)).toBe(0);
  });

  it("accepts a create with no RAM, as the instance self-test makes", () => {
    let machine = layoutMachine();
    expect(createGuest(machine, 3, 0, 0, 0)).toBe(0);
  });

  it("cannot load before create", () => {
    let machine = layoutMachine();
    let platform = new FakePlatform();
    expect(loadGuest(machine, changetype<VcpuState>(STATE), platform)).toBe(1);
  });

  it("loads once", () => {
    let platform = new FakePlatform();
    platform.kernel = multibootElf().bytes;
    let machine = newGuest();
    expect(loadGuest(machine, changetype<VcpuState>(STATE), platform)).toBe(0);
    expect(loadGuest(machine, changetype<VcpuState>(STATE), platform)).toBe(2);
  });

  it("asks the host's TSC rate only when its clock is first used, and once", () => {
    // The host may still be measuring it when the guest starts (boot/tsc.c).
    let platform = new FakePlatform();
    platform.kernel = multibootElf().bytes;
    let machine = newGuest();
    expect(loadGuest(machine, changetype<VcpuState>(STATE), platform)).toBe(0);
    expect(platform.rateAsked).toBe(0);
    expect(machine.clock.tscHz).toBe(2000000000);
    expect(machine.clock.tscHz).toBe(2000000000);
    expect(platform.rateAsked).toBe(1);
  });

  it("takes 1 GHz when the host answers no TSC rate", () => {
    let platform = new FakePlatform();
    platform.kernel = multibootElf().bytes;
    platform.hz = 0;
    let machine = newGuest();
    expect(loadGuest(machine, changetype<VcpuState>(STATE), platform)).toBe(0);
    expect(machine.clock.tscHz).toBe(1000000000);
  });

  it("prints exactly one line when its kernel cannot be loaded, and stops", () => {
    let platform = new FakePlatform();
    let machine = newGuest("web");
    expect(loadGuest(machine, changetype<VcpuState>(STATE), platform)).toBe(StopReason.LoadFailed);
    expect(platform.console.length).toBe(1);
    expect(platform.console[0]).toBe("[hv] guest web stopped: cannot load kernel: the guest has no kernel\n");
    let record = newRecord(ExitReason.Cpuid);
    dispatchExit(record, machine, platform);
    expect(record.action).toBe(ExitAction.Stop);
    expect(record.stopReason).toBe(StopReason.LoadFailed);
    expect(platform.console.length).toBe(1);
  });

  it("refuses a command line longer than the multiboot information area holds", () => {
    let platform = new FakePlatform();
    platform.kernel = multibootElf().bytes;
    let cmdline = new Image(20000).fill(0, 20000, 0x61);
    let why = new TextWriter(WHY, 256);
    expect(loadKernel(platform, 16 << 20, changetype<usize>(cmdline.bytes), 20000,
                      changetype<VcpuState>(STATE), why)).toBe(false);
    expect(why.toString()).toBe("the command line is 20000 bytes (at most 12031)");
  });
});
