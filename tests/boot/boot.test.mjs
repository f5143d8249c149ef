// The whole chain, end to end (issue 2): the ISO boots under QEMU (BIOS and
// UEFI) and Bochs, says what it found, validates its config, and powers off
// by itself with the right status.
import { test } from "node:test";
import assert from "node:assert/strict";
import { buildIso, boot, line } from "./lib.mjs";

const demo = buildIso("demo", { config: "tests/configs/demo.toml" });

test("scripts/iso builds the demo ISO", () => {
  assert.equal(demo.code, 0, demo.output);
});

function assertBootLines(r) {
  line(r, /^\[hv\] tshv \d+\.\d+\.\d+ \(type-1 hypervisor/);
  line(r, /^\[hv\] cpu: \w+, \d+ MHz TSC, (SVM|VMX)$/);
  // GRUB handed over a screen, and the console draws on it too.
  line(r, /^\[hv\] screen: \d+x\d+ (EGA text|24-bit framebuffer|32-bit framebuffer) at 0x[0-9a-f]+$/);
  line(r, /^\[hv\] memory: \d+ MiB usable in \d+ ranges, \d+ MiB free for guests$/);
  line(r, /^\[hv\] modules: 2$/);
  line(r, /^\[hv\]   module tests\/configs\/demo\.toml \d+ bytes$/);
  line(r, /^\[hv\]   module build\/guests\/hello\.elf \d+ bytes$/);
  line(r, /^\[hv\] core: \d+ KiB of compiled Wasm code$/);
  line(r, /^\[hv\] config tests\/configs\/demo\.toml: 2 guests$/);
  line(r, /^\[hv\] guest alpha: 32 MiB, 1 vCPU, kernel build\/guests\/hello\.elf/);
  line(r, /^\[hv\] guest beta: 16 MiB, 1 vCPU, kernel build\/guests\/hello\.elf.*on_crash restart \(max 2\)/);
  for (const l of r.hv) assert.match(l, /^\[hv\] /);
}

test("the demo boots under QEMU (BIOS), names every guest and powers off", () => {
  const r = boot(demo.iso, { emu: "qemu", timeout: 120 });
  assertBootLines(r);
  line(r, /^\[hv\] screen: 80x25 EGA text at 0xb8000$/);
  line(r, /^\[hv\] power off: success$/);
  assert.equal(r.code, 0, r.output);
});

test("the demo boots under QEMU with UEFI firmware", () => {
  const r = boot(demo.iso, { emu: "qemu", uefi: true, timeout: 180 });
  assertBootLines(r);
  line(r, /^\[hv\] screen: \d+x\d+ (24|32)-bit framebuffer at 0x[0-9a-f]+$/);
  assert.equal(r.code, 0, r.output);
});

test("a config error stops `make iso`-style builds with file:line:column", () => {
  const bad = buildIso("bad", { config: "tests/configs/boot-bad-size.toml" });
  assert.notEqual(bad.code, 0);
  assert.match(bad.output, /tests\/configs\/boot-bad-size\.toml:6:10: memory: "12Q" is not a size \(use K, M or G\)/);
});

test("the hypervisor validates the config again at boot and says what is wrong", () => {
  const bad = buildIso("bad-unchecked", { config: "tests/configs/boot-bad-size.toml", unchecked: true });
  assert.equal(bad.code, 0, bad.output);
  const r = boot(bad.iso, { emu: "qemu", timeout: 120 });
  line(r, /^\[hv\] tests\/configs\/boot-bad-size\.toml:6:10: memory: "12Q" is not a size \(use K, M or G\)$/);
  line(r, /^\[hv\] power off: failure$/);
  assert.equal(r.code, 1, r.output);
});

test("guest VMM instances are made, trapped and dropped a thousand times without a leak", () => {
  const iso = buildIso("selftest", { config: "tests/configs/demo.toml", cmdline: "selftest=instances:1000" });
  assert.equal(iso.code, 0, iso.output);
  const r = boot(iso.iso, { emu: "qemu", timeout: 180 });
  line(r, /^\[hv\] selftest: 1000 guest VMM instances created and destroyed \(250 made to trap\), \d+ us, 0 KiB leaked$/);
  line(r, /^\[hv\] selftest passed$/);
  assert.equal(r.code, 0, r.output);
});

test("Bochs (VT-x) boots the same ISO and powers off", () => {
  const r = boot(demo.iso, { emu: "bochs", timeout: 240 });
  assertBootLines(r);
  line(r, /^\[hv\] cpu: GenuineIntel, \d+ MHz TSC, VMX$/);
  line(r, /^\[hv\] power off: success$/);
  assert.equal(r.code, 0, r.output);
});
