// hv.toml's tables and keys: what each accepts, its default, and the message
// for each mistake (file:line:column: key: what is wrong).

import { configGuest, GuestConfig } from "../../../assembly/config/guest_config";
import { configGuestCount, configTimesliceMs } from "../../../assembly/config/schema";
import { errors, lookups, onlyError, parse, setModules } from "./helpers";

const GUEST = '[[guest]]\nname = "web"\nkernel = "web.elf"\n';

function text(pointer: usize, length: u32): string {
  return String.UTF8.decodeUnsafe(pointer, length);
}

function nameOf(guest: GuestConfig): string {
  return text(guest.namePointer, guest.nameLength);
}

// Parses a config whose kernels all exist; answers guest 0.
function firstGuest(source: string): GuestConfig {
  setModules(["web.elf", "db.elf", "web.cpio"]);
  let count = parse(source);
  expect(count).toBe(0, count > 0 ? errors()[0] : "");
  return configGuest(0);
}

function cpusOf(value: string): u64 {
  return firstGuest(GUEST + "cpus = " + value + "\n").cpuMask;
}

function memoryOf(value: string): u64 {
  return firstGuest(GUEST + "memory = " + value + "\n").memoryBytes;
}

describe("tables", () => {
  it("rejects an unknown table, naming it", () => {
    expect(onlyError("[network]\n")).toBe("hv.toml:1:2: network: unknown table (the tables are [hypervisor] and [[guest]])");
  });
  it("suggests the table meant", () => {
    expect(onlyError("[[guests]]\n")).toBe("hv.toml:1:3: guests: unknown table (did you mean [[guest]]?)");
    expect(onlyError("[hypervsor]\n")).toBe("hv.toml:1:2: hypervsor: unknown table (did you mean [hypervisor]?)");
  });
  it("does not report the keys of a table it rejected", () => {
    expect(onlyError("[network]\nbridge = 1\nfoo = 2\n")).toBe("hv.toml:1:2: network: unknown table (the tables are [hypervisor] and [[guest]])");
  });
  it("rejects [guest] written as a single table", () => {
    expect(onlyError('[guest]\nname = "web"\n')).toBe("hv.toml:1:2: guest: is an array of tables: write [[guest]], one per guest");
  });
  it("rejects [[hypervisor]] written as an array of tables", () => {
    expect(onlyError("[[hypervisor]]\n")).toBe("hv.toml:1:3: hypervisor: is a single table: write [hypervisor], not [[hypervisor]]");
  });
  it("rejects a second [hypervisor]", () => {
    expect(onlyError("[hypervisor]\ntimeslice_ms = 5\n\n[hypervisor]\ntimeslice_ms = 6\n")).toBe("hv.toml:4:2: hypervisor: the table is already defined at line 1");
    expect(configTimesliceMs()).toBe(5);
  });
  it("rejects keys before the first table, saying where they belong", () => {
    expect(onlyError("vcpus = 2\n")).toBe("hv.toml:1:1: vcpus: keys must follow a table header (it belongs in [[guest]])");
    expect(onlyError("timeslice_ms = 2\n")).toBe("hv.toml:1:1: timeslice_ms: keys must follow a table header (it belongs in [hypervisor])");
    expect(onlyError("colour = 2\n")).toBe("hv.toml:1:1: colour: keys must follow a table header ([hypervisor] or [[guest]])");
  });
  it("accepts the tables in any order", () => {
    setModules(["web.elf"]);
    expect(parse(GUEST + "[hypervisor]\ntimeslice_ms = 7\n")).toBe(0);
    expect(configTimesliceMs()).toBe(7);
    expect(configGuestCount()).toBe(1);
  });
});

