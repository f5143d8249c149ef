// Text output without allocation: a TextWriter formats into a fixed byte
// region it does not own (a static buffer, a message slot). Writing past the
// region's end drops the bytes and sets `truncated`; it never traps.
//
// Text is UTF-8. AssemblyScript string literals (UTF-16) are encoded on the
// way in, so messages can be written as ordinary literals.

// Scratch for decimal digits, filled backwards (u64 has at most 20 digits).
const DIGITS: usize = memory.data(24);

export class TextWriter {
  pointer: usize = 0;
  capacity: u32 = 0;
  length: u32 = 0;
  truncated: bool = false;

  constructor(pointer: usize = 0, capacity: u32 = 0) {
    this.pointer = pointer;
    this.capacity = capacity;
  }

  // Points the writer at a new region, empty.
  reset(pointer: usize, capacity: u32): TextWriter {
    this.pointer = pointer;
    this.capacity = capacity;
    this.length = 0;
    this.truncated = false;
    return this;
  }

  clear(): TextWriter {
    this.length = 0;
    this.truncated = false;
    return this;
  }

  byte(value: u32): TextWriter {
    if (this.length < this.capacity) {
      store<u8>(this.pointer + <usize>this.length, <u8>value);
      this.length++;
    } else {
      this.truncated = true;
    }
    return this;
  }

  bytes(pointer: usize, length: u32): TextWriter {
    let room = this.capacity - this.length;
    let count = length;
    if (count > room) {
      count = room;
      this.truncated = true;
    }
    memory.copy(this.pointer + <usize>this.length, pointer, <usize>count);
    this.length += count;
    return this;
  }

  // Appends a string, encoded as UTF-8 (lone surrogates become U+FFFD).
  text(value: string): TextWriter {
    let count = value.length;
    for (let i = 0; i < count; i++) {
      let unit = <u32>value.charCodeAt(i);
      if (unit >= 0xd800 && unit < 0xdc00 && i + 1 < count) {
        let low = <u32>value.charCodeAt(i + 1);
        if (low >= 0xdc00 && low < 0xe000) {
          this.codePoint(0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00));
          i++;
          continue;
        }
      }
      if (unit >= 0xd800 && unit < 0xe000) unit = 0xfffd;
      this.codePoint(unit);
    }
    return this;
  }

  // Appends one Unicode scalar value as UTF-8.
  codePoint(value: u32): TextWriter {
    if (value < 0x80) {
      this.byte(value);
    } else if (value < 0x800) {
      this.byte(0xc0 | (value >> 6));
      this.byte(0x80 | (value & 0x3f));
    } else if (value < 0x10000) {
      this.byte(0xe0 | (value >> 12));
      this.byte(0x80 | ((value >> 6) & 0x3f));
      this.byte(0x80 | (value & 0x3f));
    } else {
      this.byte(0xf0 | (value >> 18));
      this.byte(0x80 | ((value >> 12) & 0x3f));
      this.byte(0x80 | ((value >> 6) & 0x3f));
      this.byte(0x80 | (value & 0x3f));
    }
    return this;
  }

  // Appends an unsigned integer in decimal.
  decimal(value: u64): TextWriter {
    let end = DIGITS + 24;
    let at = end;
    do {
      at--;
      store<u8>(at, <u8>(0x30 + <u32>(value % 10)));
      value /= 10;
    } while (value != 0);
    return this.bytes(at, <u32>(end - at));
  }

  // Appends a signed integer in decimal.
  signedDecimal(value: i64): TextWriter {
    if (value < 0) {
      this.byte(0x2d); // '-'
      // Two's complement negation as u64 is right even for i64.MIN_VALUE.
      return this.decimal(<u64>0 - <u64>value);
    }
    return this.decimal(<u64>value);
  }

  // Appends `value` hexadecimal digits, upper case, zero-padded to `digits`.
  hex(value: u64, digits: u32): TextWriter {
    for (let shift = <i32>digits * 4 - 4; shift >= 0; shift -= 4) {
      let nibble = <u32>((value >> <u64>shift) & 0xf);
      this.byte(nibble < 10 ? 0x30 + nibble : 0x41 + nibble - 10);
    }
    return this;
  }

  // "1 guest" / "2 guests".
  count(value: u64, singular: string, plural: string): TextWriter {
    this.decimal(value).byte(0x20);
    return this.text(value == 1 ? singular : plural);
  }

  // Appends bytes as a double-quoted string a reader can trust: `"` and `\`
  // are escaped, control characters are written as \t \n \r or \u00XX, and
  // after `maxCharacters` characters the rest is replaced by "...". The
  // bytes are expected to be UTF-8; other bytes are copied as they are.
  quoted(pointer: usize, length: u32, maxCharacters: u32 = 64): TextWriter {
    this.byte(0x22);
    let characters: u32 = 0;
    for (let i: u32 = 0; i < length; i++) {
      let b = <u32>load<u8>(pointer + <usize>i);
      let continuation = (b & 0xc0) == 0x80;
      if (!continuation) {
        if (characters == maxCharacters) {
          this.byte(0x2e).byte(0x2e).byte(0x2e);
          break;
        }
        characters++;
      }
      if (b == 0x22 || b == 0x5c) {
        this.byte(0x5c).byte(b);
      } else if (b == 0x09) {
        this.byte(0x5c).byte(0x74);
      } else if (b == 0x0a) {
        this.byte(0x5c).byte(0x6e);
      } else if (b == 0x0d) {
        this.byte(0x5c).byte(0x72);
      } else if (b < 0x20 || b == 0x7f) {
        this.byte(0x5c).byte(0x75).hex(b, 4);
      } else {
        this.byte(b);
      }
    }
    return this.byte(0x22);
  }

  // Copies the text out as a managed string (for tests and Node tooling;
  // the core itself hands pointer/length to the host).
  toString(): string {
    return String.UTF8.decodeUnsafe(this.pointer, <usize>this.length);
  }
}

// True if bytes [pointer, pointer+length) equal the ASCII string `text`.
export function bytesEqual(pointer: usize, length: u32, text: string): bool {
  if (<u32>text.length != length) return false;
  for (let i: u32 = 0; i < length; i++) {
    if (<u32>load<u8>(pointer + <usize>i) != <u32>text.charCodeAt(<i32>i)) return false;
  }
  return true;
}

// True if two byte ranges hold the same bytes.
export function bytesSame(a: usize, aLength: u32, b: usize, bLength: u32): bool {
  if (aLength != bLength) return false;
  return memory.compare(a, b, <usize>aLength) == 0;
}
