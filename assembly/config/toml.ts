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
//
// The cursor under the reader is TomlScanner (toml_scanner.ts), the Value it
// answers is in toml_value.ts, and the encoding check and character classes
// are in toml_text.ts.

import { TextWriter } from "../lib/text";
import { Diagnostics } from "./diagnostics";
import { TomlScanner } from "./toml_scanner";
import {
  APOSTROPHE, BACKSLASH, bytesAre, CARRIAGE_RETURN, CLOSE_BRACKET, COMMA, EQUALS, HASH, hexDigitValue,
  isBareKeyCharacter, isDigit, isLetter, NEWLINE, OPEN_BRACKET, QUOTE, utf8Length,
} from "./toml_text";
import { putCodePoint, putStringByte, Value, ValueKind } from "./toml_value";

export enum Statement {
  End,
  Table, // [name]
  ArrayTable, // [[name]]
  KeyValue,
}

export class TomlReader extends TomlScanner {
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
    super(diagnostics);
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
        putStringByte(value, c);
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
      if (e == QUOTE) putStringByte(value, QUOTE);
      else if (e == BACKSLASH) putStringByte(value, BACKSLASH);
      else if (e == 0x6e) putStringByte(value, NEWLINE);
      else if (e == 0x74) putStringByte(value, 0x09);
      else if (e == 0x72) putStringByte(value, CARRIAGE_RETURN);
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
        putCodePoint(value, code);
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
      putStringByte(value, c);
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

  // --- errors ------------------------------------------------------------------

  // Starts an error at `at` (on the current line), naming the key if `keyed`.
  private errorAt(at: usize, keyed: bool): TextWriter {
    return this.diagnostics.error(this.line, this.columnAt(at), this.keyStart, keyed ? this.keyLength : 0);
  }

  // Starts an error in a table header, naming the table.
  private headerError(at: usize): TextWriter {
    return this.diagnostics.error(this.line, this.columnAt(at), this.nameStart, this.nameLength);
  }
}
