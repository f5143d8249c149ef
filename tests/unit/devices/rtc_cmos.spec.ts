import {
  RtcCmos, RTC_CMOS_BYTES, RTC_INDEX, RTC_DATA, RTC_SECONDS, RTC_SECONDS_ALARM, RTC_MINUTES, RTC_MINUTES_ALARM,
  RTC_HOURS, RTC_HOURS_ALARM, RTC_DAY_OF_WEEK, RTC_DAY_OF_MONTH, RTC_MONTH, RTC_YEAR, RTC_CENTURY,
  RTC_REGISTER_A, RTC_REGISTER_B, RTC_REGISTER_C, RTC_REGISTER_D,
  REG_A_UIP, REG_B_SET, REG_B_PIE, REG_B_AIE, REG_B_UIE, REG_B_DM_BINARY, REG_B_24_HOUR,
  REG_C_IRQF, REG_C_PF, REG_C_AF, REG_C_UF, REG_D_VRT,
} from "../../../assembly/devices/rtc_cmos";
import { GuestClock, NO_DEADLINE } from "../../../assembly/devices/clock";
import { InterruptLines, IRQ_RTC } from "../../../assembly/devices/interrupt_lines";

const TSC_HZ: u64 = 2_000_000_000;
const LEAP_DAY_EVENING: u64 = 1709251198; // 2024-02-29 23:59:58 UTC, a Thursday
const CLOCK: usize = memory.data(offsetof<GuestClock>(), 16);
const LINES: usize = memory.data(offsetof<InterruptLines>(), 16);
const RTC: usize = memory.data(RTC_CMOS_BYTES, 16);

function clock(): GuestClock {
  return changetype<GuestClock>(CLOCK);
}

function lines(): InterruptLines {
  return changetype<InterruptLines>(LINES);
}

// An RTC whose host time at guest TSC 0 is `epochSeconds`; guest time is
// 0.25 s past it.
function newRtc(epochSeconds: u64): RtcCmos {
  clock().init(TSC_HZ, epochSeconds);
  clock().now = TSC_HZ / 4;
  memory.fill(LINES, 0, offsetof<InterruptLines>());
  lines().reset();
  memory.fill(RTC, 0xee, RTC_CMOS_BYTES); // reset() must set every field
  let rtc = changetype<RtcCmos>(RTC);
  rtc.clock = clock();
  rtc.lines = lines();
  rtc.setMemorySize(0);
  rtc.reset();
  return rtc;
}

function cmosRead(rtc: RtcCmos, index: u32): u32 {
  rtc.write(RTC_INDEX, 1, index);
  return rtc.read(RTC_DATA, 1);
}

function cmosWrite(rtc: RtcCmos, index: u32, value: u32): void {
  rtc.write(RTC_INDEX, 1, index);
  rtc.write(RTC_DATA, 1, value);
}

// The date and time the registers show, as 0xCCYYMMDD and 0xHHMMSS in BCD.
function date(rtc: RtcCmos): u32 {
  return cmosRead(rtc, RTC_CENTURY) << 24 | cmosRead(rtc, RTC_YEAR) << 16 | cmosRead(rtc, RTC_MONTH) << 8 |
         cmosRead(rtc, RTC_DAY_OF_MONTH);
}

function time(rtc: RtcCmos): u32 {
  return cmosRead(rtc, RTC_HOURS) << 16 | cmosRead(rtc, RTC_MINUTES) << 8 | cmosRead(rtc, RTC_SECONDS);
}

function seconds(n: u64): void {
  clock().now += n * TSC_HZ;
}

