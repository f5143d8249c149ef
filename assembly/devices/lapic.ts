// A vCPU's local APIC (Intel SDM vol. 3A, chapter 12): the xAPIC page at
// 0xFEE00000 and the x2APIC MSRs 0x800-0x8FF, IA32_APIC_BASE, the
// interrupt acceptance registers (IRR/ISR/TMR, TPR/PPR, EOI), the error
// status register, the LVT, the timer (lapic_timer.ts) and the ICR.
//
// One Lapic per vCPU; only its own vCPU's code touches it. An IPI for this
// vCPU alone (a fixed or NMI one) is delivered here; any other IPI is left
// in ipiPending/ipiCommand for the machine to route (see sendIpi).
// Acceptance and injection are one step here (the vCPU takes the vector
// from pendingVector() and acknowledgeVector()), so no spurious interrupt
// ever arises; the SVR's vector is kept for the guest to read.
//
// The xAPIC page and the x2APIC MSRs share one register decoder,
// lapic_registers.ts.

import { GuestClock, rearmed } from "./clock";
import { IoApic } from "./ioapic";
import { LapicTimer } from "./lapic_timer";
import {
  readableRegister, readRegister, writeRegister, APIC_REG_ICR, APIC_REG_EOI, ICR_X2APIC_RESERVED, X2APIC_MSR_FIRST, X2APIC_MSR_LAST,
} from "./lapic_registers";

export { LAPIC_TIMER_HZ } from "./lapic_timer";

// IA32_APIC_BASE (12.4.4, 12.12.1).
export const APIC_BASE_ADDRESS: u64 = 0xfee00000;
export const APIC_BASE_BSP: u64 = 1 << 8;
export const APIC_BASE_X2APIC: u64 = 1 << 10;
export const APIC_BASE_ENABLE: u64 = 1 << 11;
const APIC_BASE_RESERVED: u64 = 0xfff00000000002ff; // bits 0-7, 9, 52-63

// Version (12.4.8): version 0x14, max LVT entry 5 (timer, thermal, perf,
// LINT0, LINT1, error; no CMCI), no EOI-broadcast suppression.
export const APIC_VERSION: u32 = 0x00050014;

// SVR (12.9): bit 8 enables the APIC in software.
export const SVR_ENABLE: u32 = 1 << 8;
const SVR_RESET: u32 = 0xff;
// DFR (12.6.2.2): bits 31-28, flat 0xF or cluster 0x0.
const DFR_MODEL_FLAT: u32 = 0xf0000000;

// ESR (12.5.3).
export const ESR_SEND_ILLEGAL_VECTOR: u32 = 1 << 5;
export const ESR_RECEIVE_ILLEGAL_VECTOR: u32 = 1 << 6;

// LVT entries (12.5.1, figure 12-8).
export const LVT_MASKED: u32 = 1 << 16;
export const LVT_DELIVERY_MODE_SHIFT: u32 = 8;
export const LVT_DELIVERY_STATUS: u32 = 1 << 12;   // read-only, always idle here
export const LVT_EXTINT: u32 = 7 << LVT_DELIVERY_MODE_SHIFT;
export const LVT_NMI: u32 = 4 << LVT_DELIVERY_MODE_SHIFT;

// ICR (12.6.1, figure 12-12; 12.12.10 for x2APIC).
export const ICR_VECTOR: u32 = 0xff;
const ICR_LOGICAL: u32 = 1 << 11;
const ICR_LEVEL_ASSERT: u32 = 1 << 14;
const ICR_TRIGGER_LEVEL: u32 = 1 << 15;
export const ICR_SHORTHAND_SHIFT: u32 = 18;
export const SHORTHAND_NONE: u32 = 0;
export const SHORTHAND_SELF: u32 = 1;
export const SHORTHAND_ALL: u32 = 2;
export const SHORTHAND_OTHERS: u32 = 3;
// Delivery modes (ICR and LVT bits 10-8).
export const APIC_DELIVERY_FIXED: u32 = 0;
export const APIC_DELIVERY_LOWEST: u32 = 1;
export const APIC_DELIVERY_SMI: u32 = 2;
export const APIC_DELIVERY_NMI: u32 = 4;
export const APIC_DELIVERY_INIT: u32 = 5;
export const APIC_DELIVERY_STARTUP: u32 = 6;
export const APIC_DELIVERY_EXTINT: u32 = 7;

