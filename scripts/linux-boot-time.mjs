#!/usr/bin/env node
// Linux boot time under the hypervisor against the same kernel run by QEMU
// directly, side by side in one run (issue 9's close figure; issue 10's P3):
//
//   node scripts/linux-boot-time.mjs [--runs N] [--json FILE]
//
// One Debian kernel and busybox initramfs (scripts/linux-guest), one
// command line (console=ttyS0), measured from the start of each command
// to its init's marker line, N times each, alternating:
//   hypervisor: scripts/run --emu qemu on an ISO of tests/configs/linux.toml
//               (QEMU TCG, GRUB and the hypervisor's own start included);
//   direct:     qemu-system-x86_64 -accel tcg -cpu EPYC -m 256 -kernel ...
//               -initrd ... -append console=ttyS0.
// Prints the median and spread of each, their ratio, and the guest's exits
// by kind and per second from the hypervisor's own lines at its power-off.

import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const MARKER = /init: MARKER userspace reached/;
const TIMEOUT_MS = 300_000;

let runs = 3;
let jsonOut = null;
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--runs" && /^[1-9][0-9]*$/.test(args[i + 1] ?? "")) runs = Number(args[++i]);
  else if (args[i] === "--json" && args[i + 1]) jsonOut = args[++i];
  else {
    process.stderr.write("usage: node scripts/linux-boot-time.mjs [--runs N] [--json FILE]\n");
    process.exit(2);
  }
}

function must(command, argv) {
  const r = spawnSync(command, argv, { cwd: root, encoding: "utf8" });
  if (r.status !== 0) {
    process.stderr.write(`linux-boot-time: ${command} ${argv.join(" ")} failed:\n${r.stdout}${r.stderr}`);
    process.exit(1);
  }
}

// Runs the command; answers { ms: time to the marker, output } once it exits.
function timeToMarker(command, argv) {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(command, argv, { cwd: root, stdio: ["ignore", "pipe", "ignore"], detached: true });
    let output = "";
    let ms = null;
    const timer = setTimeout(() => process.kill(-child.pid, "SIGKILL"), TIMEOUT_MS);
    child.stdout.on("data", (chunk) => {
      output += chunk.toString("latin1");
      if (ms === null && MARKER.test(output)) ms = Number(process.hrtime.bigint() - start) / 1e6;
    });
    child.on("close", () => {
      clearTimeout(timer);
      if (ms === null) reject(new Error(`${command}: no marker line; it printed:\n${output.slice(-3000)}`));
      else resolve({ ms, output });
    });
  });
}

const median = (list) => [...list].sort((a, b) => a - b)[list.length >> 1];
const seconds = (ms) => (ms / 1000).toFixed(2);

must(path.join(root, "scripts/linux-guest"), []);
const iso = path.join(root, "build/linux-boot-time.iso");
must(path.join(root, "scripts/iso"), ["--config", "tests/configs/linux.toml", "--out", iso]);

const hypervisor = [];
const direct = [];
let stats = null;
for (let i = 0; i < runs; i++) {
  const hv = await timeToMarker(path.join(root, "scripts/run"), ["--emu", "qemu", "--timeout", "300", "--memory", "512", iso]);
  hypervisor.push(hv.ms);
  stats = hv.output;
  const qemu = await timeToMarker("qemu-system-x86_64", [
    "-accel", "tcg", "-cpu", "EPYC", "-m", "256", "-display", "none", "-serial", "stdio", "-monitor", "none",
    "-no-reboot", "-kernel", "build/linux/vmlinuz", "-initrd", "build/linux/initrd.gz", "-append", "console=ttyS0",
  ]);
  direct.push(qemu.ms);
  process.stderr.write(`run ${i + 1}: hypervisor ${seconds(hv.ms)} s, direct ${seconds(qemu.ms)} s\n`);
}

// "[hv] guest linux: N exits in M ms, P% of it in the core" and
// "[hv] guest linux exits: cpuid 850, io 40512, ..." from the last run.
const total = stats.match(/\[hv\] guest linux: (\d+) exits in (\d+) ms, (\d+)% of it in the core/);
const kinds = stats.match(/\[hv\] guest linux exits: ([^\r\n]*)/);
const result = {
  runs,
  hypervisor_ms: { median: median(hypervisor), min: Math.min(...hypervisor), max: Math.max(...hypervisor) },
  direct_ms: { median: median(direct), min: Math.min(...direct), max: Math.max(...direct) },
  ratio: median(hypervisor) / median(direct),
  exits: total ? { total: Number(total[1]), guest_ms: Number(total[2]), core_percent: Number(total[3]) } : null,
  exits_by_kind: {},
};
if (kinds) {
  for (const part of kinds[1].split(", ")) {
    const m = part.match(/^(.*) (\d+)$/);
    if (m) result.exits_by_kind[m[1]] = Number(m[2]);
  }
}

const span = (s) => `${seconds(s.median)} s (${seconds(s.min)}-${seconds(s.max)})`;
console.log(`Linux to its marker, median of ${runs} (min-max):`);
console.log(`  hypervisor (scripts/run, QEMU TCG): ${span(result.hypervisor_ms)}`);
console.log(`  direct (qemu-system-x86_64 -kernel): ${span(result.direct_ms)}`);
console.log(`  ratio: ${result.ratio.toFixed(2)}x`);
if (result.exits) {
  const perSecond = (n) => Math.round(n * 1000 / result.exits.guest_ms);
  console.log(`  guest exits: ${result.exits.total} in ${result.exits.guest_ms} ms of guest life` +
              ` (${perSecond(result.exits.total)}/s), ${result.exits.core_percent}% of the time in the core`);
  for (const [kind, n] of Object.entries(result.exits_by_kind).sort((a, b) => b[1] - a[1])) {
    console.log(`    ${kind.padEnd(12)} ${String(n).padStart(8)}  ${String(perSecond(n)).padStart(7)}/s`);
  }
}
if (jsonOut) fs.writeFileSync(jsonOut, JSON.stringify(result, null, 2) + "\n");
