// Which external interrupt the vCPU takes next: the one place that
// decides, between the vCPU's local APIC and the 8259 pair behind its
// LINT0. The caller (the code that injects events) checks what the vCPU
// itself allows: RFLAGS.IF, the interrupt shadow, an event already being
// delivered; these functions answer only what the controllers offer.
//
// Order: the local APIC's highest vector above its processor priority
// first (Intel SDM vol. 3A, 12.8.3), then an ExtINT message from the I/O
// APIC, then the 8259 pair's INTR when LINT0 passes it (virtual wire mode,
// or the APIC disabled). Taking one is the acknowledgement: the LAPIC
// moves the vector from IRR to ISR, the 8259 pair runs its INTA cycle.

import { Lapic } from "../devices/lapic";
import { Pic8259Pair } from "../devices/pic8259";

// True when an external interrupt waits for the vCPU. Inlined, with the
// controllers' cheap "nothing requested" first: every exit asks.
@inline export function interruptPending(lapic: Lapic, pic: Pic8259Pair): bool {
  if ((lapic.hasRequests() && lapic.pendingVector() >= 0) || lapic.extIntPending) return true;
  return picReachesVcpu(lapic, pic) && pic.hasRequests() && pic.hasInterrupt();
}

// Accepts the next external interrupt: its vector, or -1 when none.
// An ExtINT message takes whatever the 8259 pair answers, its spurious
// vector included, as the CPU's INTA cycle would.
export function takeInterrupt(lapic: Lapic, pic: Pic8259Pair): i32 {
  let vector = lapic.pendingVector();
  if (vector >= 0) {
    lapic.acknowledgeVector(<u32>vector);
    return vector;
  }
  if (lapic.extIntPending) {
    lapic.extIntPending = false;
    if (changetype<usize>(pic) != 0) return <i32>pic.acknowledge();
  }
  if (picReachesVcpu(lapic, pic) && pic.hasInterrupt()) return <i32>pic.acknowledge();
  return -1;
}

// An NMI waits (from an IPI or the I/O APIC; NMIs are not subject to TPR).
export function nmiPending(lapic: Lapic): bool {
  return lapic.nmiPending;
}

// Takes the waiting NMI: true when there was one.
export function takeNmi(lapic: Lapic): bool {
  let pending = lapic.nmiPending;
  lapic.nmiPending = false;
  return pending;
}

@inline function picReachesVcpu(lapic: Lapic, pic: Pic8259Pair): bool {
  return changetype<usize>(pic) != 0 && lapic.acceptsPicInterrupts();
}
