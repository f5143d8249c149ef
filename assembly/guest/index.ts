// The guest VMM: one instance per guest, each with its own linear memory.
// Everything a guest can steer (its exits, its devices, the bytes of its
// kernel) is handled here, so a bug a hostile guest drives corrupts only
// this instance. The stub creates, destroys and re-creates instances at
// will; state lives in this module's globals and static memory, laid out at
// instantiation, and nothing is allocated afterwards.

import "../lib/abort";

import { Platform } from "./platform";
import { layoutMachine, createGuest, loadGuest, printExitStats, SETUP_AREA_BYTES } from "./machine";
import { handleVcpuExit } from "./exits";
import { vcpuRecord, vcpuInitialState as initialStateOf } from "./vcpus";
import { nextVcpu as pickVcpu, nextDeadline } from "./vcpu_schedule";
import { CMOS_BYTES } from "../devices/rtc_cmos";

// Where the stub and this instance meet: fixed places in linear memory,
// one ExitRecord and one first state per vCPU (guest/vcpus.ts).
const machine = layoutMachine();
// The only allocation of the instance's life, at instantiation.
const platform = new Platform();

// vCPU `vcpu`'s ExitRecord (linker/exit_record.h, 432 bytes): the stub
// fills it before handleExit(vcpu) and applies the answer after. 0 for a
// vCPU the guest does not have.
export function exitRecord(vcpu: u32): usize {
  return vcpu < machine.vcpuCount ? changetype<usize>(vcpuRecord(machine, vcpu)) : 0;
}

// vCPU `vcpu`'s first state (struct vcpu_state, 344 bytes): vCPU 0's filled
// by load(), another's by the STARTUP IPI that starts it (nextVcpu says
// when). 0 for a vCPU the guest does not have.
export function vcpuInitialState(vcpu: u32): usize {
  return vcpu < machine.vcpuCount ? changetype<usize>(initialStateOf(machine, vcpu)) : 0;
}

export function vcpuCount(): u32 {
  return machine.vcpuCount;
}

// Before create(), the stub copies the guest's name and then its command
// line into this area of setupAreaBytes() bytes.
export function setupArea(): usize {
  return machine.setupArea;
}

export function setupAreaBytes(): u32 {
  return SETUP_AREA_BYTES;
}

// Called once, right after instantiation, with the name and command line
// in the setup area. 0: done; 1: this instance already has a guest (an
// instance serves one guest for its life); 2: the lengths overflow the
// area; 3: `vcpus` is not 1 to MAX_VCPUS (guest/machine.ts).
export function create(guestId: u32, memoryBytes: u64, vcpus: u32, nameLength: u32, cmdlineLength: u32): u32 {
  return createGuest(machine, guestId, memoryBytes, nameLength, cmdlineLength, vcpus);
}

// Loads the guest's kernel (and initrd) into its RAM and fills the initial
// vCPU state. 0: ready to run; else the guest is stopped and the reason was
// printed ("[hv] guest <name> stopped: cannot load kernel: <why>").
// Exported as `load`; named apart here, since `load` is also the builtin
// memory read the self-test hooks below use.
function loadKernelExport(): u32 {
  return loadGuest(machine, initialStateOf(machine, 0), platform);
}
export { loadKernelExport as load };

// Answers the exit in vCPU `vcpu`'s ExitRecord (action, advance, inject,
// dirty, stop reason; registers in place). A vCPU the guest does not have
// stops the guest.
export function handleExit(vcpu: u32): void {
  handleVcpuExit(machine, platform, vcpu);
}

// Which vCPU runs after `last` (-1: the first pick), in bits 0-7, with
// 0x100 (load its first state from vcpuInitialState first) and 0x200
// (apply its record's answer first); -1 when all are halted or not
// started: the guest waits until deadline().
export function nextVcpu(last: i32): i32 {
  return pickVcpu(machine, platform, last);
}

// The host TSC by which the guest's next timer event is due (~0: none).
export function deadline(): u64 {
  return nextDeadline(machine);
}

// The stub stops this guest (its stop_after_ms, `stop` at the prompt), as
// a stop by the core prints it: first what the guest wrote last (a partial
// line), then the stub's stop line, then the exits by reason.
export function flushConsole(): void {
  machine.console.flush(platform);
}

export function printStopStats(): void {
  printExitStats(machine, platform);
}

// The RTC's 128 bytes of CMOS RAM: the stub keeps them across a reboot,
// as a PC's battery does.
export function cmosRam(): usize {
  return machine.rtc.cmos();
}

export function cmosRamBytes(): u32 {
  return CMOS_BYTES;
}

// This guest's share of the host console in bytes per second, as the
// supervisor decided it (guestConsoleBytesPerSecond); the stub sets it
// after create().
export function setConsoleRate(bytesPerSecond: u32): void {
  machine.console.setRate(bytesPerSecond);
}

export function guestId(): u32 {
  return machine.state.guestId;
}

// A byte typed on the host's console for this guest (it has the input
// focus). 1: its UART took it; 0: the UART's receiver is full (or in
// loopback), and the stub keeps the byte and offers it again later.
export function consoleReceive(byte: u32): u32 {
  return machine.uart.receiveFromHost(<u8>byte) ? 1 : 0;
}

// --- self-test hooks, used by the stub's instance test (selftest=instances) --
// A fresh instance must start from zeroed state, whatever earlier instances
// wrote: these let the stub prove it without reaching into linear memory.

const SCRATCH_BYTES: u32 = 16 * 1024;
const scratch = memory.data(SCRATCH_BYTES, 16);

// True when the scratch area is all zeros (as in a fresh instance).
export function scratchIsZero(): bool {
  for (let i: u32 = 0; i < SCRATCH_BYTES; i += 8) {
    if (load<u64>(scratch + i) != 0) return false;
  }
  return true;
}

// Fills the scratch area with a pattern derived from `seed`; returns a sum.
export function scratchFill(seed: u32): u64 {
  let sum: u64 = 0;
  let x: u64 = <u64>seed * 0x9E3779B97F4A7C15 | 1;
  for (let i: u32 = 0; i < SCRATCH_BYTES; i += 8) {
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    store<u64>(scratch + i, x);
    sum += x;
  }
  return sum;
}

// The sum scratchFill returned, recomputed without writing: proves the area
// still holds exactly what this instance wrote.
export function scratchSum(): u64 {
  let sum: u64 = 0;
  for (let i: u32 = 0; i < SCRATCH_BYTES; i += 8) sum += load<u64>(scratch + i);
  return sum;
}

// Deliberate faults, so the test can prove a trap stops only this instance.
export function crashForTest(kind: u32): u32 {
  if (kind == 0) unreachable();
  if (kind == 1) return load<u32>(0xFFFFFFF0); // beyond linear memory
  if (kind == 2) return crashForTest(2) + 1;   // unbounded recursion
  assert(kind != 3, "crashForTest: assertion");
  return kind;
}
