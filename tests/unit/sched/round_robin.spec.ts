// Round-robin scheduling as the stub's loop sees it through the
// supervisor's exports.

import {
  guestMarkStopped, runnableCount, scheduleNext, schedulerReset,
} from "../../../assembly/supervisor/schedule";

const RESUME: u32 = 0;
const YIELD: u32 = 1;
const STOP: u32 = 2;

describe("round-robin scheduler", () => {
  it("runs guests in index order, wrapping, starting with guest 0", () => {
    schedulerReset(3);
    expect(runnableCount()).toBe(3);
    let order: i32[] = [];
    let current = -1;
    for (let i = 0; i < 7; i++) {
      current = scheduleNext(current, RESUME);
      order.push(current);
    }
    expect(order).toStrictEqual([0, 1, 2, 0, 1, 2, 0]);
  });

  it("skips guests that stopped", () => {
    schedulerReset(4);
    expect(scheduleNext(-1, RESUME)).toBe(0);
    expect(scheduleNext(0, RESUME)).toBe(1);
    expect(scheduleNext(1, STOP)).toBe(2);
    expect(runnableCount()).toBe(3);
    guestMarkStopped(3);
    expect(runnableCount()).toBe(2);
    expect(scheduleNext(2, YIELD)).toBe(0);
    expect(scheduleNext(0, RESUME)).toBe(2);
    expect(scheduleNext(2, RESUME)).toBe(0);
  });

  it("runs the only runnable guest again, whether it was preempted or yielded", () => {
    schedulerReset(3);
    guestMarkStopped(0);
    guestMarkStopped(2);
    expect(scheduleNext(-1, RESUME)).toBe(1);
    expect(scheduleNext(1, RESUME)).toBe(1);
    expect(scheduleNext(1, YIELD)).toBe(1);
  });

  it("answers -1 when every guest is stopped", () => {
    schedulerReset(2);
    expect(scheduleNext(-1, RESUME)).toBe(0);
    expect(scheduleNext(0, STOP)).toBe(1);
    expect(scheduleNext(1, STOP)).toBe(-1);
    expect(runnableCount()).toBe(0);
    expect(scheduleNext(-1, RESUME)).toBe(-1);
    expect(scheduleNext(1, RESUME)).toBe(-1);
  });

  it("answers -1 with no guests at all", () => {
    schedulerReset(0);
    expect(runnableCount()).toBe(0);
    expect(scheduleNext(-1, RESUME)).toBe(-1);
  });

  it("is fair when some guests yield every time and others use their slices", () => {
    schedulerReset(4);
    let turns: u32[] = [0, 0, 0, 0];
    let current = -1;
    let lastAction: u32 = RESUME;
    for (let i = 0; i < 400; i++) {
      current = scheduleNext(current, lastAction);
      turns[current]++;
      lastAction = current % 2 == 1 ? YIELD : RESUME;   // 1 and 3 always halt
    }
    expect(turns).toStrictEqual([100, 100, 100, 100]);
  });

  it("stays fair after a guest stops mid-round", () => {
    schedulerReset(3);
    let turns: u32[] = [0, 0, 0];
    let current = -1;
    for (let i = 0; i < 300; i++) {
      let action = current == 1 && i >= 100 ? STOP : (i % 3 == 0 ? YIELD : RESUME);
      current = scheduleNext(current, action);
      turns[current]++;
    }
    // Guest 1 stopped after its turn ending at decision 100.
    expect(turns[0] + turns[1] + turns[2]).toBe(300);
    let difference = <i32>turns[0] - <i32>turns[2];
    expect(difference >= -1 && difference <= 1).toBe(true);
    expect(runnableCount()).toBe(2);
  });

  it("counts a guest stopped twice once", () => {
    schedulerReset(3);
    guestMarkStopped(1);
    guestMarkStopped(1);
    expect(runnableCount()).toBe(2);
    expect(scheduleNext(1, STOP)).toBe(2);
    expect(runnableCount()).toBe(2);
  });

  it("ignores guests it does not know, and treats an unknown action as resume", () => {
    schedulerReset(3);
    guestMarkStopped(3);
    guestMarkStopped(u32.MAX_VALUE);
    expect(runnableCount()).toBe(3);
    expect(scheduleNext(7, STOP)).toBe(0, "a current that is not a guest starts at 0");
    expect(scheduleNext(-5, STOP)).toBe(0);
    expect(runnableCount()).toBe(3);
    expect(scheduleNext(0, 99)).toBe(1);
    expect(runnableCount()).toBe(3);
  });

  it("caps the guest count at 256 and brings stopped guests back on reset", () => {
    schedulerReset(1000);
    expect(runnableCount()).toBe(256);
    expect(scheduleNext(255, RESUME)).toBe(0);
    expect(scheduleNext(254, RESUME)).toBe(255);
    for (let guest: u32 = 0; guest < 256; guest++) guestMarkStopped(guest);
    expect(scheduleNext(-1, RESUME)).toBe(-1);
    schedulerReset(2);
    expect(runnableCount()).toBe(2);
    expect(scheduleNext(-1, RESUME)).toBe(0);
    expect(scheduleNext(0, RESUME)).toBe(1);
    expect(scheduleNext(1, RESUME)).toBe(0);
  });
});
