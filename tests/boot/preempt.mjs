// Preemption, the same under both vendors: a guest spinning with interrupts
// off beside a guest that measures its own progress and one that must
// finish. The host's time slice must take the CPU from the spinner.
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { buildIso, line, root } from "./lib.mjs";
import { guestLines } from "./guests.mjs";

// Builds the ISO; spinner and ticker loop counts differ per emulator speed.
export function preemptIso(name, { spinLoops, tickLoops }) {
  mkdirSync(path.join(root, "build/test-configs"), { recursive: true });
  const config = `build/test-configs/${name}.toml`;
  writeFileSync(path.join(root, config), `# Written by tests/boot/preempt.mjs.
[hypervisor]
timeslice_ms = 10

[[guest]]
name = "spinner"
kernel = "../guests/spinner.elf"
cmdline = "loops=${spinLoops}"
memory = "4M"

[[guest]]
name = "ticker"
kernel = "../guests/ticker.elf"
cmdline = "loops=${tickLoops}"
memory = "4M"

[[guest]]
name = "steady"
kernel = "../guests/memtest.elf"
cmdline = "pattern=steady"
memory = "8M"
`);
  const iso = buildIso(name, { config });
  assert.equal(iso.code, 0, iso.output);
  return iso.iso;
}

// Returns the ticker's longest gap in milliseconds.
export function assertPreemption(r) {
  line(r, /^\[hv\] running 3 guest\(s\) on .*, time slice 10 ms$/);
  assert.deepEqual(guestLines(r, "spinner"), ["spinner: spinning with interrupts off", "spinner: done"]);
  assert.deepEqual(guestLines(r, "steady"), ["memtest: 6 MiB checked, ok: 0 bad words"]);
  const mhz = Number(line(r, /^\[hv\] cpu: .*, (\d+) MHz TSC/).match(/(\d+) MHz TSC/)[1]);
  const tick = guestLines(r, "ticker").join("\n").match(/^ticker: longest gap (\d+) Ki TSC cycles in (\d+) Mi TSC cycles$/);
  assert.ok(tick, r.output.slice(-3000));
  const gapMs = (Number(tick[1]) * 1024) / (mhz * 1000);
  // Two other guests share the CPU: their two slices, plus slack for an
  // emulator sharing two host cores with everything else. Without
  // preemption the spinner alone would hold the CPU for its whole run
  // (seconds).
  assert.ok(gapMs <= 2 * 10 + 30, `the ticker waited ${gapMs.toFixed(1)} ms at once`);
  for (const g of ["spinner", "ticker", "steady"]) line(r, new RegExp(`^\\[hv\\] guest ${g} stopped: exit code 0$`));
  line(r, /^\[hv\] all guests stopped$/);
  assert.equal(r.code, 0);
  return gapMs;
}
