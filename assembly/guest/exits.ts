// One VM exit, start to end: read the ExitRecord, do what the exit asks,
// answer in the record's result fields. Vendor-neutral: svm.c and vmx.c
// fill the same record, and nothing here asks which one did.
//
// Every result field is set on every exit; registers, RIP and RFLAGS are
// changed in place (the stub always writes them back). Whatever the record
// holds, the answer is a resume, an injected exception or a clean stop:
// never a trap.

import { appendAddress } from "../lib/address";
import { TextWriter } from "../lib/text";
import {
  ExitRecord, ExitReason, ExitAction, StopReason, IoFlags, Access,
  INJECT_VALID, INJECT_TYPE_EXCEPTION, INJECT_HAS_ERROR_CODE, DIRTY_XCR0, DIRTY_CR2, DIRTY_CR4, DIRTY_CR8, NO_DEADLINE, clearAnswer,
} from "../vcpu/exit_record";
import { guestCpuid } from "../vcpu/cpuid";
import { checkXsetbv, guestXcr0Allowed, XSETBV_OK } from "../vcpu/xsetbv";
import { sizeMask, REQUESTING_KINDS } from "../devices/port_bus";
import { Platform } from "./platform";
import { Machine, beginStopLine, stopGuest, resetRequested, rebootGuest, CPUID_SCRATCH } from "./machine";
import { startExitClock, nextHostDeadline } from "./timers";
import { countExit } from "./exit_stats";
import { EmulationResult, appendInstructionBytes } from "../x86/emulation";
import { emulateMmio } from "../x86/mmio";
import { emulateStringIo } from "../x86/string_io";
import { wbinvdLength } from "../x86/wbinvd";
import { movToCr4, MOV_CR_DONE, MOV_CR_FAULT } from "../x86/mov_cr";
import { deliverEvents } from "../vcpu/events";
import { interruptPending as vcpuInterruptPending, nmiPending } from "../vcpu/interrupts";
import { VcpuRun, setRunState, siblingReady, siblingAlive, routeIpis, selectVcpu, vcpuRecord } from "./vcpus";

export const VECTOR_DB: u32 = 1;
export const VECTOR_UD: u32 = 6;
export const VECTOR_GP: u32 = 13;
export const VECTOR_SS: u32 = 12;
export const VECTOR_PF: u32 = 14;
const RFLAGS_IF: u64 = 1 << 9;

// vCPU `vcpu`'s exit, whoever found it: the stub (handleExit) or the
// scheduler (a HLT that ends: vcpu_schedule.ts). dispatchExit's one caller
// in the instance, so that Binaryen puts it inline here (make bench P1:
// 4-5 instructions an exit). A vCPU the guest does not have traps.
export function handleVcpuExit(machine: Machine, platform: Platform, vcpu: u32): void {
  if (vcpu >= machine.vcpuCount) unreachable();
  selectVcpu(machine, vcpu);
  dispatchExit(vcpuRecord(machine, vcpu), machine, platform);
}

