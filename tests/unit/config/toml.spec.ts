// The TOML subset: syntax, and where each syntax error is reported.
// Every config here starts with a valid guest on lines 1-3, so the line
// under test is line 4.

import { configGuest } from "../../../assembly/config/guest_config";
import { configGuestCount } from "../../../assembly/config/schema";
import { errors, onlyError, parse, parseBytes, setModules } from "./helpers";

const GUEST = '[[guest]]\nname = "web"\nkernel = "web.elf"\n';

function cmdlineOf(source: string): string {
  setModules(["web.elf"]);
  let count = parse(source);
  if (count != 0) return "errors: " + errors().join(" | ");
  let guest = configGuest(0);
  return String.UTF8.decodeUnsafe(guest.cmdlinePointer, guest.cmdlineLength);
}

function vcpusOf(source: string): u32 {
  setModules(["web.elf"]);
  if (parse(source) != 0) return 9999;
  return configGuest(0).vcpus;
}

// max_restarts (0..1000): room for the integers the reader must read.
function restartsOf(source: string): u32 {
  setModules(["web.elf"]);
  if (parse(source) != 0) return 9999;
  return configGuest(0).maxRestarts;
}

describe("comments, blank lines and layout", () => {
  it("accepts comments, blank lines, indentation and spaces around =", () => {
    setModules(["web.elf"]);
    expect(parse("# a config\n\n  [[guest]]   # the web guest\n\tname=\"web\"\n   kernel   =   \"web.elf\"  # trailing\n\n# end")).toBe(0);
    expect(configGuestCount()).toBe(1);
  });
  it("accepts an empty file as a config without guests", () => {
    expect(parse("")).toBe(0);
    expect(parse("\n\n# nothing\n")).toBe(0);
    expect(configGuestCount()).toBe(0);
  });
  it("does not treat # inside a string as a comment", () => {
    expect(cmdlineOf(GUEST + 'cmdline = "a # b" # c\n')).toBe("a # b");
  });
  it("accepts \\r\\n line ends and counts lines the same", () => {
    setModules(["web.elf"]);
    expect(parse('[[guest]]\r\nname = "web"\r\nkernel = "web.elf"\r\n')).toBe(0);
    expect(onlyError('[[guest]]\r\nname = "web"\r\nkernel = "web.elf"\r\nvcpus = 0\r\n')).toBe("hv.toml:4:9: vcpus: 0 is out of range (1 to 8)");
  });
  it("accepts a UTF-8 byte order mark and does not count it as a column", () => {
    expect(onlyError("\uFEFF[hypervisor]\ntimeslice_ms = 0\n")).toBe("hv.toml:2:16: timeslice_ms: 0 is out of range (1 to 1000)");
    expect(onlyError("\uFEFFfoo = 1")).toBe("hv.toml:1:1: foo: keys must follow a table header ([hypervisor] or [[guest]])");
  });
  it("counts columns in characters, not bytes", () => {
    expect(onlyError(GUEST + 'cmdline = "é€😀" x\n')).toBe('hv.toml:4:17: cmdline: unexpected "x" after the value');
  });
});

