// Guests on AMD-V with nested paging under QEMU TCG (issue 3).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { buildIso, boot, line, root } from "./lib.mjs";
import { assertExitPaths, guestLines } from "./guests.mjs";
import { assertCrashPolicy } from "./crash.mjs";
import { preemptIso, assertPreemption } from "./preempt.mjs";
import { assertFlood, assertUnpinnedFlood } from "./flood.mjs";
import { assertSmp } from "./smp.mjs";
import { assertAvx } from "./avx.mjs";
import { assertPitPic, assertApicTimer, assertRtc, assertIdle, assertUartIrqOutput, assertPower, assertPc, assertAcpi, assertIoApic } from "./platform.mjs";
import { assertSmpGuest } from "./vcpus.mjs";
import { assertDebugRegisters, assertHostileGuests } from "./hostile.mjs";

test("every exit path under AMD-V: each guest prints its lines and stops alone", () => {
  const iso = buildIso("exits", { config: "tests/configs/exits.toml" });
  assert.equal(iso.code, 0, iso.output);
  const r = boot(iso.iso, { emu: "qemu", timeout: 180, memory: 512 });
  line(r, /^\[hv\] running 10 guest\(s\) on AMD-V, time slice 10 ms$/);
  assertExitPaths(r);
});

test("the demo's two guests run to completion under AMD-V", () => {
  const iso = buildIso("demo-svm", { config: "tests/configs/demo.toml" });
  const r = boot(iso.iso, { emu: "qemu", timeout: 120 });
  line(r, /^\[alpha\] magic 0x2badb002, memory 639 KiB low, 31744 KiB high, cmdline "console=ttyS0 greeting=alpha"$/);
  line(r, /^\[beta\] magic 0x2badb002, memory 639 KiB low, 15360 KiB high, cmdline "greeting=beta"$/);
  line(r, /^\[hv\] guest alpha stopped: exit code 0$/);
  line(r, /^\[hv\] guest beta stopped: exit code 0$/);
  assert.equal(r.code, 0);
});

test("a crashing guest is restarted by policy, then stops; its neighbour finishes (AMD-V)", () => {
  const iso = buildIso("crash-svm", { config: "tests/configs/crash.toml" });
  assert.equal(iso.code, 0, iso.output);
  assertCrashPolicy(boot(iso.iso, { emu: "qemu", timeout: 120 }));
});

test("64 guests of 8 MiB run to completion on a 2 GiB host, overhead printed", () => {
  mkdirSync(path.join(root, "build/test-configs"), { recursive: true });
  let toml = "# 64 guests of 8 MiB on a 2 GiB host (written by tests/boot/svm.test.mjs).\n";
  for (let i = 0; i < 64; i++) {
    toml += `[[guest]]\nname = "g${String(i).padStart(2, "0")}"\nkernel = "../guests/hello.elf"\ncmdline = "guest=${i}"\nmemory = "8M"\n\n`;
  }
  writeFileSync(path.join(root, "build/test-configs/density.toml"), toml);
  const iso = buildIso("density", { config: "build/test-configs/density.toml" });
  assert.equal(iso.code, 0, iso.output);
  const r = boot(iso.iso, { emu: "qemu", memory: 2048, timeout: 300 });
  line(r, /^\[hv\] 64 guest\(s\) ready in \d+ ms; per-guest overhead \d+ KiB/);
  for (let i = 0; i < 64; i++) {
    const name = `g${String(i).padStart(2, "0")}`;
    line(r, new RegExp(`^\\[${name}\\] magic 0x2badb002, memory 639 KiB low, 7168 KiB high, cmdline "guest=${i}"$`));
    line(r, new RegExp(`^\\[hv\\] guest ${name} stopped: exit code 0$`));
  }
  line(r, /^\[hv\] all guests stopped$/);
  assert.equal(r.code, 0);
});

test("a guest spinning with interrupts off is preempted at each time slice (AMD-V)", () => {
  const iso = preemptIso("preempt-svm", { spinLoops: 400000000, tickLoops: 20000000 });
  const gap = assertPreemption(boot(iso, { emu: "qemu", timeout: 120 }));
  console.log(`# longest wait of the ticker beside the spinner: ${gap.toFixed(1)} ms`);
});

test("a guest flooding its UART loses nothing and the others still print (AMD-V)", () => {
  const iso = buildIso("flood-svm", { config: "tests/configs/flood.toml" });
  assert.equal(iso.code, 0, iso.output);
  assertFlood(boot(iso.iso, { emu: "qemu", timeout: 120 }), 1000);
});

