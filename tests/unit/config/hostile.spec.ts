// Any byte sequence, however hostile, gets messages and never a trap: a
// trap here would fail the whole spec file.

import { diagnostics, REPORTED_ERRORS } from "../../../assembly/config/diagnostics";
import { configGuestCount, MAX_CONFIG_BYTES } from "../../../assembly/config/schema";
import { errors, onlyError, parse, parseBytes, report, setModules } from "./helpers";

// xorshift32: the same "random" bytes on every run.
let seed: u32 = 0x2545f491;
function random(): u32 {
  seed ^= seed << 13;
  seed ^= seed >> 17;
  seed ^= seed << 5;
  return seed;
}

function randomBytes(length: i32): ArrayBuffer {
  let bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = <u8>random();
  return bytes.buffer;
}

// Pieces of TOML and of mistakes, to make files that are almost configs.
const PIECES: StaticArray<string> = [
  "[[guest]]", "[hypervisor]", "[", "]", "[[", "]]", "name", "kernel", "memory", "vcpus",
  "cmdline", "initrd", "on_crash", "max_restarts", "timeslice_ms", " = ", "=", "\"", "'", "\"\"\"",
  "\\", "\\u", "\\uD800", "\\u00e9", "\n", "\r\n", "\r", "#", " ", "\t", ",", ".", "{", "}",
  "0x", "0", "1", "-", "+", "_", "1_000", "99999999999999999999", "1.5", "true", "false", "inf",
  "\"web\"", "\"32M\"", "\"12Q\"", "\"restart\"", "'a.elf'", "é", "😀", "\u0000", "\u007f", "x",
];

function randomToml(pieces: i32): string {
  let parts = new Array<string>(pieces);
  for (let i = 0; i < pieces; i++) parts[i] = PIECES[<i32>(random() % <u32>PIECES.length)];
  return parts.join("");
}

