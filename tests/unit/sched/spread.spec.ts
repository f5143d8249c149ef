import { roundRobinReset, roundRobinSpread, roundRobinUnmet, roundRobinCpuOf, roundRobinNextOn, roundRobinStop, NO_GUEST } from "../../../assembly/sched/round_robin";
import { ExitAction } from "../../../assembly/vcpu/exit_record";

let masks = new StaticArray<u64>(64);
function maskOf(guest: u32): u64 { return masks[guest]; }

describe("placing guests on host CPUs", () => {
  beforeEach(() => { for (let i = 0; i < 64; i++) masks[i] = 0; });

  it("spreads unpinned guests evenly, lowest CPU first", () => {
    roundRobinReset(5);
    expect(roundRobinSpread(2, maskOf)).toBe(0);
    expect(roundRobinCpuOf(0)).toBe(0);
    expect(roundRobinCpuOf(1)).toBe(1);
    expect(roundRobinCpuOf(2)).toBe(0);
    expect(roundRobinCpuOf(3)).toBe(1);
    expect(roundRobinCpuOf(4)).toBe(0);
  });

  it("honours a pinning mask, and balances the rest around it", () => {
    roundRobinReset(3);
    masks[0] = 1 << 1; // cpus = [1]
    masks[1] = 1 << 1;
    expect(roundRobinSpread(2, maskOf)).toBe(0);
    expect(roundRobinCpuOf(0)).toBe(1);
    expect(roundRobinCpuOf(1)).toBe(1);
    expect(roundRobinCpuOf(2)).toBe(0);
  });

  it("reports a guest pinned only to CPUs the host lacks, and places it anyway", () => {
    roundRobinReset(2);
    masks[1] = 1 << 7;
    expect(roundRobinSpread(2, maskOf)).toBe(1);
    expect(roundRobinUnmet(1)).toBe(true);
    expect(roundRobinUnmet(0)).toBe(false);
    expect(roundRobinCpuOf(1)).toBeLessThan(2);
  });

  it("schedules each CPU's guests on that CPU only", () => {
    roundRobinReset(4);
    roundRobinSpread(2, maskOf); // 0,2 on CPU 0; 1,3 on CPU 1
    expect(roundRobinNextOn(1, -1, ExitAction.Resume)).toBe(1);
    expect(roundRobinNextOn(1, 1, ExitAction.Yield)).toBe(3);
    expect(roundRobinNextOn(1, 3, ExitAction.Resume)).toBe(1);
    expect(roundRobinNextOn(0, -1, ExitAction.Resume)).toBe(0);
    expect(roundRobinNextOn(0, 0, ExitAction.Stop)).toBe(2);
    expect(roundRobinNextOn(0, 2, ExitAction.Stop)).toBe(NO_GUEST);
    expect(roundRobinNextOn(1, 3, ExitAction.Resume)).toBe(1);
  });

  it("treats a CPU count of 0 as 1", () => {
    roundRobinReset(2);
    roundRobinSpread(0, maskOf);
    expect(roundRobinCpuOf(0)).toBe(0);
    expect(roundRobinCpuOf(1)).toBe(0);
  });
});
