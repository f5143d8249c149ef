import {
  Pit8254, PIT8254_BYTES, PIT_HZ, PIT_COUNTER_0, PIT_COUNTER_2, PIT_CONTROL, STATUS_OUTPUT, STATUS_NULL_COUNT,
} from "../../../assembly/devices/pit8254";
import { GuestClock, NO_DEADLINE, ticksToTsc, tscToTicks } from "../../../assembly/devices/clock";
import { InterruptLines, IRQ_PIT } from "../../../assembly/devices/interrupt_lines";

const TSC_HZ: u64 = 2_000_000_000;
const START: u64 = 123_456_789; // guest TSC when a test begins
const CLOCK: usize = memory.data(offsetof<GuestClock>(), 16);
const LINES: usize = memory.data(offsetof<InterruptLines>(), 16);
const PIT: usize = memory.data(PIT8254_BYTES, 16);

function clock(): GuestClock {
  return changetype<GuestClock>(CLOCK);
}

function lines(): InterruptLines {
  return changetype<InterruptLines>(LINES);
}

function newPit(): Pit8254 {
  clock().init(TSC_HZ, 0);
  clock().now = START;
  memory.fill(LINES, 0, offsetof<InterruptLines>()); // no PIC, no I/O APIC
  lines().reset();
  memory.fill(PIT, 0xee, PIT8254_BYTES); // reset() must set every field
  let pit = changetype<Pit8254>(PIT);
  pit.clock = clock();
  pit.lines = lines();
  pit.reset();
  return pit;
}

// The first guest TSC at which `clocks` PIT clocks have passed since `from`.
function after(from: u64, clocks: u64): u64 {
  let tsc = ticksToTsc(clock(), clocks, PIT_HZ);
  if (tscToTicks(clock(), tsc, PIT_HZ) < clocks) tsc++;
  return from + tsc;
}

// Moves guest time to `clocks` PIT clocks after START.
function at(clocks: u64): void {
  clock().now = after(START, clocks);
}

function program(pit: Pit8254, control: u32, count: u32): void {
  pit.write(PIT_CONTROL, 1, control);
  let channel = control >> 6;
  let access = (control >> 4) & 3;
  if (access != 2) pit.write(channel, 1, count & 0xff);
  if (access != 1) pit.write(channel, 1, count >> 8);
}

// Latches and reads a channel's count (LSB-then-MSB access).
function latched(pit: Pit8254, channel: u32): u32 {
  pit.write(PIT_CONTROL, 1, channel << 6);
  let low = pit.read(channel, 1);
  return low | pit.read(channel, 1) << 8;
}

function readStatus(pit: Pit8254, channel: u32): u32 {
  pit.write(PIT_CONTROL, 1, 0xe0 | (2 << channel)); // read-back: status only
  return pit.read(channel, 1);
}

