// What a key's value must be: the kind and range checks every key goes
// through (expectString, expectInteger), and the [[guest]] values that need
// more (name, kernel and initrd paths, cmdline, memory, on_crash, cpus), each
// stored into the guest's record once it passes. A check is given the reader
// (its current key, which every message names, and value) and the record.

import { bytesEqual, bytesSame, TextWriter } from "../lib/text";
import { diagnostics } from "./diagnostics";
import {
  CMDLINE_MAX, configGuest, GuestConfig, guestIndex, MAX_CPU, MAX_MEMORY_BYTES, MEMORY_ALIGNMENT, MIN_MEMORY_BYTES,
  NAME_MAX, PATH_MAX, RESOLVED_PATH_MAX,
} from "./guest_config";
import { resolvePath } from "./paths";
import { NOT_A_SIZE, parseSize } from "./sizes";
import { TomlReader } from "./toml";
import { hexDigitValue } from "./toml_text";
import { ValueKind } from "./toml_value";

// --- [[guest]] values ------------------------------------------------------------

export function setName(reader: TomlReader, guest: GuestConfig): void {
  let value = reader.value;
  if (!expectString(reader)) return;
  let pointer = value.stringPointer;
  let length = value.stringLength;
  if (length == 0) {
    valueError(reader).text('must not be empty (1 to 32 characters: a-z, 0-9 and "-")');
    return;
  }
  if (length > NAME_MAX) {
    valueError(reader).quoted(pointer, value.storedLength, 40).text(" is too long (at most 32 characters)");
    return;
  }
  for (let i: u32 = 0; i < length; i++) {
    let c = <u32>load<u8>(pointer + <usize>i);
    let allowed = (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c == 0x2d;
    if (!allowed) {
      valueError(reader).quoted(pointer, length).text(' may contain only a-z, 0-9 and "-"');
      return;
    }
  }
  if (load<u8>(pointer) == 0x2d || load<u8>(pointer + <usize>(length - 1)) == 0x2d) {
    valueError(reader).quoted(pointer, length).text(' must not start or end with "-"');
    return;
  }
  let index = guestIndex(guest);
  for (let i: u32 = 0; i < index; i++) {
    let other = configGuest(i);
    if (bytesSame(other.namePointer, other.nameLength, pointer, length)) {
      valueError(reader).quoted(pointer, length).text(" is already used by the guest at line ").decimal(other.line);
      return;
    }
  }
  memory.copy(guest.namePointer, pointer, <usize>length);
  guest.nameLength = length;
  guest.nameLine = value.line;
  guest.nameColumn = value.column;
}

export function setPath(reader: TomlReader, guest: GuestConfig, initrd: bool, folder: usize, folderLength: u32): void {
  let value = reader.value;
  if (!expectString(reader)) return;
  let pointer = value.stringPointer;
  let length = value.stringLength;
  if (length == 0) {
    valueError(reader).text("must not be empty (a path to a boot module)");
    return;
  }
  if (length > PATH_MAX) {
    valueError(reader).text("the path is ").decimal(length).text(" bytes long (at most ").decimal(PATH_MAX).text(")");
    return;
  }
  if (firstControlCharacter(pointer, length, false) >= 0) {
    valueError(reader).quoted(pointer, length).text(" contains a control character");
    return;
  }
  let destination = initrd ? guest.initrdPointer : guest.kernelPointer;
  let resolved = resolvePath(folder, folderLength, pointer, length, destination, RESOLVED_PATH_MAX);
  if (resolved < 0) {
    valueError(reader).text("the path is longer than ").decimal(RESOLVED_PATH_MAX)
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

export function setCmdline(reader: TomlReader, guest: GuestConfig): void {
  let value = reader.value;
  if (!expectString(reader)) return;
  let length = value.stringLength;
  if (length > CMDLINE_MAX) {
    valueError(reader).text("is ").decimal(length).text(" bytes long (at most ").decimal(CMDLINE_MAX).text(")");
    return;
  }
  let control = firstControlCharacter(value.stringPointer, length, true);
  if (control >= 0) {
    valueError(reader).text("contains control character U+").hex(<u64>control, 4).text(" (only tab is allowed)");
    return;
  }
  memory.copy(guest.cmdlinePointer, value.stringPointer, <usize>length);
  guest.cmdlineLength = length;
}

export function setMemory(reader: TomlReader, guest: GuestConfig): void {
  let value = reader.value;
  if (value.kind == ValueKind.Integer) {
    valueError(reader).text('expected a string with a size such as "32M", found an integer');
    return;
  }
  if (!expectString(reader)) return;
  let pointer = value.stringPointer;
  let length = value.storedLength;
  let bytes = value.stringLength > 32 ? NOT_A_SIZE : parseSize(pointer, length);
  if (bytes == NOT_A_SIZE) {
    valueError(reader).quoted(pointer, length, 32).text(" is not a size (use K, M or G)");
    return;
  }
  if (bytes < MIN_MEMORY_BYTES || bytes > MAX_MEMORY_BYTES) {
    valueError(reader).quoted(pointer, length).text(" is out of range (1M to 64G)");
    return;
  }
  if (bytes % MEMORY_ALIGNMENT != 0) {
    valueError(reader).quoted(pointer, length).text(" is not a multiple of 4K");
    return;
  }
  guest.memoryBytes = bytes;
}

export function setOnCrash(reader: TomlReader, guest: GuestConfig): void {
  let value = reader.value;
  if (!expectString(reader)) return;
  let pointer = value.stringPointer;
  let length = value.stringLength;
  if (bytesEqual(pointer, length, "stop")) {
    guest.onCrashRestart = false;
  } else if (bytesEqual(pointer, length, "restart")) {
    guest.onCrashRestart = true;
  } else {
    valueError(reader).quoted(pointer, value.storedLength, 32).text(' is not one of "stop", "restart"');
  }
}

// An array of host CPU numbers, each 0..MAX_CPU, none twice. The reader
// keeps only the array's kind and length, so its elements are read again
// here from the source (the reader has checked their syntax), for their
// values and positions.
export function setCpus(reader: TomlReader, guest: GuestConfig): void {
  let value = reader.value;
  if (value.kind != ValueKind.Array || value.arrayKind == ValueKind.String) {
    let found = value.kind == ValueKind.Array ? "an array of strings" : describeKind(value.kind);
    valueError(reader).text("expected an array of CPU numbers, found ").text(found);
    return;
  }
  if (value.arrayLength == 0) {
    valueError(reader).text("the list is empty");
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
      let d = hexDigitValue(<u32>load<u8>(p));
      if (d >= <i32>base) d = -1; // a hex digit ends a decimal number
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

// --- helpers -----------------------------------------------------------------------------

// Starts an error at the current value, naming the current key.
function valueError(reader: TomlReader): TextWriter {
  let value = reader.value;
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

export function expectString(reader: TomlReader): bool {
  let value = reader.value;
  if (value.kind == ValueKind.String) return true;
  valueError(reader).text("expected a string, found ").text(describeKind(value.kind));
  return false;
}

// An integer in [min, max]; out-of-range values are quoted as written.
export function expectInteger(reader: TomlReader, min: i64, max: i64): bool {
  let value = reader.value;
  if (value.kind != ValueKind.Integer) {
    valueError(reader).text("expected an integer, found ").text(describeKind(value.kind));
    return false;
  }
  if (value.integerTooLarge || value.integer < min || value.integer > max) {
    let raw = value.rawLength;
    let message = valueError(reader);
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
