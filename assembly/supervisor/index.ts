// The supervisor: one trusted instance. Today it reads the config module,
// validates it and prints the plan; the stub then reads the plan back
// through the accessors below (guest index 0 .. guestCount()-1).
//
// All the work is in config/ (pure functions over bytes, unit-tested);
// this file wires it to the stub's imports in host.ts.

// The abort that --use abort=assembly/lib/abort/coreAbort names must be
// part of the program.
import "../lib/abort";
import { configModule, consoleWrite, findModule, moduleName, moduleRead, moduleSize } from "./host";
import { consoleShare } from "./console_share";
import { configGuest } from "../config/guest_config";
import {
  configErrorCount, configGuestCount, configTimesliceMs,
  MAX_CONFIG_BYTES, parseConfig, reportTooLarge, reportUnreadable,
} from "../config/schema";
import { reportConfig, reportNoConfig } from "../config/report";

// The config module's bytes and name, copied in at init.
const CONFIG_BYTES: usize = memory.data(<i32>MAX_CONFIG_BYTES, 16);
const FILE_NAME_CAPACITY: u32 = 4096;
const FILE_NAME: usize = memory.data(<i32>FILE_NAME_CAPACITY, 16);

// Parses and validates the config module and prints every error or the
// plan. Answers the number of guests to start: 0 if there is no config, it
// is broken, or it has no guests.
export function init(): u32 {
  let index = configModule();
  if (index < 0) {
    reportNoConfig(writeLine);
    return 0;
  }
  let nameLength = moduleName(index, FILE_NAME, FILE_NAME_CAPACITY);
  if (nameLength > FILE_NAME_CAPACITY) nameLength = FILE_NAME_CAPACITY;
  let size = moduleSize(index);
  if (size > MAX_CONFIG_BYTES) {
    reportTooLarge(size);
  } else {
    let read = moduleRead(index, 0, CONFIG_BYTES, size);
    if (read != size) reportUnreadable(read, size);
    else parseConfig(CONFIG_BYTES, size, FILE_NAME, nameLength, lookupModule);
  }
  return reportConfig(FILE_NAME, nameLength, writeLine);
}

function lookupModule(pointer: usize, length: u32): i32 {
  return findModule(pointer, length);
}

function writeLine(pointer: usize, length: u32): void {
  consoleWrite(pointer, length);
}

// --- the plan, for the stub (valid after init; out-of-range indices answer
// zeros, -1 for modules) ----------------------------------------------------------

export function configErrors(): u32 {
  return configErrorCount();
}

export function hypervisorTimesliceMs(): u32 {
  return configTimesliceMs();
}

export function guestCount(): u32 {
  return configGuestCount();
}

export function guestMemoryBytes(index: u32): u64 {
  return index < configGuestCount() ? configGuest(index).memoryBytes : 0;
}

export function guestVcpus(index: u32): u32 {
  return index < configGuestCount() ? configGuest(index).vcpus : 0;
}

export function guestKernelModule(index: u32): i32 {
  return index < configGuestCount() ? configGuest(index).kernelModule : -1;
}

export function guestInitrdModule(index: u32): i32 {
  return index < configGuestCount() ? configGuest(index).initrdModule : -1;
}

export function guestOnCrashRestart(index: u32): bool {
  return index < configGuestCount() ? configGuest(index).onCrashRestart : false;
}

export function guestMaxRestarts(index: u32): u32 {
  return index < configGuestCount() ? configGuest(index).maxRestarts : 0;
}

// Milliseconds after each start at which the guest is stopped; 0: never.
export function guestStopAfterMs(index: u32): u32 {
  return index < configGuestCount() ? configGuest(index).stopAfterMs : 0;
}

// Each guest's share of the host console in bytes per second
// (console_share.ts), from what the stub measured the port to carry.
export function guestConsoleBytesPerSecond(index: u32, hostBytesPerSecond: u64, hostCpus: u32): u32 {
  return consoleShare(index, hostBytesPerSecond, hostCpus);
}

// Strings: a pointer into this module's linear memory and a length in bytes
// (UTF-8, not NUL-terminated).
export function guestNamePointer(index: u32): usize {
  return index < configGuestCount() ? configGuest(index).namePointer : 0;
}

export function guestNameLength(index: u32): u32 {
  return index < configGuestCount() ? configGuest(index).nameLength : 0;
}

export function guestCmdlinePointer(index: u32): usize {
  return index < configGuestCount() ? configGuest(index).cmdlinePointer : 0;
}

export function guestCmdlineLength(index: u32): u32 {
  return index < configGuestCount() ? configGuest(index).cmdlineLength : 0;
}

// Guest memory (nested tables, permission bitmaps) and scheduling.
export {
  setHostLayout, buildGuestTables, buildLazyGuestTables, populateGuestRam, guestNestedRoot, guestIoBitmap, guestMsrBitmap,
  releaseGuestTables, tableBytesInUse, guestTableBytes,
} from "./tables";
export {
  schedulerReset, scheduleNext, guestMarkStopped, runnableCount, assignCpus, guestCpu,
} from "./schedule";
export { guestStopped } from "./crash";
export { stopRequests } from "./monitor";

// Host CPUs guest `index` may run on (bit n = CPU n); 0 = any CPU, and for
// out-of-range indices. Whether a pinned CPU exists is known only at boot.
export function guestCpuMask(index: u32): u64 {
  return index < configGuestCount() ? configGuest(index).cpuMask : 0;
}
export { consoleInput, consoleInputReleased, consoleFocus } from "./console_input";
