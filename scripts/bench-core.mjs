#!/usr/bin/env node
// Issue 10's figure P1, instructions per exit in the core: the guest VMM
// (AssemblyScript -> Wasm -> wasm2c -> C, with its glue, linker/core.c and
// imports.c) against the reference, the same exits handled by plain C
// (tests/host/reference.c), counted by callgrind on the host harness:
//
//   node scripts/bench-core.mjs [--reps N] [--kinds cpuid,io,...] [--json FILE]
//   scripts/bench --core [same options]
//
// For each kind of exit (hvhost exits / ref-exits: cpuid, io, msr, eoi,
// hlt, window) callgrind counts the whole program at 1000 and at 2000
// exits; the difference over 1000 is the instructions per exit, harness
// loop included (the same record setup for both; its own share is printed
// too, from `hvhost fill-exits`). N repetitions (3), core and reference
// alternating; the median and the spread of each, their ratio per kind,
// and the geometric means over the kinds. `hvhost ref-check` (in the host
// tests) proves the reference answers each of these exits as the core does.

import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const HVHOST = path.join(root, "build/host/hvhost");
const ALL_KINDS = ["cpuid", "io", "msr", "eoi", "hlt", "window"];
const GOAL = 1.10;
const LOW = 1000, HIGH = 2000;

let reps = 3;
let kinds = ALL_KINDS;
let jsonOut = null;
const args = process.argv.slice(2);
function usage() {
  process.stderr.write("usage: node scripts/bench-core.mjs [--reps N] [--kinds cpuid,io,msr,eoi,hlt,window] [--json FILE]\n");
  process.exit(2);
}
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--reps" && /^[1-9][0-9]*$/.test(args[i + 1] ?? "")) reps = Number(args[++i]);
  else if (args[i] === "--kinds" && args[i + 1]) {
    kinds = args[++i].split(",");
    if (kinds.some((k) => !ALL_KINDS.includes(k))) usage();
  } else if (args[i] === "--json" && args[i + 1]) jsonOut = path.resolve(args[++i]);
  else usage();
}

function must(command, argv) {
  const r = spawnSync(command, argv, { cwd: root, encoding: "utf8" });
  if (r.error || r.status !== 0) {
    process.stderr.write(`bench-core: ${command} ${argv.join(" ")} failed:\n${r.error ?? ""}${r.stdout ?? ""}${r.stderr ?? ""}`);
    process.exit(1);
  }
}

if (spawnSync("valgrind", ["--version"]).status !== 0) {
  process.stderr.write("bench-core: needs valgrind (callgrind)\n");
  process.exit(1);
}
must("make", ["-s", "core"]);
must("make", ["-s", "-C", "tests/host", "../../build/host/hvhost"]);

// Instructions callgrind counts for the whole of `hvhost <mode> <count> <kind>`.
function instructions(mode, count, kind) {
  const argv = ["--tool=callgrind", "--callgrind-out-file=/dev/null", HVHOST, mode, String(count), kind];
  const r = spawnSync("valgrind", argv, { cwd: root, encoding: "utf8", stdio: ["ignore", "ignore", "pipe"] });
  const m = /Collected : (\d+)/.exec(r.stderr ?? "");
  if (r.status !== 0 || !m) {
    process.stderr.write(`bench-core: valgrind ${argv.join(" ")} failed (exit ${r.status}):\n${(r.stderr ?? "").slice(-2000)}`);
    process.exit(1);
  }
  return Number(m[1]);
}

const perExit = (mode, kind) => (instructions(mode, HIGH, kind) - instructions(mode, LOW, kind)) / (HIGH - LOW);

function summary(values) {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  return { median, min: s[0], max: s[s.length - 1] };
}

const round = (x) => Math.round(x * 10) / 10;
const fmt = (x) => (Number.isInteger(round(x)) ? String(round(x)) : round(x).toFixed(1));
const geomean = (xs) => Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length);

console.log(`bench (core): instructions per exit, guest VMM and glue vs the C reference (callgrind, ` +
            `(I(${HIGH}) - I(${LOW})) / ${HIGH - LOW}, ${reps} runs each, alternating)`);
const result = { kinds: {}, geomean: null, goal: GOAL, method: { low: LOW, high: HIGH, reps } };
for (const kind of kinds) {
  const core = [], reference = [];
  for (let r = 0; r < reps; r++) {
    core.push(perExit("exits", kind));
    reference.push(perExit("ref-exits", kind));
  }
  const harness = perExit("fill-exits", kind);
  const c = summary(core), f = summary(reference);
  const ratio = c.median / f.median;
  result.kinds[kind] = {
    core: { median: round(c.median), min: round(c.min), max: round(c.max) },
    reference: { median: round(f.median), min: round(f.min), max: round(f.max) },
    ratio: Math.round(ratio * 100) / 100,
    harness: round(harness),
  };
  console.log(`P1 ${kind}: ${fmt(c.median)} vs ${fmt(f.median)} instructions per exit = ${ratio.toFixed(2)}x`);
  console.log(`   spread: core ${fmt(c.min)}-${fmt(c.max)}, reference ${fmt(f.min)}-${fmt(f.max)}; ` +
              `of each, the harness's record fill ${fmt(harness)}`);
}
const coreMean = geomean(kinds.map((k) => result.kinds[k].core.median));
const refMean = geomean(kinds.map((k) => result.kinds[k].reference.median));
const ratio = coreMean / refMean;
result.geomean = { core: round(coreMean), reference: round(refMean), ratio: Math.round(ratio * 100) / 100 };
console.log(`P1 instructions per exit in the core (geometric mean of ${kinds.length} kinds): ` +
            `${fmt(coreMean)} vs ${fmt(refMean)} = ${ratio.toFixed(2)} (goal <= ${GOAL.toFixed(2)})`);
if (jsonOut) {
  fs.writeFileSync(jsonOut, JSON.stringify(result, null, 2) + "\n");
  console.log(`bench-core: wrote ${path.relative(process.cwd(), jsonOut) || jsonOut}`);
}