const BROADCAST_XAPIC: u32 = 0xff;
const BROADCAST_X2APIC: u32 = 0xffffffff;
const FIRST_VALID_VECTOR: u32 = 16;
const ALL_ONES: u64 = 0xffffffffffffffff;
// Room for the LapicTimer's state (checked in timer()).
const TIMER_BYTES: usize = 48;

@unmanaged
export class Lapic {
  clock: GuestClock;      // wiring: set by the machine, left alone by reset
  ioapic: IoApic;         // wiring (0 in unit tests that have none)
  apicBase: u64;          // IA32_APIC_BASE
  msrValue: u64;          // the value of the last successful msrRead
  ipiCommand: u64;        // the IPI to route: destination << 32 | ICR low
  // 256-bit registers, vector v at bit v (reached by address), in the
  // order of their register indices: ISR, TMR, IRR.
  isr0: u64; isr1: u64; isr2: u64; isr3: u64;
  tmr0: u64; tmr1: u64; tmr2: u64; tmr3: u64;
  irr0: u64; irr1: u64; irr2: u64; irr3: u64;
  // The LapicTimer, reached by address.
  timerState0: u64; timerState1: u64; timerState2: u64;
  timerState3: u64; timerState4: u64; timerState5: u64;
  vcpuIndex: u32;         // also the x2APIC ID and the initial xAPIC ID
  xapicId: u32;           // the xAPIC ID (the ID register's bits 31-24)
  tpr: u32;
  ldr: u32;               // xAPIC LDR (bits 31-24)
  dfr: u32;
  svr: u32;
  esr: u32;               // the errors latched by the last ESR write
  errorsSinceLatch: u32;  // the errors detected since
  icrLow: u32;
  icrHigh: u32;           // xAPIC: destination in bits 31-24; x2APIC: the 32-bit destination
  lvtThermal: u32;
  lvtPerf: u32;
  lvtLint0: u32;
  lvtLint1: u32;
  lvtError: u32;
  nmiPending: bool;
  extIntPending: bool;    // an ExtINT message: the vCPU runs an INTA on the 8259 pair
  ipiPending: bool;       // ipiCommand waits for the machine to route it
  ipiX2apic: bool;        // ipiCommand's destination is in x2APIC form (0xFFFFFFFF = all)

  // Power-on (SDM 12.4.7.1), with the firmware's virtual wire setup on the
  // bootstrap processor (vCPU 0): software-enabled, LINT0 ExtINT and LINT1
  // NMI unmasked, as a PC BIOS leaves them. IA32_APIC_BASE = 0xFEE00000,
  // enabled, BSP bit on vCPU 0.
  reset(vcpuIndex: u32): void {
    this.vcpuIndex = vcpuIndex;
    let bsp = vcpuIndex == 0;
    this.apicBase = APIC_BASE_ADDRESS | APIC_BASE_ENABLE | (bsp ? APIC_BASE_BSP : 0);
    this.msrValue = 0;
    this.resetRegisters();
    if (bsp) {
      this.svr = SVR_RESET | SVR_ENABLE;
      this.lvtLint0 = LVT_EXTINT;
      this.lvtLint1 = LVT_NMI;
    }
  }

  // INIT (12.4.7.3): the power-on state except the APIC ID and IA32_APIC_BASE.
  initReset(): void {
    let id = this.xapicId;
    this.resetRegisters();
    this.xapicId = id;
  }

  // Every register to its power-on value: all LVTs masked, software-disabled.
  private resetRegisters(): void {
    memory.fill(this.bitmap(offsetof<Lapic>("isr0")), 0, 3 * 32);
    this.timer().reset(LVT_MASKED);
    rearmed(this.clock);
    this.xapicId = this.vcpuIndex & 0xff;
    this.tpr = 0;
    this.ldr = 0;
    this.dfr = 0xffffffff;
    this.svr = SVR_RESET;
    this.esr = 0;
    this.errorsSinceLatch = 0;
    this.icrLow = 0;
    this.icrHigh = 0;
    this.lvtThermal = LVT_MASKED;
    this.lvtPerf = LVT_MASKED;
    this.lvtLint0 = LVT_MASKED;
    this.lvtLint1 = LVT_MASKED;
    this.lvtError = LVT_MASKED;
    this.nmiPending = false;
    this.extIntPending = false;
    this.ipiPending = false;
    this.ipiX2apic = false;
    this.ipiCommand = 0;
  }