describe("[hypervisor]", () => {
  it("defaults timeslice_ms to 10, with or without the table", () => {
    expect(parse("")).toBe(0);
    expect(configTimesliceMs()).toBe(10);
    expect(parse("[hypervisor]\n")).toBe(0);
    expect(configTimesliceMs()).toBe(10);
  });
  it("takes timeslice_ms from 1 to 1000", () => {
    expect(parse("[hypervisor]\ntimeslice_ms = 1\n")).toBe(0);
    expect(configTimesliceMs()).toBe(1);
    expect(parse("[hypervisor]\ntimeslice_ms = 1000\n")).toBe(0);
    expect(configTimesliceMs()).toBe(1000);
    expect(onlyError("[hypervisor]\ntimeslice_ms = 1001\n")).toBe("hv.toml:2:16: timeslice_ms: 1001 is out of range (1 to 1000)");
    expect(onlyError("[hypervisor]\ntimeslice_ms = -5\n")).toBe("hv.toml:2:16: timeslice_ms: -5 is out of range (1 to 1000)");
  });
  it("rejects a timeslice_ms that is not an integer", () => {
    expect(onlyError('[hypervisor]\ntimeslice_ms = "10"\n')).toBe("hv.toml:2:16: timeslice_ms: expected an integer, found a string");
  });
  it("rejects unknown keys, suggesting the key meant", () => {
    expect(onlyError("[hypervisor]\ntimeslice_m = 5\n")).toBe('hv.toml:2:1: timeslice_m: unknown key in [hypervisor] (did you mean "timeslice_ms"?)');
    expect(onlyError("[hypervisor]\nquantum = 5\n")).toBe("hv.toml:2:1: quantum: unknown key in [hypervisor] (known keys: timeslice_ms)");
  });
  it("rejects a guest's key, saying where it belongs", () => {
    expect(onlyError('[hypervisor]\nname = "x"\n')).toBe("hv.toml:2:1: name: unknown key in [hypervisor] (it belongs in [[guest]])");
  });
  it("rejects a duplicate key, pointing at the second and naming the first's line", () => {
    expect(onlyError("[hypervisor]\ntimeslice_ms = 5\n  timeslice_ms = 6\n")).toBe("hv.toml:3:3: timeslice_ms: duplicate key, already set at line 2");
    expect(configTimesliceMs()).toBe(5);
  });
});

describe("[[guest]] keys", () => {
  it("rejects an unknown key, suggesting the key meant", () => {
    expect(onlyError(GUEST + 'memroy = "64M"\n')).toBe('hv.toml:4:1: memroy: unknown key in [[guest]] (did you mean "memory"?)');
    expect(onlyError(GUEST + "vcpu = 2\n")).toBe('hv.toml:4:1: vcpu: unknown key in [[guest]] (did you mean "vcpus"?)');
    expect(onlyError(GUEST + "cpu = [1]\n")).toBe('hv.toml:4:1: cpu: unknown key in [[guest]] (did you mean "cpus"?)');
    expect(onlyError(GUEST + "cpsu = [1]\n")).toBe('hv.toml:4:1: cpsu: unknown key in [[guest]] (did you mean "cpus"?)');
    expect(onlyError(GUEST + 'Memory = "64M"\n')).toBe('hv.toml:4:1: Memory: unknown key in [[guest]] (did you mean "memory"?)');
  });
  it("takes stop_after_ms from 1 ms to a day", () => {
    setModules(["web.elf"]);
    expect(parse(GUEST + "stop_after_ms = 5000\n")).toBe(0);
    expect(configGuest(0).stopAfterMs).toBe(5000);
    expect(onlyError(GUEST + "stop_after_ms = 0\n")).toBe("hv.toml:4:17: stop_after_ms: 0 is out of range (1 to 86400000)");
  });
  it("takes console_bytes_per_second from 100 to 10,000,000, unset meaning the host's share", () => {
    setModules(["web.elf"]);
    expect(parse(GUEST)).toBe(0);
    expect(configGuest(0).consoleBytesPerSecond).toBe(0);
    expect(parse(GUEST + "console_bytes_per_second = 5760\n")).toBe(0);
    expect(configGuest(0).consoleBytesPerSecond).toBe(5760);
    expect(onlyError(GUEST + "console_bytes_per_second = 99\n")).toBe("hv.toml:4:28: console_bytes_per_second: 99 is out of range (100 to 10000000)");
    expect(onlyError(GUEST + 'console_bytes_per_second = "fast"\n')).toBe("hv.toml:4:28: console_bytes_per_second: expected an integer, found a string");
  });
  it("lists the known keys when no key is close", () => {
    expect(onlyError(GUEST + "colour = 1\n")).toBe("hv.toml:4:1: colour: unknown key in [[guest]] (known keys: name, kernel, initrd, cmdline, memory, vcpus, cpus, on_crash, max_restarts, stop_after_ms, console_bytes_per_second)");
  });
  it("rejects a [hypervisor] key, saying where it belongs", () => {
    expect(onlyError(GUEST + "timeslice_ms = 5\n")).toBe("hv.toml:4:1: timeslice_ms: unknown key in [[guest]] (it belongs in [hypervisor])");
  });
  it("rejects a duplicate key, pointing at the second and naming the first's line", () => {
    expect(onlyError(GUEST + "vcpus = 1\nvcpus = 2\n")).toBe("hv.toml:5:1: vcpus: duplicate key, already set at line 4");
    expect(onlyError('[[guest]]\nname = "web"\nkernel = "web.elf"\nname = "db"\n')).toBe("hv.toml:4:1: name: duplicate key, already set at line 2");
  });
  it("allows the same key in different guests", () => {
    setModules(["web.elf", "db.elf"]);
    expect(parse(GUEST + "vcpus = 2\n[[guest]]\nname = \"db\"\nkernel = \"db.elf\"\nvcpus = 3\n")).toBe(0);
    expect(configGuest(0).vcpus).toBe(2);
    expect(configGuest(1).vcpus).toBe(3);
  });
  it("does not report an unknown key twice when its line is already broken", () => {
    expect(onlyError(GUEST + "memroy 64M\n")).toBe('hv.toml:4:8: memroy: expected "=" after the key, found "6"');
  });
  it("does not report a key as missing when its value was broken", () => {
    expect(onlyError('[[guest]]\nname = "web"\nkernel = "web.elf\n')).toBe('hv.toml:3:10: kernel: unterminated string: the line ends before the closing " (strings cannot span lines)');
  });
});