describe("hostile input", () => {
  it("answers random bytes with messages", () => {
    for (let round = 0; round < 200; round++) {
      let count = parseBytes(randomBytes(<i32>(random() % 4096)));
      let kept = errors();
      expect(kept.length).toBe(<i32>(count < REPORTED_ERRORS ? count : REPORTED_ERRORS));
    }
    expect(parseBytes(randomBytes(65536))).toBeGreaterThan(0);
  });
  it("answers random near-TOML with messages, never a trap", () => {
    setModules(["a.elf"]);
    for (let round = 0; round < 2000; round++) {
      let count = parse(randomToml(<i32>(random() % 200)));
      let kept = errors();
      expect(kept.length).toBe(<i32>(count < REPORTED_ERRORS ? count : REPORTED_ERRORS));
      for (let i = 0; i < kept.length; i++) expect(kept[i].startsWith("hv.toml:")).toBe(true);
    }
  });
  it("answers every single byte with messages or a valid empty config", () => {
    for (let b = 0; b < 256; b++) {
      let bytes = new Uint8Array(1);
      bytes[0] = <u8>b;
      parseBytes(bytes.buffer);
      errors();
    }
  });
  it("answers every prefix of a valid config", () => {
    setModules(["web.elf"]);
    let full = '[hypervisor]\ntimeslice_ms = 0x10\n[[guest]]\nname = "web"\nkernel = \'web.elf\'\ncmdline = "a\\u00e9\\"b"\nmemory = "64M"\nvcpus = [1, 2]\n';
    let bytes = Uint8Array.wrap(String.UTF8.encode(full));
    for (let n = 0; n <= bytes.length; n++) {
      parseBytes(bytes.slice(0, n).buffer);
      errors();
    }
  });
  it("handles a very long line", () => {
    expect(parse("# " + "x".repeat(500000) + "\n[hypervisor]\ntimeslice_ms = 0\n")).toBe(1);
    expect(errors()[0]).toBe("hv.toml:3:16: timeslice_ms: 0 is out of range (1 to 1000)");
  });
  it("cuts a very long key in its message", () => {
    let key = "k".repeat(100000);
    expect(onlyError("[[guest]]\n" + key + ' = 1\nname = "a"\nkernel = "a.elf"\n')).toBe("hv.toml:2:1: " + "k".repeat(48) + "...: unknown key in [[guest]] (known keys: name, kernel, initrd, cmdline, memory, vcpus, cpus, on_crash, max_restarts, stop_after_ms, console_bytes_per_second)");
  });
  it("cuts a very long value in its message", () => {
    setModules(["a.elf"]);
    let value = "v".repeat(200000);
    expect(onlyError('[[guest]]\nname = "' + value + '"\nkernel = "a.elf"\n')).toBe('hv.toml:2:8: name: "' + "v".repeat(40) + '..." is too long (at most 32 characters)');
    expect(onlyError('[[guest]]\nname = "a"\nkernel = "a.elf"\non_crash = "' + value + '"\n')).toBe('hv.toml:4:12: on_crash: "' + "v".repeat(32) + '..." is not one of "stop", "restart"');
    expect(onlyError('[[guest]]\nname = "a"\nkernel = "a.elf"\nvcpus = ' + "9".repeat(100000) + "\n")).toBe("hv.toml:4:9: vcpus: " + "9".repeat(32) + "... is out of range (1 to 8)");
  });
  it("handles deep nesting of brackets", () => {
    expect(onlyError("x = " + "[".repeat(100000) + "\n")).toBe("hv.toml:1:6: x: nested arrays are not supported");
    expect(onlyError("[[guest]]\nname = \"a\"\nkernel = \"a.elf\"\nvcpus = " + "[".repeat(50000) + "]".repeat(50000) + "\nmemory = \"1Q\"\n").length).toBeGreaterThan(0);
    expect(parse("[".repeat(100000))).toBe(1);
    expect(errors()[0]).toBe('hv.toml:1:3: expected a table name after "[[", found "["');
    expect(parse("]".repeat(100000))).toBe(1);
    expect(parse("a = [\n".repeat(20000))).toBe(1);
    // The array opened on line 1 goes on to line 2, where "a" is no value.
    expect(errors()[0]).toBe('hv.toml:2:1: a: expected a value, found "a" (strings need quotes)');
  });
  it("answers hostile cpus arrays with errors", () => {
    setModules(["a.elf"]);
    const G = '[[guest]]\nname = "a"\nkernel = "a.elf"\n';
    let zeros = new Array<string>(1000);
    zeros.fill("0");
    expect(onlyError(G + "cpus = [" + zeros.join(", ") + "]\n")).toBe("hv.toml:4:12: cpus: 0 is listed twice");
    let counting = new Array<string>(1000);
    for (let i = 0; i < 1000; i++) counting[i] = i.toString();
    expect(onlyError(G + "cpus = [" + counting.join(",\n") + "]\n")).toBe("hv.toml:68:1: cpus: 64 is out of range (0 to 63)");
    let strings = new Array<string>(1000);
    strings.fill('"x"');
    expect(onlyError(G + "cpus = [" + strings.join(",") + "]\n")).toBe("hv.toml:4:8: cpus: expected an array of CPU numbers, found an array of strings");
    expect(onlyError(G + "cpus = " + "[".repeat(1000) + "1" + "]".repeat(1000) + "\n")).toBe("hv.toml:4:9: cpus: nested arrays are not supported");
    expect(onlyError(G + "cpus = [1, [2, [3]], 4]\n")).toBe("hv.toml:4:12: cpus: nested arrays are not supported");
    expect(onlyError(G + "cpus = [" + "-".repeat(1000) + "]\n").length).toBeGreaterThan(0);
    expect(onlyError(G + "cpus = [" + "1,".repeat(100000) + "]\n")).toBe("hv.toml:4:11: cpus: 1 is listed twice");
    expect(parse(G + "cpus = [1, 2\n")).toBe(1);
    expect(errors()[0]).toBe('hv.toml:4:8: cpus: unterminated array: the file ends before the closing "]"');
  });
  it("handles 10k keys in one table", () => {
    let lines = new Array<string>(10000);
    for (let i = 0; i < 10000; i++) lines[i] = "key" + i.toString() + " = " + i.toString();
    expect(parse("[[guest]]\n" + lines.join("\n"))).toBe(10002);
    expect(errors().length).toBe(20);
    let printed = report("[[guest]]\n" + lines.join("\n"));
    expect(printed[20]).toBe("[hv] and 9982 more errors\n");
  });
  it("handles 10k duplicate keys", () => {
    setModules(["a.elf"]);
    expect(parse('[[guest]]\nname = "a"\nkernel = "a.elf"\n' + "vcpus = 2\n".repeat(10000))).toBe(9999);
    expect(errors()[0]).toBe("hv.toml:5:1: vcpus: duplicate key, already set at line 4");
  });
  it("handles 10k guests", () => {
    setModules(["a.elf"]);
    let source = "";
    for (let i = 0; i < 10000; i++) source += '[[guest]]\nname = "g' + i.toString() + '"\nkernel = "a.elf"\n';
    expect(parse(source)).toBe(1);
    expect(errors()[0]).toBe("hv.toml:769:3: guest: too many [[guest]] tables (at most 256)");
    expect(configGuestCount()).toBe(0);
    expect(parse("[[guest]]\n".repeat(10000))).toBe(20001);
  });
  it("refuses a config larger than the limit before parsing it", () => {
    let big = new Uint8Array(MAX_CONFIG_BYTES + 1);
    big.fill(0x23);
    expect(parseBytes(big.buffer)).toBe(1);
    expect(errors()[0]).toBe("hv.toml:1:1: the file is 1048577 bytes; a config may have at most 1048576");
    let limit = new Uint8Array(MAX_CONFIG_BYTES);
    limit.fill(0x23);
    expect(parseBytes(limit.buffer)).toBe(0);
  });
  it("keeps counting errors beyond the ones it keeps", () => {
    expect(parse("[hypervisor]\n" + "x = 1\n".repeat(100000))).toBe(100000);
    expect(diagnostics.kept).toBe(20);
  });
});
