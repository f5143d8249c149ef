// What init() prints and returns: the plan of a valid config, or its errors.

import { reportNoConfig } from "../../../assembly/config/report";
import { report, returned, setModules } from "./helpers";

const GUEST = '[[guest]]\nname = "web"\nkernel = "web.elf"\n';

let noConfigLines: string[] = [];
function collect(pointer: usize, length: u32): void {
  noConfigLines.push(String.UTF8.decodeUnsafe(pointer, length));
}

describe("the plan of a valid config", () => {
  it("names the config, counts the guests and describes each", () => {
    setModules(["tests/configs/guests/web.elf", "tests/configs/guests/web.cpio", "tests/configs/db.elf"]);
    let lines = report(
      "[hypervisor]\ntimeslice_ms = 5\n\n" +
      '[[guest]]\nname = "web"\nkernel = "guests/web.elf"\ninitrd = "guests/web.cpio"\n' +
      'cmdline = "console=ttyS0 quiet"\nmemory = "256M"\nvcpus = 2\non_crash = "restart"\nmax_restarts = 5\n\n' +
      '[[guest]]\nname = "db"\nkernel = "db.elf"\n',
      "tests/configs/hv.toml",
    );
    expect(returned).toBe(2);
    expect(lines.length).toBe(3);
    expect(lines[0]).toBe("[hv] config tests/configs/hv.toml: 2 guests\n");
    expect(lines[1]).toBe('[hv] guest web: 256 MiB, 2 vCPUs, kernel tests/configs/guests/web.elf, initrd tests/configs/guests/web.cpio, cmdline "console=ttyS0 quiet", on_crash restart (max 5)\n');
    expect(lines[2]).toBe("[hv] guest db: 32 MiB, 1 vCPU, kernel tests/configs/db.elf\n");
  });
  it("says 1 guest, not 1 guests", () => {
    setModules(["web.elf"]);
    let lines = report(GUEST);
    expect(returned).toBe(1);
    expect(lines[0]).toBe("[hv] config hv.toml: 1 guest\n");
    expect(lines[1]).toBe("[hv] guest web: 32 MiB, 1 vCPU, kernel web.elf\n");
  });
  it("gives memory that is not a whole number of MiB in KiB", () => {
    setModules(["web.elf"]);
    expect(report(GUEST + 'memory = "1028K"\n')[1]).toBe("[hv] guest web: 1028 KiB, 1 vCPU, kernel web.elf\n");
    expect(report(GUEST + 'memory = "2G"\n')[1]).toBe("[hv] guest web: 2048 MiB, 1 vCPU, kernel web.elf\n");
  });
  it("quotes the cmdline with escapes", () => {
    setModules(["web.elf"]);
    expect(report(GUEST + "cmdline = 'say \"hi\"\tnow\\\\'\n")[1]).toBe('[hv] guest web: 32 MiB, 1 vCPU, kernel web.elf, cmdline "say \\"hi\\"\\tnow\\\\\\\\"\n');
  });
  it("prints a 4095-byte cmdline whole", () => {
    setModules(["web.elf"]);
    let cmdline = "c".repeat(4095);
    expect(report(GUEST + 'cmdline = "' + cmdline + '"\n')[1]).toBe('[hv] guest web: 32 MiB, 1 vCPU, kernel web.elf, cmdline "' + cmdline + '"\n');
  });
  it("gives a pinned guest's CPUs last, ascending, and leaves them out when unpinned", () => {
    setModules(["web.elf"]);
    expect(report(GUEST + "cpus = [2, 1]\n")[1]).toBe("[hv] guest web: 32 MiB, 1 vCPU, kernel web.elf, cpus [1, 2]\n");
    expect(report(GUEST + 'cpus = [63, 0]\non_crash = "restart"\n')[1]).toBe("[hv] guest web: 32 MiB, 1 vCPU, kernel web.elf, on_crash restart (max 3), cpus [0, 63]\n");
    expect(report(GUEST + "cpus = [5]\n")[1]).toBe("[hv] guest web: 32 MiB, 1 vCPU, kernel web.elf, cpus [5]\n");
  });
  it("leaves out on_crash when it is stop", () => {
    setModules(["web.elf"]);
    expect(report(GUEST + 'on_crash = "stop"\nmax_restarts = 9\n')[1]).toBe("[hv] guest web: 32 MiB, 1 vCPU, kernel web.elf\n");
  });
});