describe("[[guest]] defaults", () => {
  it("gives a guest with only name and kernel 32M, 1 vCPU, no initrd, no cmdline, stop on crash, max 3 restarts", () => {
    let guest = firstGuest(GUEST);
    expect(nameOf(guest)).toBe("web");
    expect(guest.memoryBytes).toBe(32 << 20);
    expect(guest.vcpus).toBe(1);
    expect(guest.hasInitrd).toBe(false);
    expect(guest.initrdModule).toBe(-1);
    expect(guest.cmdlineLength).toBe(0);
    expect(guest.onCrashRestart).toBe(false);
    expect(guest.maxRestarts).toBe(3);
    expect(guest.cpuMask).toBe(0);
  });
});

describe("[[guest]] name", () => {
  it("is required, reported at the [[guest]] header", () => {
    expect(onlyError('\n  [[guest]]\nkernel = "web.elf"\n')).toBe("hv.toml:2:3: name: missing in [[guest]]");
  });
  it("takes a-z, 0-9 and -, 1 to 32 characters", () => {
    expect(nameOf(firstGuest('[[guest]]\nname = "a"\nkernel = "web.elf"\n'))).toBe("a");
    expect(nameOf(firstGuest('[[guest]]\nname = "web-2-db"\nkernel = "web.elf"\n'))).toBe("web-2-db");
    let longest = "a".repeat(32);
    expect(nameOf(firstGuest('[[guest]]\nname = "' + longest + '"\nkernel = "web.elf"\n'))).toBe(longest);
  });
  it("rejects an empty name", () => {
    expect(onlyError('[[guest]]\nname = ""\nkernel = "web.elf"\n')).toBe('hv.toml:2:8: name: must not be empty (1 to 32 characters: a-z, 0-9 and "-")');
  });
  it("rejects a name longer than 32 characters", () => {
    expect(onlyError('[[guest]]\nname = "' + "a".repeat(33) + '"\nkernel = "web.elf"\n')).toBe('hv.toml:2:8: name: "' + "a".repeat(33) + '" is too long (at most 32 characters)');
  });
  it("rejects upper case, spaces, dots and other characters", () => {
    expect(onlyError('[[guest]]\nname = "Web"\nkernel = "web.elf"\n')).toBe('hv.toml:2:8: name: "Web" may contain only a-z, 0-9 and "-"');
    expect(onlyError('[[guest]]\nname = "my web"\nkernel = "web.elf"\n')).toBe('hv.toml:2:8: name: "my web" may contain only a-z, 0-9 and "-"');
    expect(onlyError('[[guest]]\nname = "wéb"\nkernel = "web.elf"\n')).toBe('hv.toml:2:8: name: "wéb" may contain only a-z, 0-9 and "-"');
    expect(onlyError('[[guest]]\nname = "a_b"\nkernel = "web.elf"\n')).toBe('hv.toml:2:8: name: "a_b" may contain only a-z, 0-9 and "-"');
  });
  it("rejects a name that starts or ends with -", () => {
    expect(onlyError('[[guest]]\nname = "-web"\nkernel = "web.elf"\n')).toBe('hv.toml:2:8: name: "-web" must not start or end with "-"');
    expect(onlyError('[[guest]]\nname = "web-"\nkernel = "web.elf"\n')).toBe('hv.toml:2:8: name: "web-" must not start or end with "-"');
    expect(onlyError('[[guest]]\nname = "-"\nkernel = "web.elf"\n')).toBe('hv.toml:2:8: name: "-" must not start or end with "-"');
  });
  it("rejects a name another guest already uses, naming that guest's line", () => {
    setModules(["web.elf"]);
    let source = GUEST + "\n" + GUEST + "\n" + GUEST;
    expect(parse(source)).toBe(2);
    let all = errors();
    expect(all[0]).toBe('hv.toml:6:8: name: "web" is already used by the guest at line 1');
    expect(all[1]).toBe('hv.toml:10:8: name: "web" is already used by the guest at line 1');
  });
  it("rejects a name that is not a string", () => {
    expect(onlyError('[[guest]]\nname = 7\nkernel = "web.elf"\n')).toBe("hv.toml:2:8: name: expected a string, found an integer");
  });
  it("shows escapes in a rejected name instead of printing control characters", () => {
    expect(onlyError('[[guest]]\nname = "a\\u001b[2J"\nkernel = "web.elf"\n')).toBe('hv.toml:2:8: name: "a\\u001B[2J" may contain only a-z, 0-9 and "-"');
  });
});

