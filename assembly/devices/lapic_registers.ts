// How a guest reaches its local APIC's registers: the xAPIC page (MMIO at
// 0xFEE00000, 32-bit registers on 16-byte boundaries) and the x2APIC MSRs
// (0x800-0x8FF, 12.12.1). Both decode through the same register index
// (xAPIC offset / 16 = MSR - 0x800, SDM vol. 3A table 12-6), so one reader
// and one writer serve both; x2APIC mode adds its rules: read-only ID and
// LDR, no DFR, APR or ICR high, the ICR as one 64-bit MSR, SELF IPI, and
// #GP for reserved bits (12.12.1.3). The state and what the registers do
// live in lapic.ts.

import {
  Lapic, APIC_VERSION, LVT_MASKED, LVT_DELIVERY_STATUS, ICR_VECTOR, ICR_SHORTHAND_SHIFT, SHORTHAND_SELF,
} from "./lapic";
import { LVT_TIMER_MODE_BITS, TIMER_DIVIDE_BITS } from "./lapic_timer";
import { rearmed } from "./clock";

// Register indices (12.4.1 table 12-1; 12.12.1.2 table 12-6).
export const APIC_REG_ID: u32 = 0x02;
export const APIC_REG_VERSION: u32 = 0x03;
export const APIC_REG_TPR: u32 = 0x08;
export const APIC_REG_APR: u32 = 0x09;
export const APIC_REG_PPR: u32 = 0x0a;
export const APIC_REG_EOI: u32 = 0x0b;
export const APIC_REG_LDR: u32 = 0x0d;
export const APIC_REG_DFR: u32 = 0x0e;
export const APIC_REG_SVR: u32 = 0x0f;
export const APIC_REG_ISR: u32 = 0x10;    // 8 registers
export const APIC_REG_TMR: u32 = 0x18;    // 8
export const APIC_REG_IRR: u32 = 0x20;    // 8
export const APIC_REG_ESR: u32 = 0x28;
export const APIC_REG_ICR: u32 = 0x30;    // x2APIC: the whole 64-bit ICR
export const APIC_REG_ICR_HIGH: u32 = 0x31; // xAPIC only
export const APIC_REG_LVT_TIMER: u32 = 0x32;
export const APIC_REG_LVT_THERMAL: u32 = 0x33;
export const APIC_REG_LVT_PERF: u32 = 0x34;
export const APIC_REG_LVT_LINT0: u32 = 0x35;
export const APIC_REG_LVT_LINT1: u32 = 0x36;
export const APIC_REG_LVT_ERROR: u32 = 0x37;
export const APIC_REG_TIMER_INITIAL: u32 = 0x38;
export const APIC_REG_TIMER_CURRENT: u32 = 0x39;
export const APIC_REG_TIMER_DIVIDE: u32 = 0x3e;
export const APIC_REG_SELF_IPI: u32 = 0x3f; // x2APIC only
export const X2APIC_MSR_FIRST: u32 = 0x800;
export const X2APIC_MSR_LAST: u32 = 0x8ff;

// Writable bits (12.4-12.6; reserved bits in x2APIC mode are the rest).
const SVR_WRITABLE: u32 = 0x3ff;            // vector, software enable, focus checking (kept, unused)
const DFR_ONES: u32 = 0x0fffffff;           // DFR bits 27-0 read as ones
const LVT_TIMER_WRITABLE: u32 = 0x100ff | LVT_TIMER_MODE_BITS;
const LVT_LOCAL_WRITABLE: u32 = 0x107ff;    // thermal, perf: vector, delivery mode, mask
const LVT_LINT_WRITABLE: u32 = 0x1a7ff;     // + polarity, trigger mode
const LVT_ERROR_WRITABLE: u32 = 0x100ff;
const LVT_REMOTE_IRR: u32 = 1 << 14;        // read-only (LINT0/1)
const ICR_LOW_WRITABLE: u32 = 0xccfff;      // bit 12 (delivery status) reads 0
export const ICR_X2APIC_RESERVED: u64 = 0xfff33000; // bits 12-13, 16-17, 20-31
const ICR_HIGH_XAPIC_WRITABLE: u32 = 0xff000000;

