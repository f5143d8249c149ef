// A value as TomlReader answers it (toml.ts): its kind, where it is in the
// source, and what it holds. Strings are decoded into one static buffer,
// which each string value overwrites.

export enum ValueKind {
  Invalid, // a syntax error was reported for it
  String,
  Integer,
  Boolean,
  Array,
}

// Decoded string values are kept up to this many bytes (every string the
// schema stores is shorter); longer ones still report their full length.
export const STRING_CAPACITY: u32 = 8192;
const STRING_BYTES: usize = memory.data(<i32>STRING_CAPACITY, 16);

export class Value {
  kind: ValueKind = ValueKind.Invalid;
  // Where the value starts (its first byte, e.g. the opening quote).
  line: u32 = 0;
  column: u32 = 0;
  // The value's bytes as written in the source: [start, end).
  start: usize = 0;
  end: usize = 0;
  integer: i64 = 0;
  // The integer does not fit in an i64 (`integer` is then meaningless).
  integerTooLarge: bool = false;
  boolean: bool = false;
  // Decoded length of a string; its first min(length, STRING_CAPACITY) bytes
  // are at stringPointer.
  stringLength: u32 = 0;
  arrayLength: u32 = 0;
  // Kind of the array's elements (Invalid for an empty array).
  arrayKind: ValueKind = ValueKind.Invalid;

  get stringPointer(): usize {
    return STRING_BYTES;
  }

  // The decoded string was longer than STRING_CAPACITY and is cut.
  get stringCut(): bool {
    return this.stringLength > STRING_CAPACITY;
  }

  get storedLength(): u32 {
    return this.stringLength < STRING_CAPACITY ? this.stringLength : STRING_CAPACITY;
  }

  get rawLength(): u32 {
    return <u32>(this.end - this.start);
  }
}

// Appends a byte to the string being decoded: bytes past STRING_CAPACITY
// are counted, not kept.
export function putStringByte(value: Value, b: u32): void {
  if (value.stringLength < STRING_CAPACITY) store<u8>(STRING_BYTES + <usize>value.stringLength, <u8>b);
  if (value.stringLength < u32.MAX_VALUE) value.stringLength++;
}

// Appends a code point (at most U+FFFF: it comes from a \uXXXX escape) as
// UTF-8.
export function putCodePoint(value: Value, code: u32): void {
  if (code < 0x80) {
    putStringByte(value, code);
  } else if (code < 0x800) {
    putStringByte(value, 0xc0 | (code >> 6));
    putStringByte(value, 0x80 | (code & 0x3f));
  } else {
    putStringByte(value, 0xe0 | (code >> 12));
    putStringByte(value, 0x80 | ((code >> 6) & 0x3f));
    putStringByte(value, 0x80 | (code & 0x3f));
  }
}