describe("[[guest]] kernel and initrd", () => {
  it("require a kernel, naming the guest, at the [[guest]] header", () => {
    expect(onlyError('[[guest]]\nname = "web"\n')).toBe('hv.toml:1:1: kernel: missing in [[guest]] "web"');
  });
  it("report both name and kernel missing at the header", () => {
    expect(parse("[hypervisor]\n\n[[guest]]\nvcpus = 2\n")).toBe(2);
    let all = errors();
    expect(all[0]).toBe("hv.toml:3:1: name: missing in [[guest]]");
    expect(all[1]).toBe("hv.toml:3:1: kernel: missing in [[guest]]");
  });
  it("resolve a relative path against the config module's folder and look that name up", () => {
    setModules(["tests/configs/guests/web.elf", "tests/web.cpio"]);
    expect(parse('[[guest]]\nname = "web"\nkernel = "guests/web.elf"\ninitrd = "../web.cpio"\n', "tests/configs/hv.toml")).toBe(0);
    let guest = configGuest(0);
    expect(text(guest.kernelPointer, guest.kernelLength)).toBe("tests/configs/guests/web.elf");
    expect(guest.kernelModule).toBe(0);
    expect(text(guest.initrdPointer, guest.initrdLength)).toBe("tests/web.cpio");
    expect(guest.initrdModule).toBe(1);
    expect(lookups.join(",")).toBe("tests/configs/guests/web.elf,tests/web.cpio");
  });
  it("use a relative path as it is when the config's name has no folder", () => {
    setModules(["guests/web.elf"]);
    let guest = firstGuestNamed('[[guest]]\nname = "web"\nkernel = "./guests//web.elf"\n', "hv.toml");
    expect(text(guest.kernelPointer, guest.kernelLength)).toBe("guests/web.elf");
  });
  it("keep an absolute path (normalized)", () => {
    setModules(["/boot/web.elf"]);
    let guest = firstGuestNamed('[[guest]]\nname = "web"\nkernel = "/boot/x/../web.elf"\n', "/boot/hv/hv.toml");
    expect(text(guest.kernelPointer, guest.kernelLength)).toBe("/boot/web.elf");
  });
  it("reject a kernel that is not among the boot modules, at the value, with the resolved name", () => {
    setModules([]);
    expect(onlyError('[[guest]]\nname = "web"\nkernel = "guests/x.elf"\n', "tests/configs/hv.toml"))
      .toBe('tests/configs/hv.toml:3:10: kernel: "tests/configs/guests/x.elf" was not found (no boot module or file by that name)');
  });
  it("reject an initrd that is not among the boot modules", () => {
    setModules(["web.elf"]);
    expect(onlyError(GUEST + "initrd = 'web.cpio'\n")).toBe('hv.toml:4:10: initrd: "web.cpio" was not found (no boot module or file by that name)');
  });
  it("look modules up only when the config is otherwise valid", () => {
    setModules(["web.elf"]);
    expect(onlyError('[[guest]]\nname = "web"\nkernel = "missing.elf"\nvcpus = 0\n')).toBe("hv.toml:4:9: vcpus: 0 is out of range (1 to 8)");
    expect(lookups.length).toBe(0);
  });
  it("reject an empty path", () => {
    expect(onlyError('[[guest]]\nname = "web"\nkernel = ""\n')).toBe("hv.toml:3:10: kernel: must not be empty (a path to a boot module)");
  });
  it("reject a path longer than 1024 bytes", () => {
    expect(onlyError('[[guest]]\nname = "web"\nkernel = "' + "k".repeat(1025) + '"\n')).toBe("hv.toml:3:10: kernel: the path is 1025 bytes long (at most 1024)");
  });
  it("reject a path that is too long once resolved", () => {
    let folder = "f".repeat(1500) + "/";
    expect(onlyError('[[guest]]\nname = "web"\nkernel = "' + "k".repeat(1000) + '"\n', folder + "hv.toml"))
      .toBe(folder + "hv.toml:3:10: kernel: the path is longer than 2047 bytes once resolved against the config's folder");
  });
  it("reject control characters in a path", () => {
    expect(onlyError('[[guest]]\nname = "web"\nkernel = "a\\u0000b"\n')).toBe('hv.toml:3:10: kernel: "a\\u0000b" contains a control character');
  });
  it("reject a path that is not a string", () => {
    expect(onlyError('[[guest]]\nname = "web"\nkernel = ["a.elf"]\n')).toBe("hv.toml:3:10: kernel: expected a string, found an array");
  });
});