describe("keys and statements", () => {
  it("rejects a key without =", () => {
    expect(onlyError(GUEST + "vcpus 2\n")).toBe('hv.toml:4:7: vcpus: expected "=" after the key, found "2"');
    expect(onlyError(GUEST + "vcpus\n")).toBe('hv.toml:4:6: vcpus: expected "=" after the key, found the end of the line');
    expect(onlyError(GUEST + "vcpus")).toBe('hv.toml:4:6: vcpus: expected "=" after the key, found the end of the file');
    expect(onlyError(GUEST + 'cmdline "x"\n')).toBe("hv.toml:4:9: cmdline: expected \"=\" after the key, found '\"'");
  });
  it("rejects a key with = but no value", () => {
    expect(onlyError(GUEST + "vcpus =\n")).toBe('hv.toml:4:8: vcpus: missing value after "="');
    expect(onlyError(GUEST + "vcpus =   # none\n")).toBe('hv.toml:4:11: vcpus: missing value after "="');
    expect(onlyError(GUEST + "vcpus =")).toBe('hv.toml:4:8: vcpus: missing value after "="');
  });
  it("rejects trailing garbage after a value", () => {
    expect(onlyError(GUEST + "vcpus = 2 3\n")).toBe('hv.toml:4:11: vcpus: unexpected "3" after the value');
    expect(onlyError(GUEST + 'cmdline = "a""b"\n')).toBe("hv.toml:4:14: cmdline: unexpected '\"' after the value");
    expect(onlyError(GUEST + "vcpus = 2abc\n")).toBe('hv.toml:4:10: vcpus: unexpected "a" after the value');
    expect(onlyError(GUEST + "vcpus = 2, 3\n")).toBe('hv.toml:4:10: vcpus: unexpected "," after the value');
  });
  it("accepts a comment right after a value", () => {
    expect(vcpusOf(GUEST + "vcpus = 2# two\n")).toBe(2);
  });
  it("rejects dotted keys", () => {
    expect(onlyError(GUEST + "guest.vcpus = 2\n")).toBe("hv.toml:4:6: guest: dotted keys are not supported");
  });
  it("rejects quoted keys", () => {
    expect(onlyError(GUEST + '"vcpus" = 2\n')).toBe('hv.toml:4:1: quoted keys are not supported (a key is made of letters, digits, "_" and "-")');
  });
  it("rejects = without a key", () => {
    expect(onlyError(GUEST + "= 2\n")).toBe('hv.toml:4:1: missing key before "="');
  });
  it("rejects a line that starts with anything else", () => {
    expect(onlyError(GUEST + "  @vcpus = 2\n")).toBe('hv.toml:4:3: unexpected "@" (a line holds a key = value, a [table] header or a # comment)');
    expect(onlyError(GUEST + "é = 2\n")).toBe('hv.toml:4:1: unexpected "é" (a line holds a key = value, a [table] header or a # comment)');
  });
  it("goes on after an error and reports the next one", () => {
    let count = parse(GUEST + "vcpus 2\nmemory = \nmax_restarts = 1 1\n");
    expect(count).toBe(3);
    let all = errors();
    expect(all[0]).toBe('hv.toml:4:7: vcpus: expected "=" after the key, found "2"');
    expect(all[1]).toBe('hv.toml:5:10: memory: missing value after "="');
    expect(all[2]).toBe('hv.toml:6:18: max_restarts: unexpected "1" after the value');
  });
});

describe("table headers", () => {
  it("accepts spaces inside the brackets and a comment after", () => {
    setModules(["web.elf"]);
    expect(parse('[ hypervisor ] # host\ntimeslice_ms = 5\n[[ guest ]]\nname = "web"\nkernel = "web.elf"\n')).toBe(0);
  });
  it("rejects a header without a name", () => {
    expect(onlyError("[]\n")).toBe('hv.toml:1:2: expected a table name after "[", found "]"');
    expect(onlyError("[[ ]]\n")).toBe('hv.toml:1:4: expected a table name after "[[", found "]"');
    expect(onlyError('["guest"]\n')).toBe("hv.toml:1:2: expected a table name after \"[\", found '\"'");
  });
  it("rejects a header that is not closed", () => {
    expect(onlyError("[hypervisor\n")).toBe('hv.toml:1:12: hypervisor: expected "]" after the table name, found the end of the line');
    expect(onlyError("[[guest]\n")).toBe('hv.toml:1:8: guest: expected "]]" after the table name, found "]"');
    expect(onlyError("[[guest")).toBe('hv.toml:1:8: guest: expected "]]" after the table name, found the end of the file');
  });
  it("rejects garbage after a header", () => {
    expect(onlyError("[hypervisor] x\n")).toBe('hv.toml:1:14: hypervisor: unexpected "x" after the table header');
    expect(onlyError("[hypervisor]]\n")).toBe('hv.toml:1:13: hypervisor: unexpected "]" after the table header');
  });
  it("rejects dotted table names", () => {
    expect(onlyError("[guest.net]\n")).toBe("hv.toml:1:7: guest: dotted table names are not supported");
  });
});

