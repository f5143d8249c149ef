// Runs the config parser on a string, as the supervisor would on a module,
// with a fake set of boot modules; answers what it would print.

import { diagnostics } from "../../../assembly/config/diagnostics";
import { parseConfig } from "../../../assembly/config/schema";
import { reportConfig } from "../../../assembly/config/report";
import { TextWriter } from "../../../assembly/lib/text";

// Kept alive in globals while the parser reads them.
let sourceBytes: ArrayBuffer = new ArrayBuffer(0);
let fileBytes: ArrayBuffer = new ArrayBuffer(0);

// Module names findModule knows, and the ones it was asked for.
let modules: string[] = [];
export let lookups: string[] = [];

// The boot modules the lookup answers for (index = position). Default: none.
export function setModules(names: string[]): void {
  modules = names;
}

function lookup(pointer: usize, length: u32): i32 {
  let name = String.UTF8.decodeUnsafe(pointer, length);
  lookups.push(name);
  for (let i = 0; i < modules.length; i++) {
    if (modules[i] == name) return i;
  }
  return -1;
}

// Parses `source` as the config module named `file`; answers the error count.
export function parse(source: string, file: string = "hv.toml"): u32 {
  return parseBytes(String.UTF8.encode(source), file);
}

export function parseBytes(source: ArrayBuffer, file: string = "hv.toml"): u32 {
  sourceBytes = source;
  fileBytes = String.UTF8.encode(file);
  lookups = [];
  return parseConfig(
    changetype<usize>(sourceBytes), <u32>sourceBytes.byteLength,
    changetype<usize>(fileBytes), <u32>fileBytes.byteLength,
    lookup,
  );
}

const MESSAGE_BYTES: usize = memory.data(8192);
const message = new TextWriter(MESSAGE_BYTES, 8192);

// The kept errors of the last parse, as `<file>:<line>:<col>: <key>: <what>`.
export function errors(): string[] {
  let out: string[] = [];
  for (let i: u32 = 0; i < diagnostics.kept; i++) {
    message.clear();
    diagnostics.render(i, message, changetype<usize>(fileBytes), <u32>fileBytes.byteLength);
    out.push(message.toString());
  }
  return out;
}

// Parses and answers the only error (or a note saying how many there were).
export function onlyError(source: string, file: string = "hv.toml"): string {
  let count = parse(source, file);
  let all = errors();
  if (count == 1) return all[0];
  return "expected exactly 1 error, got " + count.toString() + ": " + all.join(" | ");
}

let printed: string[] = [];

function collectLine(pointer: usize, length: u32): void {
  printed.push(String.UTF8.decodeUnsafe(pointer, length));
}

// Parses and answers the lines the supervisor would print, and the guest
// count init() would return (in `returned`).
export let returned: u32 = 0;
export function report(source: string, file: string = "hv.toml"): string[] {
  parse(source, file);
  printed = [];
  returned = reportConfig(changetype<usize>(fileBytes), <u32>fileBytes.byteLength, collectLine);
  return printed;
}