describe("[[guest]] cmdline", () => {
  it("takes up to 4095 bytes", () => {
    let guest = firstGuest(GUEST + 'cmdline = "' + "c".repeat(4095) + '"\n');
    expect(guest.cmdlineLength).toBe(4095);
  });
  it("rejects 4096 bytes or more", () => {
    expect(onlyError(GUEST + 'cmdline = "' + "c".repeat(4096) + '"\n')).toBe("hv.toml:4:11: cmdline: is 4096 bytes long (at most 4095)");
    expect(onlyError(GUEST + 'cmdline = "' + "c".repeat(20000) + '"\n')).toBe("hv.toml:4:11: cmdline: is 20000 bytes long (at most 4095)");
  });
  it("rejects control characters other than tab", () => {
    expect(onlyError(GUEST + 'cmdline = "a\\u001bb"\n')).toBe("hv.toml:4:11: cmdline: contains control character U+001B (only tab is allowed)");
    expect(onlyError(GUEST + 'cmdline = "\\u0000"\n')).toBe("hv.toml:4:11: cmdline: contains control character U+0000 (only tab is allowed)");
  });
});

describe("[[guest]] memory", () => {
  it("takes a size with a K, M or G suffix in either case", () => {
    expect(memoryOf('"32M"')).toBe(32 << 20);
    expect(memoryOf('"1G"')).toBe(1 << 30);
    expect(memoryOf('"2048k"')).toBe(2 << 20);
    expect(memoryOf('"1028K"')).toBe(1028 << 10);
    expect(memoryOf("'64g'")).toBe(<u64>64 << 30);
  });
  it("takes 1M and 64G, the limits", () => {
    expect(memoryOf('"1M"')).toBe(1 << 20);
    expect(memoryOf('"1024K"')).toBe(1 << 20);
    expect(memoryOf('"65536M"')).toBe(<u64>64 << 30);
  });
  it("rejects a size with an unknown suffix", () => {
    expect(onlyError(GUEST + 'memory = "12Q"\n')).toBe('hv.toml:4:10: memory: "12Q" is not a size (use K, M or G)');
  });
  it("rejects a size without a suffix, and text that is no size", () => {
    expect(onlyError(GUEST + 'memory = "32"\n')).toBe('hv.toml:4:10: memory: "32" is not a size (use K, M or G)');
    expect(onlyError(GUEST + 'memory = "32 MiB"\n')).toBe('hv.toml:4:10: memory: "32 MiB" is not a size (use K, M or G)');
    expect(onlyError(GUEST + 'memory = ""\n')).toBe('hv.toml:4:10: memory: "" is not a size (use K, M or G)');
    expect(onlyError(GUEST + 'memory = "' + "9".repeat(40) + 'M"\n')).toBe('hv.toml:4:10: memory: "' + "9".repeat(32) + '..." is not a size (use K, M or G)');
  });
  it("rejects less than 1M", () => {
    expect(onlyError(GUEST + 'memory = "512K"\n')).toBe('hv.toml:4:10: memory: "512K" is out of range (1M to 64G)');
    expect(onlyError(GUEST + 'memory = "0M"\n')).toBe('hv.toml:4:10: memory: "0M" is out of range (1M to 64G)');
  });
  it("rejects more than 64G", () => {
    expect(onlyError(GUEST + 'memory = "65G"\n')).toBe('hv.toml:4:10: memory: "65G" is out of range (1M to 64G)');
    expect(onlyError(GUEST + 'memory = "67108865K"\n')).toBe('hv.toml:4:10: memory: "67108865K" is out of range (1M to 64G)');
    expect(onlyError(GUEST + 'memory = "99999999999999999999G"\n')).toBe('hv.toml:4:10: memory: "99999999999999999999G" is out of range (1M to 64G)');
  });
  it("rejects a size that is not a multiple of 4K", () => {
    expect(onlyError(GUEST + 'memory = "1025K"\n')).toBe('hv.toml:4:10: memory: "1025K" is not a multiple of 4K');
  });
  it("rejects a bare integer, asking for a size string", () => {
    expect(onlyError(GUEST + "memory = 33554432\n")).toBe('hv.toml:4:10: memory: expected a string with a size such as "32M", found an integer');
    expect(onlyError(GUEST + "memory = true\n")).toBe("hv.toml:4:10: memory: expected a string, found a boolean");
  });
});

