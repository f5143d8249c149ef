import {
  AcpiPm, PM1_TMR_STS, PM1_PWRBTN_STS, PM1_WAK_STS, PM1_TMR_EN, PM1_PWRBTN_EN, PM1_GBL_EN, PM1_RTC_EN, PM1_SCI_EN, PM1_SLP_EN,
  PM1_SLP_TYP_SHIFT,
} from "../../../assembly/devices/acpi_pm";
import { PM_TIMER_HZ, SLP_TYP_S5, IRQ_SCI } from "../../../assembly/devices/pc_layout";
import { GuestClock, NO_DEADLINE, ticksToTsc } from "../../../assembly/devices/clock";
import { InterruptLines } from "../../../assembly/devices/interrupt_lines";

const TSC_HZ: u64 = 2_000_000_000;
const CLOCK: usize = memory.data(offsetof<GuestClock>(), 16);
const LINES: usize = memory.data(offsetof<InterruptLines>(), 16);
const PM: usize = memory.data(offsetof<AcpiPm>(), 16);

function clock(): GuestClock {
  return changetype<GuestClock>(CLOCK);
}

function lines(): InterruptLines {
  return changetype<InterruptLines>(LINES);
}

function newPm(): AcpiPm {
  clock().init(TSC_HZ, 0);
  clock().now = 1000;
  memory.fill(LINES, 0, offsetof<InterruptLines>());
  lines().reset();
  memory.fill(PM, 0xee, offsetof<AcpiPm>()); // reset() must set every field
  let pm = changetype<AcpiPm>(PM);
  pm.clock = clock();
  pm.lines = lines();
  pm.reset();
  return pm;
}

function sleep(pm: AcpiPm, type: u32): void {
  pm.writeControl(0, 2, type << PM1_SLP_TYP_SHIFT | PM1_SLP_EN);
}

describe("the ACPI PM timer", () => {
  it("reads the PM timer at 3.579545 MHz", () => {
    let pm = newPm();
    clock().now = TSC_HZ;
    expect(pm.readTimer(0, 4)).toBe(<u32>PM_TIMER_HZ);
    clock().now = TSC_HZ / 2;
    expect(pm.readTimer(0, 4)).toBe(<u32>(PM_TIMER_HZ / 2));
    clock().now = 10 * TSC_HZ;
    expect(pm.readTimer(0, 4)).toBe(<u32>(10 * PM_TIMER_HZ));
  });

  it("gives the right bytes of PM_TMR whatever the size and offset", () => {
    let pm = newPm();
    clock().now = ticksToTsc(clock(), 0x12345678, PM_TIMER_HZ) + 1;
    expect(pm.readTimer(0, 4)).toBe(0x12345678);
    expect(pm.readTimer(0, 1)).toBe(0x78);
    expect(pm.readTimer(1, 1)).toBe(0x56);
    expect(pm.readTimer(2, 2)).toBe(0x1234);
    expect(pm.readTimer(1, 2)).toBe(0x3456);
    expect(pm.readTimer(3, 4)).toBe(0xffffff12); // past the block: all ones
  });

  it("counts 32 bits and wraps", () => {
    let pm = newPm();
    clock().now = ticksToTsc(clock(), 0x100000005, PM_TIMER_HZ) + 1;
    expect(pm.readTimer(0, 4)).toBe(5);
  });

  it("ignores writes to PM_TMR", () => {
    let pm = newPm();
    clock().now = TSC_HZ;
    pm.writeTimer(0, 4, 0);
    expect(pm.readTimer(0, 4)).toBe(<u32>PM_TIMER_HZ);
  });

  it("sets TMR_STS when bit 31 toggles and holds the SCI high while TMR_EN is set", () => {
    let pm = newPm();
    expect<u64>(pm.deadline()).toBe(NO_DEADLINE);
    pm.writeEvent(2, 2, PM1_TMR_EN);
    let toggle = pm.deadline();
    expect(toggle > ticksToTsc(clock(), 0x7fffffff, PM_TIMER_HZ)).toBe(true);
    clock().now = toggle - 1;
    pm.advance();
    expect(pm.readEvent(0, 2) & PM1_TMR_STS).toBe(0);
    expect(lines().level(IRQ_SCI)).toBe(false);
    clock().now = toggle;
    expect(pm.readTimer(0, 4)).toBe(0x80000000);
    pm.advance();
    expect(pm.readEvent(0, 2) & PM1_TMR_STS).toBe(PM1_TMR_STS);
    expect(lines().level(IRQ_SCI)).toBe(true);
    expect<u64>(pm.deadline()).toBe(NO_DEADLINE); // the SCI is already up
    pm.writeEvent(0, 2, PM1_TMR_STS);
    expect(lines().level(IRQ_SCI)).toBe(false);
    expect(pm.deadline() > ticksToTsc(clock(), 0xffffffff, PM_TIMER_HZ)).toBe(true); // bit 31 falls at the wrap
  });

  it("sets TMR_STS without TMR_EN, with no deadline and no SCI", () => {
    let pm = newPm();
    clock().now = ticksToTsc(clock(), 0x80000000, PM_TIMER_HZ) + 1;
    expect<u64>(pm.deadline()).toBe(NO_DEADLINE);
    expect(pm.readEvent(0, 2) & PM1_TMR_STS).toBe(PM1_TMR_STS);
    expect(lines().level(IRQ_SCI)).toBe(false);
  });
});

