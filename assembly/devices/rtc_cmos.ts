// The MC146818A real-time clock and its CMOS RAM (ports 0x70-0x71): an
// index port (bit 7 masks NMI, the low 7 bits select one of 128 bytes) and
// a data port. Motorola MC146818A data sheet: "Address Map" (Figure 4),
// "Time, Calendar and Alarm Locations" (Table 2), "Register A" to
// "Register D", "Periodic Interrupt Rate" (Table 5), "Update Cycle".
//
// The clock is the host's: guest time = clock.epochSeconds + clock.now /
// clock.tscHz + offsetSeconds, converted to a calendar without floating
// point (days-from-civil). Updates fall on whole host seconds of guest TSC.
// A guest that sets the time (SET in register B, then the time registers,
// then SET cleared; or a time register written while the clock runs)
// moves offsetSeconds, so its setting sticks. The clock runs only with
// divider bits 010 in register A and SET clear; stopped, the time
// registers hold what they showed (and what the guest writes) until it
// runs again. Register 6 (day of week) is computed from the date once the
// clock runs. UIP is set in the 244 us before each update. Changing DM or
// 24/12 while the clock runs shows the time in the new format at once.
//
// Interrupts, all on IRQ 8, a level held until register C is read:
// periodic at the register A rate, alarm (seconds, minutes, hours; a value
// 0xC0-0xFF is "don't care"), update-ended once a second. PF and UF are
// computed when register C is read, so a guest polling them with the
// interrupt off costs no exits; AF with AIE off reports a match of the
// latest update only. The periodic interrupt does not catch up: periods
// that pass while PF is pending are counted in `missedPeriodic`.
//
// CMOS RAM: bytes 14-127 are plain storage with a PC BIOS's standard
// contents (memory sizes from setMemorySize, kept across reset), except
// 0x32, the century, which is part of the clock. The bytes live after the
// fields (cmos()), so an RtcCmos needs RTC_CMOS_BYTES.

import { GuestClock, NO_DEADLINE, scale, rearmed } from "./clock";
import { InterruptLines, IRQ_RTC } from "./interrupt_lines";

export const RTC_INDEX: u32 = 0;  // port offsets from PORT_RTC
export const RTC_DATA: u32 = 1;
export const CMOS_BYTES: u32 = 128;
export const INDEX_NMI_MASK: u32 = 0x80;

// Time, calendar and alarm locations (Table 2).
export const RTC_SECONDS: u32 = 0x00;
export const RTC_SECONDS_ALARM: u32 = 0x01;
export const RTC_MINUTES: u32 = 0x02;
export const RTC_MINUTES_ALARM: u32 = 0x03;
export const RTC_HOURS: u32 = 0x04;
export const RTC_HOURS_ALARM: u32 = 0x05;
export const RTC_DAY_OF_WEEK: u32 = 0x06;
export const RTC_DAY_OF_MONTH: u32 = 0x07;
export const RTC_MONTH: u32 = 0x08;
export const RTC_YEAR: u32 = 0x09;
export const RTC_REGISTER_A: u32 = 0x0a;
export const RTC_REGISTER_B: u32 = 0x0b;
export const RTC_REGISTER_C: u32 = 0x0c;
export const RTC_REGISTER_D: u32 = 0x0d;
export const RTC_CENTURY: u32 = 0x32; // PC convention (the FADT's CENTURY field)
// PC BIOS CMOS layout (IBM PC/AT Technical Reference, "CMOS RAM Address Map").
export const CMOS_DIAGNOSTIC: u32 = 0x0e;
export const CMOS_SHUTDOWN: u32 = 0x0f;
export const CMOS_FLOPPY_TYPES: u32 = 0x10;
export const CMOS_EQUIPMENT: u32 = 0x14;
export const CMOS_BASE_MEMORY: u32 = 0x15;      // KiB, 2 bytes
export const CMOS_EXTENDED_MEMORY: u32 = 0x17;  // KiB above 1 MiB, 2 bytes
export const CMOS_CHECKSUM: u32 = 0x2e;         // of 0x10-0x2D, big-endian
export const CMOS_EXTENDED_MEMORY_2: u32 = 0x30; // the same again (POST's count)
export const CMOS_MEMORY_ABOVE_16M: u32 = 0x34; // 64 KiB blocks, 2 bytes
const EQUIPMENT_MATH_COPROCESSOR: u8 = 0x02;    // no floppy, EGA/VGA-class display bits 0

