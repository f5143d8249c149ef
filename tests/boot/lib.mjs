// Helpers for the ISO boot tests: build an ISO from a config with the real
// scripts, boot it in an emulator with a time limit, and hand back the exit
// status and the serial lines, so tests assert on what the machine printed.
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const out = path.join(root, "build/test-iso");
mkdirSync(out, { recursive: true });

// Builds build/test-iso/<name>.iso; returns { code, output, iso }.
export function buildIso(name, { config, cmdline = "", unchecked = false } = {}) {
  const iso = path.join(out, `${name}.iso`);
  const args = ["--config", config, "--out", iso];
  if (cmdline) args.push("--cmdline", cmdline);
  if (unchecked) args.push("--unchecked");
  const r = spawnSync(path.join(root, "scripts/iso"), args, { cwd: root, encoding: "utf8" });
  return { code: r.status, output: (r.stdout || "") + (r.stderr || ""), iso };
}

// Boots an ISO; returns { code, lines, hv, output, seconds }. `hv` are the
// hypervisor's own lines ("[hv] ..."), with anything a firmware or GRUB
// printed before them on the same line cut off.
export function boot(iso, { emu = "qemu", timeout = 60, memory = 512, cpus = 1, uefi = false } = {}) {
  const args = ["--emu", emu, "--timeout", String(timeout), "--memory", String(memory), "--cpus", String(cpus)];
  if (uefi) args.push("--uefi");
  args.push(iso);
  const t0 = Date.now();
  const r = spawnSync(path.join(root, "scripts/run"), args, {
    cwd: root, encoding: "utf8", maxBuffer: 64 << 20, timeout: (timeout + 30) * 1000,
  });
  const output = (r.stdout || "") + (r.stderr || "");
  const lines = output.split(/\r?\n/).map((l) => l.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, ""));
  const hv = [];
  for (const l of lines) {
    const i = l.indexOf("[hv] ");
    if (i >= 0) hv.push(l.slice(i));
  }
  return { code: r.status, lines, hv, output, seconds: (Date.now() - t0) / 1000 };
}

// The first line matching `re`, or a failure that shows what was printed.
export function line(result, re) {
  const found = result.hv.find((l) => re.test(l)) ?? result.lines.find((l) => re.test(l));
  if (!found) throw new Error(`no line matches ${re}; the machine printed:\n${result.output.slice(-4000)}`);
  return found;
}
