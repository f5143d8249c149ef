// Guests on AMD-V with nested paging under QEMU TCG (issue 3).
import { test } from "node:test";
import assert from "node:assert/strict";
import { buildIso, boot, line } from "./lib.mjs";
import { assertExitPaths } from "./guests.mjs";
import { assertCrashPolicy } from "./crash.mjs";

test("every exit path under AMD-V: each guest prints its lines and stops alone", () => {
  const iso = buildIso("exits", { config: "tests/configs/exits.toml" });
  assert.equal(iso.code, 0, iso.output);
  const r = boot(iso.iso, { emu: "qemu", timeout: 180, memory: 512 });
  line(r, /^\[hv\] running 10 guest\(s\) on AMD-V$/);
  assertExitPaths(r);
});

test("the demo's two guests run to completion under AMD-V", () => {
  const iso = buildIso("demo-svm", { config: "tests/configs/demo.toml" });
  const r = boot(iso.iso, { emu: "qemu", timeout: 120 });
  line(r, /^\[alpha\] magic 0x2badb002, memory 640 KiB low, 31744 KiB high, cmdline "console=ttyS0 greeting=alpha"$/);
  line(r, /^\[beta\] magic 0x2badb002, memory 640 KiB low, 15360 KiB high, cmdline "greeting=beta"$/);
  line(r, /^\[hv\] guest alpha stopped: exit code 0$/);
  line(r, /^\[hv\] guest beta stopped: exit code 0$/);
  assert.equal(r.code, 0);
});

test("a crashing guest is restarted by policy, then stops; its neighbour finishes (AMD-V)", () => {
  const iso = buildIso("crash-svm", { config: "tests/configs/crash.toml" });
  assert.equal(iso.code, 0, iso.output);
  assertCrashPolicy(boot(iso.iso, { emu: "qemu", timeout: 120 }));
});
