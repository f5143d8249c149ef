// The Intel 8254 Programmable Interval Timer (ports 0x40-0x43): three
// 16-bit down counters clocked at 1.193182 MHz. Channel 0 drives IRQ 0,
// channel 1 is the old DRAM refresh timer, channel 2's gate and output
// are wired to port 0x61 (system_control_b.ts) for the speaker and for the
// TSC calibration loops of Linux and small kernels.
// Intel 8254 datasheet (order no. 231164-005): "Control Word Format",
// "Read-Back Command", "Status Byte", "Mode Definitions", Table 3 (gate).
//
// Nothing ticks: a counter's state is a function of the guest TSC. `d`,
// the CLK pulses since the count was loaded into the counting element (CE),
// is tickOffset + the clocks elapsed since segmentStart (while the counter
// runs); the first CLK after a count is written loads it, so d starts at
// -1 and, e.g., mode 0's output rises N + 1 clocks after the write, as the
// datasheet says. Every count and output is computed from d.
//
// Mode 3 counts as the 8254 does: down by 2 each clock (an odd count
// first loses 1 in the high half and 3 in the low half), the output high
// for (N + 1) / 2 clocks and low for (N - 1) / 2. BCD counting (control
// bit 0) is exact: the count is decoded as four decimal digits (invalid
// digits are taken at face value, modulo 10000) and the counter wraps at
// 10000. Counts 1 in modes 2 and 3 (illegal on the chip) count as 2.
//
// Channel 0 and IRQ 0: in modes 0 and 1 the line follows the output (it
// rises at terminal count and stays high until the channel is
// reprogrammed); in modes 2-5 the line stays low and is pulsed at each
// rising edge (each period in modes 2 and 3, the strobe in 4 and 5), what
// an edge-triggered 8259 or I/O APIC pin sees. A late advance() fires once
// and re-arms for the next period after now; the periods it skipped are
// counted in `missedPulses`.
//
// The channels live after the fields (channel()), so a Pit8254 needs
// PIT8254_BYTES, not offsetof<Pit8254>().

import { GuestClock, NO_DEADLINE, ticksToTsc, tscToTicks, earlier, rearmed } from "./clock";
import { InterruptLines, IRQ_PIT } from "./interrupt_lines";

export const PIT_HZ: u64 = 1193182;
export const PIT_CHANNELS: u32 = 3;
// Port offsets from PORT_PIT.
export const PIT_COUNTER_0: u32 = 0;
export const PIT_COUNTER_1: u32 = 1;
export const PIT_COUNTER_2: u32 = 2;
export const PIT_CONTROL: u32 = 3;

// Control word ("Control Word Format"): SC1-SC0 bits 7-6 (3: read-back),
// RW1-RW0 bits 5-4 (0: counter latch command), M2-M0 bits 3-1, BCD bit 0.
const CONTROL_SELECT_SHIFT: u32 = 6;
const CONTROL_ACCESS_SHIFT: u32 = 4;
const CONTROL_MODE_SHIFT: u32 = 1;
const CONTROL_BCD: u32 = 0x01;
const SELECT_READ_BACK: u32 = 3;
export const ACCESS_LATCH: u8 = 0;
export const ACCESS_LSB: u8 = 1;
export const ACCESS_MSB: u8 = 2;
export const ACCESS_LSB_MSB: u8 = 3;
// Read-back command ("Read-Back Command"): COUNT and STATUS are active low;
// bits 1-3 select counters 0-2.
const READ_BACK_NO_COUNT: u32 = 0x20;
const READ_BACK_NO_STATUS: u32 = 0x10;
const READ_BACK_COUNTER_0: u32 = 0x02;
// Status byte ("Status Byte"): OUTPUT, NULL COUNT, then the control word's
// RW, M and BCD bits.
export const STATUS_OUTPUT: u8 = 0x80;
export const STATUS_NULL_COUNT: u8 = 0x40;

const BINARY_MODULUS: u32 = 65536; // a count of 0 is 2^16 (binary) ...
const BCD_MODULUS: u32 = 10000;    // ... or 10^4 (BCD)

