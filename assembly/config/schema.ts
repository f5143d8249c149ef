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

import { bytesEqual, bytesSame, TextWriter } from "../lib/text";
import { diagnostics } from "./diagnostics";
import { folderLength, resolvePath } from "./paths";
import { GiB, KiB, MiB, NOT_A_SIZE, parseSize } from "./sizes";
import { closestWord } from "./suggest";
import { checkEncoding, Statement, TomlReader, Value, ValueKind } from "./toml";

// Answers the index of the boot module named exactly by the bytes, or -1.
export type ModuleLookup = (pointer: usize, length: u32) => i32;

// Guests a config may describe. RAM binds first: 256 guests of 8 MiB need
// more than a 2 GiB host has (make bench, P6). Every table sized by it:
// sched/, supervisor/, linker/core.h's CORE_MAX_GUESTS.
export const MAX_GUESTS: u32 = 256;
// Larger config modules are refused before parsing.
export const MAX_CONFIG_BYTES: u32 = 1 << 20;

export const NAME_MAX: u32 = 32;
export const CMDLINE_MAX: u32 = 4095;
// A kernel/initrd path as written, and once resolved against the folder.
export const PATH_MAX: u32 = 1024;
export const RESOLVED_PATH_MAX: u32 = 2047;

export const DEFAULT_TIMESLICE_MS: u32 = 10;
export const DEFAULT_MEMORY_BYTES: u64 = 32 * MiB;
export const DEFAULT_VCPUS: u32 = 1;
// The guest VMM's MAX_VCPUS (assembly/guest/machine.ts): one local APIC,
// ExitRecord and MsrFile each, the I/O APIC's 4-bit ID after them.
export const MAX_GUEST_VCPUS: u32 = 8;
export const DEFAULT_MAX_RESTARTS: u32 = 3;
// console_bytes_per_second: what a guest's share of the host console may be
// pinned to (supervisor/console_share.ts caps a measured share the same).
export const MIN_CONSOLE_BYTES_PER_SECOND: u32 = 100;
export const MAX_CONSOLE_BYTES_PER_SECOND: u32 = 10000000;

export const MIN_MEMORY_BYTES: u64 = MiB;
export const MAX_MEMORY_BYTES: u64 = 64 * GiB;
export const MEMORY_ALIGNMENT: u64 = 4 * KiB;

// Host CPU numbers a guest can be pinned to: 0..MAX_CPU.
export const MAX_CPU: u32 = 63;

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

// --- the parsed config -----------------------------------------------------------

// One [[guest]], with its strings inline (UTF-8, not NUL-terminated).
@unmanaged
export class GuestConfig {
  // Its [[guest]] header.
  line: u32;
  column: u32;
  nameLength: u32;
  nameLine: u32;
  nameColumn: u32;
  kernelLength: u32; // resolved
  kernelLine: u32;
  kernelColumn: u32;
  initrdLength: u32; // resolved; 0 if none
  initrdLine: u32;
  initrdColumn: u32;
  cmdlineLength: u32;
  memoryBytes: u64;
  vcpus: u32;
  maxRestarts: u32;
  stopAfterMs: u32;  // 0: never
  consoleBytesPerSecond: u32; // 0: the host's share (supervisor/console_share.ts)
  onCrashRestart: bool;
  hasInitrd: bool;
  kernelModule: i32;
  initrdModule: i32;
  // Host CPUs it may run on: bit n = CPU n; 0 = any (no `cpus`).
  cpuMask: u64;

  get namePointer(): usize {
    return changetype<usize>(this) + GUEST_NAME_OFFSET;
  }
  get cmdlinePointer(): usize {
    return changetype<usize>(this) + GUEST_CMDLINE_OFFSET;
  }
  get kernelPointer(): usize {
    return changetype<usize>(this) + GUEST_KERNEL_OFFSET;
  }
  get initrdPointer(): usize {
    return changetype<usize>(this) + GUEST_INITRD_OFFSET;
  }
}

