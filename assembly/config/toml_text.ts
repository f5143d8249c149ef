// The bytes of a hv.toml file, below the parser: the check that it is clean
// UTF-8 (checkEncoding, run before TomlReader), UTF-8 sequence lengths, the
// byte order mark, and the character codes and classes of the TOML syntax.

import { Diagnostics } from "./diagnostics";

export const QUOTE: u32 = 0x22; // "
export const APOSTROPHE: u32 = 0x27; // '
export const BACKSLASH: u32 = 0x5c;
export const HASH: u32 = 0x23;
export const EQUALS: u32 = 0x3d;
export const OPEN_BRACKET: u32 = 0x5b;
export const CLOSE_BRACKET: u32 = 0x5d;
export const COMMA: u32 = 0x2c;
export const NEWLINE: u32 = 0x0a;
export const CARRIAGE_RETURN: u32 = 0x0d;

// --- encoding ------------------------------------------------------------------

// Checks that the file is UTF-8 without NUL or other control characters
// (tab is allowed; CR only before LF). Reports the first bad byte of each
// line; answers whether the file is clean. The parser runs only on clean
// files, so columns can count characters.
export function checkEncoding(pointer: usize, length: u32, diagnostics: Diagnostics): bool {
  let end = pointer + <usize>length;
  let p = pointer + <usize>byteOrderMarkLength(pointer, length);
  let line: u32 = 1;
  let lineStart = p;
  let reportedLine: u32 = 0;
  let clean = true;
  while (p < end) {
    let b = <u32>load<u8>(p);
    if (b == NEWLINE) {
      p++;
      line++;
      lineStart = p;
      continue;
    }
    if (b == 0x09 || (b >= 0x20 && b < 0x7f)) {
      p++;
      continue;
    }
    if (b == CARRIAGE_RETURN && p + 1 < end && <u32>load<u8>(p + 1) == NEWLINE) {
      p++;
      continue;
    }
    let sequence: u32 = b < 0x80 ? 0 : utf8SequenceLength(p, end);
    if (sequence > 0) {
      p += <usize>sequence;
      continue;
    }
    clean = false;
    if (line != reportedLine) {
      reportedLine = line;
      let column: u32 = 1;
      for (let q = lineStart; q < p; q++) {
        if ((<u32>load<u8>(q) & 0xc0) != 0x80) column++;
      }
      let message = diagnostics.error(line, column, 0, 0);
      if (b == CARRIAGE_RETURN) {
        message.text("a carriage return (\\r) must be followed by a newline");
      } else if (b < 0x80) {
        message.text("control character U+").hex(b, 4).text(" is not allowed");
      } else {
        message.text("invalid UTF-8 (byte 0x").hex(b, 2).text(")");
      }
    }
    p++;
  }
  return clean;
}

// Length of the well-formed UTF-8 sequence (2 to 4 bytes) at p, or 0
// (overlong forms, surrogates and values above U+10FFFF are not well-formed).
export function utf8SequenceLength(p: usize, end: usize): u32 {
  let b = <u32>load<u8>(p);
  let length: u32;
  let low: u32 = 0x80;
  let high: u32 = 0xbf;
  if (b >= 0xc2 && b <= 0xdf) {
    length = 2;
  } else if (b >= 0xe0 && b <= 0xef) {
    length = 3;
    if (b == 0xe0) low = 0xa0;
    if (b == 0xed) high = 0x9f;
  } else if (b >= 0xf0 && b <= 0xf4) {
    length = 4;
    if (b == 0xf0) low = 0x90;
    if (b == 0xf4) high = 0x8f;
  } else {
    return 0;
  }
  if (p + <usize>length > end) return 0;
  let second = <u32>load<u8>(p + 1);
  if (second < low || second > high) return 0;
  for (let i: u32 = 2; i < length; i++) {
    let c = <u32>load<u8>(p + <usize>i);
    if ((c & 0xc0) != 0x80) return 0;
  }
  return length;
}

// Bytes in the character at p (by its lead byte), clipped to end.
export function utf8Length(p: usize, end: usize): u32 {
  let c = <u32>load<u8>(p);
  let length: u32 = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
  if (p + <usize>length > end) length = <u32>(end - p);
  return length;
}

export function byteOrderMarkLength(pointer: usize, length: u32): u32 {
  if (length >= 3 && load<u8>(pointer) == 0xef && load<u8>(pointer + 1) == 0xbb && load<u8>(pointer + 2) == 0xbf) return 3;
  return 0;
}

// --- character classes -------------------------------------------------------------

export function isBareKeyCharacter(c: u32): bool {
  return isLetter(c) || isDigit(c) || c == 0x5f || c == 0x2d;
}

export function isLetter(c: u32): bool {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

export function isDigit(c: u32): bool {
  return c >= 0x30 && c <= 0x39;
}

export function hexDigitValue(c: u32): i32 {
  if (c >= 0x30 && c <= 0x39) return <i32>(c - 0x30);
  if (c >= 0x61 && c <= 0x66) return <i32>(c - 0x61 + 10);
  if (c >= 0x41 && c <= 0x46) return <i32>(c - 0x41 + 10);
  return -1;
}

export function bytesAre(pointer: usize, length: u32, word: string): bool {
  if (<u32>word.length != length) return false;
  for (let i: u32 = 0; i < length; i++) {
    if (<u32>load<u8>(pointer + <usize>i) != <u32>word.charCodeAt(<i32>i)) return false;
  }
  return true;
}
