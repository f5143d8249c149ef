// What every emulator must print for tests/configs/exits.toml: the same
// per-guest lines and stop lines under AMD-V (QEMU) and VT-x (Bochs).
import assert from "node:assert/strict";
import { line } from "./lib.mjs";

// Lines of one guest, in order, without the "[name] " prefix.
export function guestLines(r, name) {
  const prefix = `[${name}] `;
  return r.lines.filter((l) => l.startsWith(prefix)).map((l) => l.slice(prefix.length));
}

function stopLine(r, name) {
  const stops = r.hv.filter((l) => l.startsWith(`[hv] guest ${name} stopped: `));
  assert.equal(stops.length, 1, `exactly one stop line for ${name}:\n${r.output.slice(-3000)}`);
  return stops[0].slice(`[hv] guest ${name} stopped: `.length);
}

function allOk(r, name, tag, count) {
  const lines = guestLines(r, name).filter((l) => l.startsWith(`${tag}: `));
  const oks = lines.filter((l) => l.startsWith(`${tag}: ok `));
  assert.deepEqual(lines.filter((l) => l.includes("FAIL")), [], `${name} reported failures`);
  assert.equal(oks.length, count, `${name}: ${count} checks passed:\n${lines.join("\n")}`);
}

export function assertExitPaths(r) {
  // hello: the multiboot loader's hand-over.
  assert.deepEqual(guestLines(r, "hello"), [
    "hello from a multiboot guest",
    'magic 0x2badb002, memory 639 KiB low, 7168 KiB high, cmdline "greeting=hello"',
  ]);
  assert.equal(stopLine(r, "hello"), "exit code 0");

  allOk(r, "cpuid", "cpuid", 5);
  assert.match(guestLines(r, "cpuid").at(-1), /^cpuid: signature "[\x20-\x7e]{12}"$/);
  assert.equal(stopLine(r, "cpuid"), "exit code 0");

  allOk(r, "io", "io", 5);
  // The partial last line is flushed before the stop line.
  assert.equal(guestLines(r, "io").at(-1), "io: a line without a newline at the end");
  assert.ok(r.lines.indexOf("[io] io: a line without a newline at the end") <
            r.lines.findIndex((l) => l.startsWith("[hv] guest io stopped")));
  assert.equal(stopLine(r, "io"), "exit code 7");

  allOk(r, "msr", "msr", 12);
  assert.equal(stopLine(r, "msr"), "exit code 0");

  allOk(r, "virt", "virt", 11);
  assert.equal(stopLine(r, "virt"), "exit code 0");

  assert.ok(guestLines(r, "outside").includes("outside: ok   it reads all ones, the write was dropped"),
            guestLines(r, "outside").join("\n"));
  assert.equal(stopLine(r, "outside"), "access outside RAM at guest-physical 0x40000000 (execute, RIP 0x40000000)");
  line(r, /^\[hv\] guest outside exits: .*unclaimed MMIO 2$/);
  assert.equal(stopLine(r, "triple"), "triple fault");
  assert.match(stopLine(r, "hlt-cli"), /^halted with interrupts disabled/);

  for (const m of ["memtest-a", "memtest-b"]) {
    assert.deepEqual(guestLines(r, m), ["memtest: 22 MiB checked, ok: 0 bad words"]);
    assert.equal(stopLine(r, m), "exit code 0");
  }
  line(r, /^\[hv\] all guests stopped$/);
  line(r, /^\[hv\] power off: success$/);
  assert.equal(r.code, 0);
}