export function dispatchExit(record: ExitRecord, machine: Machine, platform: Platform): void {
  clearAnswer(record); // ExitAction.Resume is 0
  record.deadline = NO_DEADLINE;
  record.exits++;
  countExit(record.reason);
  let state = machine.state;
  if (state.stopped) {
    // Stopped already (and said so): the answer does not change.
    record.action = ExitAction.Stop;
    record.stopReason = state.stopReason;
    record.stopCode = state.stopCode;
    return;
  }
  startExitClock(machine, platform);
  // CR8 is the local APIC's TPR (SDM vol. 3A, 12.8.6.1): the guest may
  // have moved it without an exit (SVM's V_TPR).
  let lapic = machine.lapic;
  if (record.cr8 != lapic.cr8Read()) lapic.cr8Write(record.cr8);
  switch (record.reason) {
    case ExitReason.Cpuid: { handleCpuid(record, platform, machine.current); break; }
    case ExitReason.Io: { handleIo(record, machine, platform); break; }
    case ExitReason.MsrRead: { handleMsrRead(record, machine, platform); break; }
    case ExitReason.MsrWrite: { handleMsrWrite(record, machine, platform); break; }
    case ExitReason.Hlt: { handleHlt(record, machine, platform); break; }
    case ExitReason.Wake: { handleWake(record, machine); break; }
    case ExitReason.NestedPageFault: { handleNestedPageFault(record, machine, platform); break; }
    case ExitReason.ExternalInterrupt:
    case ExitReason.InterruptWindow: break; // nothing for the guest: resume it
    case ExitReason.CrWrite: {
      // Only CR4 is intercepted (AMD-V), so that bits whose state is not
      // switched between guests cannot be set (x86/mov_cr.ts).
      let verdict = movToCr4(record, platform);
      if (verdict == MOV_CR_DONE) record.dirty |= DIRTY_CR4;
      else if (verdict == MOV_CR_FAULT) injectException(record, VECTOR_GP, true, 0);
      else {
        let line = beginStopLine(machine).text("a CR4 write it could not decode");
        appendRip(line, record);
        stopGuest(record, machine, platform, StopReason.Unsupported, 0);
      }
      break;
    }
    case ExitReason.Wbinvd: {
      // Writing back and invalidating every cache the host CPU shares with
      // other cores, at a guest's will, would let it slow them all down:
      // a no-op (the guest's memory is coherent without it; issue 11).
      record.advance = wbinvdLength(record, platform);
      break;
    }
    case ExitReason.Pause: {
      // A spin loop in a guest of several vCPUs: what it waits for is
      // likely another vCPU's doing, so let one that can run go first.
      record.advance = lengthOr(record, 2); // F3 90
      if (siblingReady(machine, false)) record.action = ExitAction.Switch;
      break;
    }
    case ExitReason.Hypercall: {
      // One hypercall: a guest may ask for its own guest VMM instance to
      // trap, which stops (or by policy restarts) this guest alone. It
      // proves, from inside a guest, that a trap in an instance is
      // contained; it gives a guest no power it lacks (a triple fault does
      // the same).
      if (<u32>record.rax == HYPERCALL_TRAP_MY_VMM) unreachable();
      if (<u32>record.rax == HYPERCALL_YIELD) {
        // Gives the CPU to the other guests, as KVM_HC_SCHED_YIELD does.
        record.rax = 0;
        record.advance = lengthOr(record, 3); // 0F 01 D9 / 0F 01 C1
        record.action = ExitAction.Yield;
        break;
      }
      injectException(record, VECTOR_UD, false, 0);
      break;
    }
    case ExitReason.VirtualizationInstruction: {
      // No hypercalls yet and no nested virtualization: VMMCALL/VMCALL,
      // VMRUN, VMXON, ... raise #UD as on a CPU without them.
      injectException(record, VECTOR_UD, false, 0);
      break;
    }
    case ExitReason.Exception: { handleException(record, machine, platform); break; }
    case ExitReason.Shutdown: {
      beginStopLine(machine).text("triple fault");
      stopGuest(record, machine, platform, StopReason.TripleFault, 0);
      break;
    }
    case ExitReason.InvalidState: {
      let line = beginStopLine(machine).text("invalid guest state, the VM entry failed (raw reason ");
      appendAddress(line, record.rawReason).text(", detail ");
      appendAddress(line, record.detail);
      appendRip(line, record).text(")");
      stopGuest(record, machine, platform, StopReason.InvalidState, 0);
      break;
    }
    case ExitReason.Xsetbv: { handleXsetbv(record, platform); break; }
    case ExitReason.NestedPageMisconfig: {
      let line = beginStopLine(machine).text("bug: nested page tables misconfigured at GPA ");
      appendAddress(line, record.gpa).text(" (");
      appendRip(line, record, false).text(")");
      stopGuest(record, machine, platform, StopReason.Unsupported, 0);
      break;
    }
    default: {
      let line = beginStopLine(machine).text("unsupported exit (reason ").decimal(record.reason).text(", raw reason ");
      appendAddress(line, record.rawReason);
      appendRip(line, record).text(")");
      stopGuest(record, machine, platform, StopReason.Unsupported, 0);
    }
  }
  finishExit(record, machine, platform);
  // Lines the guest finished during this exit (most exits: none).
  let lines = machine.console;
  if (lines.outboxLength != 0) lines.drain(platform);
}