describe("a config without guests", () => {
  it("is valid, says so and answers 0", () => {
    let lines = report("[hypervisor]\ntimeslice_ms = 20\n");
    expect(returned).toBe(0);
    expect(lines.length).toBe(1);
    expect(lines[0]).toBe("[hv] config hv.toml: no guests\n");
  });
  it("includes an empty file", () => {
    expect(report("", "boot/empty.toml")[0]).toBe("[hv] config boot/empty.toml: no guests\n");
    expect(returned).toBe(0);
  });
});

describe("a config with errors", () => {
  it("prints each error as [hv] file:line:column: key: what, and answers 0", () => {
    let lines = report('[[guest]]\nname = "web"\nkernel = "web.elf"\nmemory = "12Q"\nvcpus = 0\n', "boot/hv.toml");
    expect(returned).toBe(0);
    expect(lines.length).toBe(2);
    expect(lines[0]).toBe('[hv] boot/hv.toml:4:10: memory: "12Q" is not a size (use K, M or G)\n');
    expect(lines[1]).toBe("[hv] boot/hv.toml:5:9: vcpus: 0 is out of range (1 to 8)\n");
  });
  it("prints the errors in file order, though a missing key is found at the table's end", () => {
    let lines = report('[[guest]]\nname = "web"\nvcpus = 0\n[[guest]]\nvcpus = 0\n');
    expect(lines.length).toBe(5);
    expect(lines[0]).toBe('[hv] hv.toml:1:1: kernel: missing in [[guest]] "web"\n');
    expect(lines[1]).toBe("[hv] hv.toml:3:9: vcpus: 0 is out of range (1 to 8)\n");
    expect(lines[2]).toBe("[hv] hv.toml:4:1: name: missing in [[guest]]\n");
    expect(lines[3]).toBe("[hv] hv.toml:4:1: kernel: missing in [[guest]]\n");
    expect(lines[4]).toBe("[hv] hv.toml:5:9: vcpus: 0 is out of range (1 to 8)\n");
  });
  it("prints the first 20 errors, then how many more there are", () => {
    let source = "[[guest]]\n";
    for (let i = 0; i < 25; i++) source += "bad" + i.toString() + " = 1\n";
    let lines = report(source);
    // 25 unknown keys, name and kernel missing.
    expect(lines.length).toBe(21);
    expect(lines[0]).toBe("[hv] hv.toml:1:1: name: missing in [[guest]]\n");
    expect(lines[1]).toBe("[hv] hv.toml:1:1: kernel: missing in [[guest]]\n");
    expect(lines[2]).toBe("[hv] hv.toml:2:1: bad0: unknown key in [[guest]] (known keys: name, kernel, initrd, cmdline, memory, vcpus, cpus, on_crash, max_restarts, stop_after_ms, console_bytes_per_second)\n");
    expect(lines[19]).toBe("[hv] hv.toml:19:1: bad17: unknown key in [[guest]] (known keys: name, kernel, initrd, cmdline, memory, vcpus, cpus, on_crash, max_restarts, stop_after_ms, console_bytes_per_second)\n");
    expect(lines[20]).toBe("[hv] and 7 more errors\n");
  });
  it("says 1 more error, not 1 more errors", () => {
    let source = "[hypervisor]\n";
    for (let i = 0; i < 21; i++) source += "k" + i.toString() + " = 1\n";
    let lines = report(source);
    expect(lines[20]).toBe("[hv] and 1 more error\n");
  });
});

describe("no config module", () => {
  it("tells how to add one", () => {
    noConfigLines = [];
    reportNoConfig(collect);
    expect(noConfigLines.length).toBe(1);
    expect(noConfigLines[0]).toBe("[hv] no config: no boot module named *.toml (add one to grub.cfg)\n");
  });
});
