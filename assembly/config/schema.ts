// hv.toml: which tables and keys exist, what each accepts, and the parsed
// config they add up to.
//
//   [hypervisor]
//   timeslice_ms = 10          # 1..1000
//
//   [[guest]]                  # one per guest, at most MAX_GUESTS
//   name = "web"               # required, unique, 1..32 of [a-z0-9-]
//   kernel = "guests/web.elf"  # required, relative to the config's folder
//   initrd = "guests/web.cpio" # optional
//   cmdline = "console=ttyS0"  # default "", at most 4095 bytes
//   memory = "256M"            # default "32M"; K/M/G; 1M..64G, 4K multiple
//   vcpus = 2                  # default 1; 1..8
//   cpus = [1, 2]              # host CPUs it may run on, 0..63; default any
//   on_crash = "restart"       # "stop" (default) | "restart"
//   max_restarts = 3           # default 3; 0..1000
//   stop_after_ms = 5000       # stop it after this long from each start
//                              # (a watchdog for test guests); default never
//   console_bytes_per_second = 5760  # its share of the host console,
//                              # 100..10000000; default: the host port's
//                              # measured rate over the host CPUs (at least 2)
//
// parseConfig is a pure function of the config's bytes, its module name and
// a module lookup: the supervisor wires it to the boot modules, the unit
// tests and scripts/check-config.mjs to their own. Every problem becomes a
// message in `diagnostics`; nothing here traps.
//
// The [[guest]] record and its limits are in guest_config.ts, the checks of
// each key's value in values.ts.

import { bytesEqual } from "../lib/text";
import { diagnostics } from "./diagnostics";
import {
  configGuest, DEFAULT_MAX_RESTARTS, DEFAULT_MEMORY_BYTES, DEFAULT_VCPUS, GuestConfig, MAX_CONSOLE_BYTES_PER_SECOND,
  MAX_GUEST_VCPUS, MAX_GUESTS, MIN_CONSOLE_BYTES_PER_SECOND,
} from "./guest_config";
import { folderLength } from "./paths";
import { closestWord } from "./suggest";
import { Statement, TomlReader } from "./toml";
import { checkEncoding } from "./toml_text";
import { ValueKind } from "./toml_value";
import { expectInteger, setCmdline, setCpus, setMemory, setName, setOnCrash, setPath } from "./values";

// Answers the index of the boot module named exactly by the bytes, or -1.
export type ModuleLookup = (pointer: usize, length: u32) => i32;

// Larger config modules are refused before parsing.
export const MAX_CONFIG_BYTES: u32 = 1 << 20;

export const DEFAULT_TIMESLICE_MS: u32 = 10;

// --- keys ------------------------------------------------------------------

const HYPERVISOR_KEYS: StaticArray<string> = ["timeslice_ms"];
const TIMESLICE_MS: i32 = 0;

const GUEST_KEYS: StaticArray<string> = [
  "name", "kernel", "initrd", "cmdline", "memory", "vcpus", "cpus", "on_crash", "max_restarts", "stop_after_ms",
  "console_bytes_per_second",
];
const NAME: i32 = 0;
const KERNEL: i32 = 1;
const INITRD: i32 = 2;
const CMDLINE: i32 = 3;
const MEMORY: i32 = 4;
const VCPUS: i32 = 5;
const CPUS: i32 = 6;
const ON_CRASH: i32 = 7;
const MAX_RESTARTS: i32 = 8;
const STOP_AFTER_MS: i32 = 9;
const CONSOLE_SHARE: i32 = 10;

const TABLE_NAMES: StaticArray<string> = ["hypervisor", "guest"];

enum Table {
  Root, // before the first header
  Hypervisor,
  Guest,
  Ignored, // a table that was reported as wrong: its keys are skipped
}

// --- parser state -------------------------------------------------------------------

const reader = new TomlReader(diagnostics);
let table = Table.Root;
// Keys set in the current table (bit per key index) and the line of each.
let keysSet: u32 = 0;
const KEY_LINES: usize = memory.data(4 * 16, 16);
let tableLine: u32 = 0;
let tableColumn: u32 = 0;
let hypervisorLine: u32 = 0;
let timesliceMs: u32 = DEFAULT_TIMESLICE_MS;
let guestTables: u32 = 0; // [[guest]] headers seen
let guest: GuestConfig = configGuest(0);
let configFolder: usize = 0;
let configFolderLength: u32 = 0;

// --- results ------------------------------------------------------------------

// Guests of a valid config (0 while there are errors).
export function configGuestCount(): u32 {
  if (diagnostics.count > 0) return 0;
  return guestTables < MAX_GUESTS ? guestTables : MAX_GUESTS;
}

export function configTimesliceMs(): u32 {
  return timesliceMs;
}

export function configErrorCount(): u32 {
  return diagnostics.count;
}

// --- parsing -------------------------------------------------------------------