describe("basic strings", () => {
  it("decode the escapes \\\" \\\\ \\t and \\uXXXX", () => {
    expect(cmdlineOf(GUEST + 'cmdline = "q\\"b\\\\t\\tc\\u00e9\\u20AC"\n')).toBe('q"b\\t\tcé€');
  });
  it("decode \\n and \\r too (a cmdline then refuses them)", () => {
    expect(onlyError(GUEST + 'cmdline = "a\\rb"\n')).toBe("hv.toml:4:11: cmdline: contains control character U+000D (only tab is allowed)");
    expect(onlyError(GUEST + 'cmdline = "a\\nb"\n')).toBe("hv.toml:4:11: cmdline: contains control character U+000A (only tab is allowed)");
  });
  it("may be empty", () => {
    expect(cmdlineOf(GUEST + 'cmdline = ""\n')).toBe("");
  });
  it("keep UTF-8 text as it is", () => {
    expect(cmdlineOf(GUEST + 'cmdline = "héllo wörld 😀"\n')).toBe("héllo wörld 😀");
  });
  it("reject an unknown escape, at the backslash", () => {
    expect(onlyError(GUEST + 'cmdline = "a\\qb"\n')).toBe('hv.toml:4:13: cmdline: invalid escape "\\q" (use \\", \\\\, \\n, \\t, \\r or \\uXXXX)');
    expect(onlyError(GUEST + 'cmdline = "\\U0001F600"\n')).toBe('hv.toml:4:12: cmdline: invalid escape "\\U" (use \\", \\\\, \\n, \\t, \\r or \\uXXXX)');
    expect(onlyError(GUEST + 'cmdline = "\\é"\n')).toBe('hv.toml:4:12: cmdline: invalid escape "\\é" (use \\", \\\\, \\n, \\t, \\r or \\uXXXX)');
  });
  it("reject \\u without 4 hex digits", () => {
    expect(onlyError(GUEST + 'cmdline = "\\u12G4"\n')).toBe("hv.toml:4:12: cmdline: invalid escape: \\u takes exactly 4 hexadecimal digits");
    expect(onlyError(GUEST + 'cmdline = "\\u12"\n')).toBe("hv.toml:4:12: cmdline: invalid escape: \\u takes exactly 4 hexadecimal digits");
  });
  it("reject \\u escapes of surrogates", () => {
    expect(onlyError(GUEST + 'cmdline = "\\uD800"\n')).toBe("hv.toml:4:12: cmdline: invalid escape: \\uD800 is a surrogate, not a character");
  });
  it("reject a newline before the closing quote, at the opening quote", () => {
    expect(onlyError(GUEST + 'cmdline = "abc\nvcpus = 2\n')).toBe('hv.toml:4:11: cmdline: unterminated string: the line ends before the closing " (strings cannot span lines)');
    expect(onlyError(GUEST + 'cmdline = "abc\\\nvcpus = 2\n')).toBe('hv.toml:4:11: cmdline: unterminated string: the line ends before the closing " (strings cannot span lines)');
  });
  it("reject the end of the file before the closing quote", () => {
    expect(onlyError(GUEST + 'cmdline = "abc')).toBe('hv.toml:4:11: cmdline: unterminated string: the file ends before the closing "');
    expect(onlyError(GUEST + 'cmdline = "abc\\')).toBe('hv.toml:4:11: cmdline: unterminated string: the file ends before the closing "');
  });
  it("reject multi-line strings", () => {
    expect(onlyError(GUEST + 'cmdline = """abc"""\n')).toBe('hv.toml:4:11: cmdline: multi-line strings (""") are not supported');
  });
});

describe("literal strings", () => {
  it("take backslashes as they are", () => {
    expect(cmdlineOf(GUEST + "cmdline = 'C:\\dir\\n \"q\"'\n")).toBe('C:\\dir\\n "q"');
  });
  it("reject a newline or the end of the file before the closing quote", () => {
    expect(onlyError(GUEST + "cmdline = 'abc\n")).toBe("hv.toml:4:11: cmdline: unterminated string: the line ends before the closing ' (strings cannot span lines)");
    expect(onlyError(GUEST + "cmdline = 'abc")).toBe("hv.toml:4:11: cmdline: unterminated string: the file ends before the closing '");
  });
  it("reject multi-line literal strings", () => {
    expect(onlyError(GUEST + "cmdline = '''abc'''\n")).toBe("hv.toml:4:11: cmdline: multi-line strings (''') are not supported");
  });
});

