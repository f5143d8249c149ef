// After every exit: which event the vCPU takes on its next entry, and which
// window exits it needs. One place for the rules, vendor-neutral (the
// stub turns `inject` into EVENTINJ or the VM-entry interruption field and
// `request` into V_IRQ/VINTR or interrupt-window exiting).
//
// The order, as the CPU itself prioritises events (SDM vol. 3A 6.9, APM
// vol. 2 8.5): an exception the exit's emulation raised, or an event whose
// delivery the exit interrupted, goes first and alone; then an NMI; then
// the highest external interrupt (local APIC, else the 8259 through LINT0).
// An interrupt is taken only when RFLAGS.IF is set and no STI/MOV SS
// shadow is in force; otherwise the core asks for the window and answers
// again there. Accepting (IRR -> ISR, INTA) happens only when the vector
// is really injected, so nothing is lost or taken twice.

import {
  ExitRecord, INJECT_VALID, INJECT_TYPE_EXTERNAL, INJECT_TYPE_NMI,
  BLOCKED_BY_SHADOW, BLOCKED_NMI, REQUEST_INTERRUPT_WINDOW, REQUEST_NMI_WINDOW,
} from "./exit_record";
import { Lapic } from "../devices/lapic";
import { Pic8259Pair } from "../devices/pic8259";
import { interruptPending, takeInterrupt, nmiPending, takeNmi } from "./interrupts";

const RFLAGS_IF: u64 = 1 << 9;
// The vector of an NMI (SDM vol. 3A, Table 6-1).
const VECTOR_NMI: u32 = 2;

// Puts the pending event in an answer the stub applies: never a Stop or a
// Wait (guest/exits.ts finishExit leaves those alone; a Wait's HLT ends in
// a Wake exit, which delivers).
export function deliverEvents(record: ExitRecord, lapic: Lapic, pic: Pic8259Pair): void {
  let interrupt = interruptPending(lapic, pic);
  let nmi = nmiPending(lapic);
  if (!interrupt && !nmi) return;
  // Something goes in on this entry already: ask to come back after it.
  if ((record.inject & INJECT_VALID) != 0 || (record.pendingEvent & INJECT_VALID) != 0) {
    record.request |= (interrupt ? REQUEST_INTERRUPT_WINDOW : 0) | (nmi ? REQUEST_NMI_WINDOW : 0);
    return;
  }
  // The shadow of STI or MOV SS covers the instruction after it; once the
  // core moved RIP past the exiting instruction, the shadow is over.
  let shadow = (record.interruptibility & BLOCKED_BY_SHADOW) != 0 && record.advance == 0;
  if (nmi) {
    if (!shadow && (record.interruptibility & BLOCKED_NMI) == 0) {
      takeNmi(lapic);
      record.inject = INJECT_VALID | INJECT_TYPE_NMI | VECTOR_NMI;
      record.injectErrorCode = 0;
      if (interrupt) record.request |= REQUEST_INTERRUPT_WINDOW;
      return;
    }
    record.request |= REQUEST_NMI_WINDOW;
  }
  if (!interrupt) return;
  if (shadow || (record.rflags & RFLAGS_IF) == 0) {
    record.request |= REQUEST_INTERRUPT_WINDOW;
    return;
  }
  let vector = takeInterrupt(lapic, pic);
  if (vector < 0) return; // gone meanwhile (a spurious PIC request answers a vector)
  record.inject = INJECT_VALID | INJECT_TYPE_EXTERNAL | (<u32>vector & 0xff);
  record.injectErrorCode = 0;
  // More may be waiting behind it: come back as soon as it is taken.
  if (interruptPending(lapic, pic)) record.request |= REQUEST_INTERRUPT_WINDOW;
}