// Registers reads reach; x2APIC drops APR, DFR, ICR high and has no
// readable EOI or SELF IPI.
export function readableRegister(register: u32, x2apic: bool): bool {
  if (register >= APIC_REG_ISR && register < APIC_REG_ESR) return true;
  switch (register) {
    case APIC_REG_ID: case APIC_REG_VERSION: case APIC_REG_TPR: case APIC_REG_PPR:
    case APIC_REG_LDR: case APIC_REG_SVR: case APIC_REG_ESR: case APIC_REG_ICR:
    case APIC_REG_LVT_TIMER: case APIC_REG_LVT_THERMAL: case APIC_REG_LVT_PERF:
    case APIC_REG_LVT_LINT0: case APIC_REG_LVT_LINT1: case APIC_REG_LVT_ERROR:
    case APIC_REG_TIMER_INITIAL: case APIC_REG_TIMER_CURRENT: case APIC_REG_TIMER_DIVIDE:
      return true;
    case APIC_REG_APR: case APIC_REG_DFR: case APIC_REG_ICR_HIGH: case APIC_REG_EOI:
      return !x2apic; // the xAPIC's EOI reads 0
    default: return false;
  }
}

export function readRegister(lapic: Lapic, register: u32, x2apic: bool): u64 {
  if (register >= APIC_REG_ISR && register < APIC_REG_ESR) {
    return load<u32>(lapic.bitmap(offsetof<Lapic>("isr0")) + (<usize>(register - APIC_REG_ISR) << 2));
  }
  switch (register) {
    case APIC_REG_ID: return x2apic ? lapic.vcpuIndex : lapic.xapicId << 24;
    case APIC_REG_VERSION: return APIC_VERSION;
    case APIC_REG_TPR: return lapic.tpr;
    case APIC_REG_PPR: return lapic.processorPriority();
    case APIC_REG_LDR: return x2apic ? lapic.x2apicLdr() : lapic.ldr;
    case APIC_REG_DFR: return lapic.dfr;
    case APIC_REG_SVR: return lapic.svr;
    case APIC_REG_ESR: return lapic.esr;
    case APIC_REG_ICR: return x2apic ? (<u64>lapic.icrHigh << 32) | lapic.icrLow : lapic.icrLow;
    case APIC_REG_ICR_HIGH: return lapic.icrHigh;
    case APIC_REG_LVT_TIMER: return lapic.timer().lvt;
    case APIC_REG_LVT_THERMAL: return lapic.lvtThermal;
    case APIC_REG_LVT_PERF: return lapic.lvtPerf;
    case APIC_REG_LVT_LINT0: return lapic.lvtLint0;
    case APIC_REG_LVT_LINT1: return lapic.lvtLint1;
    case APIC_REG_LVT_ERROR: return lapic.lvtError;
    case APIC_REG_TIMER_INITIAL: return lapic.timer().initialCount;
    case APIC_REG_TIMER_CURRENT: return lapic.timer().currentCount(lapic.clock);
    case APIC_REG_TIMER_DIVIDE: return lapic.timer().divideConfig;
    default: return 0; // APR, EOI
  }
}

