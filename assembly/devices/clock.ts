import { Platform } from "../guest/platform";

// Guest time, as every timed device sees it. The unit is the guest's TSC
// (host TSC + the guest's offset, so a guest's TSC starts near 0 at its own
// reset); `tscHz` is its rate. The exit dispatcher sets `now` once at the
// start of each exit, so every device in one exit sees the same instant and
// no device reads the clock itself. No floating point: conversions between
// TSC ticks and a device's own rate go through scale() below.

@unmanaged
export class GuestClock {
  now: u64;        // guest TSC at the current exit
  // Guest TSC ticks per second (tscHz); 0 until first asked of `source`.
  hz: u64;
  // Host seconds since 1970-01-01 00:00 UTC at guest TSC 0, for the RTC.
  epochSeconds: u64;
  // Where the rate comes from when it is first needed: the host may still
  // be measuring it when the guest starts (boot/tsc.c), and asking waits
  // for the figure, so a guest that has not used time yet does not wait.
  source: Platform | null;
  // A device's deadline may have moved (re-armed, or a register that sets
  // it written) since the exit path last gathered them (guest/timers.ts).
  rearmed: bool;

  init(tscHz: u64, epochSeconds: u64): void {
    this.now = 0;
    this.rearmed = true;
    this.hz = rateOrDefault(tscHz);
    this.source = null;
    this.epochSeconds = epochSeconds;
  }

  // As init, the rate asked of `source` at its first use.
  initFrom(source: Platform, epochSeconds: u64): void {
    this.now = 0;
    this.rearmed = true;
    this.hz = 0;
    this.source = source;
    this.epochSeconds = epochSeconds;
  }

  // Never 0. Inline: timed devices read it on every exit that touches them.
  @inline get tscHz(): u64 {
    let hz = this.hz;
    return hz != 0 ? hz : this.askRate();
  }

  private askRate(): u64 {
    let source = this.source;
    let hz = rateOrDefault(source != null ? source.tscHz() : 0);
    this.hz = hz;
    return hz;
  }
}

// A rate of 0 (none given) is taken as 1 GHz, so no conversion divides by 0.
@inline function rateOrDefault(hz: u64): u64 {
  return hz != 0 ? hz : 1000000000;
}

// A device tells the exit path to gather the deadlines again (a clock of
// 0 is a unit test's device without one).
@inline export function rearmed(clock: GuestClock): void {
  if (changetype<usize>(clock) != 0) clock.rearmed = true;
}

// "No deadline": what deadline() answers for a timer that is not armed.
export const NO_DEADLINE: u64 = 0xFFFFFFFFFFFFFFFF;

// value * numerator / denominator, rounded down, saturating at 2^64 - 1,
// without a 128-bit product: the whole part is exact, the remainder part
// loses low bits only when remainder * numerator would not fit in 64 bits
// (both shifted right together: relative error below 2^-31).
// denominator 0 answers NO_DEADLINE.
export function scale(value: u64, numerator: u64, denominator: u64): u64 {
  if (denominator == 0) return NO_DEADLINE;
  let whole = value / denominator;
  let rest = value % denominator;
  if (numerator != 0 && whole > NO_DEADLINE / numerator) return NO_DEADLINE;
  let high = whole * numerator;
  let divisor = denominator;
  while (rest != 0 && numerator > NO_DEADLINE / rest) {
    rest >>= 1;
    divisor >>= 1;
  }
  let low = divisor != 0 ? rest * numerator / divisor : 0;
  return high > NO_DEADLINE - low ? NO_DEADLINE : high + low;
}

// TSC ticks in `ticks` periods of a `hz` clock (e.g. the PIT's 1193182 Hz).
@inline export function ticksToTsc(clock: GuestClock, ticks: u64, hz: u64): u64 {
  return scale(ticks, clock.tscHz, hz);
}

// Periods of a `hz` clock in `tsc` TSC ticks.
@inline export function tscToTicks(clock: GuestClock, tsc: u64, hz: u64): u64 {
  return scale(tsc, hz, clock.tscHz);
}

// The earlier of two deadlines.
@inline export function earlier(a: u64, b: u64): u64 {
  return a < b ? a : b;
}
