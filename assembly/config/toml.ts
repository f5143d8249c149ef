// The TOML subset hv.toml is written in: a lexer and parser over raw bytes.
//
//   # comments, blank lines, \n or \r\n line ends, UTF-8 text
//   [table]            [[array-of-tables]]
//   bare-key = value   bare keys are [A-Za-z0-9_-]+
//   values: "basic strings" with \" \\ \n \t \r \uXXXX escapes,
//           'literal strings', integers (decimal with an optional sign and
//           "_" between digits, or 0x hex), true/false, and arrays of
//           integers or of strings: [1, 2] (they may span lines)
//
// TomlReader is a pull parser: next() answers one statement at a time (a
// table header or a key with its value) and reports syntax errors into the
// Diagnostics itself. After an error it skips to the end of the statement
// and goes on, so one run finds every error. A key whose value was broken
// still comes back as a KeyValue, with ValueKind.Invalid, so the schema knows
// the key was there and does not report it again as missing.
//
// Nothing here allocates per token and nothing recurses: any byte sequence
// is answered with messages, never a trap.

import { TextWriter } from "../lib/text";
import { Diagnostics } from "./diagnostics";

export enum Statement {
  End,
  Table, // [name]
  ArrayTable, // [[name]]
  KeyValue,
}

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

const QUOTE: u32 = 0x22; // "
const APOSTROPHE: u32 = 0x27; // '
const BACKSLASH: u32 = 0x5c;
const HASH: u32 = 0x23;
const EQUALS: u32 = 0x3d;
const OPEN_BRACKET: u32 = 0x5b;
const CLOSE_BRACKET: u32 = 0x5d;
const COMMA: u32 = 0x2c;
const NEWLINE: u32 = 0x0a;
const CARRIAGE_RETURN: u32 = 0x0d;

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

export class TomlReader {
  private diagnostics: Diagnostics;
  private end: usize = 0;
  private pos: usize = 0;
  private line: u32 = 1;
  private lineStart: usize = 0;
  // > 0 while inside an array: how error recovery finds the statement's end.
  private arrayDepth: i32 = 0;

  // The current table header (after Table / ArrayTable).
  tableLine: u32 = 0;
  tableColumn: u32 = 0;
  nameStart: usize = 0;
  nameLength: u32 = 0;
  nameColumn: u32 = 0;

  // The current key (after KeyValue).
  keyStart: usize = 0;
  keyLength: u32 = 0;
  keyLine: u32 = 0;
  keyColumn: u32 = 0;
  value: Value = new Value();

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

  // The next statement; syntax errors on the way are reported and skipped.
  next(): Statement {
    while (true) {
      this.skipSpaces();
      if (this.pos >= this.end) return Statement.End;
      let c = this.peek(0);
      if (this.atLineEnd()) {
        this.consumeLineEnd();
        continue;
      }
      if (c == HASH) {
        this.skipComment();
        continue;
      }
      if (c == OPEN_BRACKET) {
        let statement = this.parseHeader();
        if (statement != Statement.End) return statement;
        continue;
      }
      if (isBareKeyCharacter(c)) return this.parseKeyValue();
      let message = this.errorAt(this.pos, false);
      if (c == QUOTE || c == APOSTROPHE) {
        message.text('quoted keys are not supported (a key is made of letters, digits, "_" and "-")');
      } else if (c == EQUALS) {
        message.text('missing key before "="');
      } else {
        message.text("unexpected ");
        this.describe(message, this.pos);
        message.text(" (a line holds a key = value, a [table] header or a # comment)");
      }
      this.recover();
    }
  }

  // --- statements ------------------------------------------------------------

