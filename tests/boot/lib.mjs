// Helpers for the ISO boot tests: build an ISO from a config with the real
// scripts, boot it in an emulator with a time limit, and hand back the exit
// status and the serial lines, so tests assert on what the machine printed.
import { spawn, spawnSync } from "node:child_process";
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
//
// With `input`, an async function, boot returns a Promise of the same: the
// machine runs while input(machine) types on its serial console (COM1:
// scripts/run gives QEMU `-serial stdio`) and waits for what it prints:
//   await machine.waitFor(/regex/)      the next whole line matching, after
//                                       the line the last waitFor matched
//                                       ({ fromStart: true }: any line)
//   await machine.type("text\r")       byte by byte, `delayMs` apart
// A step that fails ends the machine and fails with what it printed.
export function boot(iso, { emu = "qemu", timeout = 60, memory = 512, cpus = 1, uefi = false, input = null } = {}) {
  const args = ["--emu", emu, "--timeout", String(timeout), "--memory", String(memory), "--cpus", String(cpus)];
  if (uefi) args.push("--uefi");
  args.push(iso);
  const t0 = Date.now();
  if (input) return bootTyping(args, timeout, input, t0);
  const r = spawnSync(path.join(root, "scripts/run"), args, {
    cwd: root, encoding: "utf8", maxBuffer: 64 << 20, timeout: (timeout + 30) * 1000,
  });
  return bootResult((r.stdout || "") + (r.stderr || ""), r.status, t0);
}

function cleanLine(l) {
  return l.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "");
}

function bootResult(output, code, t0) {
  const lines = output.split(/\r?\n/).map(cleanLine);
  const hv = [];
  for (const l of lines) {
    const i = l.indexOf("[hv] ");
    if (i >= 0) hv.push(l.slice(i));
  }
  return { code, lines, hv, output, seconds: (Date.now() - t0) / 1000 };
}

async function bootTyping(args, timeout, input, t0) {
  // Its own process group, so a failed step can end the emulator with it.
  const child = spawn(path.join(root, "scripts/run"), args, { cwd: root, stdio: ["pipe", "pipe", "pipe"], detached: true });
  const endMachine = (signal) => { try { process.kill(-child.pid, signal); } catch { /* gone */ } };
  let stdout = "", stderr = "";
  let exited = false;
  let waiter = null; // { re, fromStart, resolve }
  let cursor = 0;    // the output after the last line waitFor matched
  const check = () => {
    if (!waiter) return;
    let at = waiter.fromStart ? 0 : cursor;
    for (;;) {
      const end = stdout.indexOf("\n", at);
      if (end < 0) break;
      const l = cleanLine(stdout.slice(at, end).replace(/\r$/, ""));
      const i = l.indexOf("[hv] ");
      if (waiter.re.test(l) || (i > 0 && waiter.re.test(l.slice(i)))) {
        if (end + 1 > cursor) cursor = end + 1;
        const { resolve } = waiter;
        waiter = null;
        resolve(l);
        return;
      }
      at = end + 1;
    }
    if (exited) {
      const { reject, re } = waiter;
      waiter = null;
      reject(new Error(`the machine stopped before printing a line that matches ${re}`));
    }
  };
  child.stdout.setEncoding("latin1");
  child.stderr.setEncoding("latin1");
  child.stdout.on("data", (chunk) => { stdout += chunk; check(); });
  child.stderr.on("data", (chunk) => { stderr += chunk; });
  child.stdin.on("error", () => {}); // the machine may be gone before the last byte
  const status = new Promise((resolve) => child.on("close", (code) => { exited = true; check(); resolve(code); }));
  const killer = setTimeout(() => endMachine("SIGKILL"), (timeout + 30) * 1000);
  const machine = {
    waitFor(re, { fromStart = false, seconds = timeout } = {}) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiter = null;
          reject(new Error(`no line matching ${re} within ${seconds} s`));
        }, seconds * 1000);
        waiter = {
          re, fromStart,
          resolve: (l) => { clearTimeout(timer); resolve(l); },
          reject: (e) => { clearTimeout(timer); reject(e); },
        };
        check();
      });
    },
    async type(text, { delayMs = 20 } = {}) {
      for (const c of Buffer.from(text, "latin1")) {
        if (exited) throw new Error(`the machine stopped before ${JSON.stringify(text)} was typed`);
        child.stdin.write(Buffer.from([c]));
        if (delayMs) await new Promise((resolve) => setTimeout(resolve, delayMs));
      }
    },
  };
  let failure = null;
  try {
    await input(machine);
  } catch (error) {
    failure = error;
    endMachine("SIGTERM");
  }
  child.stdin.end();
  const code = await status;
  clearTimeout(killer);
  const r = bootResult(stdout + stderr, code, t0);
  if (failure) {
    failure.message += `\nthe machine printed:\n${r.output.slice(-4000)}`;
    throw failure;
  }
  return r;
}

// The first line matching `re`, or a failure that shows what was printed.
export function line(result, re) {
  const found = result.hv.find((l) => re.test(l)) ?? result.lines.find((l) => re.test(l));
  if (!found) throw new Error(`no line matches ${re}; the machine printed:\n${result.output.slice(-4000)}`);
  return found;
}
