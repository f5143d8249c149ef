import { SystemControlB, PORT_B_REFRESH_TOGGLE, PORT_B_TIMER2_OUTPUT } from "../../../assembly/devices/system_control_b";
import { Pit8254, PIT8254_BYTES, PIT_HZ, PIT_CONTROL, PIT_COUNTER_2 } from "../../../assembly/devices/pit8254";
import { GuestClock, ticksToTsc } from "../../../assembly/devices/clock";
import { InterruptLines } from "../../../assembly/devices/interrupt_lines";

const TSC_HZ: u64 = 2_000_000_000;
const CLOCK: usize = memory.data(offsetof<GuestClock>(), 16);
const LINES: usize = memory.data(offsetof<InterruptLines>(), 16);
const PIT: usize = memory.data(PIT8254_BYTES, 16);
const PORT: usize = memory.data(offsetof<SystemControlB>(), 16);

function clock(): GuestClock {
  return changetype<GuestClock>(CLOCK);
}

function newPort(): SystemControlB {
  clock().init(TSC_HZ, 0);
  clock().now = 0;
  memory.fill(LINES, 0, offsetof<InterruptLines>());
  let pit = changetype<Pit8254>(PIT);
  memory.fill(PIT, 0xee, PIT8254_BYTES);
  pit.clock = clock();
  pit.lines = changetype<InterruptLines>(LINES);
  pit.reset();
  let port = changetype<SystemControlB>(PORT);
  memory.fill(PORT, 0xee, offsetof<SystemControlB>()); // reset() must set every field
  port.pit = pit;
  port.reset();
  return port;
}

describe("system control port B (0x61)", () => {
  it("reads back the gate and speaker bits as written, and 0 in bits 6-7", () => {
    let port = newPort();
    expect(port.read(0, 1) & 0xcf).toBe(0);
    port.write(0, 1, 0xff);
    expect(port.read(0, 1) & 0xcf).toBe(0x0f);
    port.write(0, 1, 0x02);
    expect(port.read(0, 1) & 0xcf).toBe(0x02);
  });

  it("flips the refresh toggle every 18 PIT clocks (about 15 us)", () => {
    let port = newPort();
    let first = port.read(0, 1) & PORT_B_REFRESH_TOGGLE;
    clock().now = ticksToTsc(clock(), 18, PIT_HZ) + 1;
    expect(port.read(0, 1) & PORT_B_REFRESH_TOGGLE).toBe(first ^ PORT_B_REFRESH_TOGGLE);
    clock().now = ticksToTsc(clock(), 36, PIT_HZ) + 1;
    expect(port.read(0, 1) & PORT_B_REFRESH_TOGGLE).toBe(first);
  });

  it("gates PIT channel 2 with bit 0 and shows its output in bit 5, as Linux's TSC calibration polls it", () => {
    let port = newPort();
    let pit = port.pit;
    // Linux: gate high, speaker off; channel 2 mode 0, a 50 ms count.
    port.write(0, 1, (port.read(0, 1) & ~0x02) | 0x01);
    pit.write(PIT_CONTROL, 1, 0xb0);
    let latch: u32 = <u32>(PIT_HZ / 20);
    pit.write(PIT_COUNTER_2, 1, latch & 0xff);
    pit.write(PIT_COUNTER_2, 1, latch >> 8);
    let polls = 0;
    while ((port.read(0, 1) & PORT_B_TIMER2_OUTPUT) == 0 && polls < 1000) {
      clock().now += TSC_HZ / 10000; // 100 us a poll
      polls++;
    }
    expect(polls).toBe(501); // 50 ms and one clock
  });

  it("holds channel 2's count while bit 0 is clear", () => {
    let port = newPort();
    let pit = port.pit;
    pit.write(PIT_CONTROL, 1, 0xb0);
    pit.write(PIT_COUNTER_2, 1, 10);
    pit.write(PIT_COUNTER_2, 1, 0);
    clock().now += TSC_HZ;
    expect(port.read(0, 1) & PORT_B_TIMER2_OUTPUT).toBe(0);
    port.write(0, 1, 0x01);
    clock().now += TSC_HZ / 1000;
    expect(port.read(0, 1) & PORT_B_TIMER2_OUTPUT).toBe(PORT_B_TIMER2_OUTPUT);
  });

  it("never traps on any byte written or read", () => {
    let port = newPort();
    for (let value: u32 = 0; value < 256; value++) {
      port.write(0, 1, value);
      clock().now += 1234;
      expect(port.read(0, 1) & 0xc0).toBe(0);
    }
    port.write(0, 4, 0xffffffff);
    port.read(0, 4);
  });
});