// Parses and validates the config `file` (its module name) whose bytes are
// [source, source+length); then, if that found no error, looks up every
// kernel and initrd. Answers the number of errors (see `diagnostics`).
export function parseConfig(source: usize, length: u32, file: usize, fileLength: u32, lookup: ModuleLookup): u32 {
  resetConfig();
  configFolder = file;
  configFolderLength = folderLength(file, fileLength);
  if (length > MAX_CONFIG_BYTES) {
    reportTooLarge(length);
    return diagnostics.count;
  }
  if (!checkEncoding(source, length, diagnostics)) return diagnostics.count;
  reader.reset(source, length);
  while (true) {
    let statement = reader.next();
    if (statement == Statement.End) break;
    if (statement == Statement.KeyValue) setKey();
    else startTable(statement == Statement.ArrayTable);
  }
  finishTable();
  if (diagnostics.count == 0) findModules(lookup);
  return diagnostics.count;
}

// The config module is larger than MAX_CONFIG_BYTES: an error instead of a
// parse.
export function reportTooLarge(size: u32): void {
  resetConfig();
  diagnostics.error(1, 1, 0, 0)
    .text("the file is ").decimal(size).text(" bytes; a config may have at most ").decimal(MAX_CONFIG_BYTES);
}

// The host read fewer bytes of the config module than it said it holds.
export function reportUnreadable(read: u32, size: u32): void {
  resetConfig();
  diagnostics.error(1, 1, 0, 0)
    .text("could not read the file (got ").decimal(read).text(" of ").decimal(size).text(" bytes)");
}

function resetConfig(): void {
  diagnostics.clear();
  table = Table.Root;
  keysSet = 0;
  hypervisorLine = 0;
  timesliceMs = DEFAULT_TIMESLICE_MS;
  guestTables = 0;
  configFolder = 0;
  configFolderLength = 0;
}

// --- tables -----------------------------------------------------------------------

function startTable(array: bool): void {
  finishTable();
  let name = reader.nameStart;
  let nameLength = reader.nameLength;
  tableLine = reader.tableLine;
  tableColumn = reader.tableColumn;
  keysSet = 0;
  table = Table.Ignored;
  let line = reader.tableLine;
  let column = reader.nameColumn;
  if (bytesEqual(name, nameLength, "hypervisor")) {
    if (array) {
      diagnostics.error(line, column, name, nameLength).text("is a single table: write [hypervisor], not [[hypervisor]]");
    } else if (hypervisorLine != 0) {
      diagnostics.error(line, column, name, nameLength)
        .text("the table is already defined at line ").decimal(hypervisorLine);
    } else {
      hypervisorLine = line;
      table = Table.Hypervisor;
    }
    return;
  }
  if (bytesEqual(name, nameLength, "guest")) {
    if (!array) {
      diagnostics.error(line, column, name, nameLength).text("is an array of tables: write [[guest]], one per guest");
      return;
    }
    startGuest();
    return;
  }
  let message = diagnostics.error(line, column, name, nameLength).text("unknown table");
  let suggestion = closestWord(name, nameLength, TABLE_NAMES);
  if (suggestion == "hypervisor") message.text(" (did you mean [hypervisor]?)");
  else if (suggestion == "guest") message.text(" (did you mean [[guest]]?)");
  else message.text(" (the tables are [hypervisor] and [[guest]])");
}

function startGuest(): void {
  guestTables++;
  let index = guestTables - 1;
  if (index >= MAX_GUESTS) {
    if (index == MAX_GUESTS) {
      diagnostics.error(reader.tableLine, reader.nameColumn, reader.nameStart, reader.nameLength)
        .text("too many [[guest]] tables (at most ").decimal(MAX_GUESTS).text(")");
    }
    index = MAX_GUESTS; // the spare record
  }
  guest = configGuest(index);
  guest.line = reader.tableLine;
  guest.column = reader.tableColumn;
  guest.nameLength = 0;
  guest.kernelLength = 0;
  guest.initrdLength = 0;
  guest.hasInitrd = false;
  guest.cmdlineLength = 0;
  guest.memoryBytes = DEFAULT_MEMORY_BYTES;
  guest.vcpus = DEFAULT_VCPUS;
  guest.onCrashRestart = false;
  guest.maxRestarts = DEFAULT_MAX_RESTARTS;
  guest.stopAfterMs = 0;
  guest.consoleBytesPerSecond = 0;
  guest.cpuMask = 0;
  guest.kernelModule = -1;
  guest.initrdModule = -1;
  table = Table.Guest;
}

// Required keys of the table that ends here.
function finishTable(): void {
  if (table == Table.Guest) {
    if ((keysSet & (1 << NAME)) == 0) {
      diagnostics.errorAt(tableLine, tableColumn, "name").text("missing in [[guest]]");
    }
    if ((keysSet & (1 << KERNEL)) == 0) {
      let message = diagnostics.errorAt(tableLine, tableColumn, "kernel").text("missing in [[guest]]");
      if (guest.nameLength > 0) message.byte(0x20).quoted(guest.namePointer, guest.nameLength);
    }
  }
  table = Table.Root;
}

// --- keys ---------------------------------------------------------------------------