describe("the ACPI PM1 event block", () => {
  it("clears a status bit only where 1 is written", () => {
    let pm = newPm();
    pm.pressPowerButton();
    pm.writeEvent(0, 2, 0);
    expect(pm.readEvent(0, 2)).toBe(PM1_PWRBTN_STS);
    pm.writeEvent(0, 1, 0xff); // the low byte does not hold PWRBTN_STS
    expect(pm.readEvent(0, 2)).toBe(PM1_PWRBTN_STS);
    pm.writeEvent(1, 1, 0x01);
    expect(pm.readEvent(0, 2)).toBe(0);
  });

  it("raises the SCI on the power button when PWRBTN_EN is set", () => {
    let pm = newPm();
    pm.writeEvent(2, 2, PM1_PWRBTN_EN);
    expect(pm.readEvent(2, 2)).toBe(PM1_PWRBTN_EN);
    expect(lines().level(IRQ_SCI)).toBe(false);
    pm.pressPowerButton();
    expect(lines().level(IRQ_SCI)).toBe(true);
    pm.writeEvent(0, 4, PM1_PWRBTN_STS | PM1_PWRBTN_EN << 16);
    expect(lines().level(IRQ_SCI)).toBe(false);
    expect(pm.readEvent(0, 4)).toBe(PM1_PWRBTN_EN << 16);
  });

  it("raises the SCI when an enable bit is set over a pending status bit", () => {
    let pm = newPm();
    pm.pressPowerButton();
    expect(lines().level(IRQ_SCI)).toBe(false);
    pm.writeEvent(3, 1, PM1_PWRBTN_EN >> 8);
    expect(lines().level(IRQ_SCI)).toBe(true);
  });

  it("keeps only the enable bits it has", () => {
    let pm = newPm();
    pm.writeEvent(2, 2, 0xffff);
    expect(pm.readEvent(2, 2)).toBe(PM1_TMR_EN | PM1_GBL_EN | PM1_PWRBTN_EN | PM1_RTC_EN);
  });
});