  // Answers Table or ArrayTable, or End after reporting a malformed header.
  private parseHeader(): Statement {
    this.tableLine = this.line;
    this.tableColumn = this.columnAt(this.pos);
    this.pos++;
    let array = this.peek(0) == OPEN_BRACKET;
    if (array) this.pos++;
    this.skipSpaces();
    this.nameStart = this.pos;
    while (this.pos < this.end && isBareKeyCharacter(this.peek(0))) this.pos++;
    this.nameLength = <u32>(this.pos - this.nameStart);
    this.nameColumn = this.columnAt(this.nameStart);
    if (this.nameLength == 0) {
      let message = this.errorAt(this.pos, false);
      message.text(array ? 'expected a table name after "[[", found ' : 'expected a table name after "[", found ');
      this.describe(message, this.pos);
      this.recover();
      return Statement.End;
    }
    this.skipSpaces();
    if (this.peek(0) == 0x2e) {
      this.headerError(this.pos).text("dotted table names are not supported");
      this.recover();
      return Statement.End;
    }
    let closed = this.peek(0) == CLOSE_BRACKET && (!array || this.peek(1) == CLOSE_BRACKET);
    if (!closed) {
      let message = this.headerError(this.pos);
      message.text(array ? 'expected "]]" after the table name, found ' : 'expected "]" after the table name, found ');
      this.describe(message, this.pos);
      this.recover();
      return Statement.End;
    }
    this.pos += array ? 2 : 1;
    if (!this.finishLine(false, "the table header")) return Statement.End;
    return array ? Statement.ArrayTable : Statement.Table;
  }

  // Always answers KeyValue; the value is Invalid if anything was wrong.
  private parseKeyValue(): Statement {
    let value = this.value;
    value.kind = ValueKind.Invalid;
    this.keyStart = this.pos;
    this.keyLine = this.line;
    this.keyColumn = this.columnAt(this.pos);
    while (this.pos < this.end && isBareKeyCharacter(this.peek(0))) this.pos++;
    this.keyLength = <u32>(this.pos - this.keyStart);
    this.skipSpaces();
    let c = this.peek(0);
    if (c == 0x2e && this.pos < this.end) {
      this.errorAt(this.pos, true).text("dotted keys are not supported");
      this.recover();
      return Statement.KeyValue;
    }
    if (c != EQUALS || this.pos >= this.end) {
      let message = this.errorAt(this.pos, true).text('expected "=" after the key, found ');
      this.describe(message, this.pos);
      this.recover();
      return Statement.KeyValue;
    }
    this.pos++;
    this.skipSpaces();
    if (this.pos >= this.end || this.atLineEnd() || this.peek(0) == HASH) {
      this.errorAt(this.pos, true).text('missing value after "="');
      this.recover();
      return Statement.KeyValue;
    }
    value.start = this.pos;
    value.line = this.line;
    value.column = this.columnAt(this.pos);
    let kind: ValueKind;
    if (this.peek(0) == OPEN_BRACKET) {
      kind = this.parseArray();
    } else {
      kind = this.parseScalar();
    }
    if (kind == ValueKind.Invalid) {
      this.recover();
      return Statement.KeyValue;
    }
    value.end = this.pos;
    if (!this.finishLine(true, "the value")) return Statement.KeyValue;
    value.kind = kind;
    return Statement.KeyValue;
  }

  // After a statement: spaces, an optional comment, then the end of the line.
  private finishLine(keyed: bool, what: string): bool {
    this.skipSpaces();
    if (this.peek(0) == HASH && this.pos < this.end) this.skipComment();
    if (this.pos >= this.end) return true;
    if (this.atLineEnd()) {
      this.consumeLineEnd();
      return true;
    }
    let message = keyed ? this.errorAt(this.pos, true) : this.headerError(this.pos);
    message.text("unexpected ");
    this.describe(message, this.pos);
    message.text(" after ").text(what);
    this.recover();
    return false;
  }

  // --- values ------------------------------------------------------------------