// Register A: UIP, divider DV2-DV0, rate select RS3-RS0.
export const REG_A_UIP: u8 = 0x80;
const REG_A_DIVIDER_MASK: u8 = 0x70;
const REG_A_DIVIDER_RUNNING: u8 = 0x20; // 010: 32.768 kHz time base, running
const REG_A_RATE_MASK: u8 = 0x0f;
// Register B.
export const REG_B_SET: u8 = 0x80;
export const REG_B_PIE: u8 = 0x40;
export const REG_B_AIE: u8 = 0x20;
export const REG_B_UIE: u8 = 0x10;
export const REG_B_SQWE: u8 = 0x08;
export const REG_B_DM_BINARY: u8 = 0x04;
export const REG_B_24_HOUR: u8 = 0x02;
export const REG_B_DSE: u8 = 0x01;
// Register C: the flags sit at the bit of their enable in register B.
export const REG_C_IRQF: u8 = 0x80;
export const REG_C_PF: u8 = 0x40;
export const REG_C_AF: u8 = 0x20;
export const REG_C_UF: u8 = 0x10;
// Register D: valid RAM and time.
export const REG_D_VRT: u8 = 0x80;
// What a PC BIOS leaves: 32.768 kHz, 1024 Hz periodic rate; 24-hour, BCD.
const REG_A_DEFAULT: u8 = 0x26;
const REG_B_DEFAULT: u8 = 0x02;

const UIP_MICROSECONDS: u64 = 244;
const ALARM_DONT_CARE: u8 = 0xc0;
const SECONDS_PER_DAY: i64 = 86400;
const KIB: u64 = 1024;
const MIB: u64 = 1024 * 1024;

const FIELDS_BYTES: u32 = <u32>((offsetof<RtcCmos>() + 7) & ~7);
// What an RtcCmos needs in all: its fields and its 128 bytes.
export const RTC_CMOS_BYTES: u32 = FIELDS_BYTES + CMOS_BYTES;

@unmanaged
export class RtcCmos {
  clock: GuestClock;
  lines: InterruptLines;
  memoryBytes: u64;     // the guest's RAM (setMemorySize); kept across reset
  offsetSeconds: u64;   // guest time - host time, as i64
  updatesSeen: u64;     // host seconds (now / tscHz) whose update UF and AF reflect
  periodsSeen: u64;     // periodic ticks since TSC 0 that PF reflects
  missedPeriodic: u64;  // periodic ticks that passed while PF was pending
  registerA: u8;        // bits 0-6 (UIP is computed)
  registerB: u8;
  flags: u8;            // register C's PF, AF, UF
  index: u8;
  nmiMasked: bool;
  irqLevel: bool;

  reset(): void {
    let cmos = this.cmos();
    memory.fill(cmos, 0, CMOS_BYTES);
    store<u8>(cmos + CMOS_EQUIPMENT, EQUIPMENT_MATH_COPROCESSOR);
    storeWord(cmos, CMOS_BASE_MEMORY, 640);
    this.storeMemorySize();
    this.offsetSeconds = 0;
    this.missedPeriodic = 0;
    this.registerA = REG_A_DEFAULT;
    this.registerB = REG_B_DEFAULT;
    this.flags = 0;
    this.index = 0;
    this.nmiMasked = false;
    this.irqLevel = false;
    this.updatesSeen = this.secondsNow();
    this.periodsSeen = this.periodsNow();
    this.refreshClock();
    if (changetype<usize>(this.lines) != 0) this.lines.set(IRQ_RTC, false);
    rearmed(this.clock);
  }

  // The guest's RAM, for the CMOS memory-size bytes: extended memory in
  // KiB above 1 MiB (0x17, 0x30) and 64 KiB blocks above 16 MiB (0x34),
  // each capped at 65535.
  setMemorySize(bytes: u64): void {
    this.memoryBytes = bytes;
    this.storeMemorySize();
  }

  read(offset: u32, size: u32): u32 {
    if ((offset & 1) == RTC_INDEX) return 0xff; // the index port is write-only
    let index = <u32>this.index;
    let cmos = this.cmos();
    switch (index) {
      case RTC_REGISTER_A: return <u32>this.registerA | (this.updateInProgress() ? REG_A_UIP : 0);
      case RTC_REGISTER_B: return this.registerB;
      case RTC_REGISTER_C: {
        this.collect();
        let value = <u32>this.flags | (this.irqFlag() ? REG_C_IRQF : 0);
        this.flags = 0;
        rearmed(this.clock); // cleared flags want their events again
        this.updateIrq();
        return value;
      }
      case RTC_REGISTER_D: return REG_D_VRT;
      default: {
        if (isClockRegister(index)) this.refreshClock();
        return load<u8>(cmos + index);
      }
    }
  }