function setKey(): void {
  let key = reader.keyStart;
  let keyLength = reader.keyLength;
  let value = reader.value;
  if (table == Table.Ignored) return;
  let keys = table == Table.Guest ? GUEST_KEYS : HYPERVISOR_KEYS;
  let index = table == Table.Root ? -1 : keyIndex(key, keyLength, keys);
  if (index < 0) {
    // A broken line already has its error; one per line is enough.
    if (value.kind != ValueKind.Invalid) reportUnknownKey(key, keyLength);
    return;
  }
  let keyLines = KEY_LINES;
  if ((keysSet & (1 << index)) != 0) {
    diagnostics.error(reader.keyLine, reader.keyColumn, key, keyLength)
      .text("duplicate key, already set at line ").decimal(load<u32>(keyLines + <usize>(index * 4)));
    return;
  }
  keysSet |= 1 << index;
  store<u32>(keyLines + <usize>(index * 4), reader.keyLine);
  if (value.kind == ValueKind.Invalid) return;
  if (table == Table.Hypervisor) {
    if (index == TIMESLICE_MS && expectInteger(reader, 1, 1000)) timesliceMs = <u32>value.integer;
    return;
  }
  switch (index) {
    case NAME: setName(reader, guest); break;
    case KERNEL: setPath(reader, guest, false, configFolder, configFolderLength); break;
    case INITRD: setPath(reader, guest, true, configFolder, configFolderLength); break;
    case CMDLINE: setCmdline(reader, guest); break;
    case MEMORY: setMemory(reader, guest); break;
    case VCPUS: if (expectInteger(reader, 1, MAX_GUEST_VCPUS)) guest.vcpus = <u32>value.integer; break;
    case CPUS: setCpus(reader, guest); break;
    case ON_CRASH: setOnCrash(reader, guest); break;
    case MAX_RESTARTS: if (expectInteger(reader, 0, 1000)) guest.maxRestarts = <u32>value.integer; break;
    case STOP_AFTER_MS: if (expectInteger(reader, 1, 86400000)) guest.stopAfterMs = <u32>value.integer; break;
    case CONSOLE_SHARE:
      if (expectInteger(reader, MIN_CONSOLE_BYTES_PER_SECOND, MAX_CONSOLE_BYTES_PER_SECOND)) {
        guest.consoleBytesPerSecond = <u32>value.integer;
      }
      break;
  }
}

function reportUnknownKey(key: usize, keyLength: u32): void {
  let message = diagnostics.error(reader.keyLine, reader.keyColumn, key, keyLength);
  let guestKey = keyIndex(key, keyLength, GUEST_KEYS) >= 0;
  let hypervisorKey = keyIndex(key, keyLength, HYPERVISOR_KEYS) >= 0;
  if (table == Table.Root) {
    message.text("keys must follow a table header");
    if (guestKey) message.text(" (it belongs in [[guest]])");
    else if (hypervisorKey) message.text(" (it belongs in [hypervisor])");
    else message.text(" ([hypervisor] or [[guest]])");
    return;
  }
  let inGuest = table == Table.Guest;
  message.text(inGuest ? "unknown key in [[guest]]" : "unknown key in [hypervisor]");
  if (inGuest && hypervisorKey) {
    message.text(" (it belongs in [hypervisor])");
    return;
  }
  if (!inGuest && guestKey) {
    message.text(" (it belongs in [[guest]])");
    return;
  }
  let keys = inGuest ? GUEST_KEYS : HYPERVISOR_KEYS;
  let suggestion = closestWord(key, keyLength, keys);
  if (suggestion.length > 0) {
    message.text(' (did you mean "').text(suggestion).text('"?)');
    return;
  }
  message.text(" (known keys: ");
  for (let i = 0; i < keys.length; i++) {
    if (i > 0) message.text(", ");
    message.text(unchecked(keys[i]));
  }
  message.text(")");
}

// --- modules ------------------------------------------------------------------------

function findModules(lookup: ModuleLookup): void {
  let count = configGuestCount();
  for (let i: u32 = 0; i < count; i++) {
    let g = configGuest(i);
    g.kernelModule = lookup(g.kernelPointer, g.kernelLength);
    if (g.kernelModule < 0) reportMissingModule(g.kernelLine, g.kernelColumn, "kernel", g.kernelPointer, g.kernelLength);
    if (g.hasInitrd) {
      g.initrdModule = lookup(g.initrdPointer, g.initrdLength);
      if (g.initrdModule < 0) reportMissingModule(g.initrdLine, g.initrdColumn, "initrd", g.initrdPointer, g.initrdLength);
    }
  }
}

// Worded to be true both at boot (boot modules) and in check-config (files).
function reportMissingModule(line: u32, column: u32, key: string, path: usize, length: u32): void {
  diagnostics.errorAt(line, column, key).quoted(path, length, 200)
    .text(" was not found (no boot module or file by that name)");
}

// --- helpers -----------------------------------------------------------------------------

function keyIndex(key: usize, keyLength: u32, keys: StaticArray<string>): i32 {
  for (let i = 0; i < keys.length; i++) {
    if (bytesEqual(key, keyLength, unchecked(keys[i]))) return i;
  }
  return -1;
}