describe("the 8254 PIT, channel 0", () => {
  it("has no deadline and IRQ 0 low until it is programmed", () => {
    let pit = newPit();
    expect<u64>(pit.deadline()).toBe(NO_DEADLINE);
    pit.advance();
    expect(lines().level(IRQ_PIT)).toBe(false);
  });

  it("counts channel 0 down in mode 2 and pulses IRQ 0 every count", () => {
    let pit = newPit();
    program(pit, 0x34, 1000); // channel 0, LSB then MSB, mode 2
    at(1); // the first clock loads the count
    expect(latched(pit, 0)).toBe(1000);
    at(101);
    expect(latched(pit, 0)).toBe(900);
    at(1000);
    expect(latched(pit, 0)).toBe(1);
    expect(pit.output(0)).toBe(false); // low for the clock at count 1
    expect<u64>(pit.deadline()).toBe(after(START, 1001));
    clock().now = pit.deadline() - 1;
    pit.advance();
    expect<u64>(pit.pulses).toBe(0);
    clock().now = pit.deadline();
    pit.advance();
    expect<u64>(pit.pulses).toBe(1);
    expect(pit.output(0)).toBe(true);
    expect(latched(pit, 0)).toBe(1000); // reloaded
    expect(lines().level(IRQ_PIT)).toBe(false); // a pulse, not a level
    expect<u64>(pit.deadline()).toBe(after(START, 2001));
    clock().now = pit.deadline();
    pit.advance();
    expect<u64>(pit.pulses).toBe(2);
  });

  it("fires once, not a storm, when advance comes many periods late, and counts the missed ones", () => {
    let pit = newPit();
    program(pit, 0x34, 1000);
    at(10 * 1000 + 1 + 500);
    pit.advance();
    expect<u64>(pit.pulses).toBe(1);
    expect<u64>(pit.missedPulses).toBe(9);
    expect<u64>(pit.deadline()).toBe(after(START, 11001));
    pit.advance();
    expect<u64>(pit.pulses).toBe(1);
  });

  it("counts a count of 0 as 65536 (about 18.2 Hz)", () => {
    let pit = newPit();
    program(pit, 0x34, 0);
    at(1);
    expect(latched(pit, 0)).toBe(0);
    at(2);
    expect(latched(pit, 0)).toBe(0xffff);
    expect<u64>(pit.deadline()).toBe(after(START, 65537));
  });

  it("makes a square wave in mode 3 with an even count, counting down by 2", () => {
    let pit = newPit();
    program(pit, 0x36, 1000); // mode 3
    at(1);
    expect(latched(pit, 0)).toBe(1000);
    expect(pit.output(0)).toBe(true);
    at(2);
    expect(latched(pit, 0)).toBe(998);
    at(500);
    expect(latched(pit, 0)).toBe(2);
    expect(pit.output(0)).toBe(true);
    at(501); // half way: reloaded, OUT low
    expect(latched(pit, 0)).toBe(1000);
    expect(pit.output(0)).toBe(false);
    at(502);
    expect(latched(pit, 0)).toBe(998);
    at(1001);
    expect(pit.output(0)).toBe(true);
    expect(latched(pit, 0)).toBe(1000);
  });

  it("keeps an odd mode 3 count high for (N + 1) / 2 clocks and low for (N - 1) / 2", () => {
    let pit = newPit();
    program(pit, 0x36, 5);
    let counts: u32[] = [5, 4, 2, 5, 2, 5, 4];
    let outputs: bool[] = [true, true, true, false, false, true, true];
    for (let i = 0; i < counts.length; i++) {
      at(<u64>(1 + i));
      expect(latched(pit, 0)).toBe(counts[i]);
      expect(pit.output(0)).toBe(outputs[i]);
    }
  });

  it("pulses IRQ 0 once a period in mode 3", () => {
    let pit = newPit();
    program(pit, 0x36, 100);
    expect<u64>(pit.deadline()).toBe(after(START, 101));
    for (let i: u64 = 1; i <= 5; i++) {
      clock().now = pit.deadline();
      pit.advance();
      expect<u64>(pit.pulses).toBe(i);
    }
    expect<u64>(pit.deadline()).toBe(after(START, 601));
  });

  it("raises IRQ 0 at terminal count in mode 0 and holds it until reprogrammed", () => {
    let pit = newPit();
    program(pit, 0x30, 100); // mode 0
    expect(pit.output(0)).toBe(false);
    expect<u64>(pit.deadline()).toBe(after(START, 101));
    at(100);
    pit.advance();
    expect(lines().level(IRQ_PIT)).toBe(false);
    expect(latched(pit, 0)).toBe(1);
    at(101);
    pit.advance();
    expect(lines().level(IRQ_PIT)).toBe(true);
    expect(pit.output(0)).toBe(true);
    expect(latched(pit, 0)).toBe(0);
    expect<u64>(pit.deadline()).toBe(NO_DEADLINE);
    at(102);
    expect(latched(pit, 0)).toBe(0xffff); // the counter wraps and goes on
    expect(pit.output(0)).toBe(true);
    pit.write(PIT_COUNTER_0, 1, 50);
    pit.write(PIT_COUNTER_0, 1, 0);
    expect(lines().level(IRQ_PIT)).toBe(false); // a new count sets OUT low
    expect<u64>(pit.deadline()).toBe(after(clock().now, 51));
  });

  it("stops a mode 0 count between the two bytes of a new count", () => {
    let pit = newPit();
    program(pit, 0x30, 100);
    at(50);
    pit.write(PIT_COUNTER_0, 1, 0x10);
    expect<u64>(pit.deadline()).toBe(NO_DEADLINE);
    at(500);
    expect(pit.output(0)).toBe(false);
    pit.write(PIT_COUNTER_0, 1, 0x00);
    expect<u64>(pit.deadline()).toBe(after(clock().now, 17));
  });

  it("takes a new mode 2 count at the end of the current period", () => {
    let pit = newPit();
    program(pit, 0x34, 100);
    at(51);
    pit.write(PIT_COUNTER_0, 1, 200);
    pit.write(PIT_COUNTER_0, 1, 0);
    expect(latched(pit, 0)).toBe(50); // the period in progress goes on
    expect<u64>(pit.deadline()).toBe(after(START, 101));
    clock().now = pit.deadline();
    pit.advance();
    expect<u64>(pit.pulses).toBe(1);
    expect(latched(pit, 0)).toBe(200);
    expect<u64>(pit.deadline()).toBe(after(START, 301));
  });

  it("pulses IRQ 0 once on the mode 4 strobe", () => {
    let pit = newPit();
    program(pit, 0x38, 10); // mode 4
    expect(pit.output(0)).toBe(true);
    at(11);
    expect(pit.output(0)).toBe(false); // low for one clock at count 0
    pit.advance();
    expect<u64>(pit.pulses).toBe(1);
    at(12);
    expect(pit.output(0)).toBe(true);
    pit.advance();
    expect<u64>(pit.pulses).toBe(1);
    expect<u64>(pit.deadline()).toBe(NO_DEADLINE);
  });

  it("never triggers modes 1 and 5 on channel 0, whose gate is tied high", () => {
    let pit = newPit();
    program(pit, 0x32, 10); // mode 1
    at(100);
    expect(pit.output(0)).toBe(true);
    expect<u64>(pit.deadline()).toBe(NO_DEADLINE);
    program(pit, 0x3a, 10); // mode 5
    at(200);
    pit.advance();
    expect<u64>(pit.pulses).toBe(0);
  });

  it("counts 1 in mode 2 as 2 clocks rather than storming", () => {
    let pit = newPit();
    program(pit, 0x34, 1);
    expect<u64>(pit.deadline()).toBe(after(START, 3));
  });

  it("comes back to its power-on state on reset", () => {
    let pit = newPit();
    program(pit, 0x30, 10);
    at(20);
    pit.advance();
    expect(lines().level(IRQ_PIT)).toBe(true);
    pit.reset();
    expect(lines().level(IRQ_PIT)).toBe(false);
    expect<u64>(pit.deadline()).toBe(NO_DEADLINE);
    expect(readStatus(pit, 0) & STATUS_NULL_COUNT).toBe(STATUS_NULL_COUNT);
  });
});