  write(offset: u32, size: u32, value: u32): void {
    let byte = <u8>value;
    if ((offset & 1) == RTC_INDEX) {
      this.index = byte & 0x7f;
      this.nmiMasked = (byte & INDEX_NMI_MASK) != 0;
      return;
    }
    let index = <u32>this.index;
    switch (index) {
      case RTC_REGISTER_A: {
        this.changeControl(byte & 0x7f, this.registerB);
        break;
      }
      case RTC_REGISTER_B: {
        // Setting SET clears UIE.
        this.changeControl(this.registerA, (byte & REG_B_SET) != 0 ? byte & ~REG_B_UIE : byte);
        break;
      }
      case RTC_REGISTER_C:
      case RTC_REGISTER_D:
        break; // read-only
      default: {
        if (!isClockRegister(index)) {
          store<u8>(this.cmos() + index, byte);
          break;
        }
        this.refreshClock();
        store<u8>(this.cmos() + index, byte);
        // Written while the clock runs: the new time holds from now on.
        if (this.clockRunning()) this.offsetSeconds = <u64>(this.composeSeconds() - this.hostSeconds());
      }
    }
  }

  // The guest TSC of the next event that would raise IRQ 8.
  deadline(): u64 {
    let next = NO_DEADLINE;
    let b = this.registerB;
    let hz = periodicHz(this.registerA);
    if (this.dividerRunning() && hz != 0 && (b & REG_B_PIE) != 0 && (this.flags & REG_C_PF) == 0) {
      next = this.tscAtTick(this.periodsSeen + 1, hz);
    }
    let updateWanted = ((b & REG_B_UIE) != 0 && (this.flags & REG_C_UF) == 0) ||
                       ((b & REG_B_AIE) != 0 && (this.flags & REG_C_AF) == 0);
    if (this.clockRunning() && updateWanted) {
      let update = this.tscAtTick(this.updatesSeen + 1, 1);
      if (update < next) next = update;
    }
    return next;
  }

  advance(): void {
    this.collect();
    this.updateIrq();
  }

  // The guest TSC of the next update while AF is clear: collect() checks
  // the alarm against the time at the update's first exit, so AF (polled
  // with AIE off) needs an advance then, though no IRQ is due.
  alarmCheck(): u64 {
    if (!this.clockRunning() || (this.flags & REG_C_AF) != 0) return NO_DEADLINE;
    return this.tscAtTick(this.updatesSeen + 1, 1);
  }

  @inline cmos(): usize {
    return changetype<usize>(this) + <usize>FIELDS_BYTES;
  }

  // --- registers A and B --------------------------------------------------------

  private changeControl(a: u8, b: u8): void {
    this.collect();
    rearmed(this.clock);
    this.refreshClock(); // the time the clock shows if it stops now
    let wasDivider = this.dividerRunning();
    let wasClock = this.clockRunning();
    let oldRate = this.registerA & REG_A_RATE_MASK;
    this.registerA = a;
    this.registerB = b;
    if (!wasClock && this.clockRunning()) {
      this.offsetSeconds = <u64>(this.composeSeconds() - this.hostSeconds());
      this.updatesSeen = this.secondsNow();
    }
    if ((!wasDivider && this.dividerRunning()) || oldRate != (a & REG_A_RATE_MASK)) {
      this.periodsSeen = this.periodsNow();
    }
    this.updateIrq();
  }

  @inline private dividerRunning(): bool {
    return (this.registerA & REG_A_DIVIDER_MASK) == REG_A_DIVIDER_RUNNING;
  }

  @inline private clockRunning(): bool {
    return this.dividerRunning() && (this.registerB & REG_B_SET) == 0;
  }

  private updateInProgress(): bool {
    if (!this.clockRunning()) return false;
    let hz = this.tscHz();
    let window = scale(UIP_MICROSECONDS, hz, 1000000);
    return this.clock.now % hz >= hz - window;
  }

  // --- interrupts ---------------------------------------------------------------