describe("integers", () => {
  it("read decimal with an optional sign and _ between digits", () => {
    expect(restartsOf(GUEST + "max_restarts = 12\n")).toBe(12);
    expect(restartsOf(GUEST + "max_restarts = +12\n")).toBe(12);
    expect(restartsOf(GUEST + "max_restarts = 1_2\n")).toBe(12);
    expect(restartsOf(GUEST + "max_restarts = 1_0\n")).toBe(10);
  });
  it("read 0x hex, with _ between digits", () => {
    expect(restartsOf(GUEST + "max_restarts = 0x1f\n")).toBe(31);
    expect(restartsOf(GUEST + "max_restarts = 0x1F\n")).toBe(31);
    expect(restartsOf(GUEST + "max_restarts = 0x1_0\n")).toBe(16);
  });
  it("read zero and -0", () => {
    expect(onlyError(GUEST + "vcpus = 0\n")).toBe("hv.toml:4:9: vcpus: 0 is out of range (1 to 8)");
    expect(onlyError(GUEST + "vcpus = -0\n")).toBe("hv.toml:4:9: vcpus: -0 is out of range (1 to 8)");
  });
  it("reject leading zeros", () => {
    expect(onlyError(GUEST + "vcpus = 012\n")).toBe("hv.toml:4:9: vcpus: leading zeros are not allowed in an integer");
    expect(onlyError(GUEST + "vcpus = -01\n")).toBe("hv.toml:4:9: vcpus: leading zeros are not allowed in an integer");
  });
  it("reject _ that is not between two digits", () => {
    expect(onlyError(GUEST + "vcpus = 1__0\n")).toBe('hv.toml:4:10: vcpus: "_" in an integer must sit between two digits');
    expect(onlyError(GUEST + "vcpus = 10_\n")).toBe('hv.toml:4:11: vcpus: "_" in an integer must sit between two digits');
    expect(onlyError(GUEST + "vcpus = 0x_1\n")).toBe('hv.toml:4:11: vcpus: expected hexadecimal digits after "0x", found "_"');
  });
  it("reject floating-point numbers", () => {
    expect(onlyError(GUEST + "vcpus = 1.5\n")).toBe("hv.toml:4:9: vcpus: floating-point numbers are not supported");
    expect(onlyError(GUEST + "vcpus = 1e3\n")).toBe("hv.toml:4:9: vcpus: floating-point numbers are not supported");
    expect(onlyError(GUEST + "vcpus = -inf\n")).toBe("hv.toml:4:9: vcpus: floating-point numbers are not supported");
    expect(onlyError(GUEST + "vcpus = nan\n")).toBe("hv.toml:4:9: vcpus: floating-point numbers are not supported");
  });
  it("reject an upper-case 0X prefix", () => {
    expect(onlyError(GUEST + "vcpus = 0X1F\n")).toBe('hv.toml:4:10: vcpus: unexpected "X" after the value');
  });
  it("reject octal, binary and signed hex", () => {
    expect(onlyError(GUEST + "vcpus = 0o7\n")).toBe("hv.toml:4:9: vcpus: only decimal and hexadecimal (0x) integers are supported");
    expect(onlyError(GUEST + "vcpus = 0b1\n")).toBe("hv.toml:4:9: vcpus: only decimal and hexadecimal (0x) integers are supported");
    expect(onlyError(GUEST + "vcpus = -0x1\n")).toBe("hv.toml:4:9: vcpus: a hexadecimal integer cannot have a sign");
  });
  it("reject 0x without digits and a sign without digits", () => {
    expect(onlyError(GUEST + "vcpus = 0x\n")).toBe('hv.toml:4:11: vcpus: expected hexadecimal digits after "0x", found the end of the line');
    expect(onlyError(GUEST + "vcpus = -\n")).toBe('hv.toml:4:10: vcpus: expected digits after "-", found the end of the line');
    expect(onlyError(GUEST + "vcpus = +x\n")).toBe('hv.toml:4:10: vcpus: expected digits after "+", found "x"');
  });
  it("report integers beyond 64 bits as out of range, as written", () => {
    expect(onlyError(GUEST + "vcpus = 99999999999999999999\n")).toBe("hv.toml:4:9: vcpus: 99999999999999999999 is out of range (1 to 8)");
    expect(onlyError(GUEST + "vcpus = 9223372036854775808\n")).toBe("hv.toml:4:9: vcpus: 9223372036854775808 is out of range (1 to 8)");
    expect(onlyError(GUEST + "vcpus = -9223372036854775808\n")).toBe("hv.toml:4:9: vcpus: -9223372036854775808 is out of range (1 to 8)");
    expect(onlyError(GUEST + "vcpus = 0xffffffffffffffffff\n")).toBe("hv.toml:4:9: vcpus: 0xffffffffffffffffff is out of range (1 to 8)");
  });
});