describe("the MC146818 RTC's clock", () => {
  it("gives the host's date in BCD by default and binary with DM set", () => {
    let rtc = newRtc(LEAP_DAY_EVENING);
    expect(date(rtc)).toBe(0x20240229);
    expect(time(rtc)).toBe(0x235958);
    expect(cmosRead(rtc, RTC_DAY_OF_WEEK)).toBe(5); // Sunday is 1
    cmosWrite(rtc, RTC_REGISTER_B, REG_B_24_HOUR | REG_B_DM_BINARY);
    expect(date(rtc)).toBe(20 << 24 | 24 << 16 | 2 << 8 | 29);
    expect(time(rtc)).toBe(23 << 16 | 59 << 8 | 58);
  });

  it("starts from 1970-01-01 00:00 at epoch 0", () => {
    let rtc = newRtc(0);
    expect(date(rtc)).toBe(0x19700101);
    expect(time(rtc)).toBe(0);
    expect(cmosRead(rtc, RTC_DAY_OF_WEEK)).toBe(5);
  });

  it("moves on with guest time, across midnight and the leap day", () => {
    let rtc = newRtc(LEAP_DAY_EVENING);
    seconds(2);
    expect(date(rtc)).toBe(0x20240301);
    expect(time(rtc)).toBe(0x000000);
    expect(cmosRead(rtc, RTC_DAY_OF_WEEK)).toBe(6);
    clock().init(TSC_HZ, 4107542400 - 1); // 2100 is not a leap year
    clock().now = TSC_HZ;
    expect(date(rtc)).toBe(0x21000301);
    expect(cmosRead(rtc, RTC_DAY_OF_WEEK)).toBe(2);
  });

  it("shows 12-hour time with bit 7 for PM when register B bit 1 is clear", () => {
    let rtc = newRtc(LEAP_DAY_EVENING);
    cmosWrite(rtc, RTC_REGISTER_B, 0);
    expect(cmosRead(rtc, RTC_HOURS)).toBe(0x91); // 11 PM
    seconds(2);
    expect(cmosRead(rtc, RTC_HOURS)).toBe(0x12); // 12 AM
    seconds(12 * 3600);
    expect(cmosRead(rtc, RTC_HOURS)).toBe(0x92); // 12 PM
  });

  it("keeps the time a guest sets", () => {
    let rtc = newRtc(LEAP_DAY_EVENING);
    cmosWrite(rtc, RTC_REGISTER_B, REG_B_SET | REG_B_24_HOUR);
    cmosWrite(rtc, RTC_CENTURY, 0x19);
    cmosWrite(rtc, RTC_YEAR, 0x99);
    cmosWrite(rtc, RTC_MONTH, 0x12);
    cmosWrite(rtc, RTC_DAY_OF_MONTH, 0x31);
    cmosWrite(rtc, RTC_HOURS, 0x23);
    cmosWrite(rtc, RTC_MINUTES, 0x59);
    cmosWrite(rtc, RTC_SECONDS, 0x59);
    seconds(5); // frozen while SET is set
    expect(time(rtc)).toBe(0x235959);
    cmosWrite(rtc, RTC_REGISTER_B, REG_B_24_HOUR);
    expect(date(rtc)).toBe(0x19991231);
    seconds(1);
    expect(date(rtc)).toBe(0x20000101);
    expect(time(rtc)).toBe(0x000000);
    expect(cmosRead(rtc, RTC_DAY_OF_WEEK)).toBe(7); // a Saturday
    seconds(3600);
    expect(time(rtc)).toBe(0x010000);
  });

  it("keeps a date set field by field, whatever the order", () => {
    let rtc = newRtc(1711843200); // 2024-03-31 00:00:00
    cmosWrite(rtc, RTC_REGISTER_B, REG_B_SET | REG_B_24_HOUR);
    cmosWrite(rtc, RTC_YEAR, 0x24);
    cmosWrite(rtc, RTC_MONTH, 0x02); // "February 31" for a moment
    cmosWrite(rtc, RTC_DAY_OF_MONTH, 0x15);
    cmosWrite(rtc, RTC_REGISTER_B, REG_B_24_HOUR);
    expect(date(rtc)).toBe(0x20240215);
  });

  it("keeps a time register written while the clock runs", () => {
    let rtc = newRtc(LEAP_DAY_EVENING);
    cmosWrite(rtc, RTC_HOURS, 0x10);
    expect(time(rtc)).toBe(0x105958);
    seconds(2);
    expect(time(rtc)).toBe(0x110000);
    expect(date(rtc)).toBe(0x20240229);
  });

  it("sets UIP in the 244 us before the update", () => {
    let rtc = newRtc(LEAP_DAY_EVENING);
    let window: u64 = TSC_HZ / 1000000 * 244;
    clock().now = TSC_HZ - window - 1;
    expect(cmosRead(rtc, RTC_REGISTER_A) & REG_A_UIP).toBe(0);
    clock().now = TSC_HZ - window;
    expect(cmosRead(rtc, RTC_REGISTER_A) & REG_A_UIP).toBe(REG_A_UIP);
    expect(time(rtc)).toBe(0x235958); // the update has not happened yet
    clock().now = TSC_HZ;
    expect(cmosRead(rtc, RTC_REGISTER_A) & REG_A_UIP).toBe(0);
    expect(time(rtc)).toBe(0x235959);
    expect(cmosRead(rtc, RTC_REGISTER_A)).toBe(0x26); // as a BIOS leaves it
  });

  it("never sets UIP with SET, and clears UIE when SET is set", () => {
    let rtc = newRtc(LEAP_DAY_EVENING);
    cmosWrite(rtc, RTC_REGISTER_B, REG_B_SET | REG_B_UIE | REG_B_24_HOUR);
    expect(cmosRead(rtc, RTC_REGISTER_B)).toBe(REG_B_SET | REG_B_24_HOUR);
    clock().now = TSC_HZ - 1000;
    expect(cmosRead(rtc, RTC_REGISTER_A) & REG_A_UIP).toBe(0);
  });

  it("runs only with divider 010, going on from where it stopped", () => {
    let rtc = newRtc(LEAP_DAY_EVENING);
    cmosWrite(rtc, RTC_REGISTER_A, 0x66); // divider held in reset
    seconds(10);
    expect(time(rtc)).toBe(0x235958);
    expect(cmosRead(rtc, RTC_REGISTER_A)).toBe(0x66);
    cmosWrite(rtc, RTC_REGISTER_A, 0x26);
    seconds(1);
    expect(time(rtc)).toBe(0x235959);
  });

  it("always reads register D with VRT set, and ignores writes to C and D", () => {
    let rtc = newRtc(0);
    expect(cmosRead(rtc, RTC_REGISTER_D)).toBe(REG_D_VRT);
    cmosWrite(rtc, RTC_REGISTER_D, 0);
    cmosWrite(rtc, RTC_REGISTER_C, 0xff);
    expect(cmosRead(rtc, RTC_REGISTER_D)).toBe(REG_D_VRT);
    expect(cmosRead(rtc, RTC_REGISTER_C)).toBe(0);
  });
});

