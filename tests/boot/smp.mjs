// Host SMP, the same under both vendors: two CPUs, guests pinned with
// `cpus` or spread by load, a spinner on CPU 1 that cannot slow CPU 0.
import assert from "node:assert/strict";
import { line } from "./lib.mjs";
import { guestLines } from "./guests.mjs";

export function assertSmp(r) {
  line(r, /^\[hv\] cpus: 2 online$/);
  line(r, /^\[hv\] guest far: its cpus are not on this host \(2 CPUs\): running it on CPU [01]$/);
  const cpu0 = line(r, /^\[hv\] CPU 0: /), cpu1 = line(r, /^\[hv\] CPU 1: /);
  assert.match(cpu0, /\bticker\b/);
  assert.match(cpu1, /\bspinner\b/);
  // The two memtests went to different CPUs (spread by load).
  assert.ok(/memtest-a/.test(cpu0) !== /memtest-a/.test(cpu1));
  assert.ok(/memtest-a/.test(cpu0) !== /memtest-b/.test(cpu0));
  for (const m of ["memtest-a", "memtest-b"]) {
    assert.deepEqual(guestLines(r, m), ["memtest: 14 MiB checked, ok: 0 bad words"]);
  }
  assert.equal(guestLines(r, "far").length, 2);
  assert.deepEqual(guestLines(r, "spinner"), ["spinner: spinning with interrupts off", "spinner: done"]);
  const mhz = Number(line(r, /^\[hv\] cpu: .*, (\d+) MHz TSC/).match(/(\d+) MHz TSC/)[1]);
  const tick = guestLines(r, "ticker").join("\n").match(/longest gap (\d+) Ki TSC cycles/);
  assert.ok(tick, r.output.slice(-3000));
  for (const g of ["spinner", "ticker", "memtest-a", "memtest-b", "far"]) {
    line(r, new RegExp(`^\\[hv\\] guest ${g} stopped: exit code 0$`));
  }
  line(r, /^\[hv\] all guests stopped$/);
  assert.equal(r.code, 0);
  return (Number(tick[1]) * 1024) / (mhz * 1000);
}