  private parseArray(): ValueKind {
    let value = this.value;
    let openLine = this.line;
    let openColumn = this.columnAt(this.pos);
    let start = this.pos;
    this.pos++;
    this.arrayDepth = 1;
    let count: u32 = 0;
    let kind = ValueKind.Invalid;
    while (true) {
      this.skipArrayGap();
      if (this.pos >= this.end) {
        this.diagnostics.error(openLine, openColumn, this.keyStart, this.keyLength)
          .text('unterminated array: the file ends before the closing "]"');
        return ValueKind.Invalid;
      }
      if (this.peek(0) == CLOSE_BRACKET) {
        this.pos++;
        break;
      }
      let elementStart = this.pos;
      if (this.peek(0) == OPEN_BRACKET) {
        this.errorAt(elementStart, true).text("nested arrays are not supported");
        return ValueKind.Invalid;
      }
      let elementKind = this.parseScalar();
      if (elementKind == ValueKind.Invalid) return ValueKind.Invalid;
      if (elementKind == ValueKind.Boolean) {
        this.errorAt(elementStart, true).text("an array may hold only integers or only strings");
        return ValueKind.Invalid;
      }
      if (kind != ValueKind.Invalid && elementKind != kind) {
        this.errorAt(elementStart, true).text("an array cannot mix integers and strings");
        return ValueKind.Invalid;
      }
      kind = elementKind;
      count++;
      this.skipArrayGap();
      if (this.pos >= this.end) continue; // reported as unterminated above
      let c = this.peek(0);
      if (c == COMMA) {
        this.pos++;
        continue;
      }
      if (c == CLOSE_BRACKET) {
        this.pos++;
        break;
      }
      let message = this.errorAt(this.pos, true).text('expected "," or "]" in the array, found ');
      this.describe(message, this.pos);
      return ValueKind.Invalid;
    }
    this.arrayDepth = 0;
    value.start = start;
    value.line = openLine;
    value.column = openColumn;
    value.arrayLength = count;
    value.arrayKind = kind;
    return ValueKind.Array;
  }

  // A string, integer or boolean at pos.
  private parseScalar(): ValueKind {
    let c = this.peek(0);
    if (c == QUOTE) return this.parseBasicString();
    if (c == APOSTROPHE) return this.parseLiteralString();
    if (isDigit(c) || c == 0x2b || c == 0x2d) return this.parseInteger();
    if (c == 0x7b) {
      this.errorAt(this.pos, true).text("inline tables are not supported");
      return ValueKind.Invalid;
    }
    if (isLetter(c)) return this.parseWord();
    let message = this.errorAt(this.pos, true).text("expected a value, found ");
    this.describe(message, this.pos);
    return ValueKind.Invalid;
  }