describe("[[guest]] vcpus", () => {
  it("takes 1 to 8", () => {
    expect(firstGuest(GUEST + "vcpus = 1\n").vcpus).toBe(1);
    expect(firstGuest(GUEST + "vcpus = 8\n").vcpus).toBe(8);
  });
  it("rejects 0 and 65", () => {
    expect(onlyError(GUEST + "vcpus = 0\n")).toBe("hv.toml:4:9: vcpus: 0 is out of range (1 to 8)");
    expect(onlyError(GUEST + "vcpus   =   9\n")).toBe("hv.toml:4:13: vcpus: 9 is out of range (1 to 8)");
  });
  it("rejects a string", () => {
    expect(onlyError(GUEST + '  vcpus = "2"\n')).toBe("hv.toml:4:11: vcpus: expected an integer, found a string");
  });
});

describe("[[guest]] cpus", () => {
  it("takes host CPU numbers as a mask, bit n for CPU n", () => {
    expect(cpusOf("[1, 2]")).toBe(0b110);
    expect(cpusOf("[0]")).toBe(1);
    expect(cpusOf("[63]")).toBe(<u64>1 << 63);
    expect(cpusOf("[3, 1]")).toBe(0b1010);
    expect(cpusOf("[ 0x3f , +5, -0, 1_0 ]")).toBe((<u64>1 << 63) | (1 << 5) | 1 | (1 << 10));
  });
  it("takes all 64 CPUs", () => {
    let all: string[] = [];
    for (let i = 63; i >= 0; i--) all.push(i.toString());
    expect(cpusOf("[" + all.join(", ") + "]")).toBe(u64.MAX_VALUE);
  });
  it("takes an array over several lines, with comments", () => {
    expect(cpusOf("[\n  4,   # é: the fast one\n  7,\n]")).toBe(0b10010000);
  });
  it("keeps each guest's own CPUs", () => {
    setModules(["web.elf", "db.elf"]);
    expect(parse(GUEST + "cpus = [1]\n[[guest]]\nname = \"db\"\nkernel = \"db.elf\"\n")).toBe(0);
    expect(configGuest(0).cpuMask).toBe(2);
    expect(configGuest(1).cpuMask).toBe(0);
  });
  it("rejects a value that is not an array of integers, at the value", () => {
    expect(onlyError(GUEST + 'cpus = "1,2"\n')).toBe("hv.toml:4:8: cpus: expected an array of CPU numbers, found a string");
    expect(onlyError(GUEST + "cpus = 1\n")).toBe("hv.toml:4:8: cpus: expected an array of CPU numbers, found an integer");
    expect(onlyError(GUEST + "cpus   = true\n")).toBe("hv.toml:4:10: cpus: expected an array of CPU numbers, found a boolean");
    expect(onlyError(GUEST + "cpus = ['1', \"2\"]\n")).toBe("hv.toml:4:8: cpus: expected an array of CPU numbers, found an array of strings");
  });
  it("rejects an empty list", () => {
    expect(onlyError(GUEST + "cpus = []\n")).toBe("hv.toml:4:8: cpus: the list is empty");
    expect(onlyError(GUEST + "cpus = [ # none\n]\n")).toBe("hv.toml:4:8: cpus: the list is empty");
  });
  it("rejects a CPU out of 0..63, at the element, as written", () => {
    expect(onlyError(GUEST + "cpus = [1, 64]\n")).toBe("hv.toml:4:12: cpus: 64 is out of range (0 to 63)");
    expect(onlyError(GUEST + "cpus = [-1]\n")).toBe("hv.toml:4:9: cpus: -1 is out of range (0 to 63)");
    expect(onlyError(GUEST + "cpus = [0x40]\n")).toBe("hv.toml:4:9: cpus: 0x40 is out of range (0 to 63)");
    expect(onlyError(GUEST + "cpus = [1,\t1_000]\n")).toBe("hv.toml:4:12: cpus: 1_000 is out of range (0 to 63)");
    expect(onlyError(GUEST + "cpus = [99999999999999999999]\n")).toBe("hv.toml:4:9: cpus: 99999999999999999999 is out of range (0 to 63)");
    expect(onlyError(GUEST + "cpus = [" + "9".repeat(40) + "]\n")).toBe("hv.toml:4:9: cpus: " + "9".repeat(32) + "... is out of range (0 to 63)");
  });
  it("finds the element's line and column in an array over several lines", () => {
    expect(onlyError(GUEST + "cpus = [\n  1,  # é\n\t70,\n]\n")).toBe("hv.toml:6:2: cpus: 70 is out of range (0 to 63)");
    expect(onlyError(GUEST + "cpus = [1,\r\n 2, 1]\r\n")).toBe("hv.toml:5:5: cpus: 1 is listed twice");
  });
  it("rejects a CPU listed twice, at the second, however written", () => {
    expect(onlyError(GUEST + "cpus = [1, 2, 1]\n")).toBe("hv.toml:4:15: cpus: 1 is listed twice");
    expect(onlyError(GUEST + "cpus = [0x1, 1]\n")).toBe("hv.toml:4:14: cpus: 1 is listed twice");
    expect(onlyError(GUEST + "cpus = [0, -0]\n")).toBe("hv.toml:4:12: cpus: 0 is listed twice");
  });
  it("reports one error per value", () => {
    expect(onlyError(GUEST + "cpus = [64, 65, 1, 1]\n")).toBe("hv.toml:4:9: cpus: 64 is out of range (0 to 63)");
  });
  it("rejects a second cpus", () => {
    expect(onlyError(GUEST + "cpus = [1]\ncpus = [2]\n")).toBe("hv.toml:5:1: cpus: duplicate key, already set at line 4");
  });
  it("leaves syntax errors in the array to the reader", () => {
    expect(onlyError(GUEST + "cpus = [1, [2]]\n")).toBe("hv.toml:4:12: cpus: nested arrays are not supported");
    expect(onlyError(GUEST + "cpus = [1, \"2\"]\n")).toBe("hv.toml:4:12: cpus: an array cannot mix integers and strings");
    expect(onlyError(GUEST + "cpus = [1 2]\n")).toBe('hv.toml:4:11: cpus: expected "," or "]" in the array, found "2"');
    expect(onlyError(GUEST + "cpus = [1.5]\n")).toBe("hv.toml:4:9: cpus: floating-point numbers are not supported");
  });
});