// What every answer carries besides the exit's own result: the event to
// inject (or the window to wait for), the TPR if the guest moved it by
// MMIO, and when the guest's next timer is due.
function finishExit(record: ExitRecord, machine: Machine, platform: Platform): void {
  if (record.action == ExitAction.Stop) return;
  // The IPI this exit sent (an ICR write) reaches its targets; a halted
  // vCPU it (or a device, or a timer) woke runs next, not after the slice.
  routeIpis(machine, platform);
  if (record.action == ExitAction.Resume && machine.vcpuCount > 1 && siblingReady(machine, true)) {
    record.action = ExitAction.Switch;
  }
  // A waiting vCPU's answer is not applied: when its HLT ends, a Wake
  // exit (vcpu_schedule.ts) delivers what woke it.
  if (record.action != ExitAction.Wait) {
    let lapic = machine.lapic;
    deliverEvents(record, lapic, machine.pic);
    let tpr = lapic.cr8Read();
    if (tpr != record.cr8) {
      record.cr8 = tpr;
      record.dirty |= DIRTY_CR8;
    }
  }
  record.deadline = nextHostDeadline(machine);
}

// --- the exits -------------------------------------------------------------------

function handleCpuid(record: ExitRecord, platform: Platform, vcpuIndex: u32): void {
  guestCpuid(<u32>record.rax, <u32>record.rcx, record.cr4, record.xcr0, platform, CPUID_SCRATCH, vcpuIndex);
  // CPUID writes all four registers, zero-extending in 64-bit mode.
  record.rax = <u64>load<u32>(CPUID_SCRATCH, 0);
  record.rbx = <u64>load<u32>(CPUID_SCRATCH, 4);
  record.rcx = <u64>load<u32>(CPUID_SCRATCH, 8);
  record.rdx = <u64>load<u32>(CPUID_SCRATCH, 12);
  record.advance = lengthOr(record, 2); // 0F A2
}

function handleIo(record: ExitRecord, machine: Machine, platform: Platform): void {
  let port = <u32>record.port;
  let size = <u32>record.ioSize;
  let input = (record.ioFlags & IoFlags.In) != 0;
  if ((record.ioFlags & IoFlags.String) != 0) {
    // INS/OUTS (REP or not), through the guest's paging (x86/string_io.ts).
    let work = machine.emulation;
    let result = emulateStringIo(record, machine.bus, platform, machine.mmio, work, machine.console);
    if (!answerEmulation(record, machine, platform, result, "string port I/O")) return;
    if (afterPortWrite(record, machine, platform)) consoleWait(record, machine);
    return;
  }
  if (size != 1 && size != 2 && size != 4) {
    let line = beginStopLine(machine).text("bug: port I/O exit of ").decimal(size).text(" bytes at port ");
    appendAddress(line, port).text(" (");
    appendRip(line, record, false).text(")");
    stopGuest(record, machine, platform, StopReason.Unsupported, 0);
    return;
  }
  if (record.instructionLength == 0) {
    // IN/OUT are 1 or 2 bytes plus prefixes: only the CPU knows. Both
    // vendors report it for I/O exits, so this is a stub bug.
    let line = beginStopLine(machine).text("bug: port I/O exit without an instruction length at port ");
    appendAddress(line, port).text(" (");
    appendRip(line, record, false).text(")");
    stopGuest(record, machine, platform, StopReason.Unsupported, 0);
    return;
  }
  if (input) {
    record.rax = mergeInput(record.rax, machine.bus.read(port, size), size);
  } else {
    let reached = machine.bus.write(port, size, <u32>record.rax & sizeMask(size));
    if ((reached & REQUESTING_KINDS) != 0 && !afterPortWrite(record, machine, platform)) return;
    if (consoleWait(record, machine)) return;
  }
  record.advance = record.instructionLength;
}

// The UART refused a byte: the guest's console share is spent
// (devices/console_line.ts). The OUT runs again (advance 0) after the
// others had the CPU; nothing was taken, nothing is dropped.
function consoleWait(record: ExitRecord, machine: Machine): bool {
  let console = machine.console;
  if (!console.refused) return false;
  console.refused = false;
  record.advance = 0;
  record.action = ExitAction.Yield;
  return true;
}