  // Sets PF, UF and AF for what came due up to clock.now.
  private collect(): void {
    if (this.dividerRunning() && periodicHz(this.registerA) != 0) {
      let periods = this.periodsNow();
      if (periods > this.periodsSeen) {
        let passed = periods - this.periodsSeen;
        this.missedPeriodic += (this.flags & REG_C_PF) != 0 ? passed : passed - 1;
        this.flags |= REG_C_PF;
        this.periodsSeen = periods;
      }
    }
    if (this.clockRunning()) {
      let seconds = this.secondsNow();
      if (seconds > this.updatesSeen) {
        this.updatesSeen = seconds;
        this.flags |= REG_C_UF;
        if (this.alarmMatches()) this.flags |= REG_C_AF;
      }
    }
  }

  private alarmMatches(): bool {
    this.refreshClock();
    let cmos = this.cmos();
    for (let i: u32 = RTC_SECONDS; i <= RTC_HOURS; i += 2) {
      let alarm = load<u8>(cmos + i + 1);
      if ((alarm & ALARM_DONT_CARE) != ALARM_DONT_CARE && alarm != load<u8>(cmos + i)) return false;
    }
    return true;
  }

  @inline private irqFlag(): bool {
    return (this.flags & this.registerB & (REG_C_PF | REG_C_AF | REG_C_UF)) != 0;
  }

  private updateIrq(): void {
    let high = this.irqFlag();
    if (high == this.irqLevel) return;
    this.irqLevel = high;
    this.lines.set(IRQ_RTC, high);
  }

  // --- time -----------------------------------------------------------------------

  @inline private tscHz(): u64 {
    return this.clock.tscHz != 0 ? this.clock.tscHz : 1;
  }

  @inline private secondsNow(): u64 {
    return this.clock.now / this.tscHz();
  }

  private periodsNow(): u64 {
    let hz = periodicHz(this.registerA);
    return hz != 0 ? scale(this.clock.now, hz, this.tscHz()) : 0;
  }

  // The first guest TSC at tick `tick` of a `hz` clock counted from TSC 0.
  private tscAtTick(tick: u64, hz: u64): u64 {
    let tsc = scale(tick, this.tscHz(), hz);
    if (tsc != NO_DEADLINE && scale(tsc, hz, this.tscHz()) < tick) tsc++;
    return tsc;
  }

  @inline private hostSeconds(): i64 {
    return <i64>(this.clock.epochSeconds + this.secondsNow());
  }

