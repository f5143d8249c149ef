// The ACPI fixed hardware the FADT points at (ACPI 6.5, 4.8): the PM1a
// event block (PM1_STS, PM1_EN), the PM1a control block (PM1_CNT) and the
// 32-bit power management timer (PM_TMR). Three port ranges of one device:
// the bus maps PORT_PM1A_EVENT, PORT_PM1A_CONTROL and PORT_PM_TIMER
// (pc_layout.ts) to readEvent/writeEvent, readControl/writeControl and
// readTimer/writeTimer, with offsets from each block's first port. Any
// access size (1, 2, 4) at any offset gives or takes the bytes it covers;
// bytes past a block read as all ones and are not written.
//
// There is no SMI_CMD (FADT SMI_CMD = 0): the machine is always in ACPI
// mode, so SCI_EN always reads 1. The SCI is IRQ 9, level: high while an
// enabled status bit is set (4.8.4.1). Sleeping: the DSDT offers only \_S5;
// SLP_EN with SLP_TYP 5 asks the exit handler to power the guest off
// (`powerOffRequested`). Other sleep types are not entered: they are
// counted and WAK_STS is set at once, as if the machine woke straight away,
// so an OS waiting for WAK_STS after SLP_EN goes on.
//
// PM_TMR counts at 3.579545 MHz from guest TSC 0. TMR_STS is set each time
// bit 31 of the counter toggles (every 2^31 counts, about 600 s); only with
// TMR_EN set does the device ask for a deadline.

import { GuestClock, NO_DEADLINE, ticksToTsc, tscToTicks, rearmed } from "./clock";
import { InterruptLines } from "./interrupt_lines";
import { PM_TIMER_HZ, SLP_TYP_S5, IRQ_SCI, PM1A_EVENT_BYTES, PM1A_CONTROL_BYTES, PM_TIMER_BYTES } from "./pc_layout";

// PM1_STS (Table 4.11): write 1 to clear.
export const PM1_TMR_STS: u32 = 0x0001;
export const PM1_PWRBTN_STS: u32 = 0x0100;
export const PM1_WAK_STS: u32 = 0x8000;
const STATUS_BITS: u32 = PM1_TMR_STS | PM1_PWRBTN_STS | PM1_WAK_STS;
// PM1_EN (Table 4.12).
export const PM1_TMR_EN: u32 = 0x0001;
export const PM1_PWRBTN_EN: u32 = 0x0100;
// GBL_EN (bit 5) is kept so an OS can enable the Global Lock event (ACPI
// 6.5, 5.2.10.1): no firmware ever takes the lock, so GBL_STS never sets.
export const PM1_GBL_EN: u32 = 0x0020;
// RTC_EN (bit 10) likewise: Linux's rtc-cmos enables the RTC fixed event;
// the RTC raises its alarms on IRQ 8 instead, so RTC_STS never sets.
export const PM1_RTC_EN: u32 = 0x0400;
const ENABLE_BITS: u32 = PM1_TMR_EN | PM1_GBL_EN | PM1_PWRBTN_EN | PM1_RTC_EN;
// PM1_CNT (Table 4.13).
export const PM1_SCI_EN: u32 = 0x0001;
export const PM1_BM_RLD: u32 = 0x0002;
export const PM1_GBL_RLS: u32 = 0x0004;  // write-only; would signal firmware, which there is none of
export const PM1_SLP_TYP_SHIFT: u32 = 10;
export const PM1_SLP_TYP_MASK: u32 = 0x1c00;
export const PM1_SLP_EN: u32 = 0x2000;   // write-only, reads 0
const CONTROL_KEPT_BITS: u32 = PM1_BM_RLD | PM1_SLP_TYP_MASK;
// PM1_STS sits at offset 0 of the event block, PM1_EN after it.
const PM1_EN_OFFSET: u32 = 2;
// TMR_STS follows bit 31 of PM_TMR.
const TIMER_CARRY_SHIFT: u64 = 31;

@unmanaged
export class AcpiPm {
  clock: GuestClock;
  lines: InterruptLines;
  timerCarries: u64;         // toggles of PM_TMR bit 31 (counts >> 31) already in TMR_STS
  sleepRequestsIgnored: u32; // SLP_EN with a sleep type other than S5
  status: u16;               // PM1_STS
  enable: u16;               // PM1_EN
  control: u16;              // PM1_CNT's kept bits (BM_RLD, SLP_TYP)
  powerOffRequested: bool;
  sciLevel: bool;            // the level this device holds the SCI at

  reset(): void {
    this.timerCarries = this.timerCounts() >> TIMER_CARRY_SHIFT;
    this.sleepRequestsIgnored = 0;
    this.status = 0;
    this.enable = 0;
    this.control = 0;
    this.powerOffRequested = false;
    this.sciLevel = false;
    if (changetype<usize>(this.lines) != 0) this.lines.set(IRQ_SCI, false);
    rearmed(this.clock);
  }