describe("the MC146818 RTC's interrupts", () => {
  it("has no deadline and IRQ 8 low with no interrupt enabled", () => {
    let rtc = newRtc(0);
    expect<u64>(rtc.deadline()).toBe(NO_DEADLINE);
    seconds(3);
    rtc.advance();
    expect(lines().level(IRQ_RTC)).toBe(false);
  });

  it("gives periodic interrupts at the register A rate on IRQ 8, held until C is read", () => {
    let rtc = newRtc(0);
    cmosWrite(rtc, RTC_REGISTER_B, REG_B_PIE | REG_B_24_HOUR);
    let period = TSC_HZ / 1024;
    expect<u64>(rtc.deadline()).toBe(TSC_HZ / 4 + period);
    clock().now = rtc.deadline() - 1;
    rtc.advance();
    expect(lines().level(IRQ_RTC)).toBe(false);
    clock().now = rtc.deadline();
    rtc.advance();
    expect(lines().level(IRQ_RTC)).toBe(true);
    expect<u64>(rtc.deadline()).toBe(NO_DEADLINE); // pending: nothing more to raise
    clock().now += 10 * period;
    rtc.advance();
    expect(cmosRead(rtc, RTC_REGISTER_C)).toBe(REG_C_IRQF | REG_C_PF);
    expect(lines().level(IRQ_RTC)).toBe(false);
    expect<u64>(rtc.missedPeriodic).toBe(10);
    expect(cmosRead(rtc, RTC_REGISTER_C)).toBe(0);
    expect<u64>(rtc.deadline()).toBe(TSC_HZ / 4 + 12 * period);
  });

  it("maps rates 3-15 to 8192 Hz down to 2 Hz and rates 1-2 to 256 and 128 Hz", () => {
    let rtc = newRtc(0);
    cmosWrite(rtc, RTC_REGISTER_B, REG_B_PIE | REG_B_24_HOUR);
    let hz: u64[] = [0, 256, 128, 8192, 4096, 2048, 1024, 512, 256, 128, 64, 32, 16, 8, 4, 2];
    for (let rate = 1; rate < 16; rate++) {
      clock().now = 0;
      cmosWrite(rtc, RTC_REGISTER_A, 0x20 | rate);
      let period = (TSC_HZ + hz[rate] - 1) / hz[rate];
      expect<u64>(rtc.deadline()).toBe(period);
    }
    cmosWrite(rtc, RTC_REGISTER_A, 0x20);
    expect<u64>(rtc.deadline()).toBe(NO_DEADLINE);
  });

  it("gives an update-ended interrupt once a second", () => {
    let rtc = newRtc(LEAP_DAY_EVENING);
    cmosWrite(rtc, RTC_REGISTER_B, REG_B_UIE | REG_B_24_HOUR);
    expect<u64>(rtc.deadline()).toBe(TSC_HZ);
    clock().now = TSC_HZ;
    rtc.advance();
    expect(lines().level(IRQ_RTC)).toBe(true);
    expect(cmosRead(rtc, RTC_REGISTER_C) & ~REG_C_PF).toBe(REG_C_IRQF | REG_C_UF);
    expect(lines().level(IRQ_RTC)).toBe(false);
    expect<u64>(rtc.deadline()).toBe(2 * TSC_HZ);
  });

  it("sets UF and PF without their enables for a guest that polls register C, without raising IRQ 8", () => {
    let rtc = newRtc(LEAP_DAY_EVENING);
    expect(cmosRead(rtc, RTC_REGISTER_C)).toBe(0);
    clock().now += TSC_HZ / 2048; // half a 1024 Hz period: nothing yet
    expect(cmosRead(rtc, RTC_REGISTER_C)).toBe(0);
    clock().now = TSC_HZ / 4 + TSC_HZ / 1024;
    expect(cmosRead(rtc, RTC_REGISTER_C)).toBe(REG_C_PF);
    seconds(1);
    expect(lines().level(IRQ_RTC)).toBe(false);
    expect(cmosRead(rtc, RTC_REGISTER_C)).toBe(REG_C_UF | REG_C_PF);
    expect<u64>(rtc.deadline()).toBe(NO_DEADLINE);
  });

  it("raises IRQ 8 when an enable is set over a pending flag", () => {
    let rtc = newRtc(LEAP_DAY_EVENING);
    seconds(1);
    rtc.advance();
    cmosWrite(rtc, RTC_REGISTER_B, REG_B_UIE | REG_B_24_HOUR);
    expect(lines().level(IRQ_RTC)).toBe(true);
  });

  it("rings the alarm when seconds, minutes and hours match", () => {
    let rtc = newRtc(LEAP_DAY_EVENING);
    cmosWrite(rtc, RTC_SECONDS_ALARM, 0x00);
    cmosWrite(rtc, RTC_MINUTES_ALARM, 0x00);
    cmosWrite(rtc, RTC_HOURS_ALARM, 0x00);
    cmosWrite(rtc, RTC_REGISTER_B, REG_B_AIE | REG_B_24_HOUR);
    clock().now = rtc.deadline();
    rtc.advance();
    expect(lines().level(IRQ_RTC)).toBe(false); // 23:59:59
    clock().now = rtc.deadline();
    rtc.advance();
    expect(lines().level(IRQ_RTC)).toBe(true); // 00:00:00
    expect(cmosRead(rtc, RTC_REGISTER_C) & ~REG_C_PF).toBe(REG_C_IRQF | REG_C_AF | REG_C_UF);
  });

  it("treats alarm values 0xC0-0xFF as don't care", () => {
    let rtc = newRtc(LEAP_DAY_EVENING);
    cmosWrite(rtc, RTC_SECONDS_ALARM, 0x30);
    cmosWrite(rtc, RTC_MINUTES_ALARM, 0xc0);
    cmosWrite(rtc, RTC_HOURS_ALARM, 0xff);
    cmosWrite(rtc, RTC_REGISTER_B, REG_B_AIE | REG_B_24_HOUR);
    let rings = 0;
    for (let i = 0; i < 180; i++) {
      clock().now = rtc.deadline();
      rtc.advance();
      if (lines().level(IRQ_RTC)) {
        rings++;
        expect(cmosRead(rtc, RTC_SECONDS)).toBe(0x30);
        cmosRead(rtc, RTC_REGISTER_C);
      }
    }
    expect(rings).toBe(3);
  });

  it("lowers IRQ 8 when the enable of the pending flag is cleared", () => {
    let rtc = newRtc(0);
    cmosWrite(rtc, RTC_REGISTER_B, REG_B_UIE | REG_B_24_HOUR);
    seconds(1);
    rtc.advance();
    expect(lines().level(IRQ_RTC)).toBe(true);
    cmosWrite(rtc, RTC_REGISTER_B, REG_B_24_HOUR);
    expect(lines().level(IRQ_RTC)).toBe(false);
  });
});