@unmanaged
export class PitChannel {
  segmentStart: u64;   // guest TSC at which the current run of clocks began
  tickOffset: u64;     // d at segmentStart (as i64: -1 before the load clock)
  pendingAt: u64;      // modes 2, 3: d at which the count register takes over
  pendingShift: u64;   // d of the new count at that instant
  count: u32;          // the count the CE works with, in clocks (1-65536)
  countRegister: u32;  // CR: the count last written, in clocks
  latchedCount: u16;   // output latch (OL)
  mode: u8;
  access: u8;
  latchedStatus: u8;
  writeLowByte: u8;    // LSB of an LSB-then-MSB count being written
  bcd: bool;
  hasCount: bool;      // a count has been written since the control word
  started: bool;       // the CE has a counting sequence (mode 1, 5: triggered)
  running: bool;       // clocks advance d (gate high, or modes 1 and 5)
  pending: bool;       // modes 2, 3: CR waits for the end of the period
  triggerWaiting: bool; // modes 1, 5: CR written, no trigger since
  gate: bool;
  countLatched: bool;
  statusLatched: bool;
  latchReadHigh: bool; // the latched count's LSB has been read
  readHigh: bool;      // read flip-flop (LSB-then-MSB)
  writeHigh: bool;     // write flip-flop
}

const CHANNEL_STRIDE: u32 = <u32>((offsetof<PitChannel>() + 7) & ~7);
const FIELDS_BYTES: u32 = <u32>((offsetof<Pit8254>() + 7) & ~7);
// What a Pit8254 needs in all: its fields and its three channels.
export const PIT8254_BYTES: u32 = FIELDS_BYTES + PIT_CHANNELS * CHANNEL_STRIDE;

@unmanaged
export class Pit8254 {
  clock: GuestClock;
  lines: InterruptLines;
  nextIrq: u64;        // channel 0: guest TSC of the next IRQ 0 event
  wakeAt: u64;         // the earlier of nextIrq and channel 0's CR taking over
  missedPulses: u64;   // channel 0 periods that passed without their own pulse
  pulses: u64;         // IRQ 0 pulses given
  irqLevel: bool;      // the level this device holds IRQ 0 at

  // Power-on: every channel unprogrammed (mode 0, LSB-then-MSB, no count,
  // output low), gates 0 and 1 high, gate 2 low, IRQ 0 low.
  reset(): void {
    for (let i: u32 = 0; i < PIT_CHANNELS; i++) {
      let ch = this.channel(i);
      memory.fill(changetype<usize>(ch), 0, CHANNEL_STRIDE); // every field 0 / false, then:
      ch.count = BINARY_MODULUS;
      ch.countRegister = BINARY_MODULUS;
      ch.access = ACCESS_LSB_MSB;
      ch.gate = i != 2;
    }
    this.nextIrq = NO_DEADLINE;
    this.wakeAt = NO_DEADLINE;
    this.missedPulses = 0;
    this.pulses = 0;
    this.irqLevel = false;
    if (changetype<usize>(this.lines) != 0) this.lines.set(IRQ_PIT, false);
    rearmed(this.clock);
  }

  read(offset: u32, size: u32): u32 {
    let index = offset & 3;
    if (index == PIT_CONTROL) return 0xff; // the control word register is write-only
    let ch = this.channel(index);
    this.sync(ch);
    if (ch.statusLatched) {
      ch.statusLatched = false;
      return ch.latchedStatus;
    }
    if (ch.countLatched) {
      let value = <u32>ch.latchedCount;
      if (ch.access == ACCESS_LSB_MSB && !ch.latchReadHigh) {
        ch.latchReadHigh = true;
        return value & 0xff;
      }
      ch.countLatched = false;
      ch.latchReadHigh = false;
      return ch.access == ACCESS_LSB ? value & 0xff : value >> 8;
    }
    let value = this.countNow(ch);
    if (ch.access == ACCESS_LSB) return value & 0xff;
    if (ch.access == ACCESS_MSB) return value >> 8;
    ch.readHigh = !ch.readHigh;
    return ch.readHigh ? value & 0xff : value >> 8;
  }

