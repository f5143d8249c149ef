// A Linux guest's lifecycle under the hypervisor on AMD-V (QEMU TCG), issue
// 9 part 3: Debian 12's stock kernel and the busybox initramfs of
// scripts/linux-guest, whose init counts its boots in CMOS RAM ("init:
// boot <n>"; the hypervisor keeps a guest's CMOS RAM across its reboot)
// and on boot 1 does what tshv.then= on the command line says, powering
// off on every later boot:
//   reboot    `reboot -f`: a reset, "[hv] guest <name> rebooted"
//   panic     a kernel panic (sysrq c) with panic=1: the panic's reboot is a reboot
//   triple    `reboot -f` with reboot=t: a triple fault, which on_crash =
//             "restart" answers with "rebooted (triple fault, n of N)"
// And a reboot leaves a neighbour on the same host CPU unharmed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { buildIso, boot, line, root } from "./lib.mjs";
import { guestLines } from "./guests.mjs";

// Under QEMU TCG one boot of this kernel to its power-off takes ~8 s on an
// idle host (two boots and the hypervisor's start: ~20 s): the limit is
// for a loaded one.
const TIMEOUT = 300;

let fetched = null;
function linuxGuest() {
  fetched ??= spawnSync(path.join(root, "scripts/linux-guest"), { cwd: root, encoding: "utf8" });
  assert.equal(fetched.status, 0, fetched.stdout + fetched.stderr);
}

function bootConfig(name) {
  linuxGuest();
  const iso = buildIso(name, { config: `tests/configs/${name}.toml` });
  assert.equal(iso.code, 0, iso.output);
  return boot(iso.iso, { emu: "qemu", timeout: TIMEOUT, memory: 512 });
}

// The index in r.lines of each pattern, each found after the one before
// (a hypervisor line may follow firmware output on the same line, so
// "[hv] " lines are matched from their "[hv] ").
function inOrder(r, patterns) {
  const at = [];
  let from = 0;
  for (const re of patterns) {
    const i = r.lines.findIndex((l, n) => {
      if (n < from) return false;
      const hv = l.indexOf("[hv] ");
      return re.test(l) || (hv > 0 && re.test(l.slice(hv)));
    });
    assert.ok(i >= 0, `no line matching ${re} after ${JSON.stringify(r.lines[from - 1] ?? "the start")}; ` +
      `the machine printed:\n${r.output.slice(-5000)}`);
    at.push(i);
    from = i + 1;
  }
  return at;
}

function hvLines(r, name, what) {
  return r.hv.filter((l) => l.startsWith(`[hv] guest ${name} ${what}`));
}

// Two boots of guest `name`, the first ended by `end` (patterns between
// "init: boot 1" and "init: boot 2"), the second by its power-off.
function assertTwoBoots(r, name, end) {
  const g = `^\\[${name}\\] `;
  inOrder(r, [
    new RegExp(`${g}init: boot 1$`),
    new RegExp(`${g}init: MARKER userspace reached$`),
    ...end,
    new RegExp(`${g}init: boot 2$`),
    new RegExp(`${g}init: MARKER userspace reached$`),
    new RegExp(`^\\[hv\\] guest ${name} stopped: power off$`),
  ]);
  const boots = guestLines(r, name).filter((l) => /^init: boot \d+$/.test(l));
  assert.deepEqual(boots, ["init: boot 1", "init: boot 2"], r.output.slice(-5000));
  assert.equal(hvLines(r, name, "stopped: ").length, end.some((re) => /triple fault/.test(re.source)) ? 2 : 1,
    hvLines(r, name, "stopped: ").join("\n"));
  assert.equal(hvLines(r, name, "restarted (").length, 0, "a reboot is not a crash restart");
}

test("Linux reboots (reboot -f): the guest boots again fresh, its CMOS RAM kept, then powers off", () => {
  const r = bootConfig("linux-reboot");
  assertTwoBoots(r, "linux", [/^\[hv\] guest linux rebooted$/]);
  assert.equal(hvLines(r, "linux", "rebooted").length, 1);
  assert.equal(hvLines(r, "linux", "stopped: triple fault").length, 0);
  line(r, /^\[hv\] all guests stopped$/);
  assert.equal(r.code, 0);
  console.log(`# two boots of Linux with a reboot between: ${r.seconds.toFixed(1)} s`);
});

test("a kernel panic with panic=1 is a reboot: the guest boots again, then powers off", () => {
  const r = bootConfig("linux-panic");
  assertTwoBoots(r, "linux", [/^\[linux\] .*Kernel panic - not syncing/, /^\[hv\] guest linux rebooted$/]);
  assert.equal(hvLines(r, "linux", "rebooted").length, 1);
  assert.equal(hvLines(r, "linux", "stopped: triple fault").length, 0);
  line(r, /^\[hv\] all guests stopped$/);
  assert.equal(r.code, 0);
  console.log(`# two boots of Linux with a panic between: ${r.seconds.toFixed(1)} s`);
});

test("reboot=t: Linux's triple fault is a reboot by on_crash = \"restart\", counted against max_restarts", () => {
  const r = bootConfig("linux-triple");
  assertTwoBoots(r, "linux", [
    /^\[hv\] guest linux stopped: triple fault$/,
    /^\[hv\] guest linux rebooted \(triple fault, 1 of 1\)$/,
  ]);
  assert.deepEqual(hvLines(r, "linux", "rebooted"), ["[hv] guest linux rebooted (triple fault, 1 of 1)"]);
  line(r, /^\[hv\] all guests stopped$/);
  assert.equal(r.code, 0);
  console.log(`# two boots of Linux with a triple fault between: ${r.seconds.toFixed(1)} s`);
});

test("a Linux guest reboots beside a sleeping guest on the same host CPU, which finishes unharmed", () => {
  const r = bootConfig("linux-neighbour");
  assertTwoBoots(r, "linux", [/^\[hv\] guest linux rebooted$/]);
  // The sleeper was running before, across and after the reboot, and
  // ended on its own as it always does.
  const [, rebooted, stopped] = inOrder(r, [
    /^\[hv\] running 2 guest\(s\)/,
    /^\[hv\] guest linux rebooted$/,
    /^\[hv\] guest sleeper stopped: exit code 0$/,
  ]);
  assert.ok(rebooted < stopped);
  assert.deepEqual(guestLines(r, "sleeper"), ["idle: slept through 800 ticks"]);
  assert.equal(r.hv.filter((l) => l.startsWith("[hv] guest sleeper stopped: ")).length, 1);
  assert.equal(r.hv.filter((l) => l.startsWith("[hv] guest sleeper rebooted") || l.startsWith("[hv] guest sleeper restarted")).length, 0);
  line(r, /^\[hv\] all guests stopped$/);
  assert.equal(r.code, 0);
  console.log(`# Linux's two boots beside the sleeper: ${r.seconds.toFixed(1)} s`);
});
