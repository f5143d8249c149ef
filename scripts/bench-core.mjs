#!/usr/bin/env node
// Issue 10's figure P1, instructions per exit in the core: the guest VMM
// (AssemblyScript -> Wasm -> wasm2c -> C, with its glue, linker/core.c and
// imports.c) against the reference, the same exits handled by plain C
// (tests/host/reference.c), counted by callgrind on the host harness:
//
//   node scripts/bench-core.mjs [--reps N] [--kinds cpuid,io,...] [--json FILE]
//   node scripts/bench-core.mjs --annotate KIND
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
//
// --annotate KIND says where the instructions go: it builds a copy of the
// core with the Wasm name section kept (asc --debug, wasm-opt -g: the same
// code, the names of the AssemblyScript functions instead of w2c_guest_fNN)
// and the harness on it, in a temporary directory, and prints each
// function's own instructions per exit, for the core and for the reference.

import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
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
let annotate = null;
const args = process.argv.slice(2);
function usage() {
  process.stderr.write("usage: node scripts/bench-core.mjs [--reps N] [--kinds cpuid,io,msr,eoi,hlt,window] [--json FILE]\n" +
                       "       node scripts/bench-core.mjs --annotate cpuid|io|msr|eoi|hlt|window\n");
  process.exit(2);
}
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--reps" && /^[1-9][0-9]*$/.test(args[i + 1] ?? "")) reps = Number(args[++i]);
  else if (args[i] === "--kinds" && args[i + 1]) {
    kinds = args[++i].split(",");
    if (kinds.some((k) => !ALL_KINDS.includes(k))) usage();
  } else if (args[i] === "--json" && args[i + 1]) jsonOut = path.resolve(args[++i]);
  else if (args[i] === "--annotate" && ALL_KINDS.includes(args[i + 1])) annotate = args[++i];
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

// Instructions callgrind counts for the whole of `hvhost <mode> <count> <kind>`
// (each function's own, by name, in `profile` when given).
function instructions(mode, count, kind, hvhost = HVHOST, profile = null) {
  const out = profile ?? "/dev/null";
  const argv = ["--tool=callgrind", `--callgrind-out-file=${out}`, hvhost, mode, String(count), kind];
  const r = spawnSync("valgrind", argv, { cwd: root, encoding: "utf8", stdio: ["ignore", "ignore", "pipe"] });
  const m = /Collected : (\d+)/.exec(r.stderr ?? "");
  if (r.status !== 0 || !m) {
    process.stderr.write(`bench-core: valgrind ${argv.join(" ")} failed (exit ${r.status}):\n${(r.stderr ?? "").slice(-2000)}`);
    process.exit(1);
  }
  return Number(m[1]);
}

const perExit = (mode, kind) => (instructions(mode, HIGH, kind) - instructions(mode, LOW, kind)) / (HIGH - LOW);

const round = (x) => Math.round(x * 10) / 10;
const fmt = (x) => (Number.isInteger(round(x)) ? String(round(x)) : round(x).toFixed(1));
const geomean = (xs) => Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length);

// Each function's own instructions in a callgrind profile.
function selfCosts(profile) {
  const r = spawnSync("callgrind_annotate", ["--threshold=100", profile], { encoding: "utf8", maxBuffer: 1 << 26 });
  const costs = new Map();
  for (const line of (r.stdout ?? "").split("\n")) {
    const m = /^\s*([\d,]+) \([^)]*\)\s+\S+?:(\S+)/.exec(line);
    if (!m) continue;
    const name = m[2].replace(/^w2c_guest_assembly0x2F/, "").replace(/0x2F/g, "/").replace(/0x23/g, "#")
      .replace(/0x40/g, "@").replace(/\.(constprop|isra|part)\.\d+/g, "");
    costs.set(name, (costs.get(name) ?? 0) + Number(m[1].replace(/,/g, "")));
  }
  return costs;
}

if (annotate) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "bench-core-"));
  const bin = path.join(root, "node_modules/.bin");
  const entries = JSON.parse(fs.readFileSync(path.join(root, "asconfig.json"), "utf8")).targets.guest.entries;
  fs.mkdirSync(path.join(tmp, "core"));
  // The Makefile's chain (asc, wasm-opt, wasm-ctor-eval, wasm-opt, merge-data-segments, wasm2c, prune-stack-checks), names kept.
  must(path.join(bin, "asc"), [...entries, "--config", "asconfig.json", "--target", "guest", "--debug",
                               "-o", path.join(tmp, "guest.raw.wasm")]);
  const features = ["--enable-bulk-memory", "--enable-sign-ext", "--enable-mutable-globals"];
  must(path.join(bin, "wasm-opt"), ["-O3", ...features, "-g",
                                    path.join(tmp, "guest.raw.wasm"), "-o", path.join(tmp, "guest.opt.wasm")]);
  must(path.join(bin, "wasm-ctor-eval"), [path.join(tmp, "guest.opt.wasm"), "--ctors=_start", ...features, "-g",
                                          "-o", path.join(tmp, "guest.eval.wasm")]);
  must(path.join(bin, "wasm-opt"), ["-O3", ...features, "-g",
                                    path.join(tmp, "guest.eval.wasm"), "-o", path.join(tmp, "guest.wasm")]);
  must("node", [path.join(root, "scripts/merge-data-segments.mjs"), path.join(tmp, "guest.wasm")]);
  must(path.join(bin, "wasm2c"), [path.join(tmp, "guest.wasm"), "-n", "guest", "--disable-simd",
                                  "-o", path.join(tmp, "core/guest.c")]);
  must("node", [path.join(root, "scripts/prune-stack-checks.mjs"), path.join(tmp, "core/guest.c"), "guest"]);
  for (const f of ["supervisor.c", "supervisor.h"]) fs.copyFileSync(path.join(root, "build/core", f), path.join(tmp, "core", f));
  must("make", ["-s", "-C", "tests/host", `BUILD=${tmp}`, `OUT=${tmp}/host`, `${tmp}/host/hvhost`]);
  const named = path.join(tmp, "host/hvhost");
  console.log(`bench-core: ${annotate} exits, each function's own instructions per exit ` +
              `((I(${HIGH}) - I(${LOW})) / ${HIGH - LOW}, a copy of the core with its names, in ${tmp})`);
  for (const [who, mode] of [["core", "exits"], ["reference", "ref-exits"]]) {
    const low = path.join(tmp, `${mode}.${LOW}.out`), high = path.join(tmp, `${mode}.${HIGH}.out`);
    const total = (instructions(mode, HIGH, annotate, named, high) - instructions(mode, LOW, annotate, named, low)) / (HIGH - LOW);
    const a = selfCosts(low), b = selfCosts(high);
    const rows = [...new Set([...a.keys(), ...b.keys()])]
      .map((name) => [name, ((b.get(name) ?? 0) - (a.get(name) ?? 0)) / (HIGH - LOW)])
      .filter(([, v]) => v >= 0.5).sort((x, y) => y[1] - x[1]);
    console.log(`${who}: ${fmt(total)} instructions per ${annotate} exit`);
    for (const [name, v] of rows) console.log(`  ${fmt(v).padStart(7)}  ${name}`);
  }
  const real = perExit("exits", annotate);
  console.log(`bench-core: the build in build/host counts ${fmt(real)} per exit for the core` +
              " (the named copy is the same code when the two agree)");
  process.exit(0);
}

function summary(values) {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  return { median, min: s[0], max: s[s.length - 1] };
}


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