describe("the 8254 PIT's reads and latches", () => {
  it("latches the count of channel 2 on a counter-latch command", () => {
    let pit = newPit();
    pit.setGate2(true);
    program(pit, 0xb0, 0x1234); // channel 2, mode 0
    at(0x35);
    pit.write(PIT_CONTROL, 1, 0x80); // latch channel 2
    at(0x500);
    pit.write(PIT_CONTROL, 1, 0x80); // ignored: the first latch is unread
    expect(pit.read(PIT_COUNTER_2, 1)).toBe(0x00);
    expect(pit.read(PIT_COUNTER_2, 1)).toBe(0x12);
    // Read out, the latch follows the counter again.
    expect(pit.read(PIT_COUNTER_2, 1) | pit.read(PIT_COUNTER_2, 1) << 8).toBe(0x1234 - 0x4ff);
  });

  it("reads a live count LSB then MSB through the read flip-flop", () => {
    let pit = newPit();
    pit.setGate2(true);
    program(pit, 0xb0, 0xffff);
    at(0x101);
    expect(pit.read(PIT_COUNTER_2, 1)).toBe(0xff);
    at(0x201);
    expect(pit.read(PIT_COUNTER_2, 1)).toBe(0xfd); // the MSB now: live reads may tear
    at(0x301);
    expect(pit.read(PIT_COUNTER_2, 1)).toBe(0xff); // LSB again
  });

  it("reads and writes only the LSB or only the MSB in those access modes", () => {
    let pit = newPit();
    pit.write(PIT_CONTROL, 1, 0x14); // LSB only, mode 2
    pit.write(PIT_COUNTER_0, 1, 0x80);
    at(1);
    expect(pit.read(PIT_COUNTER_0, 1)).toBe(0x80);
    expect(pit.read(PIT_COUNTER_0, 1)).toBe(0x80);
    expect<u64>(pit.deadline()).toBe(after(START, 0x81));
    clock().now = START;
    pit.write(PIT_CONTROL, 1, 0x24); // MSB only
    pit.write(PIT_COUNTER_0, 1, 0x02);
    at(1);
    expect(pit.read(PIT_COUNTER_0, 1)).toBe(0x02);
    expect<u64>(pit.deadline()).toBe(after(START, 0x201));
  });

  it("latches status and count of several channels with one read-back command", () => {
    let pit = newPit();
    program(pit, 0x34, 1000);
    pit.write(PIT_CONTROL, 1, 0x76); // channel 1, mode 3, no count yet
    at(11);
    pit.write(PIT_CONTROL, 1, 0xc6); // read-back: count and status of channels 0 and 1
    at(500);
    expect(pit.read(PIT_COUNTER_0, 1)).toBe(STATUS_OUTPUT | 0x34);
    expect(pit.read(PIT_COUNTER_0, 1) | pit.read(PIT_COUNTER_0, 1) << 8).toBe(990);
    expect(pit.read(1, 1)).toBe(STATUS_OUTPUT | STATUS_NULL_COUNT | 0x36);
  });

  it("reports a null count until the first clock loads the count", () => {
    let pit = newPit();
    program(pit, 0x34, 1000);
    expect(readStatus(pit, 0) & STATUS_NULL_COUNT).toBe(STATUS_NULL_COUNT);
    at(1);
    expect(readStatus(pit, 0) & STATUS_NULL_COUNT).toBe(0);
  });

  it("latches nothing on a read-back with every bit set", () => {
    let pit = newPit();
    pit.setGate2(true);
    program(pit, 0xb0, 0x4000);
    pit.write(PIT_CONTROL, 1, 0xff);
    at(0x1001);
    expect(latched(pit, 2)).toBe(0x3000);
  });

  it("counts in BCD with control bit 0, 0 meaning 10000", () => {
    let pit = newPit();
    program(pit, 0x35, 0x1000); // mode 2, BCD: 1000 clocks
    at(2);
    expect(latched(pit, 0)).toBe(0x0999);
    expect<u64>(pit.deadline()).toBe(after(START, 1001));
    program(pit, 0x35, 0x0000);
    clock().now = START;
    program(pit, 0x35, 0x0000);
    at(1);
    expect(latched(pit, 0)).toBe(0x0000);
    at(2);
    expect(latched(pit, 0)).toBe(0x9999);
    expect<u64>(pit.deadline()).toBe(after(START, 10001));
  });
});