describe("booleans and bare words", () => {
  it("read true and false", () => {
    expect(onlyError(GUEST + "vcpus = true\n")).toBe("hv.toml:4:9: vcpus: expected an integer, found a boolean");
    expect(onlyError(GUEST + "cmdline = false\n")).toBe("hv.toml:4:11: cmdline: expected a string, found a boolean");
  });
  it("reject other bare words, suggesting quotes", () => {
    expect(onlyError(GUEST + "on_crash = restart\n")).toBe('hv.toml:4:12: on_crash: expected a value, found "restart" (strings need quotes)');
    expect(onlyError(GUEST + "vcpus = True\n")).toBe('hv.toml:4:9: vcpus: expected a value, found "True" (strings need quotes)');
  });
  it("reject inline tables and other characters where a value belongs", () => {
    expect(onlyError(GUEST + "vcpus = { a = 1 }\n")).toBe("hv.toml:4:9: vcpus: inline tables are not supported");
    expect(onlyError(GUEST + "vcpus = ]\n")).toBe('hv.toml:4:9: vcpus: expected a value, found "]"');
  });
});

describe("arrays", () => {
  it("parse integers or strings, over several lines, with comments and a trailing comma", () => {
    // No key takes an array yet: the only error is the type, and the lines
    // after the array are read correctly.
    let count = parse(GUEST + 'vcpus = [\n  1, # one\n  0x2,\n\n]\nmemory = "1Q"\ncmdline = ["a", \'b\',]\n');
    expect(count).toBe(3);
    let all = errors();
    expect(all[0]).toBe("hv.toml:4:9: vcpus: expected an integer, found an array");
    expect(all[1]).toBe('hv.toml:9:10: memory: "1Q" is not a size (use K, M or G)');
    expect(all[2]).toBe("hv.toml:10:11: cmdline: expected a string, found an array");
  });
  it("parse an empty array", () => {
    expect(onlyError(GUEST + "vcpus = []\n")).toBe("hv.toml:4:9: vcpus: expected an integer, found an array");
  });
  it("reject nested arrays", () => {
    expect(onlyError(GUEST + "vcpus = [1, [2]]\n")).toBe("hv.toml:4:13: vcpus: nested arrays are not supported");
  });
  it("reject arrays that mix integers and strings", () => {
    expect(onlyError(GUEST + 'vcpus = [1, "a"]\n')).toBe("hv.toml:4:13: vcpus: an array cannot mix integers and strings");
  });
  it("reject booleans in arrays", () => {
    expect(onlyError(GUEST + "vcpus = [true]\n")).toBe("hv.toml:4:10: vcpus: an array may hold only integers or only strings");
  });
  it("reject a missing comma", () => {
    expect(onlyError(GUEST + "vcpus = [1 2]\n")).toBe('hv.toml:4:12: vcpus: expected "," or "]" in the array, found "2"');
    expect(onlyError(GUEST + "vcpus = [,]\n")).toBe('hv.toml:4:10: vcpus: expected a value, found ","');
  });
  it("reject an array the file ends in, at its opening bracket", () => {
    expect(onlyError(GUEST + "vcpus = [1,\n2,\n")).toBe('hv.toml:4:9: vcpus: unterminated array: the file ends before the closing "]"');
  });
  it("report an error inside an array, then skip to its closing bracket", () => {
    let count = parse(GUEST + 'vcpus = [1, true,\n  2, "]" ] # x\nmemory = "1Q"\n');
    expect(count).toBe(2);
    let all = errors();
    expect(all[0]).toBe("hv.toml:4:13: vcpus: an array may hold only integers or only strings");
    expect(all[1]).toBe('hv.toml:6:10: memory: "1Q" is not a size (use K, M or G)');
  });
  it("report errors on later lines of an array at their own line", () => {
    expect(onlyError(GUEST + "vcpus = [\n  1,\n  1.5,\n]\n")).toBe("hv.toml:6:3: vcpus: floating-point numbers are not supported");
  });
});

