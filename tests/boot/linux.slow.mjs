// Debian 12's stock kernel (linux-image-amd64, as shipped) with a busybox
// initramfs, booted under the hypervisor on AMD-V (QEMU TCG) to userspace
// and its own power-off: `make test-slow` (issue 9 builds on it).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { buildIso, boot, line, root } from "./lib.mjs";
import { guestLines } from "./guests.mjs";

test("Debian's kernel boots to userspace and powers itself off (AMD-V)", () => {
  const fetched = spawnSync(path.join(root, "scripts/linux-guest"), { cwd: root, encoding: "utf8" });
  assert.equal(fetched.status, 0, fetched.stdout + fetched.stderr);
  const iso = buildIso("linux", { config: "tests/configs/linux.toml" });
  assert.equal(iso.code, 0, iso.output);
  const r = boot(iso.iso, { emu: "qemu", timeout: 300, memory: 512 });
  const lines = guestLines(r, "linux");
  assert.ok(lines.some((l) => /^init: uname 6\.1\./.test(l)), r.output.slice(-4000));
  assert.ok(lines.includes("init: processors 1"));
  assert.ok(lines.includes("init: hypervisor flag"));
  assert.ok(!lines.includes("init: virtualization flag visible"));
  assert.ok(lines.includes("init: file written and read back"));
  assert.ok(lines.includes("init: MARKER userspace reached"));
  line(r, /^\[hv\] guest linux stopped: power off$/);
  assert.equal(r.code, 0);
});