// What a port write may have asked of the machine: the exit port's stop,
// S5, a reset. False when the guest stopped.
function afterPortWrite(record: ExitRecord, machine: Machine, platform: Platform): bool {
  {
    let exitPort = machine.debugExit;
    if (exitPort.requested) {
      exitPort.requested = false;
      beginStopLine(machine).text("exit code ").decimal(exitPort.code);
      stopGuest(record, machine, platform, StopReason.ExitCode, exitPort.code);
      return false;
    }
    if (machine.pm.powerOffRequested) {
      beginStopLine(machine).text("power off");
      stopGuest(record, machine, platform, StopReason.PowerOff, 0);
      return false;
    }
    if (resetRequested(machine)) {
      rebootGuest(record, machine, platform);
      return false;
    }
  }
  return true;
}

// Answers an emulated instruction's result: Done resumes (the emulation set
// registers and advance); a fault is injected; an instruction the decoder
// does not know stops the guest with its bytes, never a guess. False when
// the guest did not resume past the instruction normally. Done, nearly
// every answer, is tested inline.
@inline function answerEmulation(record: ExitRecord, machine: Machine, platform: Platform, result: u32, what: string): bool {
  return result == EmulationResult.Done || answerEmulationFailure(record, machine, platform, result, what);
}

// The answers other than Done (always false).
function answerEmulationFailure(record: ExitRecord, machine: Machine, platform: Platform, result: u32, what: string): bool {
  let work = machine.emulation;
  switch (result) {
    case EmulationResult.PageFault: {
      injectException(record, VECTOR_PF, true, work.errorCode);
      record.cr2 = work.faultAddress;
      record.dirty |= DIRTY_CR2;
      return false;
    }
    case EmulationResult.GeneralProtection: { injectException(record, VECTOR_GP, true, 0); return false; }
    case EmulationResult.StackFault: { injectException(record, VECTOR_SS, true, 0); return false; }
    case EmulationResult.TablesOutsideRam: {
      // Our own walk (the instruction's bytes, a string operand) met a
      // table entry outside RAM: as when the CPU's walk does, below.
      stopTablesOutsideRam(record, machine, platform, work.faultAddress);
      return false;
    }
    default: {
      let line = beginStopLine(machine).text(what).text(": an instruction the emulator does not know (bytes ");
      appendInstructionBytes(line, work).text(", ");
      appendRip(line, record, false);
      if (record.reason == ExitReason.NestedPageFault) {
        line.text(", guest-physical ");
        appendAddress(line, record.gpa);
      }
      line.text(")");
      stopGuest(record, machine, platform, StopReason.Unsupported, 0);
      return false;
    }
  }
}

// IN to AL or AX leaves the rest of RAX alone; IN to EAX zero-extends into
// RAX, like every 32-bit register write (SDM vol. 1, 3.4.1.1).
export function mergeInput(rax: u64, value: u32, size: u32): u64 {
  if (size == 1) return (rax & ~<u64>0xff) | <u64>(value & 0xff);
  if (size == 2) return (rax & ~<u64>0xffff) | <u64>(value & 0xffff);
  return <u64>value;
}

function handleMsrRead(record: ExitRecord, machine: Machine, platform: Platform): void {
  let msrs = machine.msrs;
  if (!msrs.read(record.msr, record, platform)) {
    injectException(record, VECTOR_GP, true, 0);
    return;
  }
  // EDX:EAX, the upper halves of RAX and RDX cleared.
  record.rax = msrs.value & 0xffffffff;
  record.rdx = msrs.value >> 32;
  record.advance = lengthOr(record, 2); // 0F 32
}

function handleMsrWrite(record: ExitRecord, machine: Machine, platform: Platform): void {
  let value = (record.rdx << 32) | (record.rax & 0xffffffff);
  if (!machine.msrs.write(record.msr, value, record, platform)) {
    injectException(record, VECTOR_GP, true, 0);
    return;
  }
  record.advance = lengthOr(record, 2); // 0F 30
}

