// The byte cursor TomlReader (toml.ts) is built on: where it is in the
// source (line and column), skipping spaces, line ends and comments, naming
// what is at a position for a message, and the recovery that skips the
// rest of a broken statement.

import { TextWriter } from "../lib/text";
import { Diagnostics } from "./diagnostics";
import {
  APOSTROPHE, BACKSLASH, byteOrderMarkLength, bytesAre, CARRIAGE_RETURN, CLOSE_BRACKET, HASH, isBareKeyCharacter,
  NEWLINE, OPEN_BRACKET, QUOTE, utf8Length,
} from "./toml_text";

export class TomlScanner {
  protected diagnostics: Diagnostics;
  protected end: usize = 0;
  protected pos: usize = 0;
  protected line: u32 = 1;
  protected lineStart: usize = 0;
  // > 0 while inside an array: how error recovery finds the statement's end.
  protected arrayDepth: i32 = 0;

  constructor(diagnostics: Diagnostics) {
    this.diagnostics = diagnostics;
  }

  // Starts reading `length` bytes at `pointer` (checked by checkEncoding).
  reset(pointer: usize, length: u32): void {
    this.end = pointer + <usize>length;
    this.pos = pointer + <usize>byteOrderMarkLength(pointer, length);
    this.line = 1;
    this.lineStart = this.pos;
    this.arrayDepth = 0;
  }

  // --- positions ---------------------------------------------------------------

  // 1-based column of `at` on the current line, in UTF-8 characters.
  columnAt(at: usize): u32 {
    let column: u32 = 1;
    for (let p = this.lineStart; p < at; p++) {
      if ((<u32>load<u8>(p) & 0xc0) != 0x80) column++;
    }
    return column;
  }

  // Names what is at `at` for a message: a quoted character, "the end of the
  // line" or "the end of the file".
  protected describe(message: TextWriter, at: usize): void {
    if (at >= this.end) {
      message.text("the end of the file");
      return;
    }
    let c = <u32>load<u8>(at);
    if (c == NEWLINE || (c == CARRIAGE_RETURN && at + 1 < this.end && <u32>load<u8>(at + 1) == NEWLINE)) {
      message.text("the end of the line");
      return;
    }
    if (c == QUOTE) message.text("'\"'");
    else message.quoted(at, utf8Length(at, this.end), 1);
  }

  // Skips the rest of a broken statement: to the end of its line, or, inside
  // an array, past the "]" that closes it (then to the end of that line).
  protected recover(): void {
    let depth = this.arrayDepth;
    this.arrayDepth = 0;
    while (this.pos < this.end) {
      let c = this.peek(0);
      if (c == NEWLINE) {
        this.consumeLineEnd();
        if (depth <= 0) return;
        continue;
      }
      if (c == HASH) {
        this.skipComment();
        continue;
      }
      if (c == QUOTE || c == APOSTROPHE) {
        this.pos++;
        while (this.pos < this.end) {
          let s = this.peek(0);
          if (s == NEWLINE) break;
          this.pos++;
          if (s == c) break;
          if (c == QUOTE && s == BACKSLASH && this.pos < this.end && this.peek(0) != NEWLINE) this.pos++;
        }
        continue;
      }
      if (c == OPEN_BRACKET) depth++;
      else if (c == CLOSE_BRACKET) depth--;
      this.pos++;
    }
  }

  // --- bytes -------------------------------------------------------------------

  @inline protected peek(offset: usize): u32 {
    let at = this.pos + offset;
    return at < this.end ? <u32>load<u8>(at) : 0;
  }

  protected atLineEnd(): bool {
    let c = this.peek(0);
    return c == NEWLINE || (c == CARRIAGE_RETURN && this.peek(1) == NEWLINE && this.pos + 1 < this.end);
  }

  protected consumeLineEnd(): void {
    if (this.peek(0) == CARRIAGE_RETURN) this.pos++;
    this.pos++;
    this.line++;
    this.lineStart = this.pos;
  }

  protected skipSpaces(): void {
    while (this.pos < this.end) {
      let c = this.peek(0);
      if (c != 0x20 && c != 0x09) return;
      this.pos++;
    }
  }

  // Up to (not including) the end of the line.
  protected skipComment(): void {
    while (this.pos < this.end && !this.atLineEnd()) this.pos++;
  }

  // Inside an array: spaces, line ends and comments.
  protected skipArrayGap(): void {
    while (this.pos < this.end) {
      this.skipSpaces();
      if (this.pos >= this.end) return;
      if (this.atLineEnd()) {
        this.consumeLineEnd();
      } else if (this.peek(0) == HASH) {
        this.skipComment();
      } else {
        return;
      }
    }
  }

  protected wordIs(word: string): bool {
    let length = <u32>word.length;
    if (this.pos + <usize>length > this.end) return false;
    if (!bytesAre(this.pos, length, word)) return false;
    let after = this.pos + <usize>length;
    return after >= this.end || !isBareKeyCharacter(<u32>load<u8>(after));
  }
}