test("a guest's console share follows what the host port carries: QEMU's port takes a flood far above 115200 baud (AMD-V)", () => {
  const iso = buildIso("console-share-svm", { config: "tests/configs/console_share.toml" });
  assert.equal(iso.code, 0, iso.output);
  const { carried, perSecond } = assertUnpinnedFlood(boot(iso.iso, { emu: "qemu", timeout: 120 }), 2000);
  console.log(`# console carries ${carried} bytes/s; the flood's rate by its own clock ${perSecond.toFixed(0)} bytes/s`);
});

test("two host CPUs: pinned and spread guests, a spinner on one CPU (AMD-V)", () => {
  const iso = buildIso("smp-svm", { config: "tests/configs/smp.toml" });
  assert.equal(iso.code, 0, iso.output);
  const gap = assertSmp(boot(iso.iso, { emu: "qemu", cpus: 2, timeout: 120 }));
  console.log(`# longest wait of the ticker on CPU 0 while CPU 1 spins: ${gap.toFixed(1)} ms`);
});

test("every exit path with guests spread over two CPUs (AMD-V)", () => {
  const iso = buildIso("exits", { config: "tests/configs/exits.toml" });
  const r = boot(iso.iso, { emu: "qemu", cpus: 2, timeout: 180 });
  line(r, /^\[hv\] cpus: 2 online$/);
  assertExitPaths(r);
});

test("a guest that goes to long mode and back keeps its own CR0/CR4, EFER and syscall MSRs (AMD-V)", () => {
  const iso = buildIso("longmode-svm", { config: "tests/configs/longmode.toml" });
  assert.equal(iso.code, 0, iso.output);
  const r = boot(iso.iso, { emu: "qemu", timeout: 120 });
  for (const name of ["long-a", "long-b"]) {
    const lines = guestLines(r, name);
    assert.deepEqual(lines.filter((l) => !l.startsWith("longmode: ok ")), [], `${name}:\n${lines.join("\n")}`);
    assert.equal(lines.length, 17, `${name}: 17 checks passed:\n${lines.join("\n")}`);
    line(r, new RegExp(`^\\[hv\\] guest ${name} stopped: exit code 0$`));
  }
  assert.equal(r.code, 0);
});

test("two guests use XSAVE and AVX on one CPU, each keeping its ymm0-ymm15 and XCR0 (AMD-V)", () => {
  const iso = buildIso("avx-svm", { config: "tests/configs/avx.toml" });
  assert.equal(iso.code, 0, iso.output);
  assertAvx(boot(iso.iso, { emu: "qemu", timeout: 120 }));
});

test("PIC + PIT at 100 Hz, and PIT channel 2 through port 0x61, timed by the TSC (AMD-V)", () => {
  assertPitPic("qemu", 60);
});

test("the local APIC timer in one-shot, periodic and TSC-deadline modes, and TPR masking (AMD-V)", () => {
  assertApicTimer("qemu", 60);
});

test("the RTC gives the host's date and interrupts at 64 Hz (AMD-V)", () => {
  assertRtc("qemu", 60);
});

test("a guest waiting in sti; hlt leaves its CPU to the other guest (AMD-V)", () => {
  assertIdle("qemu", 60);
});

test("interrupt-driven UART output on IRQ 4: 200 lines whole, in order (AMD-V)", () => {
  assertUartIrqOutput("qemu", 60);
});

test("resets through 0xCF9, the i8042 and port 0x92 reboot a guest fresh; S5 powers it off (AMD-V)", () => {
  assertPower("qemu", 60);
});

test("a PCI bus scan finds the host bridge alone; the i8042 and the delay ports answer (AMD-V)", () => {
  assertPc("qemu", 60);
});

test("the ACPI tables are found by the scan with every checksum right, and S5 through them powers off (AMD-V)", () => {
  assertAcpi("qemu", 60);
});

test("the xAPIC page and the I/O APIC by MMIO: PIT on pin 2, the RTC level-triggered, unclaimed MMIO all ones (AMD-V)", () => {
  assertIoApic("qemu", 60);
});

test("a guest of 3 vCPUs starts its APs by INIT and STARTUP (physical, all-but-self) and they park with interrupts off (AMD-V)", () => {
  assertSmpGuest("qemu", 60);
});

test("debug registers stay with their guest: DR0-DR3 and DR6 switched between two guests on one CPU; CR4 bits not virtualised raise #GP; WBINVD in a loop; two guests' RAM patterns never cross; `stop` at the prompt ends a spinning guest (AMD-V)", async () => {
  await assertDebugRegisters("qemu", 120);
});

test("hostile guests beside a neighbour on one CPU: a #DB loop on its own frame, every port, exception storms, virtualisation instructions with garbage, a UART flood of control bytes, page tables pointing everywhere, MMIO in unusual forms, IPIs and INIT/SIPI aimed at vCPUs not its own (AMD-V)", async () => {
  const r = await assertHostileGuests("qemu", 120);
  console.log(`# hostile guests: ${r.seconds.toFixed(1)} s`);
});