function handleHlt(record: ExitRecord, machine: Machine, platform: Platform): void {
  if ((record.rflags & RFLAGS_IF) == 0 && !siblingAlive(machine)) {
    // No interrupt can end this HLT, and no other vCPU can send this one
    // an NMI: the guest is done for good. (With another vCPU alive this
    // is how an operating system parks a CPU, Linux's stop_this_cpu.)
    let line = beginStopLine(machine).text("halted with interrupts disabled (");
    appendRip(line, record, false).text(")");
    stopGuest(record, machine, platform, StopReason.Halted, 0);
    return;
  }
  // HLT waits for an interrupt (SDM vol. 2A, HLT): with one pending it
  // retires at once; else the vCPU waits (the stub applies nothing) until
  // a timer of its own is due or input comes, and is asked again (Wake).
  handleWake(record, machine);
}

// The HLT at RIP ends when an interrupt is pending (with RFLAGS.IF clear,
// only an NMI); else the vCPU halts.
// @ts-ignore: decorator
@inline function handleWake(record: ExitRecord, machine: Machine): void {
  let interrupts = (record.rflags & RFLAGS_IF) != 0;
  if (nmiPending(machine.lapic) || (interrupts && vcpuInterruptPending(machine.lapic, machine.pic))) {
    record.advance = lengthOr(record, 1); // F4
    setRunState(machine, machine.current, VcpuRun.Runnable);
    return;
  }
  record.action = ExitAction.Wait;
  setRunState(machine, machine.current, interrupts ? VcpuRun.Halted : VcpuRun.HaltedInterruptsOff);
}

function stopTablesOutsideRam(record: ExitRecord, machine: Machine, platform: Platform, gpa: u64): void {
  let line = beginStopLine(machine).text("its page tables reach outside RAM at guest-physical ");
  appendAddress(line, gpa).text(" (");
  appendRip(line, record, false).text(")");
  stopGuest(record, machine, platform, StopReason.OutsideRam, 0);
}

function handleNestedPageFault(record: ExitRecord, machine: Machine, platform: Platform): void {
  let outside = record.gpa >= machine.state.memoryBytes;
  if (outside && (record.access & Access.PageWalk) != 0) {
    // The CPU's own walk of the guest's page tables (CR3, a PDE or PTE
    // pointing beyond RAM or at a device page; AMD APM vol. 2, 15.25.6;
    // SDM vol. 3C, 28.2.1) reached no RAM. Emulating the instruction
    // against the table's address would hand it a device register or
    // all ones as its data (and a write could reach an EOI or the ICR),
    // and our own walk would fail and inject a #PF whose delivery walks
    // the same tables again, forever: stop the guest instead.
    stopTablesOutsideRam(record, machine, platform, record.gpa);
    return;
  }
  // Outside RAM is the PC's bus: the local APIC, the I/O APIC, and all
  // ones where no device answers (devices/mmio_bus.ts). A fetch from there
  // is no data access to emulate.
  if (outside && (record.access & Access.Execute) == 0) {
    let result = emulateMmio(record, machine.mmio, platform, machine.emulation);
    answerEmulation(record, machine, platform, result, "MMIO");
    return;
  }
  let line = beginStopLine(machine)
    .text(outside ? "access outside RAM at guest-physical " : "bug: nested page fault inside RAM at guest-physical ");
  appendAddress(line, record.gpa).text(" (");
  let access = record.access;
  line.text((access & Access.Execute) != 0 ? "execute" : (access & Access.Write) != 0 ? "write" : "read");
  appendRip(line, record).text(")");
  stopGuest(record, machine, platform, outside ? StopReason.OutsideRam : StopReason.Unsupported, 0);
}