  // Writes the running clock's time into the time registers (a stopped
  // clock keeps what they hold).
  private refreshClock(): void {
    if (!this.clockRunning()) return;
    let seconds = this.hostSeconds() + <i64>this.offsetSeconds;
    let days = floorDivide(seconds, SECONDS_PER_DAY);
    let rest = <u32>(seconds - days * SECONDS_PER_DAY);
    let cmos = this.cmos();
    store<u8>(cmos + RTC_SECONDS, this.encode(rest % 60));
    store<u8>(cmos + RTC_MINUTES, this.encode(rest / 60 % 60));
    let hour = rest / 3600;
    if ((this.registerB & REG_B_24_HOUR) != 0) {
      store<u8>(cmos + RTC_HOURS, this.encode(hour));
    } else {
      let twelve = hour % 12 == 0 ? 12 : hour % 12;
      store<u8>(cmos + RTC_HOURS, this.encode(twelve) | (hour >= 12 ? 0x80 : 0));
    }
    store<u8>(cmos + RTC_DAY_OF_WEEK, this.encode(<u32>floorModulo(days + 4, 7) + 1)); // 1970-01-01 was a Thursday; Sunday is 1
    // Civil from days (H. Hinnant, "chrono-compatible low-level date algorithms").
    let z = days + 719468;
    let era = floorDivide(z, 146097);
    let dayOfEra = z - era * 146097;
    let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146096) / 365;
    let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100);
    let monthFromMarch = (5 * dayOfYear + 2) / 153;
    let day = dayOfYear - (153 * monthFromMarch + 2) / 5 + 1;
    let month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9;
    let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
    store<u8>(cmos + RTC_DAY_OF_MONTH, this.encode(<u32>day));
    store<u8>(cmos + RTC_MONTH, this.encode(<u32>month));
    store<u8>(cmos + RTC_YEAR, this.encode(<u32>floorModulo(year, 100)));
    store<u8>(cmos + RTC_CENTURY, this.encode(<u32>floorModulo(floorDivide(year, 100), 100)));
  }

  // Seconds since 1970 of the time the registers hold (days from civil).
  private composeSeconds(): i64 {
    let cmos = this.cmos();
    let year = <i64>this.decode(load<u8>(cmos + RTC_CENTURY)) * 100 + <i64>this.decode(load<u8>(cmos + RTC_YEAR));
    let month = <i64>this.decode(load<u8>(cmos + RTC_MONTH));
    if (month < 1) month = 1;
    if (month > 12) month = 12;
    let day = <i64>this.decode(load<u8>(cmos + RTC_DAY_OF_MONTH));
    let hourByte = load<u8>(cmos + RTC_HOURS);
    let hour: i64;
    if ((this.registerB & REG_B_24_HOUR) != 0) {
      hour = <i64>this.decode(hourByte);
    } else {
      hour = <i64>(this.decode(hourByte & 0x7f) % 12) + ((hourByte & 0x80) != 0 ? 12 : 0);
    }
    let y = year - (month <= 2 ? 1 : 0);
    let era = floorDivide(y, 400);
    let yearOfEra = y - era * 400;
    let dayOfYear = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear;
    let days = era * 146097 + dayOfEra - 719468;
    return days * SECONDS_PER_DAY + hour * 3600 + <i64>this.decode(load<u8>(cmos + RTC_MINUTES)) * 60 +
           <i64>this.decode(load<u8>(cmos + RTC_SECONDS));
  }

  // A value 0-99 as the registers show it: BCD, or binary with DM set.
  private encode(value: u32): u8 {
    if ((this.registerB & REG_B_DM_BINARY) != 0) return <u8>value;
    return <u8>((value / 10 % 10) << 4 | value % 10);
  }

  private decode(byte: u8): u32 {
    if ((this.registerB & REG_B_DM_BINARY) != 0) return byte;
    return (<u32>byte >> 4) * 10 + (<u32>byte & 15);
  }

  // --- CMOS RAM --------------------------------------------------------------------

  private storeMemorySize(): void {
    let bytes = this.memoryBytes;
    let cmos = this.cmos();
    let extended = bytes > MIB ? (bytes - MIB) / KIB : 0;
    let above16M = bytes > 16 * MIB ? (bytes - 16 * MIB) / (64 * KIB) : 0;
    storeWord(cmos, CMOS_EXTENDED_MEMORY, extended);
    storeWord(cmos, CMOS_EXTENDED_MEMORY_2, extended);
    storeWord(cmos, CMOS_MEMORY_ABOVE_16M, above16M);
    let sum: u32 = 0;
    for (let i = CMOS_FLOPPY_TYPES; i < CMOS_CHECKSUM; i++) sum += load<u8>(cmos + i);
    store<u8>(cmos + CMOS_CHECKSUM, <u8>(sum >> 8));
    store<u8>(cmos + CMOS_CHECKSUM + 1, <u8>sum);
  }
}

// The clock's registers: the time and the century (alarms are plain bytes).
@inline function isClockRegister(index: u32): bool {
  return index == RTC_SECONDS || index == RTC_MINUTES || index == RTC_HOURS ||
         (index >= RTC_DAY_OF_WEEK && index <= RTC_YEAR) || index == RTC_CENTURY;
}

// Register A's rate select (Table 5, 32.768 kHz time base): 3-15 give
// 8192 Hz down to 2 Hz, 1 and 2 give 256 and 128 Hz, 0 none.
function periodicHz(registerA: u8): u64 {
  let rate = <u32>(registerA & REG_A_RATE_MASK);
  if (rate == 0) return 0;
  if (rate <= 2) return rate == 1 ? 256 : 128;
  return <u64>65536 >> rate;
}

// A little-endian 16-bit CMOS value, capped at 65535.
function storeWord(cmos: usize, index: u32, value: u64): void {
  let word = value < 0xffff ? <u32>value : 0xffff;
  store<u8>(cmos + index, <u8>word);
  store<u8>(cmos + index + 1, <u8>(word >> 8));
}

@inline function floorDivide(value: i64, divisor: i64): i64 {
  let quotient = value / divisor;
  return quotient * divisor > value ? quotient - 1 : quotient;
}

@inline function floorModulo(value: i64, divisor: i64): i64 {
  return value - floorDivide(value, divisor) * divisor;
}
