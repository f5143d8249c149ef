// The APIC bus: how an interrupt message reaches the local APICs it names,
// for the I/O APIC's redirection entries and for the IPIs one local APIC
// sends the others (Intel SDM vol. 3A, 12.6.2 destinations, 12.6.1
// delivery modes; lowest priority as 12.6.2.4 allows: the matching APIC
// with the lowest processor priority, the first on a tie).
//
// The local APICs sit LAPIC_STRIDE bytes apart from the first, one per
// vCPU. Delivery is instant. INIT and STARTUP change a vCPU's run state,
// which the machine owns: route() answers them as masks for it to act on.

import {
  Lapic, LAPIC_STRIDE, ICR_VECTOR, ICR_SHORTHAND_SHIFT, SHORTHAND_NONE, SHORTHAND_SELF, SHORTHAND_ALL,
  APIC_DELIVERY_FIXED, APIC_DELIVERY_LOWEST, APIC_DELIVERY_NMI, APIC_DELIVERY_INIT, APIC_DELIVERY_STARTUP,
  APIC_DELIVERY_EXTINT,
} from "./lapic";

const BROADCAST_XAPIC: u32 = 0xff;
const BROADCAST_X2APIC: u32 = 0xffffffff;
const FIRST_VALID_VECTOR: u32 = 16;
const ICR_LOGICAL: u32 = 1 << 11;
const DELIVERY_MODE_SHIFT: u32 = 8;
const NO_EXCLUDED: i32 = -1;

@inline export function lapicAt(lapics: usize, index: u32): Lapic {
  return changetype<Lapic>(lapics + <usize>index * <usize>LAPIC_STRIDE);
}

// Sends one message (fixed, lowest priority, NMI or ExtINT; SMI, INIT and
// reserved modes are not for this function) to every matching local APIC
// but `excluded`. An 8-bit xAPIC destination of 0xFF is a broadcast for
// APICs in x2APIC mode too (12.12.9). True when some APIC took a fixed or
// lowest-priority vector into its IRR (what a level entry's remote IRR needs).
export function deliverMessage(lapics: usize, count: u32, mode: u32, vector: u32, destination: u32, logical: bool,
                               level: bool, xapicDestination: bool, excluded: i32 = NO_EXCLUDED): bool {
  if (lapics == 0) return false;
  if (mode == APIC_DELIVERY_LOWEST) {
    let target = lowestPriorityTarget(lapics, count, destination, logical, xapicDestination, excluded);
    if (target < 0) return false;
    lapicAt(lapics, <u32>target).acceptInterrupt(vector, level);
    return vector >= FIRST_VALID_VECTOR;
  }
  let accepted = false;
  for (let i: u32 = 0; i < count; i++) {
    if (<i32>i == excluded) continue;
    let lapic = lapicAt(lapics, i);
    if (!lapic.matchesDestination(destinationFor(lapic, destination, xapicDestination), logical)) continue;
    if (mode == APIC_DELIVERY_FIXED) {
      if (lapic.acceptsFixedInterrupts() && vector >= FIRST_VALID_VECTOR) accepted = true;
      lapic.acceptInterrupt(vector, level); // a vector below 16 sets its ESR
    } else if (mode == APIC_DELIVERY_NMI) {
      lapic.acceptNmi();
    } else if (mode == APIC_DELIVERY_EXTINT) {
      lapic.acceptExtInt();
    }
  }
  return accepted;
}

// The INIT and STARTUP targets of the last IPI routed.
@unmanaged
export class IpiTargets {
  init: u32;          // bit n: vCPU n gets INIT
  startup: u32;       // bit n: vCPU n gets STARTUP with `vector`
  vector: u32;
}

// Delivers the IPI the local APIC of vCPU `sender` left (its ipiPending,
// ipiCommand: Lapic.sendIpi took its own share of a fixed or NMI IPI
// already) to the other vCPUs, and clears it. INIT and STARTUP go to every
// target, the sender included, as masks in `out`.
export function routeIpi(lapics: usize, count: u32, sender: u32, out: IpiTargets): void {
  out.init = 0;
  out.startup = 0;
  out.vector = 0;
  let from = lapicAt(lapics, sender);
  if (!from.ipiPending) return;
  from.ipiPending = false;
  let command = <u32>from.ipiCommand;
  let destination = <u32>(from.ipiCommand >> 32);
  let xapic = !from.ipiX2apic;   // xAPIC: the 8-bit destination, already shifted down
  let mode = (command >> DELIVERY_MODE_SHIFT) & 7;
  let vector = command & ICR_VECTOR;
  let logical = (command & ICR_LOGICAL) != 0;
  let shorthand = (command >> ICR_SHORTHAND_SHIFT) & 3;
  if (mode == APIC_DELIVERY_INIT || mode == APIC_DELIVERY_STARTUP) {
    let mask: u32 = 0;
    for (let i: u32 = 0; i < count; i++) {
      let self = i == sender;
      let hit = shorthand == SHORTHAND_ALL || (shorthand != SHORTHAND_NONE && shorthand != SHORTHAND_SELF && !self)
        || (shorthand == SHORTHAND_NONE
            && lapicAt(lapics, i).matchesDestination(destinationFor(lapicAt(lapics, i), destination, xapic), logical));
      if (hit) mask |= 1 << i;
    }
    if (mode == APIC_DELIVERY_INIT) out.init = mask;
    else {
      out.startup = mask;
      out.vector = vector;
    }
    return;
  }
  // Fixed, lowest priority, NMI: every other target (the shorthands "all"
  // and "all but self" name all the others; "self" never gets here).
  if (shorthand != SHORTHAND_NONE) {
    destination = xapic ? BROADCAST_XAPIC : BROADCAST_X2APIC;
    logical = false;
  }
  deliverMessage(lapics, count, mode, vector, destination, logical, false, xapic, <i32>sender);
}

// The matching APIC that accepts fixed interrupts with the lowest
// processor priority, or -1.
function lowestPriorityTarget(lapics: usize, count: u32, destination: u32, logical: bool, xapicDestination: bool,
                              excluded: i32): i32 {
  let best: i32 = -1;
  let bestPriority: u32 = 0x100;
  for (let i: u32 = 0; i < count; i++) {
    if (<i32>i == excluded) continue;
    let lapic = lapicAt(lapics, i);
    if (!lapic.acceptsFixedInterrupts()) continue;
    if (!lapic.matchesDestination(destinationFor(lapic, destination, xapicDestination), logical)) continue;
    let priority = lapic.processorPriority() & 0xf0;
    if (priority < bestPriority) {
      best = <i32>i;
      bestPriority = priority;
    }
  }
  return best;
}

@inline function destinationFor(lapic: Lapic, destination: u32, xapicDestination: bool): u32 {
  return xapicDestination && destination == BROADCAST_XAPIC && lapic.x2apicMode() ? BROADCAST_X2APIC : destination;
}
