// Guests on VT-x with EPT under Bochs (corei7_haswell_4770: VMX with EPT,
// VPID, unrestricted guest) (issue 4). The same assertions as under AMD-V
// (svm.test.mjs): the core must not notice which vendor runs it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { buildIso, boot, line, root } from "./lib.mjs";
import { assertExitPaths, guestLines } from "./guests.mjs";
import { assertCrashPolicy } from "./crash.mjs";
import { preemptIso, assertPreemption } from "./preempt.mjs";
import { assertFlood } from "./flood.mjs";
import { assertSmp } from "./smp.mjs";
import { assertAvx } from "./avx.mjs";
import { assertPitPic, assertApicTimer, assertRtc, assertIdle, assertUartIrqOutput, assertPower, assertPc, assertAcpi, assertIoApic } from "./platform.mjs";
import { assertSmpGuest } from "./vcpus.mjs";
import { assertDebugRegisters, assertHostileGuests } from "./hostile.mjs";

test("every exit path under VT-x: each guest prints its lines and stops alone", () => {
  const iso = buildIso("exits-vmx", { config: "tests/configs/exits.toml" });
  assert.equal(iso.code, 0, iso.output);
  const r = boot(iso.iso, { emu: "bochs", timeout: 400, memory: 512 });
  line(r, /^\[hv\] running 10 guest\(s\) on VT-x, time slice 10 ms$/);
  assertExitPaths(r);
});

test("the way to long mode and back: CR0/CR4 as the guest wrote them, EFER.LMA, 64-bit code, own syscall MSRs", () => {
  // The guest's CR0.PG with EFER.LME is answered in vmx.c (EFER.LMA, the
  // IA-32e entry control), so is CR4.VMXE (#GP); two instances check
  // that the MSRs VT-x does not switch stay each guest's own.
  mkdirSync(path.join(root, "build/test-configs"), { recursive: true });
  let toml = "# Written by tests/boot/vmx.test.mjs.\n";
  for (const n of ["a", "b"]) {
    toml += `[[guest]]\nname = "long-${n}"\nkernel = "../guests/longmode.elf"\ncmdline = "${n} vmxe"\nmemory = "8M"\n\n`;
  }
  writeFileSync(path.join(root, "build/test-configs/longmode-vmx.toml"), toml);
  const iso = buildIso("longmode-vmx", { config: "build/test-configs/longmode-vmx.toml" });
  assert.equal(iso.code, 0, iso.output);
  const r = boot(iso.iso, { emu: "bochs", timeout: 240 });
  for (const name of ["long-a", "long-b"]) {
    const lines = guestLines(r, name);
    assert.deepEqual(lines.filter((l) => !l.startsWith("longmode: ok ")), [], `${name}:\n${lines.join("\n")}`);
    assert.equal(lines.length, 19, `${name}: 19 checks passed:\n${lines.join("\n")}`);
    line(r, new RegExp(`^\\[hv\\] guest ${name} stopped: exit code 0$`));
  }
  assert.equal(r.code, 0);
});