  @inline hardwareEnabled(): bool {
    return (this.apicBase & APIC_BASE_ENABLE) != 0;
  }

  @inline x2apicMode(): bool {
    return (this.apicBase & APIC_BASE_X2APIC) != 0;
  }

  @inline softwareEnabled(): bool {
    return (this.svr & SVR_ENABLE) != 0;
  }

  // Fixed and lowest-priority interrupts get into the IRR.
  @inline acceptsFixedInterrupts(): bool {
    return this.hardwareEnabled() && this.softwareEnabled();
  }

  // --- IA32_APIC_BASE (12.4.4; 12.12.5 for the mode transitions) ----------

  apicBaseRead(): u64 {
    return this.apicBase;
  }

  // False for #GP: reserved bits, or a transition figure 12-27 forbids
  // (x2APIC enabled while disabled, x2APIC straight to xAPIC, disabled
  // straight to x2APIC). The BSP bit is read-only. A new base address is
  // kept for reads; the page stays decoded at 0xFEE00000.
  apicBaseWrite(value: u64): bool {
    if ((value & APIC_BASE_RESERVED) != 0) return false;
    let enable = (value & APIC_BASE_ENABLE) != 0;
    let x2apic = (value & APIC_BASE_X2APIC) != 0;
    if (x2apic && !enable) return false;
    if (this.x2apicMode() && enable && !x2apic) return false;
    if (!this.hardwareEnabled() && x2apic) return false;
    let disabling = this.hardwareEnabled() && !enable;
    this.apicBase = (value & ~APIC_BASE_BSP) | (this.apicBase & APIC_BASE_BSP);
    // Disabled, the APIC loses its state: enabled again it is as at power-on.
    if (disabling) this.resetRegisters();
    return true;
  }

  // --- the xAPIC page ---------------------------------------------------------

  // 32-bit registers at 16-byte boundaries; other sizes and offsets read 0.
  // Disabled or in x2APIC mode the page is not decoded: all ones.
  mmioRead(offset: u32, size: u32): u64 {
    if (!this.hardwareEnabled() || this.x2apicMode()) return size >= 8 ? ALL_ONES : ALL_ONES >> (64 - 8 * (size & 7));
    if (size != 4 || (offset & 0xf) != 0) return 0;
    let register = (offset >> 4) & 0xff;
    if (!readableRegister(register, false)) return 0;
    return readRegister(this, register, false);
  }

  // A write to the xAPIC page. Inline in the MMIO bus's two calls: EOI is
  // most MMIO exits, and the call cost more than these tests (make bench
  // P1, eoi: 989 -> 976).
  @inline mmioWrite(offset: u32, size: u32, value: u64): void {
    if (!this.hardwareEnabled() || this.x2apicMode()) return;
    if (size != 4 || (offset & 0xf) != 0) return;
    let register = (offset >> 4) & 0xff;
    // EOI, the write every interrupt handler ends with, without the call
    // into the switch over every register (make bench P1, eoi).
    if (register == APIC_REG_EOI) this.endOfInterrupt();
    else writeRegister(this, register, <u32>value, 0, false);
  }

  // --- x2APIC MSRs (12.12.1) ----------------------------------------------------

  // RDMSR of 0x800-0x8FF: true with the value in msrValue, false for #GP
  // (not in x2APIC mode, absent or write-only register).
  msrRead(msr: u32): bool {
    if (msr < X2APIC_MSR_FIRST || msr > X2APIC_MSR_LAST || !this.x2apicMode()) return false;
    let register = msr - X2APIC_MSR_FIRST;
    if (!readableRegister(register, true)) return false;
    this.msrValue = readRegister(this, register, true);
    return true;
  }