  write(offset: u32, size: u32, value: u32): void {
    let index = offset & 3;
    let byte = value & 0xff;
    rearmed(this.clock); // channel 0 may be re-armed (rearm())
    if (index == PIT_CONTROL) {
      this.writeControl(byte);
      return;
    }
    let ch = this.channel(index);
    this.sync(ch);
    if (ch.access == ACCESS_LSB) {
      this.loadCount(ch, byte);
    } else if (ch.access == ACCESS_MSB) {
      this.loadCount(ch, byte << 8);
    } else if (!ch.writeHigh) {
      ch.writeLowByte = <u8>byte;
      ch.writeHigh = true;
      // Mode 0: the first byte stops the count and sets OUT low at once.
      if (ch.mode == 0) {
        ch.started = false;
        ch.running = false;
        ch.hasCount = false;
      }
    } else {
      ch.writeHigh = false;
      this.loadCount(ch, <u32>ch.writeLowByte | byte << 8);
    }
    if (index == 0) this.channel0Changed();
  }

  // Channel 2's gate, from port 0x61 bit 0 (channels 0 and 1 are tied high).
  setGate2(high: bool): void {
    let ch = this.channel(2);
    this.sync(ch);
    if (ch.gate == high) return;
    let d = this.elapsed(ch);
    ch.gate = high;
    let mode = ch.mode;
    if (high) {
      if (mode == 1 || mode == 5) {
        // A rising gate triggers (and retriggers) the one-shot.
        if (ch.hasCount) {
          ch.count = ch.countRegister;
          ch.triggerWaiting = false;
          this.start(ch);
        }
      } else if (mode == 2 || mode == 3) {
        // A rising gate reloads the count on the next clock.
        if (ch.started) {
          ch.count = ch.countRegister;
          ch.pending = false;
          this.start(ch);
        }
      } else if (ch.started) {
        // Modes 0 and 4: counting resumes where it stopped.
        ch.segmentStart = this.clock.now;
        ch.running = true;
      }
    } else if (mode != 1 && mode != 5 && ch.running) {
      ch.tickOffset = <u64>d;
      ch.running = false;
    }
  }

  // OUT of `channel` (0-2) at clock.now.
  output(channel: u32): bool {
    if (channel >= PIT_CHANNELS) return false;
    let ch = this.channel(channel);
    this.sync(ch);
    return this.outputOf(ch);
  }

  // The guest TSC at which channel 0 next needs advance().
  deadline(): u64 {
    return this.wakeAt;
  }

  // Channel 0 up to clock.now: IRQ 0 pulsed, raised or lowered, then
  // re-armed.
  advance(): void {
    let ch = this.channel(0);
    this.sync(ch);
    if (ch.mode == 0 || ch.mode == 1) {
      this.setIrq(this.outputOf(ch));
    } else if (this.nextIrq != NO_DEADLINE && this.clock.now >= this.nextIrq) {
      if (ch.mode == 2 || ch.mode == 3) {
        let period = ticksToTsc(this.clock, <u64>periodOf(ch), PIT_HZ);
        if (period != 0) this.missedPulses += (this.clock.now - this.nextIrq) / period;
      }
      this.lines.pulse(IRQ_PIT);
      this.pulses++;
    }
    this.rearm();
  }

  @inline channel(index: u32): PitChannel {
    return changetype<PitChannel>(changetype<usize>(this) + <usize>FIELDS_BYTES + <usize>(index * CHANNEL_STRIDE));
  }

  // --- the control word --------------------------------------------------------

  private writeControl(byte: u32): void {
    let select = byte >> CONTROL_SELECT_SHIFT;
    if (select == SELECT_READ_BACK) {
      this.readBack(byte);
      return;
    }
    let ch = this.channel(select);
    this.sync(ch);
    let access = <u8>((byte >> CONTROL_ACCESS_SHIFT) & 3);
    if (access == ACCESS_LATCH) {
      this.latchCount(ch);
      return;
    }
    let mode = <u8>((byte >> CONTROL_MODE_SHIFT) & 7);
    ch.mode = mode >= 6 ? mode - 4 : mode; // 110 and 111 are modes 2 and 3
    ch.access = access;
    ch.bcd = (byte & CONTROL_BCD) != 0;
    // "All Control Logic is immediately reset": no count, flip-flops and
    // latches cleared, OUT at its initial level (low in mode 0, else high).
    ch.hasCount = false;
    ch.started = false;
    ch.running = false;
    ch.pending = false;
    ch.triggerWaiting = false;
    ch.countLatched = false;
    ch.statusLatched = false;
    ch.latchReadHigh = false;
    ch.readHigh = false;
    ch.writeHigh = false;
    if (select == 0) this.channel0Changed();
  }

