// One host CPU's scheduler instance (assembly/sched/index.ts) as the stub
// drives it: its own guests only, halts and wakes without the supervisor.

import { reset, leave, next, wake, waiting, gone } from "../../../assembly/sched/index";

const RESUME: u32 = 0;
const YIELD: u32 = 1;
const STOP: u32 = 2;
const WAIT: u32 = 3;
const NONE: i32 = -1;
const IDLE: i32 = -2;

describe("a CPU's scheduler", () => {
  it("round-robins over the guests that did not leave it", () => {
    reset(5);
    leave(1);
    leave(3);   // guests 1 and 3 run on another CPU
    expect(next(-1, RESUME)).toBe(0);
    expect(next(0, RESUME)).toBe(2);
    expect(next(2, YIELD)).toBe(4);
    expect(next(4, RESUME)).toBe(0);
    expect(gone(1)).toBe(true);
    expect(gone(2)).toBe(false);
  });

  it("skips a waiting guest until it is woken, and idles when all wait", () => {
    reset(2);
    expect(next(-1, RESUME)).toBe(0);
    expect(next(0, WAIT)).toBe(1);
    expect(waiting(0)).toBe(true);
    expect(next(1, RESUME)).toBe(1);   // guest 0 still waits
    expect(next(1, WAIT)).toBe(IDLE);
    wake(1);
    expect(waiting(1)).toBe(false);
    expect(next(-1, RESUME)).toBe(1);
    wake(0);
    expect(next(1, RESUME)).toBe(0);
  });

  it("answers none once every guest of the CPU stopped; a stopped guest cannot be woken", () => {
    reset(3);
    leave(2);
    expect(next(-1, RESUME)).toBe(0);
    expect(next(0, STOP)).toBe(1);
    wake(0);
    expect(next(1, RESUME)).toBe(1);
    expect(next(1, STOP)).toBe(NONE);
  });

  it("ignores guests out of range", () => {
    reset(2);
    leave(300);
    wake(300);
    expect(waiting(300)).toBe(false);
    expect(gone(300)).toBe(true);
    expect(next(300, STOP)).toBe(0);
    expect(next(-7, WAIT)).toBe(0);
  });
});