  // WRMSR of 0x800-0x8FF: false for #GP (not in x2APIC mode, absent or
  // read-only register, reserved bits set (12.12.1.3)).
  msrWrite(msr: u32, value: u64): bool {
    if (msr < X2APIC_MSR_FIRST || msr > X2APIC_MSR_LAST || !this.x2apicMode()) return false;
    let register = msr - X2APIC_MSR_FIRST;
    if (register == APIC_REG_ICR) {
      if ((value & ICR_X2APIC_RESERVED) != 0) return false;
      return writeRegister(this, register, <u32>value, <u32>(value >> 32), true);
    }
    if ((value >> 32) != 0) return false;
    return writeRegister(this, register, <u32>value, 0, true);
  }

  // Clearing the software enable masks every LVT entry (12.4.7.2).
  writeSvr(value: u32): void {
    this.svr = value;
    if (this.softwareEnabled()) return;
    let timer = this.timer();
    timer.lvt |= LVT_MASKED;
    this.lvtThermal |= LVT_MASKED;
    this.lvtPerf |= LVT_MASKED;
    this.lvtLint0 |= LVT_MASKED;
    this.lvtLint1 |= LVT_MASKED;
    this.lvtError |= LVT_MASKED;
  }

  // x2APIC logical ID (12.12.10.2): cluster (ID[19:4]) in bits 31-16, one
  // bit for ID[3:0] in bits 15-0.
  @inline x2apicLdr(): u32 {
    return ((this.vcpuIndex >> 4) << 16) | (<u32>1 << (this.vcpuIndex & 0xf));
  }

  // --- acceptance and priority (12.8) -----------------------------------------

  // A fixed interrupt arrives (from the I/O APIC, an IPI, or this APIC's
  // own LVT). Vectors 0-15 are refused with "received illegal vector";
  // a disabled APIC takes none.
  acceptInterrupt(vector: u32, levelTriggered: bool): void {
    if (!this.hardwareEnabled()) return;
    vector &= 0xff;
    if (vector < FIRST_VALID_VECTOR) {
      this.signalError(ESR_RECEIVE_ILLEGAL_VECTOR);
      return;
    }
    if (!this.softwareEnabled()) return;
    setBit(this.bitmap(offsetof<Lapic>("irr0")), vector, true);
    setBit(this.bitmap(offsetof<Lapic>("tmr0")), vector, levelTriggered);
  }

  // An NMI message; a software-disabled APIC still takes it (12.4.7.2).
  acceptNmi(): void {
    if (this.hardwareEnabled()) this.nmiPending = true;
  }

  // An ExtINT message (an I/O APIC pin in ExtINT mode): the vector comes
  // from the 8259 pair's INTA.
  acceptExtInt(): void {
    if (this.hardwareEnabled()) this.extIntPending = true;
  }

  // Anything in the IRR at all (most exits: nothing), before pendingVector().
  @inline hasRequests(): bool {
    return (this.irr0 | this.irr1 | this.irr2 | this.irr3) != 0;
  }

  // The highest vector in the IRR above the processor priority, or -1.
  pendingVector(): i32 {
    if (!this.hasRequests() || !this.acceptsFixedInterrupts()) return -1;
    let vector = highestBit(this.bitmap(offsetof<Lapic>("irr0")));
    if (vector < 0 || (<u32>vector & 0xf0) <= (this.processorPriority() & 0xf0)) return -1;
    return vector;
  }

  // The vCPU took `vector`: it moves from the IRR to the ISR.
  acknowledgeVector(vector: u32): void {
    vector &= 0xff;
    setBit(this.bitmap(offsetof<Lapic>("irr0")), vector, false);
    setBit(this.bitmap(offsetof<Lapic>("isr0")), vector, true);
  }

  // PPR (12.8.3.1): the TPR, or the class of the highest vector in service
  // when that is higher.
  processorPriority(): u32 {
    let inService = highestBit(this.bitmap(offsetof<Lapic>("isr0")));
    let serviceClass: u32 = inService < 0 ? 0 : <u32>inService & 0xf0;
    return (this.tpr & 0xf0) >= serviceClass ? this.tpr : serviceClass;
  }

