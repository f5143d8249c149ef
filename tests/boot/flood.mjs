// A flooding guest beside others: every line it wrote arrives whole and in
// order, at no more than its share of the host console (its UART waits:
// devices/console_line.ts), and the others' lines arrive too: the
// neighbour on the same host CPU (tests/guests/soak.c) keeps printing its
// timestamped lines on time while the flood lasts.
import assert from "node:assert/strict";
import { line } from "./lib.mjs";
import { guestLines } from "./guests.mjs";
import { adler32 } from "./checksum.mjs";

// The flood's share (pinned in tests/configs/flood.toml) and the burst
// (assembly/devices/console_line.ts).
const CONSOLE_BYTES_PER_SECOND = 5760;
const CONSOLE_BURST_BYTES = 64;
const TIMESLICE_MS = 10;

// The neighbour's lines: all there, in order, checksums right; answers the
// longest gap between two by its own clock (ms).
function neighbourGap(r, name) {
  const lines = guestLines(r, name);
  const end = /^soak end lines=(\d+) sum=([0-9a-f]{8})$/.exec(lines.at(-1) ?? "");
  assert.ok(end, `${name} printed its end line:\n${lines.slice(-3).join("\n")}`);
  const count = Number(end[1]);
  assert.ok(count > 0);
  assert.equal(lines.length, count + 1, `${name}: ${lines.length - 1} of ${count} lines arrived`);
  let longest = 0, previous = null;
  lines.slice(0, -1).forEach((l, i) => {
    const m = /^soak seq=(\d+) t=(\d+) .* sum=([0-9a-f]{8})$/.exec(l);
    assert.ok(m, `${name}: ${l}`);
    assert.equal(Number(m[1]), i, `${name}: line ${i} in order`);
    assert.equal(adler32(l.slice(0, l.lastIndexOf(" sum="))), parseInt(m[3], 16), `${name}: ${l} whole`);
    const t = Number(m[2]) / 1000;
    if (previous !== null) longest = Math.max(longest, t - previous);
    previous = t;
  });
  return longest;
}

export function assertFlood(r, count) {
  line(r, /^\[hv\] guest flood: 4 MiB, 1 vCPU, kernel .*, cmdline "lines=1000", console 5760 bytes\/s$/);
  const lines = guestLines(r, "flood");
  assert.equal(lines.length, count + 1, `${lines.length - 1} of ${count} flood lines arrived`);
  lines.slice(0, count).forEach((l, i) => assert.equal(l, `flood: line ${i} the quick brown fox jumps over the lazy dog`));
  // No line of any guest was cut by another's output.
  for (const l of r.lines) {
    if (l.includes("flood: line") && !l.startsWith("[flood] flood: line")) assert.fail(`interleaved: ${l}`);
  }
  // Its rate by its own clock: within its share, and not far below it.
  const rate = /^flood: (\d+) bytes in (\d+) ms$/.exec(lines[count]);
  assert.ok(rate, lines[count]);
  const [bytes, ms] = [Number(rate[1]), Number(rate[2])];
  const perSecond = bytes * 1000 / Math.max(ms, 1);
  assert.ok(bytes <= CONSOLE_BURST_BYTES + Math.ceil(CONSOLE_BYTES_PER_SECOND * (ms + 1) / 1000),
            `the flood printed ${bytes} bytes in ${ms} ms: over its share`);
  assert.ok(perSecond >= 0.3 * CONSOLE_BYTES_PER_SECOND, `the flood printed only ${perSecond.toFixed(0)} bytes/s`);
  assert.equal(guestLines(r, "hello").length, 2);
  assert.deepEqual(guestLines(r, "steady"), ["memtest: 6 MiB checked, ok: 0 bad words"]);
  // The neighbour's 50 ms lines: late by no more than one slice of each of
  // the three others on its CPU and two more.
  const gap = neighbourGap(r, "neighbour");
  assert.ok(gap <= 50 + (3 + 2) * TIMESLICE_MS, `the neighbour waited ${gap.toFixed(1)} ms between two lines`);
  for (const g of ["flood", "hello", "steady", "neighbour"]) line(r, new RegExp(`^\\[hv\\] guest ${g} stopped: exit code 0$`));
  assert.equal(r.code, 0);
  return { perSecond, ms, gap };
}

// A flood with the share derived from the host port (tests/configs/
// console_share.toml): every line arrives, far faster than the share of a
// 115200-baud port, and the console's measured rate was printed.
// Answers the rates in bytes per second.
export function assertUnpinnedFlood(r, count) {
  const carried = Number(/(\d+) bytes/.exec(line(r, /^\[hv\] console: carries \d+ bytes\/s$/))[1]);
  const lines = guestLines(r, "flood");
  assert.equal(lines.length, count + 1, `${lines.length - 1} of ${count} flood lines arrived`);
  lines.slice(0, count).forEach((l, i) => assert.equal(l, `flood: line ${i} the quick brown fox jumps over the lazy dog`));
  const rate = /^flood: (\d+) bytes in (\d+) ms$/.exec(lines[count]);
  assert.ok(rate, lines[count]);
  const perSecond = Number(rate[1]) * 1000 / Math.max(Number(rate[2]), 1);
  assert.ok(carried >= 8 * CONSOLE_BYTES_PER_SECOND, `the console carries only ${carried} bytes/s`);
  assert.ok(perSecond >= 4 * CONSOLE_BYTES_PER_SECOND, `the flood printed only ${perSecond.toFixed(0)} bytes/s`);
  line(r, /^\[hv\] guest flood stopped: exit code 0$/);
  assert.equal(r.code, 0);
  return { carried, perSecond };
}