  private readBack(byte: u32): void {
    for (let i: u32 = 0; i < PIT_CHANNELS; i++) {
      if ((byte & (READ_BACK_COUNTER_0 << i)) == 0) continue;
      let ch = this.channel(i);
      this.sync(ch);
      if ((byte & READ_BACK_NO_COUNT) == 0) this.latchCount(ch);
      if ((byte & READ_BACK_NO_STATUS) == 0 && !ch.statusLatched) {
        let status = <u8>(ch.access << 4 | ch.mode << 1) | (ch.bcd ? 1 : 0);
        if (this.outputOf(ch)) status |= STATUS_OUTPUT;
        if (this.nullCount(ch)) status |= STATUS_NULL_COUNT;
        ch.latchedStatus = status;
        ch.statusLatched = true;
      }
    }
  }

  // A second latch before the first is read is ignored.
  private latchCount(ch: PitChannel): void {
    if (ch.countLatched) return;
    ch.latchedCount = <u16>this.countNow(ch);
    ch.countLatched = true;
    ch.latchReadHigh = false;
  }

  // --- counting ----------------------------------------------------------------

  private loadCount(ch: PitChannel, raw: u32): void {
    let count = decodeCount(raw, ch.bcd);
    ch.countRegister = count;
    ch.hasCount = true;
    let mode = ch.mode;
    if (mode == 1 || mode == 5) {
      // Taken at the next trigger; the running sequence is not disturbed.
      ch.triggerWaiting = true;
      return;
    }
    if ((mode == 2 || mode == 3) && ch.started) {
      let d = this.elapsed(ch);
      if (d < 0) {
        ch.count = count; // not loaded yet: the load clock takes the new one
      } else if (ch.running) {
        // Taken at the end of the current period (mode 2) or half (mode 3).
        let period = <i64>periodOf(ch);
        let position = d % period;
        let high = <i64>halfOf(periodOf(ch));
        ch.pending = true;
        if (mode == 3 && position < high) {
          ch.pendingAt = <u64>(d - position + high);
          ch.pendingShift = <u64>halfOf(count < 2 ? 2 : count); // the new count starts low
        } else {
          ch.pendingAt = <u64>(d - position + period);
          ch.pendingShift = 0;
        }
      } else {
        ch.pending = true; // gate low: the rising gate reloads CR
        ch.pendingAt = NO_DEADLINE >> 1;
      }
      return;
    }
    // Modes 0 and 4, and a first count in 2 and 3: loaded on the next clock.
    ch.count = count;
    ch.pending = false;
    this.start(ch);
    ch.running = ch.gate;
  }

  private start(ch: PitChannel): void {
    ch.segmentStart = this.clock.now;
    ch.tickOffset = NO_DEADLINE; // -1: the next clock loads the CE
    ch.started = true;
    ch.running = true;
  }

  // d at clock.now (-1 while nothing is loaded).
  private elapsed(ch: PitChannel): i64 {
    if (!ch.started) return -1;
    let d = ch.tickOffset;
    let now = this.clock.now;
    if (ch.running && now > ch.segmentStart) {
      let clocks = tscToTicks(this.clock, now - ch.segmentStart, PIT_HZ);
      d += clocks < (<u64>1 << 62) ? clocks : <u64>1 << 62;
    }
    return <i64>d;
  }

  // Modes 2 and 3: CR becomes the count once its period boundary passed.
  private sync(ch: PitChannel): void {
    if (!ch.pending || !ch.running) return;
    let d = this.elapsed(ch);
    if (d < <i64>ch.pendingAt) return;
    ch.tickOffset = ch.tickOffset + ch.pendingShift - ch.pendingAt;
    ch.count = ch.countRegister;
    ch.pending = false;
  }

  // The CE as a read or a latch sees it (BCD-encoded in BCD mode).
  private countNow(ch: PitChannel): u32 {
    let d = this.elapsed(ch);
    let modulus = ch.bcd ? BCD_MODULUS : BINARY_MODULUS;
    let value: u32;
    if (d < 0) {
      value = ch.count % modulus;
    } else if (ch.mode == 2) {
      let period = <i64>periodOf(ch);
      value = <u32>(period - d % period) % modulus;
    } else if (ch.mode == 3) {
      value = squareWaveCount(periodOf(ch), <u64>d) % modulus;
    } else {
      let down = <u32>(<u64>d % <u64>modulus);
      value = (ch.count % modulus + modulus - down) % modulus;
    }
    return ch.bcd ? toBcd(value) : value;
  }