  // --- PM1a event block: PM1_STS (bytes 0-1), PM1_EN (bytes 2-3) ------------------

  readEvent(offset: u32, size: u32): u32 {
    this.collectTimerCarry();
    return bytesOf(<u32>this.status | <u32>this.enable << 16, PM1A_EVENT_BYTES, offset, size);
  }

  writeEvent(offset: u32, size: u32, value: u32): void {
    this.collectTimerCarry();
    rearmed(this.clock); // TMR_EN or TMR_STS may change
    let count = size < 4 ? size : 4;
    for (let i: u32 = 0; i < count; i++) {
      let index = offset + i;
      if (offset >= PM1A_EVENT_BYTES || index >= PM1A_EVENT_BYTES) break;
      let byte = (value >> (i * 8)) & 0xff;
      if (index < PM1_EN_OFFSET) {
        this.status &= <u16>~((byte << (index * 8)) & STATUS_BITS);
      } else {
        let shift = (index - PM1_EN_OFFSET) * 8;
        let enable = (<u32>this.enable & ~(<u32>0xff << shift)) | byte << shift;
        this.enable = <u16>(enable & ENABLE_BITS);
      }
    }
    this.updateSci();
  }

  // --- PM1a control block: PM1_CNT --------------------------------------------------

  readControl(offset: u32, size: u32): u32 {
    return bytesOf(<u32>this.control | PM1_SCI_EN, PM1A_CONTROL_BYTES, offset, size);
  }

  writeControl(offset: u32, size: u32, value: u32): void {
    let register = <u32>this.control;
    let count = size < 4 ? size : 4;
    let highByteWritten = false;
    for (let i: u32 = 0; i < count; i++) {
      let index = offset + i;
      if (offset >= PM1A_CONTROL_BYTES || index >= PM1A_CONTROL_BYTES) break;
      let shift = index * 8;
      register = (register & ~(<u32>0xff << shift)) | ((value >> (i * 8)) & 0xff) << shift;
      if (index == 1) highByteWritten = true;
    }
    this.control = <u16>(register & CONTROL_KEPT_BITS);
    if (!highByteWritten || (register & PM1_SLP_EN) == 0) return;
    let sleepType = (register & PM1_SLP_TYP_MASK) >> PM1_SLP_TYP_SHIFT;
    if (sleepType == SLP_TYP_S5) {
      this.powerOffRequested = true;
    } else {
      this.sleepRequestsIgnored++;
      this.status |= <u16>PM1_WAK_STS;
    }
  }

  // --- PM_TMR ---------------------------------------------------------------------

  readTimer(offset: u32, size: u32): u32 {
    return bytesOf(<u32>this.timerCounts(), PM_TIMER_BYTES, offset, size);
  }

  // PM_TMR is read-only.
  writeTimer(offset: u32, size: u32, value: u32): void {}

  // --- events -----------------------------------------------------------------------

  // The power button, pressed on the host's behalf (a graceful shutdown).
  pressPowerButton(): void {
    this.status |= <u16>PM1_PWRBTN_STS;
    this.updateSci();
  }

  // The next toggle of PM_TMR bit 31, while TMR_EN is set and TMR_STS clear.
  deadline(): u64 {
    if ((<u32>this.enable & PM1_TMR_EN) == 0 || (<u32>this.status & PM1_TMR_STS) != 0) return NO_DEADLINE;
    let next = (this.timerCarries + 1) << TIMER_CARRY_SHIFT;
    let tsc = ticksToTsc(this.clock, next, PM_TIMER_HZ);
    if (tsc != NO_DEADLINE && tscToTicks(this.clock, tsc, PM_TIMER_HZ) < next) tsc++;
    return tsc;
  }

  advance(): void {
    this.collectTimerCarry();
    this.updateSci();
  }

  // PM_TMR's counts since guest TSC 0 (the register is the low 32 bits).
  private timerCounts(): u64 {
    return tscToTicks(this.clock, this.clock.now, PM_TIMER_HZ);
  }

  private collectTimerCarry(): void {
    let carries = this.timerCounts() >> TIMER_CARRY_SHIFT;
    if (carries <= this.timerCarries) return;
    this.timerCarries = carries;
    this.status |= <u16>PM1_TMR_STS;
  }

  private updateSci(): void {
    let high = (<u32>this.status & <u32>this.enable & ENABLE_BITS) != 0;
    if (high == this.sciLevel) return;
    this.sciLevel = high;
    this.lines.set(IRQ_SCI, high);
  }
}

// The `size` bytes at `offset` of a `blockBytes`-byte register image; bytes
// outside the block read as all ones.
function bytesOf(image: u32, blockBytes: u32, offset: u32, size: u32): u32 {
  let count = size < 4 ? size : 4;
  let value: u32 = 0;
  for (let i: u32 = 0; i < count; i++) {
    let index = offset + i;
    let byte: u32 = offset < blockBytes && index < blockBytes ? (image >> (index * 8)) & 0xff : 0xff;
    value |= byte << (i * 8);
  }
  return value;
}