function handleXsetbv(record: ExitRecord, platform: Platform): void {
  // XCR0 may hold what the stub switches between guests (x87, SSE, AVX;
  // vcpu/xsetbv.ts XCR0_GUEST_COMPONENTS) where the host has it, checked
  // as the CPU checks it. The stub loads the new value (record.xcr0,
  // DIRTY_XCR0) and checks it again.
  let allowed = guestXcr0Allowed(platform);
  if (allowed == 0) {
    // No XSAVE offered (a host without it): #UD, as on such a CPU.
    injectException(record, VECTOR_UD, false, 0);
    return;
  }
  let value = (record.rdx << 32) | (record.rax & 0xffffffff);
  let verdict = checkXsetbv(<u32>record.rcx, value, allowed, record.cr4, record.cpl);
  if (verdict != XSETBV_OK) {
    injectException(record, verdict, verdict == VECTOR_GP, 0);
    return;
  }
  record.xcr0 = value;
  record.dirty |= DIRTY_XCR0;
  record.advance = lengthOr(record, 3); // 0F 01 D1
}

// RAX for the "trap my guest VMM" hypercall: "TRAP" in ASCII.
export const HYPERCALL_TRAP_MY_VMM: u32 = 0x50415254;
// RAX for the "yield" hypercall: "YELD" in ASCII.
export const HYPERCALL_YIELD: u32 = 0x444c4559;

// Nothing intercepts exceptions yet. Those a backend may intercept later
// (#DB, #AC, ...) go back to the guest unchanged; those that cannot be
// re-injected from the record alone stop the guest: NMI (not an
// exception), #BP/#OF (software exceptions: RIP and type differ per
// vendor), #PF (needs CR2), #MC (a host machine check), reserved vectors.
function handleException(record: ExitRecord, machine: Machine, platform: Platform): void {
  let vector = record.exceptionVector;
  if (vector < 32 && ((REINJECTED >> vector) & 1) != 0) {
    let errorCode = ((ERROR_CODE_VECTORS >> vector) & 1) != 0;
    injectException(record, vector, errorCode, errorCode ? record.exceptionErrorCode : 0);
    // A #DB the stub reports with an instruction length is ICEBP's (F1,
    // INT1): a trap, delivered after the instruction (SDM vol. 3A, 6.15),
    // so the handler's IRET does not land on the F1 again. (VT-x gives
    // its length; AMD-V saves no next RIP for exception intercepts.)
    if (vector == VECTOR_DB) record.advance = record.instructionLength;
    return;
  }
  let line = beginStopLine(machine).text("unexpected exception vector ").decimal(vector).text(" (error code ");
  appendAddress(line, record.exceptionErrorCode);
  appendRip(line, record).text(")");
  stopGuest(record, machine, platform, StopReason.Unsupported, 0);
}

// #DE #DB #BR #UD #NM #DF #TS #NP #SS #GP #MF #AC #XM #VE #CP
const REINJECTED: u32 =
  1 << 0 | 1 << 1 | 1 << 5 | 1 << 6 | 1 << 7 | 1 << 8 | 1 << 10 | 1 << 11 | 1 << 12 | 1 << 13 |
  1 << 16 | 1 << 17 | 1 << 19 | 1 << 20 | 1 << 21;
// Exceptions that push an error code (SDM vol. 3A, 6.3.1, Table 6-1).
const ERROR_CODE_VECTORS: u32 = 1 << 8 | 1 << 10 | 1 << 11 | 1 << 12 | 1 << 13 | 1 << 14 | 1 << 17 | 1 << 21;

// --- helpers ---------------------------------------------------------------------

// Injects a hardware exception; RIP stays on the instruction (a fault).
export function injectException(record: ExitRecord, vector: u32, hasErrorCode: bool, errorCode: u32): void {
  record.inject = INJECT_VALID | INJECT_TYPE_EXCEPTION | (vector & 0xff) | (hasErrorCode ? INJECT_HAS_ERROR_CODE : 0);
  record.injectErrorCode = hasErrorCode ? errorCode : 0;
  record.advance = 0;
}

// The exiting instruction's length, or `fallback` (its usual encoding)
// when the CPU did not say (no next-RIP, as under QEMU TCG).
@inline function lengthOr(record: ExitRecord, fallback: u32): u32 {
  return record.instructionLength != 0 ? record.instructionLength : fallback;
}

// ", RIP 0x..." (or "RIP 0x..." with `comma` false).
function appendRip(line: TextWriter, record: ExitRecord, comma: bool = true): TextWriter {
  line.text(comma ? ", RIP " : "RIP ");
  return appendAddress(line, record.rip);
}