  // EOI (12.8.5): the highest vector in service is done; a level-triggered
  // one tells the I/O APIC.
  endOfInterrupt(): void {
    let vector = highestBit(this.bitmap(offsetof<Lapic>("isr0")));
    if (vector < 0) return;
    setBit(this.bitmap(offsetof<Lapic>("isr0")), <u32>vector, false);
    if (testBit(this.bitmap(offsetof<Lapic>("tmr0")), <u32>vector) && changetype<usize>(this.ioapic) != 0) {
      this.ioapic.endOfInterrupt(<u32>vector);
    }
  }

  // An error detected: latched for the next ESR write, and the LVT error
  // interrupt when it is new and unmasked (12.5.3).
  signalError(error: u32): void {
    if ((this.errorsSinceLatch & error) == error) return;
    this.errorsSinceLatch |= error;
    if ((this.lvtError & LVT_MASKED) == 0) this.acceptInterrupt(this.lvtError & 0xff, false);
  }

  // The 8259 pair's INTR reaches the vCPU: the APIC is disabled (the CPU's
  // INTR pin is LINT0 then), or LINT0 is unmasked in ExtINT mode (as KVM's
  // kvm_apic_accept_pic_intr).
  acceptsPicInterrupts(): bool {
    if (!this.hardwareEnabled()) return true;
    return (this.lvtLint0 & LVT_MASKED) == 0 && (this.lvtLint0 & (7 << LVT_DELIVERY_MODE_SHIFT)) == LVT_EXTINT;
  }

  // CR8 is TPR bits 7-4; a CR8 write clears TPR bits 3-0 (12.8.6.1).
  cr8Read(): u32 {
    return (this.tpr >> 4) & 0xf;
  }

  cr8Write(value: u32): void {
    this.tpr = (value & 0xf) << 4;
  }

  // Does a message for `destination` (physical or logical, 12.6.2) reach
  // this APIC? In xAPIC mode destinations are 8 bits, 0xFF all; logical
  // ones match the LDR flat (bitmask) or cluster (DFR). In x2APIC mode
  // they are 32 bits, 0xFFFFFFFF all, logical ones cluster << 16 | mask.
  matchesDestination(destination: u32, logical: bool): bool {
    if (!this.hardwareEnabled()) return false;
    if (this.x2apicMode()) {
      if (destination == BROADCAST_X2APIC) return true;
      if (!logical) return destination == this.vcpuIndex;
      let ldr = this.x2apicLdr();
      return (destination >> 16) == (ldr >> 16) && (destination & ldr & 0xffff) != 0;
    }
    destination &= 0xff;
    if (destination == BROADCAST_XAPIC) return true;
    if (!logical) return destination == this.xapicId;
    let logicalId = this.ldr >> 24;
    if ((this.dfr & 0xf0000000) == DFR_MODEL_FLAT) return (logicalId & destination) != 0;
    return (logicalId >> 4) == (destination >> 4) && (logicalId & destination & 0xf) != 0;
  }

  // --- IPIs (12.6) ----------------------------------------------------------------

  // Sends the IPI of ICR low `command` to `destination`. This APIC's own
  // share of a fixed, lowest-priority or NMI IPI is delivered here; when
  // others may be targets the IPI is left in ipiCommand (ipiPending) for
  // the machine, which delivers it to every target but this APIC (and
  // drops destinations no APIC has). INIT and SIPI are always left for the
  // machine, this APIC included among their targets. One IPI waits at a
  // time: the exit handler routes it after the ICR write that sent it.
  sendIpi(command: u32, destination: u32): void {
    let vector = command & ICR_VECTOR;
    let mode = (command >> LVT_DELIVERY_MODE_SHIFT) & 7;
    let logical = (command & ICR_LOGICAL) != 0;
    let shorthand = (command >> ICR_SHORTHAND_SHIFT) & 3;
    let fixed = mode == APIC_DELIVERY_FIXED || mode == APIC_DELIVERY_LOWEST;
    if (fixed && vector < FIRST_VALID_VECTOR) {
      this.signalError(ESR_SEND_ILLEGAL_VECTOR);
      return;
    }
    if (!fixed && mode != APIC_DELIVERY_NMI && mode != APIC_DELIVERY_INIT && mode != APIC_DELIVERY_STARTUP) return; // SMI, ExtINT, reserved
    // INIT level de-assert (trigger level, level 0): nothing on modern CPUs.
    if (mode == APIC_DELIVERY_INIT && (command & (ICR_TRIGGER_LEVEL | ICR_LEVEL_ASSERT)) == ICR_TRIGGER_LEVEL) return;
    let toSelf = shorthand == SHORTHAND_SELF || shorthand == SHORTHAND_ALL
      || (shorthand == SHORTHAND_NONE && this.matchesDestination(destination, logical));
    let toOthers = shorthand == SHORTHAND_ALL || shorthand == SHORTHAND_OTHERS
      || (shorthand == SHORTHAND_NONE && !(toSelf && (mode == APIC_DELIVERY_LOWEST || this.onlySelf(destination, logical))));
    if (mode == APIC_DELIVERY_INIT || mode == APIC_DELIVERY_STARTUP) {
      if (shorthand == SHORTHAND_SELF) return; // illegal with the self shorthand
      this.leaveIpi(command, destination);
      return;
    }
    if (toSelf) {
      if (mode == APIC_DELIVERY_NMI) this.acceptNmi();
      else this.acceptInterrupt(vector, false);
    }
    if (toOthers) this.leaveIpi(command, destination);
  }