// One register write; `high` is the x2APIC ICR's destination. False
// means #GP in x2APIC mode; the xAPIC ignores what it cannot take.
export function writeRegister(lapic: Lapic, register: u32, value: u32, high: u32, x2apic: bool): bool {
  switch (register) {
    case APIC_REG_ID: {
      if (x2apic) return false; // read-only in x2APIC mode
      lapic.xapicId = value >> 24;
      return true;
    }
    case APIC_REG_TPR: {
      if (x2apic && (value & ~0xff) != 0) return false;
      lapic.tpr = value & 0xff;
      return true;
    }
    case APIC_REG_EOI: {
      if (x2apic && value != 0) return false;
      lapic.endOfInterrupt();
      return true;
    }
    case APIC_REG_LDR: {
      if (x2apic) return false; // derived from the x2APIC ID
      lapic.ldr = value & 0xff000000;
      return true;
    }
    case APIC_REG_DFR: {
      if (x2apic) return false;
      lapic.dfr = (value & 0xf0000000) | DFR_ONES;
      return true;
    }
    case APIC_REG_SVR: {
      if (x2apic && (value & ~SVR_WRITABLE) != 0) return false;
      lapic.writeSvr(value & SVR_WRITABLE);
      return true;
    }
    case APIC_REG_ESR: {
      if (x2apic && value != 0) return false;
      lapic.esr = lapic.errorsSinceLatch;
      lapic.errorsSinceLatch = 0;
      return true;
    }
    case APIC_REG_ICR: {
      let destination = x2apic ? high : lapic.icrHigh >> 24;
      lapic.icrLow = value & ICR_LOW_WRITABLE & ~LVT_DELIVERY_STATUS;
      if (x2apic) lapic.icrHigh = high;
      lapic.sendIpi(lapic.icrLow, destination);
      return true;
    }
    case APIC_REG_ICR_HIGH: {
      if (x2apic) return false;
      lapic.icrHigh = value & ICR_HIGH_XAPIC_WRITABLE;
      return true;
    }
    case APIC_REG_LVT_TIMER: {
      if (x2apic && ((value & ~(LVT_TIMER_WRITABLE | LVT_DELIVERY_STATUS)) != 0 || (value & LVT_TIMER_MODE_BITS) == LVT_TIMER_MODE_BITS)) return false;
      lapic.timer().writeLvt(lvtValue(lapic, value, LVT_TIMER_WRITABLE));
      rearmed(lapic.clock);
      return true;
    }
    case APIC_REG_LVT_THERMAL:
    case APIC_REG_LVT_PERF:
    case APIC_REG_LVT_LINT0:
    case APIC_REG_LVT_LINT1:
    case APIC_REG_LVT_ERROR: return writeLvt(lapic, register, value, x2apic);
    case APIC_REG_TIMER_INITIAL: {
      lapic.timer().writeInitialCount(lapic.clock, value);
      rearmed(lapic.clock);
      return true;
    }
    case APIC_REG_TIMER_DIVIDE: {
      if (x2apic && (value & ~TIMER_DIVIDE_BITS) != 0) return false;
      lapic.timer().writeDivide(lapic.clock, value);
      rearmed(lapic.clock);
      return true;
    }
    case APIC_REG_SELF_IPI: {
      if (!x2apic || (value & ~ICR_VECTOR) != 0) return !x2apic;
      lapic.sendIpi((SHORTHAND_SELF << ICR_SHORTHAND_SHIFT) | value, 0);
      return true;
    }
    default: return !x2apic; // read-only or absent
  }
}

// An LVT value as stored: only its writable bits, and masked while the
// APIC is software-disabled (12.4.7.2).
function lvtValue(lapic: Lapic, value: u32, writable: u32): u32 {
  value &= writable;
  return lapic.softwareEnabled() ? value : value | LVT_MASKED;
}

function writeLvt(lapic: Lapic, register: u32, value: u32, x2apic: bool): bool {
  let writable = register == APIC_REG_LVT_ERROR ? LVT_ERROR_WRITABLE
    : register == APIC_REG_LVT_LINT0 || register == APIC_REG_LVT_LINT1 ? LVT_LINT_WRITABLE
    : LVT_LOCAL_WRITABLE;
  if (x2apic && (value & ~(writable | LVT_DELIVERY_STATUS | LVT_REMOTE_IRR)) != 0) return false;
  let stored = lvtValue(lapic, value, writable);
  switch (register) {
    case APIC_REG_LVT_THERMAL: lapic.lvtThermal = stored; break;
    case APIC_REG_LVT_PERF: lapic.lvtPerf = stored; break;
    case APIC_REG_LVT_LINT0: lapic.lvtLint0 = stored; break;
    case APIC_REG_LVT_LINT1: lapic.lvtLint1 = stored; break;
    default: lapic.lvtError = stored;
  }
  return true;
}