describe("[[guest]] on_crash and max_restarts", () => {
  it("take stop or restart", () => {
    expect(firstGuest(GUEST + 'on_crash = "stop"\n').onCrashRestart).toBe(false);
    expect(firstGuest(GUEST + 'on_crash = "restart"\n').onCrashRestart).toBe(true);
  });
  it("reject any other on_crash", () => {
    expect(onlyError(GUEST + 'on_crash = "reboot"\n')).toBe('hv.toml:4:12: on_crash: "reboot" is not one of "stop", "restart"');
    expect(onlyError(GUEST + 'on_crash = "Restart"\n')).toBe('hv.toml:4:12: on_crash: "Restart" is not one of "stop", "restart"');
    expect(onlyError(GUEST + "on_crash = 1\n")).toBe("hv.toml:4:12: on_crash: expected a string, found an integer");
  });
  it("take max_restarts from 0 to 1000", () => {
    expect(firstGuest(GUEST + "max_restarts = 0\n").maxRestarts).toBe(0);
    expect(firstGuest(GUEST + "max_restarts = 1000\n").maxRestarts).toBe(1000);
    expect(onlyError(GUEST + "max_restarts = -1\n")).toBe("hv.toml:4:16: max_restarts: -1 is out of range (0 to 1000)");
    expect(onlyError(GUEST + "max_restarts = 1_001\n")).toBe("hv.toml:4:16: max_restarts: 1_001 is out of range (0 to 1000)");
  });
});

