import { bytesEqual, TextWriter } from "../../../assembly/lib/text";

const BUFFER: usize = memory.data(256);

function writer(capacity: u32 = 256): TextWriter {
  return new TextWriter(BUFFER, capacity);
}

function quote(text: string, maxCharacters: u32 = 64): string {
  let bytes = String.UTF8.encode(text);
  return writer().quoted(changetype<usize>(bytes), <u32>bytes.byteLength, maxCharacters).toString();
}

describe("TextWriter", () => {
  it("writes string literals as UTF-8", () => {
    let w = writer().text("vCPU é ").text("😀");
    expect(w.length).toBe(12);
    expect(w.toString()).toBe("vCPU é 😀");
  });
  it("writes unsigned and signed decimals", () => {
    expect(writer().decimal(0).toString()).toBe("0");
    expect(writer().decimal(u64.MAX_VALUE).toString()).toBe("18446744073709551615");
    expect(writer().signedDecimal(-42).toString()).toBe("-42");
    expect(writer().signedDecimal(i64.MIN_VALUE).toString()).toBe("-9223372036854775808");
  });
  it("writes zero-padded upper-case hex", () => {
    expect(writer().hex(0x1b, 4).toString()).toBe("001B");
    expect(writer().hex(0xff, 2).toString()).toBe("FF");
  });
  it("writes counts with the right plural", () => {
    expect(writer().count(1, "guest", "guests").toString()).toBe("1 guest");
    expect(writer().count(2, "guest", "guests").toString()).toBe("2 guests");
    expect(writer().count(0, "guest", "guests").toString()).toBe("0 guests");
  });
  it("quotes text with escapes for quotes, backslashes and control characters", () => {
    expect(quote('a"b\\c')).toBe('"a\\"b\\\\c"');
    expect(quote("t\tn\nr\r")).toBe('"t\\tn\\nr\\r"');
    expect(quote("\x1b[2J\x7f")).toBe('"\\u001B[2J\\u007F"');
    expect(quote("é")).toBe('"é"');
  });
  it("cuts quoted text after maxCharacters characters, not bytes", () => {
    expect(quote("abcdef", 3)).toBe('"abc..."');
    expect(quote("ééé", 3)).toBe('"ééé"');
    expect(quote("éééé", 3)).toBe('"ééé..."');
  });
  it("drops what does not fit and says so, without trapping", () => {
    let w = writer(4).text("abcdef");
    expect(w.length).toBe(4);
    expect(w.truncated).toBe(true);
    expect(w.toString()).toBe("abcd");
    w.decimal(12345).quoted(BUFFER, 4).hex(1, 16).byte(0x41);
    expect(w.length).toBe(4);
  });
  it("can be pointed at another region and cleared", () => {
    let w = writer(8).text("0123456789");
    w.reset(BUFFER + 100, 8).text("xy");
    expect(w.truncated).toBe(false);
    expect(w.toString()).toBe("xy");
    expect(w.clear().length).toBe(0);
  });
});

describe("bytesEqual", () => {
  it("compares bytes with an ASCII string", () => {
    let bytes = String.UTF8.encode("guest");
    expect(bytesEqual(changetype<usize>(bytes), 5, "guest")).toBe(true);
    expect(bytesEqual(changetype<usize>(bytes), 5, "guesT")).toBe(false);
    expect(bytesEqual(changetype<usize>(bytes), 4, "guest")).toBe(false);
  });
});