  private parseBasicString(): ValueKind {
    let value = this.value;
    let open = this.pos;
    if (this.peek(1) == QUOTE && this.peek(2) == QUOTE && open + 2 < this.end) {
      this.errorAt(open, true).text('multi-line strings (""") are not supported');
      return ValueKind.Invalid;
    }
    this.pos++;
    value.stringLength = 0;
    while (true) {
      if (this.pos >= this.end) {
        this.errorAt(open, true).text('unterminated string: the file ends before the closing "');
        return ValueKind.Invalid;
      }
      let c = this.peek(0);
      if (c == QUOTE) {
        this.pos++;
        return ValueKind.String;
      }
      if (c == NEWLINE || c == CARRIAGE_RETURN) {
        this.errorAt(open, true).text('unterminated string: the line ends before the closing " (strings cannot span lines)');
        return ValueKind.Invalid;
      }
      if (c != BACKSLASH) {
        this.putStringByte(c);
        this.pos++;
        continue;
      }
      // An escape.
      let escape = this.pos;
      if (escape + 1 >= this.end) {
        this.errorAt(open, true).text('unterminated string: the file ends before the closing "');
        return ValueKind.Invalid;
      }
      let e = this.peek(1);
      if (e == QUOTE) this.putStringByte(QUOTE);
      else if (e == BACKSLASH) this.putStringByte(BACKSLASH);
      else if (e == 0x6e) this.putStringByte(NEWLINE);
      else if (e == 0x74) this.putStringByte(0x09);
      else if (e == 0x72) this.putStringByte(CARRIAGE_RETURN);
      else if (e == 0x75) {
        let code: u32 = 0;
        let digits: u32 = 0;
        while (digits < 4 && escape + 2 + <usize>digits < this.end) {
          let d = hexDigitValue(load<u8>(escape + 2 + <usize>digits));
          if (d < 0) break;
          code = (code << 4) | <u32>d;
          digits++;
        }
        if (digits < 4) {
          this.errorAt(escape, true).text("invalid escape: \\u takes exactly 4 hexadecimal digits");
          return ValueKind.Invalid;
        }
        if (code >= 0xd800 && code < 0xe000) {
          this.errorAt(escape, true).text("invalid escape: \\u").hex(code, 4).text(" is a surrogate, not a character");
          return ValueKind.Invalid;
        }
        this.putCodePoint(code);
        this.pos += 6;
        continue;
      } else if (e == NEWLINE || e == CARRIAGE_RETURN) {
        this.errorAt(open, true).text('unterminated string: the line ends before the closing " (strings cannot span lines)');
        return ValueKind.Invalid;
      } else {
        let message = this.errorAt(escape, true).text('invalid escape "\\');
        if (e == 0x09) message.text("\\t");
        else message.bytes(escape + 1, utf8Length(escape + 1, this.end));
        message.text('" (use \\", \\\\, \\n, \\t, \\r or \\uXXXX)');
        return ValueKind.Invalid;
      }
      this.pos += 2;
    }
    return ValueKind.Invalid; // not reached
  }

  private parseLiteralString(): ValueKind {
    let value = this.value;
    let open = this.pos;
    if (this.peek(1) == APOSTROPHE && this.peek(2) == APOSTROPHE && open + 2 < this.end) {
      this.errorAt(open, true).text("multi-line strings (''') are not supported");
      return ValueKind.Invalid;
    }
    this.pos++;
    value.stringLength = 0;
    while (true) {
      if (this.pos >= this.end) {
        this.errorAt(open, true).text("unterminated string: the file ends before the closing '");
        return ValueKind.Invalid;
      }
      let c = this.peek(0);
      if (c == APOSTROPHE) {
        this.pos++;
        return ValueKind.String;
      }
      if (c == NEWLINE || c == CARRIAGE_RETURN) {
        this.errorAt(open, true).text("unterminated string: the line ends before the closing ' (strings cannot span lines)");
        return ValueKind.Invalid;
      }
      this.putStringByte(c);
      this.pos++;
    }
    return ValueKind.Invalid; // not reached
  }

