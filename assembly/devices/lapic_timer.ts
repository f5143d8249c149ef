// The local APIC's timer (Intel SDM vol. 3A, 12.5.4): a 32-bit down counter
// clocked at LAPIC_TIMER_HZ / divide, in one-shot or periodic mode, or the
// TSC-deadline mode (12.5.4.1) where IA32_TSC_DEADLINE holds the guest TSC
// at which to fire. Its state lives inside the Lapic (lapic.ts), which
// decodes the registers and delivers the interrupt; this file keeps time.
//
// Nothing ticks: the current count is computed from clock.now, and the
// timer answers deadline() (the guest TSC of its next expiry) so the vCPU
// runs until then; advance() says whether it fired.

import { GuestClock, NO_DEADLINE, ticksToTsc, tscToTicks } from "./clock";

// The timer's input clock, as KVM's (1 GHz): the guest learns it from
// CPUID leaf 0x15/0x16 or by calibrating against the PIT.
export const LAPIC_TIMER_HZ: u64 = 1000000000;
// A periodic timer fires at most every 200 microseconds (as KVM's
// min_timer_period_us), so a guest cannot make the host spin on it.
export const MIN_PERIOD_TIMER_TICKS: u64 = 200000;

// LVT timer register (12.5.1, figure 12-8).
export const LVT_TIMER_MODE_SHIFT: u32 = 17;
export const LVT_TIMER_MODE_BITS: u32 = 3 << LVT_TIMER_MODE_SHIFT;
export const TIMER_ONE_SHOT: u32 = 0;
export const TIMER_PERIODIC: u32 = 1;
export const TIMER_TSC_DEADLINE: u32 = 2;   // 3 is reserved: counted as one-shot
// Divide configuration register (12.5.4, figure 12-10): bits 0, 1 and 3.
export const TIMER_DIVIDE_BITS: u32 = 0xb;

@unmanaged
export class LapicTimer {
  lvt: u32;            // the LVT timer register
  initialCount: u32;
  divideConfig: u32;   // TIMER_DIVIDE_BITS of the divide configuration register
  start: u64;          // guest TSC at which the count was last loaded
  due: u64;            // one-shot/periodic: guest TSC of the next expiry, NO_DEADLINE stopped
  tscDeadline: u64;    // IA32_TSC_DEADLINE, 0 disarmed

  reset(lvt: u32): void {
    this.lvt = lvt;
    this.initialCount = 0;
    this.divideConfig = 0;
    this.start = 0;
    this.due = NO_DEADLINE;
    this.tscDeadline = 0;
  }

  @inline mode(): u32 {
    return (this.lvt & LVT_TIMER_MODE_BITS) >> LVT_TIMER_MODE_SHIFT;
  }

  // 2, 4, 8, 16, 32, 64, 128 or 1 (figure 12-10).
  divide(): u64 {
    let code = (this.divideConfig & 3) | ((this.divideConfig & 8) >> 1);
    return code == 7 ? 1 : <u64>2 << code;
  }

  // TSC ticks for `counts` timer counts at the present divide.
  private countsToTsc(clock: GuestClock, counts: u64): u64 {
    return ticksToTsc(clock, counts * this.divide(), LAPIC_TIMER_HZ);
  }

  // How long one count from the initial count lasts, clamped in periodic mode.
  private periodTsc(clock: GuestClock): u64 {
    let counts = <u64>this.initialCount;
    if (this.mode() == TIMER_PERIODIC) {
      let minimum = MIN_PERIOD_TIMER_TICKS / this.divide();
      if (counts < minimum) counts = minimum;
    }
    let period = this.countsToTsc(clock, counts);
    return period != 0 ? period : 1; // a periodic timer always moves on
  }

  // A write to the LVT timer register (already masked by the Lapic).
  // Moving into or out of TSC-deadline mode disarms the timer (12.5.4.1).
  writeLvt(value: u32): void {
    let wasDeadline = this.mode() == TIMER_TSC_DEADLINE;
    this.lvt = value;
    if (wasDeadline != (this.mode() == TIMER_TSC_DEADLINE)) {
      this.initialCount = 0;
      this.due = NO_DEADLINE;
      this.tscDeadline = 0;
    }
  }

  // A write to the initial count starts counting from it; 0 stops the
  // timer. Ignored in TSC-deadline mode (12.5.4.1).
  writeInitialCount(clock: GuestClock, count: u32): void {
    if (this.mode() == TIMER_TSC_DEADLINE) return;
    this.initialCount = count;
    this.start = clock.now;
    this.due = count == 0 ? NO_DEADLINE : saturatingAdd(clock.now, this.periodTsc(clock));
  }

  // The current count register.
  currentCount(clock: GuestClock): u32 {
    if (this.due == NO_DEADLINE || this.initialCount == 0 || this.mode() == TIMER_TSC_DEADLINE) return 0;
    let elapsed = clock.now > this.start ? clock.now - this.start : 0;
    let counts = tscToTicks(clock, elapsed, LAPIC_TIMER_HZ) / this.divide();
    let initial = <u64>this.initialCount;
    if (this.mode() == TIMER_PERIODIC) return <u32>(initial - counts % initial);
    return counts >= initial ? 0 : <u32>(initial - counts);
  }

  // A new divide takes effect at once: the count goes on from where it is,
  // at the new rate.
  writeDivide(clock: GuestClock, value: u32): void {
    let running = this.due != NO_DEADLINE && this.mode() != TIMER_TSC_DEADLINE;
    let remaining = running ? <u64>this.currentCount(clock) : 0;
    this.divideConfig = value & TIMER_DIVIDE_BITS;
    if (!running) return;
    let done = this.countsToTsc(clock, <u64>this.initialCount - remaining);
    this.start = clock.now > done ? clock.now - done : 0;
    this.due = saturatingAdd(clock.now, this.countsToTsc(clock, remaining));
  }

  // IA32_TSC_DEADLINE reads 0 and ignores writes outside TSC-deadline mode.
  readDeadline(): u64 {
    return this.mode() == TIMER_TSC_DEADLINE ? this.tscDeadline : 0;
  }

  writeDeadline(value: u64): void {
    if (this.mode() == TIMER_TSC_DEADLINE) this.tscDeadline = value;
  }

  // The guest TSC of the next expiry, NO_DEADLINE when none.
  deadline(): u64 {
    if (this.mode() == TIMER_TSC_DEADLINE) return this.tscDeadline != 0 ? this.tscDeadline : NO_DEADLINE;
    return this.due;
  }

  // True when the timer expired by clock.now; it is then re-armed (periodic)
  // or disarmed. A periodic timer more than a period behind fires once and
  // counts its next period from now: no burst of missed periods.
  advance(clock: GuestClock): bool {
    let now = clock.now;
    if (this.mode() == TIMER_TSC_DEADLINE) {
      if (this.tscDeadline == 0 || now < this.tscDeadline) return false;
      this.tscDeadline = 0; // it disarms itself (12.5.4.1)
      return true;
    }
    if (this.due == NO_DEADLINE || now < this.due) return false;
    if (this.mode() != TIMER_PERIODIC) {
      this.due = NO_DEADLINE;
      return true;
    }
    let period = this.periodTsc(clock);
    let next = saturatingAdd(this.due, period);
    if (next > now) {
      this.start = this.due;
      this.due = next;
    } else {
      this.start = now;
      this.due = saturatingAdd(now, period);
    }
    return true;
  }
}

@inline function saturatingAdd(a: u64, b: u64): u64 {
  return a > NO_DEADLINE - b ? NO_DEADLINE : a + b;
}