test("the demo's two guests run to completion under VT-x", () => {
  const iso = buildIso("demo-vmx", { config: "tests/configs/demo.toml" });
  const r = boot(iso.iso, { emu: "bochs", timeout: 240 });
  line(r, /^\[alpha\] magic 0x2badb002, memory 639 KiB low, 31744 KiB high, cmdline "console=ttyS0 greeting=alpha"$/);
  line(r, /^\[beta\] magic 0x2badb002, memory 639 KiB low, 15360 KiB high, cmdline "greeting=beta"$/);
  line(r, /^\[hv\] guest alpha stopped: exit code 0$/);
  line(r, /^\[hv\] guest beta stopped: exit code 0$/);
  assert.equal(r.code, 0);
  // Bochs's UART sends at the baud rate, as a real one does: the stub
  // sees it pace its FIFO and says the wire's rate, and the boot does not
  // wait for it. The boot's lines before the first guest instruction take
  // longer than that to cross a 115200-baud wire; the first instruction
  // comes well before.
  line(r, /^\[hv\] console: carries 11520 bytes\/s$/);
  const first = r.hv.findIndex((l) => /^\[hv\] first guest instruction \d+ us/.test(l));
  assert.ok(first > 0, r.output.slice(-3000));
  const bytes = r.hv.slice(0, first).reduce((n, l) => n + l.length + 2, 0);
  const us = Number(/(\d+) us/.exec(r.hv[first])[1]);
  const wire = bytes * 1e6 / 11520;
  assert.ok(us < wire / 2, `first guest instruction after ${us} us; the ${bytes} bytes before it take ${Math.round(wire)} us on the wire`);
  // The TSC's calibration counts 10 ms of the PIT, and the guests do not
  // wait for it (boot/tsc.c): they start on a first rate from 1 ms of it.
  // Bochs's time is its instruction count, so this holds run after run.
  assert.ok(us < 10000, `first guest instruction after ${us} us: the boot waited for the 10 ms calibration`);
});

test("a crashing guest is restarted by policy, then stops; its neighbour finishes (VT-x)", () => {
  const iso = buildIso("crash-vmx", { config: "tests/configs/crash.toml" });
  assert.equal(iso.code, 0, iso.output);
  assertCrashPolicy(boot(iso.iso, { emu: "bochs", timeout: 240 }));
});

test("16 guests of 8 MiB run to completion, each with its own VMCS and VPID", () => {
  mkdirSync(path.join(root, "build/test-configs"), { recursive: true });
  let toml = "# 16 guests of 8 MiB under VT-x (written by tests/boot/vmx.test.mjs).\n";
  for (let i = 0; i < 16; i++) {
    toml += `[[guest]]\nname = "g${String(i).padStart(2, "0")}"\nkernel = "../guests/hello.elf"\ncmdline = "guest=${i}"\nmemory = "8M"\n\n`;
  }
  writeFileSync(path.join(root, "build/test-configs/density-vmx.toml"), toml);
  const iso = buildIso("density-vmx", { config: "build/test-configs/density-vmx.toml" });
  assert.equal(iso.code, 0, iso.output);
  const r = boot(iso.iso, { emu: "bochs", timeout: 300 });
  for (let i = 0; i < 16; i++) {
    const name = `g${String(i).padStart(2, "0")}`;
    line(r, new RegExp(`^\\[${name}\\] magic 0x2badb002, memory 639 KiB low, 7168 KiB high, cmdline "guest=${i}"$`));
    line(r, new RegExp(`^\\[hv\\] guest ${name} stopped: exit code 0$`));
  }
  line(r, /^\[hv\] all guests stopped$/);
  assert.equal(r.code, 0);
});

test("a guest spinning with interrupts off is preempted at each time slice (VT-x)", () => {
  // Bochs runs ~50 M instructions per emulated second: far fewer loops
  // than under QEMU for the same few seconds.
  const iso = preemptIso("preempt-vmx", { spinLoops: 20000000, tickLoops: 1000000 });
  const gap = assertPreemption(boot(iso, { emu: "bochs", timeout: 300 }));
  console.log(`# longest wait of the ticker beside the spinner: ${gap.toFixed(1)} ms`);
});

test("a guest flooding its UART loses nothing and the others still print (VT-x)", () => {
  const iso = buildIso("flood-vmx", { config: "tests/configs/flood.toml" });
  assert.equal(iso.code, 0, iso.output);
  assertFlood(boot(iso.iso, { emu: "bochs", timeout: 300 }), 1000);
});