  // A physical destination that is this APIC's ID and nothing broader.
  private onlySelf(destination: u32, logical: bool): bool {
    if (logical) return false;
    if (this.x2apicMode()) return destination == this.vcpuIndex && destination != BROADCAST_X2APIC;
    return (destination & 0xff) == this.xapicId && (destination & 0xff) != BROADCAST_XAPIC;
  }

  private leaveIpi(command: u32, destination: u32): void {
    this.ipiCommand = (<u64>destination << 32) | command;
    this.ipiX2apic = this.x2apicMode();
    this.ipiPending = true;
  }

  // --- the timer (lapic_timer.ts) --------------------------------------------------

  // The guest TSC at which the timer next fires (NO_DEADLINE when none).
  deadline(): u64 {
    return this.timer().deadline();
  }

  // Fires the timer if it became due by clock.now: its vector into the
  // IRR unless the LVT entry is masked.
  advance(): void {
    let timer = this.timer();
    if (timer.advance(this.clock) && (timer.lvt & LVT_MASKED) == 0) this.acceptInterrupt(timer.lvt & 0xff, false);
  }

  // IA32_TSC_DEADLINE (MSR 0x6E0), in guest TSC as clock.now.
  tscDeadlineRead(): u64 {
    return this.timer().readDeadline();
  }

  // A deadline already passed fires at once.
  tscDeadlineWrite(value: u64): void {
    this.timer().writeDeadline(value);
    rearmed(this.clock);
    this.advance();
  }

  timer(): LapicTimer {
    if (offsetof<LapicTimer>() > TIMER_BYTES) ERROR("LapicTimer outgrew its room in Lapic");
    return changetype<LapicTimer>(changetype<usize>(this) + offsetof<Lapic>("timerState0"));
  }

  @inline bitmap(fieldOffset: usize): usize {
    return changetype<usize>(this) + fieldOffset;
  }
}

// Lapics sit this many bytes apart (the I/O APIC and the machine find
// vCPU n's at lapics + n * LAPIC_STRIDE).
export const LAPIC_STRIDE: u32 = <u32>((offsetof<Lapic>() + 15) & ~15);

// --- 256-bit registers: 8 dwords, vector v at dword v / 32, bit v % 32 ---------

@inline function setBit(bitmap: usize, vector: u32, value: bool): void {
  let address = bitmap + (<usize>(vector >> 5) << 2);
  let bit: u32 = 1 << (vector & 31);
  let word = load<u32>(address);
  store<u32>(address, value ? word | bit : word & ~bit);
}

@inline function testBit(bitmap: usize, vector: u32): bool {
  return (load<u32>(bitmap + (<usize>(vector >> 5) << 2)) & (<u32>1 << (vector & 31))) != 0;
}

// The highest vector set, or -1 (four 64-bit words: the same bits, little-endian).
function highestBit(bitmap: usize): i32 {
  for (let i: i32 = 3; i >= 0; i--) {
    let word = load<u64>(bitmap + (<usize>i << 3));
    if (word != 0) return (i << 6) + 63 - <i32>clz(word);
  }
  return -1;
}