function bytesOf(text: string, insert: u8, at: i32): ArrayBuffer {
  let source = Uint8Array.wrap(String.UTF8.encode(text));
  let out = new Uint8Array(source.length + 1);
  for (let i = 0; i < at; i++) out[i] = source[i];
  out[at] = insert;
  for (let i = at; i < source.length; i++) out[i + 1] = source[i];
  return out.buffer;
}

describe("encoding", () => {
  it("rejects a NUL byte, with its position", () => {
    expect(parseBytes(bytesOf('[[guest]]\nname = "web"\n', 0, 18))).toBe(1);
    expect(errors()[0]).toBe("hv.toml:2:9: control character U+0000 is not allowed");
  });
  it("rejects other control characters, even in comments", () => {
    expect(parseBytes(bytesOf("# a comment\n", 0x1b, 4))).toBe(1);
    expect(errors()[0]).toBe("hv.toml:1:5: control character U+001B is not allowed");
    expect(parseBytes(bytesOf("# x\n", 0x7f, 2))).toBe(1);
    expect(errors()[0]).toBe("hv.toml:1:3: control character U+007F is not allowed");
  });
  it("accepts tabs", () => {
    setModules(["web.elf"]);
    expect(parse('[[guest]]\t# x\nname\t=\t"web"\nkernel = "web.elf"\ncmdline = "a\tb"\n')).toBe(0);
  });
  it("rejects a carriage return without a newline", () => {
    expect(onlyError("[hypervisor]\rtimeslice_ms = 5\n")).toBe("hv.toml:1:13: a carriage return (\\r) must be followed by a newline");
  });
  it("rejects bytes that are not UTF-8", () => {
    expect(parseBytes(bytesOf("# é\n", 0xff, 2))).toBe(1);
    expect(errors()[0]).toBe("hv.toml:1:3: invalid UTF-8 (byte 0xFF)");
  });
  it("rejects overlong forms, surrogates and truncated sequences", () => {
    let overlong = new Uint8Array(4);
    overlong[0] = 0x23; overlong[1] = 0xc0; overlong[2] = 0x80; overlong[3] = 0x0a;
    expect(parseBytes(overlong.buffer)).toBe(1);
    expect(errors()[0]).toBe("hv.toml:1:2: invalid UTF-8 (byte 0xC0)");
    let surrogate = new Uint8Array(4);
    surrogate[0] = 0x23; surrogate[1] = 0xed; surrogate[2] = 0xa0; surrogate[3] = 0x80;
    expect(parseBytes(surrogate.buffer)).toBe(1);
    expect(errors()[0]).toBe("hv.toml:1:2: invalid UTF-8 (byte 0xED)");
    let truncated = new Uint8Array(3);
    truncated[0] = 0x23; truncated[1] = 0x20; truncated[2] = 0xe2;
    expect(parseBytes(truncated.buffer)).toBe(1);
    expect(errors()[0]).toBe("hv.toml:1:3: invalid UTF-8 (byte 0xE2)");
  });
  it("reports the first bad byte of each line, and nothing else", () => {
    let source = Uint8Array.wrap(String.UTF8.encode("a = 1\n#xx\n#yy\nbad line\n"));
    source[7] = 0; source[8] = 0; source[11] = 0xfe;
    expect(parseBytes(source.buffer)).toBe(2);
    let all = errors();
    expect(all[0]).toBe("hv.toml:2:2: control character U+0000 is not allowed");
    expect(all[1]).toBe("hv.toml:3:2: invalid UTF-8 (byte 0xFE)");
  });
});
