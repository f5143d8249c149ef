// Debian 12's stock kernel (linux-image-amd64 as shipped) with a busybox
// initramfs (scripts/linux-guest) under the hypervisor on AMD-V (QEMU TCG),
// in `make test`: two Linux guests at once, one of two vCPUs and one of
// one, each checking itself from its init script; and a shell typed into
// over the serial console.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { buildIso, boot, line, root } from "./lib.mjs";
import { guestLines } from "./guests.mjs";

function fetchLinux() {
  const fetched = spawnSync(path.join(root, "scripts/linux-guest"), { cwd: root, encoding: "utf8" });
  assert.equal(fetched.status, 0, fetched.stdout + fetched.stderr);
}

// What the init script of guest `name` printed, checked.
function assertLinuxGuest(r, name, processors) {
  const lines = guestLines(r, name);
  const all = lines.join("\n");
  assert.ok(lines.some((l) => /^init: uname 6\.1\./.test(l)), `${name}:\n${r.output.slice(-4000)}`);
  assert.ok(lines.includes(`init: processors ${processors}`), all);
  assert.ok(lines.includes("init: hypervisor flag"), all);
  assert.ok(!lines.includes("init: virtualization flag visible"), all);
  assert.deepEqual(lines.filter((l) => l.startsWith("init: dmesg-error")), [], `${name}: APIC, timer or ACPI errors`);
  assert.ok(lines.includes("init: dmesg checked"), all);
  assert.ok(lines.includes("init: file written and read back"), all);
  assert.ok(lines.includes("init: MARKER userspace reached"), all);
  assert.ok(lines.some((l) => /Hypervisor detected: KVM/.test(l)), `${name}: the paravirtual clock's leaves`);
  assert.ok(lines.some((l) => /kvm-clock: Using msrs 4b564d01 and 4b564d00/.test(l)), `${name}: kvm-clock`);
  line(r, new RegExp(`^\\[hv\\] guest ${name} stopped: power off$`));
}

test("two Linux guests at once, of 2 vCPUs and of 1, boot to userspace clean and power off each alone (AMD-V)", () => {
  fetchLinux();
  const iso = buildIso("linux-pair", { config: "tests/configs/linux-pair.toml" });
  assert.equal(iso.code, 0, iso.output);
  const r = boot(iso.iso, { emu: "qemu", timeout: 240, memory: 1024, cpus: 2 });
  line(r, /^\[hv\] guest linux-smp: 256 MiB, 2 vCPUs, /);
  assertLinuxGuest(r, "linux-smp", 2);
  assertLinuxGuest(r, "linux-up", 1);
  assert.ok(guestLines(r, "linux-smp").some((l) => /smp: Brought up 1 node, 2 CPUs/.test(l)));
  line(r, /^\[hv\] all guests stopped$/);
  assert.equal(r.code, 0);
});

test("a command typed on the serial console reaches busybox's shell in a Linux guest (AMD-V)", async () => {
  fetchLinux();
  const iso = buildIso("linux-shell", { config: "tests/configs/linux-shell.toml" });
  assert.equal(iso.code, 0, iso.output);
  const r = await boot(iso.iso, {
    emu: "qemu", timeout: 240, memory: 512,
    input: async (machine) => {
      await machine.waitFor(/^\[linux\] init: shell$/, { fromStart: true });
      // The shell's prompt has no newline: type once it had time to print it.
      await new Promise((done) => setTimeout(done, 1500));
      await machine.type("echo typed-$((6*7))\r");
      await machine.waitFor(/^\[linux\] (.*# )?typed-42$/);
      await machine.type("poweroff -f\r");
      await machine.waitFor(/^\[hv\] guest linux stopped: power off$/);
    },
  });
  assert.ok(guestLines(r, "linux").some((l) => /typed-42$/.test(l)), r.output.slice(-3000));
  line(r, /^\[hv\] guest linux stopped: power off$/);
});