test("two host CPUs: pinned and spread guests, a spinner on one CPU (VT-x)", () => {
  // tests/configs/smp.toml with loop counts for Bochs's speed; VMXON, a
  // VMCS per guest and the syscall MSRs on each CPU.
  mkdirSync(path.join(root, "build/test-configs"), { recursive: true });
  const toml = readFileSync(path.join(root, "tests/configs/smp.toml"), "utf8")
    .replaceAll("../../build/guests/", "../guests/")
    .replace("loops=300000000", "loops=20000000")
    .replace("loops=10000000", "loops=1000000");
  writeFileSync(path.join(root, "build/test-configs/smp-vmx.toml"), toml);
  const iso = buildIso("smp-vmx", { config: "build/test-configs/smp-vmx.toml" });
  assert.equal(iso.code, 0, iso.output);
  const gap = assertSmp(boot(iso.iso, { emu: "bochs", cpus: 2, timeout: 400 }));
  console.log(`# longest wait of the ticker on CPU 0 while CPU 1 spins: ${gap.toFixed(1)} ms`);
});

test("every exit path with guests spread over two CPUs (VT-x)", () => {
  const iso = buildIso("exits-vmx", { config: "tests/configs/exits.toml" });
  const r = boot(iso.iso, { emu: "bochs", cpus: 2, timeout: 400 });
  line(r, /^\[hv\] cpus: 2 online$/);
  assertExitPaths(r);
});

test("two guests use XSAVE and AVX on one CPU, each keeping its ymm0-ymm15 and XCR0 (VT-x)", () => {
  const iso = buildIso("avx-vmx", { config: "tests/configs/avx.toml" });
  assert.equal(iso.code, 0, iso.output);
  assertAvx(boot(iso.iso, { emu: "bochs", timeout: 240 }));
});

test("PIC + PIT at 100 Hz, and PIT channel 2 through port 0x61, timed by the TSC (VT-x)", () => {
  assertPitPic("bochs", 300);
});

test("the local APIC timer in one-shot, periodic and TSC-deadline modes, and TPR masking (VT-x)", () => {
  assertApicTimer("bochs", 300);
});

test("the RTC gives the host's date and interrupts at 64 Hz (VT-x)", () => {
  assertRtc("bochs", 300);
});

test("a guest waiting in sti; hlt leaves its CPU to the other guest (VT-x)", () => {
  assertIdle("bochs", 300);
});

test("interrupt-driven UART output on IRQ 4: 200 lines whole, in order (VT-x)", () => {
  assertUartIrqOutput("bochs", 400);
});

test("resets through 0xCF9, the i8042 and port 0x92 reboot a guest fresh; S5 powers it off (VT-x)", () => {
  assertPower("bochs", 400);
});

test("a PCI bus scan finds the host bridge alone; the i8042 and the delay ports answer (VT-x)", () => {
  assertPc("bochs", 400);
});

test("the ACPI tables are found by the scan with every checksum right, and S5 through them powers off (VT-x)", () => {
  assertAcpi("bochs", 400);
});

test("the xAPIC page and the I/O APIC by MMIO: PIT on pin 2, the RTC level-triggered, unclaimed MMIO all ones (VT-x)", () => {
  assertIoApic("bochs", 400);
});

test("a guest of 3 vCPUs starts its APs by INIT and STARTUP (physical, all-but-self) and they park with interrupts off (VT-x)", () => {
  assertSmpGuest("bochs", 400);
});

test("debug registers stay with their guest: DR0-DR3 and DR6 switched between two guests on one CPU; CR4 bits not virtualised raise #GP; WBINVD in a loop; two guests' RAM patterns never cross (VT-x)", async () => {
  await assertDebugRegisters("bochs", 400);
});

test("hostile guests beside a neighbour on one CPU: a #DB loop on its own frame, every port, exception storms, virtualisation instructions with garbage, a UART flood of control bytes, page tables pointing everywhere, MMIO in unusual forms, IPIs and INIT/SIPI aimed at vCPUs not its own (VT-x)", async () => {
  const r = await assertHostileGuests("bochs", 400);
  console.log(`# hostile guests: ${r.seconds.toFixed(1)} s`);
});