  private outputOf(ch: PitChannel): bool {
    let mode = ch.mode;
    if (!ch.started) return mode != 0;
    let d = this.elapsed(ch);
    if (d < 0) return mode != 0;
    if (mode == 0 || mode == 1) return d >= <i64>ch.count;
    if (mode == 4 || mode == 5) return d != <i64>ch.count;
    if (!ch.gate) return true; // modes 2 and 3: a low gate forces OUT high
    let period = <i64>periodOf(ch);
    let position = d % period;
    if (mode == 2) return position != period - 1;
    return position < <i64>halfOf(periodOf(ch));
  }

  private nullCount(ch: PitChannel): bool {
    if (!ch.hasCount || ch.pending || ch.triggerWaiting) return true;
    return ch.started && this.elapsed(ch) < 0;
  }

  // --- channel 0 and IRQ 0 ---------------------------------------------------------

  private channel0Changed(): void {
    let ch = this.channel(0);
    this.setIrq((ch.mode == 0 || ch.mode == 1) && this.outputOf(ch));
    this.rearm();
  }

  // The next IRQ 0 event after clock.now, and when to wake for it.
  private rearm(): void {
    let ch = this.channel(0);
    this.nextIrq = NO_DEADLINE;
    this.wakeAt = NO_DEADLINE;
    if (!ch.started || !ch.running) return;
    let d = this.elapsed(ch);
    let target: i64 = -1;
    if (ch.mode == 2 || ch.mode == 3) {
      let period = <i64>periodOf(ch);
      target = d < 0 ? period : (d / period + 1) * period;
    } else if (d < <i64>ch.count) {
      target = <i64>ch.count;
    }
    if (target >= 0) this.nextIrq = this.tscAt(ch, target);
    this.wakeAt = ch.pending ? earlier(this.nextIrq, this.tscAt(ch, <i64>ch.pendingAt)) : this.nextIrq;
  }

  // The first guest TSC at which d reaches `target`.
  private tscAt(ch: PitChannel, target: i64): u64 {
    let clocks = <u64>(target - <i64>ch.tickOffset);
    let tsc = ticksToTsc(this.clock, clocks, PIT_HZ);
    if (tsc != NO_DEADLINE && tscToTicks(this.clock, tsc, PIT_HZ) < clocks) tsc++;
    return tsc > NO_DEADLINE - ch.segmentStart ? NO_DEADLINE : ch.segmentStart + tsc;
  }

  private setIrq(high: bool): void {
    if (this.irqLevel == high) return;
    this.irqLevel = high;
    this.lines.set(IRQ_PIT, high);
  }
}

// The count in clocks: 0 is the modulus (65536, or 10000 in BCD).
function decodeCount(raw: u32, bcd: bool): u32 {
  raw &= 0xffff;
  if (!bcd) return raw == 0 ? BINARY_MODULUS : raw;
  let value = ((raw >> 12) * 1000 + ((raw >> 8) & 15) * 100 + ((raw >> 4) & 15) * 10 + (raw & 15)) % BCD_MODULUS;
  return value == 0 ? BCD_MODULUS : value;
}

@inline function toBcd(value: u32): u32 {
  return (value / 1000) << 12 | (value / 100 % 10) << 8 | (value / 10 % 10) << 4 | value % 10;
}

// Modes 2 and 3 need at least 2 clocks a period.
@inline function periodOf(ch: PitChannel): u32 {
  return ch.count < 2 ? 2 : ch.count;
}

// Mode 3's high half: (N + 1) / 2 clocks.
@inline function halfOf(period: u32): u32 {
  return (period + 1) >> 1;
}

// Mode 3's CE `d` clocks into the sequence: down by 2 a clock; an odd
// count loses 1 on the first clock of the high half and 3 on the first of
// the low half ("Mode 3").
function squareWaveCount(period: u32, d: u64): u32 {
  let position = <u32>(d % <u64>period);
  let high = halfOf(period);
  if ((period & 1) == 0) {
    let step = position < high ? position : position - high;
    return period - 2 * step;
  }
  if (position < high) return position == 0 ? period : period + 1 - 2 * position;
  let step = position - high;
  return step == 0 ? period : period - 1 - 2 * step;
}