describe("the CMOS RAM", () => {
  it("keeps the 114 bytes after the clock registers", () => {
    let rtc = newRtc(0);
    for (let index: u32 = 0x0e; index < 0x80; index++) {
      if (index != RTC_CENTURY) cmosWrite(rtc, index, index ^ 0x5a);
    }
    for (let index: u32 = 0x0e; index < 0x80; index++) {
      if (index != RTC_CENTURY) expect(cmosRead(rtc, index)).toBe(index ^ 0x5a);
    }
  });

  it("keeps the alarm bytes as written", () => {
    let rtc = newRtc(0);
    cmosWrite(rtc, RTC_HOURS_ALARM, 0xc7);
    expect(cmosRead(rtc, RTC_HOURS_ALARM)).toBe(0xc7);
  });

  it("wraps an index past 127 and keeps bit 7 as the NMI mask", () => {
    let rtc = newRtc(0);
    rtc.write(RTC_INDEX, 1, 0x80 | 0x40);
    expect(rtc.nmiMasked).toBe(true);
    rtc.write(RTC_DATA, 1, 0x77);
    rtc.write(RTC_INDEX, 1, 0x40);
    expect(rtc.nmiMasked).toBe(false);
    expect(rtc.read(RTC_DATA, 1)).toBe(0x77);
    rtc.write(RTC_INDEX, 1, 0x8d);
    expect(rtc.read(RTC_DATA, 1)).toBe(REG_D_VRT);
  });

  it("holds a PC BIOS's standard contents: 640 KiB base memory, a century in BCD", () => {
    let rtc = newRtc(LEAP_DAY_EVENING);
    expect(cmosRead(rtc, 0x0e)).toBe(0);
    expect(cmosRead(rtc, 0x10)).toBe(0);
    expect(cmosRead(rtc, 0x15) | cmosRead(rtc, 0x16) << 8).toBe(640);
    expect(cmosRead(rtc, RTC_CENTURY)).toBe(0x20);
  });

  it("says how much memory the guest has, capped at 65535", () => {
    let rtc = newRtc(0);
    rtc.setMemorySize(8 << 20);
    expect(cmosRead(rtc, 0x17) | cmosRead(rtc, 0x18) << 8).toBe(7168);
    expect(cmosRead(rtc, 0x30) | cmosRead(rtc, 0x31) << 8).toBe(7168);
    expect(cmosRead(rtc, 0x34) | cmosRead(rtc, 0x35) << 8).toBe(0);
    rtc.setMemorySize(<u64>512 << 20);
    expect(cmosRead(rtc, 0x17) | cmosRead(rtc, 0x18) << 8).toBe(65535);
    expect(cmosRead(rtc, 0x34) | cmosRead(rtc, 0x35) << 8).toBe(7936);
    rtc.setMemorySize(<u64>64 << 30);
    expect(cmosRead(rtc, 0x34) | cmosRead(rtc, 0x35) << 8).toBe(65535);
    rtc.reset(); // the size survives a reset
    expect(cmosRead(rtc, 0x34) | cmosRead(rtc, 0x35) << 8).toBe(65535);
    let sum: u32 = 0;
    for (let index: u32 = 0x10; index < 0x2e; index++) sum += cmosRead(rtc, index);
    expect(cmosRead(rtc, 0x2e) << 8 | cmosRead(rtc, 0x2f)).toBe(sum);
  });

  it("reads the write-only index port as all ones", () => {
    let rtc = newRtc(0);
    expect(rtc.read(RTC_INDEX, 1)).toBe(0xff);
  });
});