  private parseInteger(): ValueKind {
    let value = this.value;
    let start = this.pos;
    let negative = false;
    let signed = false;
    let c = this.peek(0);
    if (c == 0x2b || c == 0x2d) {
      negative = c == 0x2d;
      signed = true;
      this.pos++;
    }
    if (this.wordIs("inf") || this.wordIs("nan")) {
      this.errorAt(start, true).text("floating-point numbers are not supported");
      return ValueKind.Invalid;
    }
    if (!isDigit(this.peek(0)) || this.pos >= this.end) {
      let message = this.errorAt(this.pos, true).text(negative ? 'expected digits after "-", found ' : 'expected digits after "+", found ');
      this.describe(message, this.pos);
      return ValueKind.Invalid;
    }
    let base: u64 = 10;
    let prefix = this.peek(1);
    if (this.peek(0) == 0x30 && this.pos + 1 < this.end && (prefix == 0x78 || prefix == 0x6f || prefix == 0x62)) {
      if (prefix != 0x78) {
        this.errorAt(start, true).text("only decimal and hexadecimal (0x) integers are supported");
        return ValueKind.Invalid;
      }
      if (signed) {
        this.errorAt(start, true).text("a hexadecimal integer cannot have a sign");
        return ValueKind.Invalid;
      }
      base = 16;
      this.pos += 2;
      if (this.pos >= this.end || hexDigitValue(this.peek(0)) < 0) {
        let message = this.errorAt(this.pos, true).text('expected hexadecimal digits after "0x", found ');
        this.describe(message, this.pos);
        return ValueKind.Invalid;
      }
    } else if (this.peek(0) == 0x30 && this.pos + 1 < this.end && (isDigit(prefix) || prefix == 0x5f)) {
      this.errorAt(start, true).text("leading zeros are not allowed in an integer");
      return ValueKind.Invalid;
    }
    let magnitude: u64 = 0;
    let tooLarge = false;
    let previousWasDigit = false;
    while (this.pos < this.end) {
      let d = this.peek(0);
      let digit = base == 16 ? hexDigitValue(d) : (isDigit(d) ? <i32>(d - 0x30) : -1);
      if (digit >= 0) {
        if (magnitude > (u64.MAX_VALUE - <u64>digit) / base) tooLarge = true;
        else magnitude = magnitude * base + <u64>digit;
        previousWasDigit = true;
        this.pos++;
        continue;
      }
      if (d == 0x5f) {
        let nextD = this.pos + 1 < this.end ? this.peek(1) : 0;
        let nextIsDigit = base == 16 ? hexDigitValue(nextD) >= 0 : isDigit(nextD);
        if (!previousWasDigit || !nextIsDigit) {
          this.errorAt(this.pos, true).text('"_" in an integer must sit between two digits');
          return ValueKind.Invalid;
        }
        previousWasDigit = false;
        this.pos++;
        continue;
      }
      break;
    }
    if (base == 10 && this.pos < this.end) {
      let d = this.peek(0);
      if (d == 0x2e || d == 0x65 || d == 0x45) {
        this.errorAt(start, true).text("floating-point numbers are not supported");
        return ValueKind.Invalid;
      }
    }
    if (negative) {
      if (magnitude > <u64>1 << 63) tooLarge = true;
      value.integer = <i64>(<u64>0 - magnitude);
    } else {
      if (magnitude > <u64>i64.MAX_VALUE) tooLarge = true;
      value.integer = <i64>magnitude;
    }
    value.integerTooLarge = tooLarge;
    return ValueKind.Integer;
  }

  // A bare word where a value should be: true, false, or a mistake.
  private parseWord(): ValueKind {
    let value = this.value;
    let start = this.pos;
    while (this.pos < this.end && isBareKeyCharacter(this.peek(0))) this.pos++;
    let length = <u32>(this.pos - start);
    if (bytesAre(start, length, "true")) {
      value.boolean = true;
      return ValueKind.Boolean;
    }
    if (bytesAre(start, length, "false")) {
      value.boolean = false;
      return ValueKind.Boolean;
    }
    if (bytesAre(start, length, "inf") || bytesAre(start, length, "nan")) {
      this.errorAt(start, true).text("floating-point numbers are not supported");
      return ValueKind.Invalid;
    }
    let message = this.errorAt(start, true).text("expected a value, found ");
    message.quoted(start, length, 32).text(" (strings need quotes)");
    return ValueKind.Invalid;
  }

  private putStringByte(b: u32): void {
    let value = this.value;
    if (value.stringLength < STRING_CAPACITY) store<u8>(STRING_BYTES + <usize>value.stringLength, <u8>b);
    if (value.stringLength < u32.MAX_VALUE) value.stringLength++;
  }

  private putCodePoint(code: u32): void {
    if (code < 0x80) {
      this.putStringByte(code);
    } else if (code < 0x800) {
      this.putStringByte(0xc0 | (code >> 6));
      this.putStringByte(0x80 | (code & 0x3f));
    } else {
      this.putStringByte(0xe0 | (code >> 12));
      this.putStringByte(0x80 | ((code >> 6) & 0x3f));
      this.putStringByte(0x80 | (code & 0x3f));
    }
  }