// Record layout: the fields, then name, cmdline, kernel and initrd bytes.
const GUEST_NAME_OFFSET: usize = 128;
const GUEST_CMDLINE_OFFSET: usize = GUEST_NAME_OFFSET + 32;
const GUEST_KERNEL_OFFSET: usize = GUEST_CMDLINE_OFFSET + 4096;
const GUEST_INITRD_OFFSET: usize = GUEST_KERNEL_OFFSET + 2048;
const GUEST_RECORD_BYTES: usize = GUEST_INITRD_OFFSET + 2048;
// One record more than MAX_GUESTS: guests past the limit are still checked,
// in the spare record, so their errors are reported too.
const GUEST_RECORDS: usize = memory.data(<i32>((MAX_GUESTS + 1) * <u32>GUEST_RECORD_BYTES), 16);

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
let guest: GuestConfig = changetype<GuestConfig>(GUEST_RECORDS);
let configFolder: usize = 0;
let configFolderLength: u32 = 0;

// --- results ------------------------------------------------------------------

// Guests of a valid config (0 while there are errors).
export function configGuestCount(): u32 {
  if (diagnostics.count > 0) return 0;
  return guestTables < MAX_GUESTS ? guestTables : MAX_GUESTS;
}

// Guest `index` (< configGuestCount()).
export function configGuest(index: u32): GuestConfig {
  return changetype<GuestConfig>(GUEST_RECORDS + <usize>index * GUEST_RECORD_BYTES);
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
    if (index == TIMESLICE_MS && expectInteger(value, 1, 1000)) timesliceMs = <u32>value.integer;
    return;
  }
  switch (index) {
    case NAME: setName(value); break;
    case KERNEL: setPath(value, false); break;
    case INITRD: setPath(value, true); break;
    case CMDLINE: setCmdline(value); break;
    case MEMORY: setMemory(value); break;
    case VCPUS: if (expectInteger(value, 1, MAX_GUEST_VCPUS)) guest.vcpus = <u32>value.integer; break;
    case CPUS: setCpus(value); break;
    case ON_CRASH: setOnCrash(value); break;
    case MAX_RESTARTS: if (expectInteger(value, 0, 1000)) guest.maxRestarts = <u32>value.integer; break;
    case STOP_AFTER_MS: if (expectInteger(value, 1, 86400000)) guest.stopAfterMs = <u32>value.integer; break;
    case CONSOLE_SHARE:
      if (expectInteger(value, MIN_CONSOLE_BYTES_PER_SECOND, MAX_CONSOLE_BYTES_PER_SECOND)) {
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

function setName(value: Value): void {
  if (!expectString(value)) return;
  let pointer = value.stringPointer;
  let length = value.stringLength;
  if (length == 0) {
    valueError(value).text('must not be empty (1 to 32 characters: a-z, 0-9 and "-")');
    return;
  }
  if (length > NAME_MAX) {
    valueError(value).quoted(pointer, value.storedLength, 40).text(" is too long (at most 32 characters)");
    return;
  }
  for (let i: u32 = 0; i < length; i++) {
    let c = <u32>load<u8>(pointer + <usize>i);
    let allowed = (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c == 0x2d;
    if (!allowed) {
      valueError(value).quoted(pointer, length).text(' may contain only a-z, 0-9 and "-"');
      return;
    }
  }
  if (load<u8>(pointer) == 0x2d || load<u8>(pointer + <usize>(length - 1)) == 0x2d) {
    valueError(value).quoted(pointer, length).text(' must not start or end with "-"');
    return;
  }
  let index = guestIndex();
  for (let i: u32 = 0; i < index; i++) {
    let other = configGuest(i);
    if (bytesSame(other.namePointer, other.nameLength, pointer, length)) {
      valueError(value).quoted(pointer, length).text(" is already used by the guest at line ").decimal(other.line);
      return;
    }
  }
  memory.copy(guest.namePointer, pointer, <usize>length);
  guest.nameLength = length;
  guest.nameLine = value.line;
  guest.nameColumn = value.column;
}

function setPath(value: Value, initrd: bool): void {
  if (!expectString(value)) return;
  let pointer = value.stringPointer;
  let length = value.stringLength;
  if (length == 0) {
    valueError(value).text("must not be empty (a path to a boot module)");
    return;
  }
  if (length > PATH_MAX) {
    valueError(value).text("the path is ").decimal(length).text(" bytes long (at most ").decimal(PATH_MAX).text(")");
    return;
  }
  if (firstControlCharacter(pointer, length, false) >= 0) {
    valueError(value).quoted(pointer, length).text(" contains a control character");
    return;
  }
  let destination = initrd ? guest.initrdPointer : guest.kernelPointer;
  let resolved = resolvePath(configFolder, configFolderLength, pointer, length, destination, RESOLVED_PATH_MAX);
  if (resolved < 0) {
    valueError(value).text("the path is longer than ").decimal(RESOLVED_PATH_MAX)
      .text(" bytes once resolved against the config's folder");
    return;
  }
  if (initrd) {
    guest.initrdLength = <u32>resolved;
    guest.hasInitrd = true;
    guest.initrdLine = value.line;
    guest.initrdColumn = value.column;
  } else {
    guest.kernelLength = <u32>resolved;
    guest.kernelLine = value.line;
    guest.kernelColumn = value.column;
  }
}

function setCmdline(value: Value): void {
  if (!expectString(value)) return;
  let length = value.stringLength;
  if (length > CMDLINE_MAX) {
    valueError(value).text("is ").decimal(length).text(" bytes long (at most ").decimal(CMDLINE_MAX).text(")");
    return;
  }
  let control = firstControlCharacter(value.stringPointer, length, true);
  if (control >= 0) {
    valueError(value).text("contains control character U+").hex(<u64>control, 4).text(" (only tab is allowed)");
    return;
  }
  memory.copy(guest.cmdlinePointer, value.stringPointer, <usize>length);
  guest.cmdlineLength = length;
}

function setMemory(value: Value): void {
  if (value.kind == ValueKind.Integer) {
    valueError(value).text('expected a string with a size such as "32M", found an integer');
    return;
  }
  if (!expectString(value)) return;
  let pointer = value.stringPointer;
  let length = value.storedLength;
  let bytes = value.stringLength > 32 ? NOT_A_SIZE : parseSize(pointer, length);
  if (bytes == NOT_A_SIZE) {
    valueError(value).quoted(pointer, length, 32).text(" is not a size (use K, M or G)");
    return;
  }
  if (bytes < MIN_MEMORY_BYTES || bytes > MAX_MEMORY_BYTES) {
    valueError(value).quoted(pointer, length).text(" is out of range (1M to 64G)");
    return;
  }
  if (bytes % MEMORY_ALIGNMENT != 0) {
    valueError(value).quoted(pointer, length).text(" is not a multiple of 4K");
    return;
  }
  guest.memoryBytes = bytes;
}

function setOnCrash(value: Value): void {
  if (!expectString(value)) return;
  let pointer = value.stringPointer;
  let length = value.stringLength;
  if (bytesEqual(pointer, length, "stop")) {
    guest.onCrashRestart = false;
  } else if (bytesEqual(pointer, length, "restart")) {
    guest.onCrashRestart = true;
  } else {
    valueError(value).quoted(pointer, value.storedLength, 32).text(' is not one of "stop", "restart"');
  }
}

// An array of host CPU numbers, each 0..MAX_CPU, none twice. The reader
// keeps only the array's kind and length, so its elements are read again
// here from the source (the reader has checked their syntax), for their
// values and positions.
function setCpus(value: Value): void {
  if (value.kind != ValueKind.Array || value.arrayKind == ValueKind.String) {
    let found = value.kind == ValueKind.Array ? "an array of strings" : describeKind(value.kind);
    valueError(value).text("expected an array of CPU numbers, found ").text(found);
    return;
  }
  if (value.arrayLength == 0) {
    valueError(value).text("the list is empty");
    return;
  }
  let mask: u64 = 0;
  let p = value.start + 1; // after "["
  let end = value.end;
  let line = value.line;
  let column = value.column + 1;
  while (p < end) {
    let c = <u32>load<u8>(p);
    if (c == 0x0a) {
      p++;
      line++;
      column = 1;
      continue;
    }
    if (c == 0x23) { // a comment, to the end of its line
      while (p < end && load<u8>(p) != 0x0a) {
        if ((<u32>load<u8>(p) & 0xc0) != 0x80) column++;
        p++;
      }
      continue;
    }
    if (c == 0x20 || c == 0x09 || c == 0x0d || c == 0x2c) {
      p++;
      column++;
      continue;
    }
    if (c == 0x5d) break;
    // An integer: [+-]digits with "_", or 0x and hex digits.
    let start = p;
    let negative = c == 0x2d;
    if (c == 0x2b || c == 0x2d) p++;
    let base: u64 = 10;
    if (p + 1 < end && load<u8>(p) == 0x30 && load<u8>(p + 1) == 0x78) {
      base = 16;
      p += 2;
    }
    let number: u64 = 0; // saturates above MAX_CPU
    while (p < end) {
      let d = digitValue(<u32>load<u8>(p), base);
      if (d < 0 && load<u8>(p) != 0x5f) break;
      if (d >= 0 && number <= <u64>MAX_CPU) number = number * base + <u64>d;
      p++;
    }
    let length = <u32>(p - start);
    if (length == 0) { // not reached: the reader let only integers through
      p++;
      column++;
      continue;
    }
    if ((negative && number != 0) || number > <u64>MAX_CPU) {
      let message = diagnostics.error(line, column, reader.keyStart, reader.keyLength);
      if (length <= 32) message.bytes(start, length);
      else message.bytes(start, 32).text("...");
      message.text(" is out of range (0 to ").decimal(MAX_CPU).text(")");
      return;
    }
    let bit = <u64>1 << number;
    if ((mask & bit) != 0) {
      diagnostics.error(line, column, reader.keyStart, reader.keyLength).decimal(number).text(" is listed twice");
      return;
    }
    mask |= bit;
    column += length;
  }
  guest.cpuMask = mask;
}

function digitValue(c: u32, base: u64): i32 {
  if (c >= 0x30 && c <= 0x39) return <i32>(c - 0x30);
  if (base == 16 && c >= 0x61 && c <= 0x66) return <i32>(c - 0x61 + 10);
  if (base == 16 && c >= 0x41 && c <= 0x46) return <i32>(c - 0x41 + 10);
  return -1;
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

function guestIndex(): u32 {
  return <u32>((changetype<usize>(guest) - GUEST_RECORDS) / GUEST_RECORD_BYTES);
}

function keyIndex(key: usize, keyLength: u32, keys: StaticArray<string>): i32 {
  for (let i = 0; i < keys.length; i++) {
    if (bytesEqual(key, keyLength, unchecked(keys[i]))) return i;
  }
  return -1;
}

// Starts an error at the current value, naming the current key.
function valueError(value: Value): TextWriter {
  return diagnostics.error(value.line, value.column, reader.keyStart, reader.keyLength);
}

function describeKind(kind: ValueKind): string {
  switch (kind) {
    case ValueKind.String: return "a string";
    case ValueKind.Integer: return "an integer";
    case ValueKind.Boolean: return "a boolean";
    case ValueKind.Array: return "an array";
  }
  return "nothing";
}

function expectString(value: Value): bool {
  if (value.kind == ValueKind.String) return true;
  valueError(value).text("expected a string, found ").text(describeKind(value.kind));
  return false;
}

// An integer in [min, max]; out-of-range values are quoted as written.
function expectInteger(value: Value, min: i64, max: i64): bool {
  if (value.kind != ValueKind.Integer) {
    valueError(value).text("expected an integer, found ").text(describeKind(value.kind));
    return false;
  }
  if (value.integerTooLarge || value.integer < min || value.integer > max) {
    let raw = value.rawLength;
    let message = valueError(value);
    if (raw <= 32) message.bytes(value.start, raw);
    else message.bytes(value.start, 32).text("...");
    message.text(" is out of range (").signedDecimal(min).text(" to ").signedDecimal(max).text(")");
    return false;
  }
  return true;
}

// The first control character (U+0000..U+001F, U+007F) in the bytes, or -1.
function firstControlCharacter(pointer: usize, length: u32, allowTab: bool): i32 {
  for (let i: u32 = 0; i < length; i++) {
    let c = <u32>load<u8>(pointer + <usize>i);
    if ((c < 0x20 && !(allowTab && c == 0x09)) || c == 0x7f) return <i32>c;
  }
  return -1;
}