describe("the RTC under hostile input", () => {
  it("never traps on any index and value, in any mode", () => {
    let rtc = newRtc(LEAP_DAY_EVENING);
    for (let index: u32 = 0; index < 256; index++) {
      for (let value: u32 = 0; value < 256; value += 7) {
        cmosWrite(rtc, index, value);
        cmosRead(rtc, index);
        clock().now += 12345;
        rtc.advance();
        rtc.deadline();
      }
    }
    let seed: u32 = 7;
    for (let i = 0; i < 20000; i++) {
      seed = seed * 1103515245 + 12345;
      rtc.write(seed & 1, 1, seed >> 16);
      rtc.read((seed >> 1) & 1, 1);
      clock().now += <u64>(seed & 0xffffff);
      rtc.advance();
      let deadline = rtc.deadline();
      expect(deadline > clock().now || deadline == NO_DEADLINE || lines().level(IRQ_RTC)).toBe(true);
    }
  });

  it("never traps with a host clock at the end of time", () => {
    let rtc = newRtc(0xffffffffffffffff);
    cmosWrite(rtc, RTC_REGISTER_B, REG_B_PIE | REG_B_AIE | REG_B_UIE);
    clock().now = 0xfffffffffffffff0;
    date(rtc);
    time(rtc);
    rtc.advance();
    rtc.deadline();
    cmosWrite(rtc, RTC_YEAR, 0xff);
  });
});

describe("RTC alarm check", () => {
  it("asks for an advance at each update while AF is clear, none once set or stopped", () => {
    let rtc = newRtc(LEAP_DAY_EVENING);
    expect(rtc.alarmCheck()).toBe(TSC_HZ);     // the next whole second of guest TSC
    expect(rtc.deadline()).toBe(NO_DEADLINE);  // no IRQ is due: the host need not wake
    cmosWrite(rtc, RTC_SECONDS_ALARM, 0xff);
    cmosWrite(rtc, RTC_MINUTES_ALARM, 0xff);
    cmosWrite(rtc, RTC_HOURS_ALARM, 0xff);
    clock().now = TSC_HZ + 1;
    rtc.advance();
    expect(rtc.alarmCheck()).toBe(NO_DEADLINE); // AF set: nothing more to see
    expect(cmosRead(rtc, RTC_REGISTER_C) & REG_C_AF).toBe(REG_C_AF);
    expect(rtc.alarmCheck()).toBe(2 * TSC_HZ);
    cmosWrite(rtc, RTC_REGISTER_B, REG_B_SET | REG_B_24_HOUR);
    expect(rtc.alarmCheck()).toBe(NO_DEADLINE);
  });
});
