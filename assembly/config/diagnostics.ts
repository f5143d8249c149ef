// The config's errors: values, never traps. Every error is counted; the first
// REPORTED_ERRORS are kept in full (line, column, "key: what is wrong") in
// fixed slots, so a hostile file with a million errors costs no memory.
//
// The file name is not stored: it is added when a message is printed
// (`<file>:<line>:<column>: <key>: <what is wrong>`).

import { TextWriter } from "../lib/text";

export const REPORTED_ERRORS: u32 = 20;

// Slot layout: u32 line, u32 column, u32 text length, then the text.
const SLOT_BYTES: u32 = 512;
const SLOT_HEADER: u32 = 12;
const SLOT_TEXT: u32 = SLOT_BYTES - SLOT_HEADER;
const SLOTS: usize = memory.data(<i32>(REPORTED_ERRORS * SLOT_BYTES), 16);

// Keys in messages are cut to this many characters (a key can be as long as
// the file).
const KEY_CHARACTERS: u32 = 48;

export class Diagnostics {
  count: u32 = 0;
  // The slot being written (its length is recorded when the next error
  // starts or when the messages are read), -1 if none.
  private open: i32 = -1;
  private writer: TextWriter = new TextWriter();
  // Capacity 0: absorbs the text of errors beyond the kept ones.
  private discard: TextWriter = new TextWriter();

  clear(): void {
    this.count = 0;
    this.open = -1;
  }

  // Starts an error at line:column about `key` (a byte range, or length 0
  // for none); the caller appends what is wrong to the returned writer.
  // Kept errors stay in file order (errors found late, such as a key missing
  // from a table, slot in where they belong), so the ones kept are the first
  // REPORTED_ERRORS of the file.
  error(line: u32, column: u32, keyPointer: usize, keyLength: u32): TextWriter {
    this.close();
    let kept = this.kept;
    this.count++;
    // After the kept errors with the same or an earlier position.
    let index = kept;
    while (index > 0 && isBefore(line, column, this.line(index - 1), this.column(index - 1))) index--;
    if (index >= REPORTED_ERRORS) return this.discard.clear();
    let moved = kept < REPORTED_ERRORS ? kept - index : kept - index - 1;
    if (moved > 0) memory.copy(slotOf(index + 1), slotOf(index), <usize>(moved * SLOT_BYTES));
    let slot = slotOf(index);
    store<u32>(slot, line);
    store<u32>(slot, column, 4);
    store<u32>(slot, 0, 8);
    this.open = <i32>index;
    let writer = this.writer.reset(slot + SLOT_HEADER, SLOT_TEXT);
    if (keyLength > 0) {
      writeKey(writer, keyPointer, keyLength);
      writer.text(": ");
    }
    return writer;
  }

  // Same, for a key given as a string.
  errorAt(line: u32, column: u32, key: string): TextWriter {
    let writer = this.error(line, column, 0, 0);
    if (key.length > 0) writer.text(key).text(": ");
    return writer;
  }

  // How many errors are kept in full (at most REPORTED_ERRORS).
  get kept(): u32 {
    return this.count < REPORTED_ERRORS ? this.count : REPORTED_ERRORS;
  }

  line(index: u32): u32 {
    return index < this.kept ? load<u32>(slotOf(index)) : 0;
  }

  column(index: u32): u32 {
    return index < this.kept ? load<u32>(slotOf(index), 4) : 0;
  }

  textPointer(index: u32): usize {
    return slotOf(index) + SLOT_HEADER;
  }

  textLength(index: u32): u32 {
    this.close();
    return index < this.kept ? load<u32>(slotOf(index), 8) : 0;
  }

  // Writes error `index` as `<file>:<line>:<column>: <key>: <what>`.
  render(index: u32, writer: TextWriter, filePointer: usize, fileLength: u32): TextWriter {
    writer.bytes(filePointer, fileLength).byte(0x3a);
    writer.decimal(this.line(index)).byte(0x3a).decimal(this.column(index)).text(": ");
    return writer.bytes(this.textPointer(index), this.textLength(index));
  }

  private close(): void {
    if (this.open >= 0) {
      store<u32>(slotOf(<u32>this.open), this.writer.length, 8);
      this.open = -1;
    }
  }
}

function isBefore(line: u32, column: u32, otherLine: u32, otherColumn: u32): bool {
  return line < otherLine || (line == otherLine && column < otherColumn);
}

function slotOf(index: u32): usize {
  return SLOTS + <usize>(index * SLOT_BYTES);
}

// Keys are bare keys ([A-Za-z0-9_-]), written as they are; only their length
// is bounded.
function writeKey(writer: TextWriter, pointer: usize, length: u32): void {
  if (length <= KEY_CHARACTERS) {
    writer.bytes(pointer, length);
  } else {
    writer.bytes(pointer, KEY_CHARACTERS).text("...");
  }
}

// The one instance: config errors, reset by each parse.
export const diagnostics = new Diagnostics();