  // --- positions and errors ------------------------------------------------------

  // 1-based column of `at` on the current line, in UTF-8 characters.
  columnAt(at: usize): u32 {
    let column: u32 = 1;
    for (let p = this.lineStart; p < at; p++) {
      if ((<u32>load<u8>(p) & 0xc0) != 0x80) column++;
    }
    return column;
  }

  // Starts an error at `at` (on the current line), naming the key if `keyed`.
  private errorAt(at: usize, keyed: bool): TextWriter {
    return this.diagnostics.error(this.line, this.columnAt(at), this.keyStart, keyed ? this.keyLength : 0);
  }

  // Starts an error in a table header, naming the table.
  private headerError(at: usize): TextWriter {
    return this.diagnostics.error(this.line, this.columnAt(at), this.nameStart, this.nameLength);
  }

  // Names what is at `at` for a message: a quoted character, "the end of the
  // line" or "the end of the file".
  private describe(message: TextWriter, at: usize): void {
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
  private recover(): void {
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

  @inline private peek(offset: usize): u32 {
    let at = this.pos + offset;
    return at < this.end ? <u32>load<u8>(at) : 0;
  }

  private atLineEnd(): bool {
    let c = this.peek(0);
    return c == NEWLINE || (c == CARRIAGE_RETURN && this.peek(1) == NEWLINE && this.pos + 1 < this.end);
  }

  private consumeLineEnd(): void {
    if (this.peek(0) == CARRIAGE_RETURN) this.pos++;
    this.pos++;
    this.line++;
    this.lineStart = this.pos;
  }

  private skipSpaces(): void {
    while (this.pos < this.end) {
      let c = this.peek(0);
      if (c != 0x20 && c != 0x09) return;
      this.pos++;
    }
  }

  // Up to (not including) the end of the line.
  private skipComment(): void {
    while (this.pos < this.end && !this.atLineEnd()) this.pos++;
  }

  // Inside an array: spaces, line ends and comments.
  private skipArrayGap(): void {
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

  private wordIs(word: string): bool {
    let length = <u32>word.length;
    if (this.pos + <usize>length > this.end) return false;
    if (!bytesAre(this.pos, length, word)) return false;
    let after = this.pos + <usize>length;
    return after >= this.end || !isBareKeyCharacter(<u32>load<u8>(after));
  }
}

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
function utf8SequenceLength(p: usize, end: usize): u32 {
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
function utf8Length(p: usize, end: usize): u32 {
  let c = <u32>load<u8>(p);
  let length: u32 = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
  if (p + <usize>length > end) length = <u32>(end - p);
  return length;
}

function byteOrderMarkLength(pointer: usize, length: u32): u32 {
  if (length >= 3 && load<u8>(pointer) == 0xef && load<u8>(pointer + 1) == 0xbb && load<u8>(pointer + 2) == 0xbf) return 3;
  return 0;
}

// --- character classes -------------------------------------------------------------

export function isBareKeyCharacter(c: u32): bool {
  return isLetter(c) || isDigit(c) || c == 0x5f || c == 0x2d;
}

function isLetter(c: u32): bool {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

function isDigit(c: u32): bool {
  return c >= 0x30 && c <= 0x39;
}

function hexDigitValue(c: u32): i32 {
  if (c >= 0x30 && c <= 0x39) return <i32>(c - 0x30);
  if (c >= 0x61 && c <= 0x66) return <i32>(c - 0x61 + 10);
  if (c >= 0x41 && c <= 0x46) return <i32>(c - 0x41 + 10);
  return -1;
}

function bytesAre(pointer: usize, length: u32, word: string): bool {
  if (<u32>word.length != length) return false;
  for (let i: u32 = 0; i < length; i++) {
    if (<u32>load<u8>(pointer + <usize>i) != <u32>word.charCodeAt(<i32>i)) return false;
  }
  return true;
}