describe("the ACPI PM1 control block", () => {
  it("always reads SCI_EN set: there is no SMI_CMD, ACPI mode is always on", () => {
    let pm = newPm();
    expect(pm.readControl(0, 2) & PM1_SCI_EN).toBe(PM1_SCI_EN);
    pm.writeControl(0, 2, 0);
    expect(pm.readControl(0, 2) & PM1_SCI_EN).toBe(PM1_SCI_EN);
  });

  it("stops the guest's machine with powerOffRequested on SLP_TYP 5 + SLP_EN", () => {
    let pm = newPm();
    sleep(pm, SLP_TYP_S5);
    expect(pm.powerOffRequested).toBe(true);
  });

  it("powers off on SLP_TYP 5 + SLP_EN written as two bytes", () => {
    let pm = newPm();
    pm.writeControl(0, 1, 0x00);
    pm.writeControl(1, 1, (SLP_TYP_S5 << PM1_SLP_TYP_SHIFT | PM1_SLP_EN) >> 8);
    expect(pm.powerOffRequested).toBe(true);
  });

  it("keeps SLP_TYP, reads SLP_EN as 0, and does nothing without SLP_EN", () => {
    let pm = newPm();
    pm.writeControl(0, 2, SLP_TYP_S5 << PM1_SLP_TYP_SHIFT);
    expect(pm.powerOffRequested).toBe(false);
    expect(pm.readControl(0, 2)).toBe(SLP_TYP_S5 << PM1_SLP_TYP_SHIFT | PM1_SCI_EN);
    pm.writeControl(1, 1, PM1_SLP_EN >> 8 | SLP_TYP_S5 << (PM1_SLP_TYP_SHIFT - 8));
    expect(pm.powerOffRequested).toBe(true);
    expect(pm.readControl(0, 2) & PM1_SLP_EN).toBe(0);
  });

  it("does not enter S1-S4: counts the request and sets WAK_STS as if woken at once", () => {
    let pm = newPm();
    for (let type: u32 = 0; type < 8; type++) {
      if (type != SLP_TYP_S5) sleep(pm, type);
    }
    expect(pm.powerOffRequested).toBe(false);
    expect(pm.sleepRequestsIgnored).toBe(7);
    expect(pm.readEvent(0, 2) & PM1_WAK_STS).toBe(PM1_WAK_STS);
    pm.writeEvent(0, 2, PM1_WAK_STS);
    expect(pm.readEvent(0, 2) & PM1_WAK_STS).toBe(0);
  });

  it("reads all ones past the end of the block", () => {
    let pm = newPm();
    expect(pm.readControl(0, 4)).toBe(0xffff0001);
    expect(pm.readControl(2, 1)).toBe(0xff);
    expect(pm.readEvent(4, 2)).toBe(0xffff);
  });
});

describe("the ACPI PM block under hostile input", () => {
  it("never traps on any offset, size and value", () => {
    let pm = newPm();
    let seed: u32 = 99;
    for (let i = 0; i < 20000; i++) {
      seed = seed * 1103515245 + 12345;
      let offset = (seed >> 4) & 7;
      if ((seed & 0x10000) != 0) offset = seed; // far past any block
      let size: u32 = (seed & 3) == 0 ? 1 : (seed & 3) == 1 ? 2 : 4;
      let value = seed ^ (seed << 13);
      switch ((seed >> 8) & 7) {
        case 0: pm.writeEvent(offset, size, value); break;
        case 1: pm.writeControl(offset, size, value & ~PM1_SLP_EN); break;
        case 2: pm.writeTimer(offset, size, value); break;
        case 3: pm.readEvent(offset, size); break;
        case 4: pm.readControl(offset, size); break;
        default: pm.readTimer(offset, size);
      }
      clock().now += <u64>(seed & 0xfffff) << 12;
      pm.advance();
      pm.deadline();
    }
    expect(pm.powerOffRequested).toBe(false);
  });

  it("comes back to its power-on state on reset", () => {
    let pm = newPm();
    pm.writeEvent(2, 2, PM1_PWRBTN_EN);
    pm.pressPowerButton();
    sleep(pm, SLP_TYP_S5);
    pm.reset();
    expect(pm.powerOffRequested).toBe(false);
    expect(pm.readEvent(0, 4)).toBe(0);
    expect(lines().level(IRQ_SCI)).toBe(false);
  });
});
