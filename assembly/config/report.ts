// What the supervisor prints about the config: every error (the first
// REPORTED_ERRORS in full) or the plan, one whole line per sink call, each
// starting with "[hv] " and ending with "\n".

import { TextWriter } from "../lib/text";
import { diagnostics } from "./diagnostics";
import { MiB } from "./sizes";
import { configGuest } from "./guest_config";
import { configGuestCount } from "./schema";

// Receives one whole line (pointer/length in linear memory).
export type LineSink = (pointer: usize, length: u32) => void;

// The longest plan line: a cmdline of 4095 bytes, escaped (tab doubles), two
// resolved paths and the rest.
const LINE_CAPACITY: u32 = 16384;
const LINE_BYTES: usize = memory.data(<i32>LINE_CAPACITY, 16);
const line = new TextWriter(LINE_BYTES, LINE_CAPACITY);

// Prints the outcome of parseConfig for the config module named `file`.
// Answers the number of guests to start (0 if there are errors or none).
export function reportConfig(file: usize, fileLength: u32, sink: LineSink): u32 {
  let errors = diagnostics.count;
  if (errors > 0) {
    let kept = diagnostics.kept;
    for (let i: u32 = 0; i < kept; i++) {
      diagnostics.render(i, startLine(), file, fileLength);
      endLine(sink);
    }
    if (errors > kept) {
      startLine().text("and ").count(errors - kept, "more error", "more errors");
      endLine(sink);
    }
    return 0;
  }
  let count = configGuestCount();
  startLine().text("config ").bytes(file, fileLength).text(": ");
  if (count == 0) {
    line.text("no guests");
    endLine(sink);
    return 0;
  }
  line.count(count, "guest", "guests");
  endLine(sink);
  for (let i: u32 = 0; i < count; i++) {
    let guest = configGuest(i);
    startLine().text("guest ").bytes(guest.namePointer, guest.nameLength).text(": ");
    if (guest.memoryBytes % MiB == 0) line.decimal(guest.memoryBytes / MiB).text(" MiB");
    else line.decimal(guest.memoryBytes >> 10).text(" KiB");
    line.text(", ").count(guest.vcpus, "vCPU", "vCPUs");
    line.text(", kernel ").bytes(guest.kernelPointer, guest.kernelLength);
    if (guest.hasInitrd) line.text(", initrd ").bytes(guest.initrdPointer, guest.initrdLength);
    if (guest.cmdlineLength > 0) line.text(", cmdline ").quoted(guest.cmdlinePointer, guest.cmdlineLength, 4096);
    if (guest.onCrashRestart) line.text(", on_crash restart (max ").decimal(guest.maxRestarts).text(")");
    if (guest.stopAfterMs != 0) line.text(", stopped after ").decimal(guest.stopAfterMs).text(" ms");
    if (guest.consoleBytesPerSecond != 0) line.text(", console ").decimal(guest.consoleBytesPerSecond).text(" bytes/s");
    if (guest.cpuMask != 0) writeCpus(guest.cpuMask);
    endLine(sink);
  }
  return count;
}

// At boot, when no module is named *.toml.
export function reportNoConfig(sink: LineSink): void {
  startLine().text("no config: no boot module named *.toml (add one to grub.cfg)");
  endLine(sink);
}

// ", cpus [1, 2]": the CPUs of a pinned guest, ascending.
function writeCpus(mask: u64): void {
  line.text(", cpus [");
  let first = true;
  for (let cpu: u32 = 0; cpu < 64; cpu++) {
    if ((mask & (<u64>1 << cpu)) == 0) continue;
    if (!first) line.text(", ");
    line.decimal(cpu);
    first = false;
  }
  line.text("]");
}

function startLine(): TextWriter {
  return line.clear().text("[hv] ");
}

function endLine(sink: LineSink): void {
  // A line cut at the buffer's end still ends the line.
  if (line.length == LINE_CAPACITY) line.length--;
  line.byte(0x0a);
  sink(line.pointer, line.length);
}