describe("many guests", () => {
  it("accepts 256 guests", () => {
    let source = "";
    let names: string[] = [];
    for (let i = 0; i < 256; i++) {
      source += '[[guest]]\nname = "g' + i.toString() + '"\nkernel = "web.elf"\ncmdline = "' + "x".repeat(4000) + '"\n';
    }
    setModules(["web.elf"]);
    expect(parse(source)).toBe(0);
    expect(configGuestCount()).toBe(256);
    expect(nameOf(configGuest(255))).toBe("g255");
    expect(configGuest(255).cmdlineLength).toBe(4000);
    expect(nameOf(configGuest(0))).toBe("g0");
  });
  it("rejects a 257th guest once, and still checks the guests after it", () => {
    let source = "";
    for (let i = 0; i < 258; i++) {
      source += '[[guest]]\nname = "g' + i.toString() + '"\nkernel = "web.elf"\n';
    }
    source += "vcpus = 0\n";
    setModules(["web.elf"]);
    expect(parse(source)).toBe(2);
    let all = errors();
    expect(all[0]).toBe("hv.toml:769:3: guest: too many [[guest]] tables (at most 256)");
    expect(all[1]).toBe("hv.toml:775:9: vcpus: 0 is out of range (1 to 8)");
    expect(configGuestCount()).toBe(0);
  });
});

function firstGuestNamed(source: string, file: string): GuestConfig {
  let count = parse(source, file);
  expect(count).toBe(0, count > 0 ? errors()[0] : "");
  return configGuest(0);
}