describe("the 8254 PIT, channel 2 and its gate", () => {
  it("lets Linux calibrate the TSC: mode 0, gate high, OUT rises after the count", () => {
    let pit = newPit();
    pit.setGate2(true);
    let latch: u64 = PIT_HZ / 20; // 50 ms
    program(pit, 0xb0, <u32>latch);
    at(latch);
    expect(pit.output(2)).toBe(false);
    at(latch + 1);
    expect(pit.output(2)).toBe(true);
  });

  it("pauses a mode 0 count while the gate is low", () => {
    let pit = newPit();
    pit.setGate2(true);
    program(pit, 0xb0, 100);
    at(51);
    pit.setGate2(false);
    at(1000);
    expect(latched(pit, 2)).toBe(50);
    expect(pit.output(2)).toBe(false);
    pit.setGate2(true);
    let resumed = clock().now;
    clock().now = after(resumed, 49);
    expect(pit.output(2)).toBe(false);
    clock().now = after(resumed, 50);
    expect(pit.output(2)).toBe(true);
  });

  it("does not count a mode 0 count written with the gate low", () => {
    let pit = newPit();
    program(pit, 0xb0, 10);
    at(100);
    expect(pit.output(2)).toBe(false);
    expect(latched(pit, 2)).toBe(10);
  });

  it("holds OUT high with the gate low in mode 3 and reloads on its rising edge", () => {
    let pit = newPit();
    pit.setGate2(true);
    program(pit, 0xb6, 100); // channel 2, mode 3
    at(61);
    expect(pit.output(2)).toBe(false);
    pit.setGate2(false);
    expect(pit.output(2)).toBe(true);
    at(200);
    pit.setGate2(true);
    let edge = clock().now;
    clock().now = after(edge, 1);
    expect(latched(pit, 2)).toBe(100);
    clock().now = after(edge, 51);
    expect(pit.output(2)).toBe(false);
  });

  it("runs a mode 1 one-shot from each rising edge of the gate", () => {
    let pit = newPit();
    program(pit, 0xb2, 10); // channel 2, mode 1
    at(50);
    expect(pit.output(2)).toBe(true);
    pit.setGate2(true);
    let trigger = clock().now;
    clock().now = after(trigger, 1);
    expect(pit.output(2)).toBe(false);
    expect(latched(pit, 2)).toBe(10);
    clock().now = after(trigger, 10);
    expect(pit.output(2)).toBe(false);
    clock().now = after(trigger, 11);
    expect(pit.output(2)).toBe(true);
    pit.setGate2(false);
    pit.setGate2(true); // retrigger
    trigger = clock().now;
    clock().now = after(trigger, 5);
    expect(pit.output(2)).toBe(false);
  });

  it("strobes OUT low for one clock in mode 5 after the gate rises", () => {
    let pit = newPit();
    program(pit, 0xba, 4); // channel 2, mode 5
    pit.setGate2(true);
    let trigger = clock().now;
    clock().now = after(trigger, 4);
    expect(pit.output(2)).toBe(true);
    clock().now = after(trigger, 5);
    expect(pit.output(2)).toBe(false);
    clock().now = after(trigger, 6);
    expect(pit.output(2)).toBe(true);
  });
});

describe("the 8254 PIT under hostile input", () => {
  it("never traps whatever is written to any port, in any order", () => {
    let pit = newPit();
    for (let port: u32 = 0; port < 4; port++) {
      for (let value: u32 = 0; value < 256; value++) {
        pit.write(port, 1, value);
        clock().now += 997;
        pit.read(port, 1);
        pit.advance();
        pit.deadline();
      }
    }
    let seed: u32 = 12345;
    for (let i = 0; i < 20000; i++) {
      seed = seed * 1103515245 + 12345;
      let port = (seed >> 8) & 3;
      let value = (seed >> 16) & 0xff;
      if ((seed & 0x10) != 0) pit.write(port, 1, value); else pit.read(port, 4);
      if ((seed & 0x20) != 0) pit.setGate2((seed & 0x40) != 0);
      clock().now += <u64>((seed >> 3) & 0xffff);
      pit.output((seed >> 24) & 3);
      pit.advance();
      expect(pit.deadline() > clock().now || pit.deadline() == NO_DEADLINE).toBe(true);
    }
  });

  it("reads the write-only control port as all ones", () => {
    let pit = newPit();
    expect(pit.read(PIT_CONTROL, 1)).toBe(0xff);
  });
});
