// The PC platform (issue 8) as test guests use it, one boot per timing
// guest so nothing else on the CPU delays the interrupts it times: the
// same assertions under AMD-V (QEMU) and VT-x (Bochs).
import assert from "node:assert/strict";
import { buildIso, boot, line } from "./lib.mjs";
import { guestLines } from "./guests.mjs";

// Every "<tag>: ..." check line of `name` passed, at least `count` of them.
function allOk(r, name, tag, count) {
  const lines = guestLines(r, name).filter((l) => l.startsWith(`${tag}: `));
  const failed = lines.filter((l) => l.includes("FAIL"));
  // The failed lines first: CI shows the start of a long message.
  assert.deepEqual(failed, [], `${name} reported failures:\n${failed.join("\n")}\n\n${r.output.slice(-4000)}`);
  const oks = lines.filter((l) => l.startsWith(`${tag}: ok `));
  assert.ok(oks.length >= count, `${name}: ${count} checks passed:\n${lines.join("\n")}`);
  line(r, new RegExp(`^\\[hv\\] guest ${name} stopped: exit code 0$`));
}

function bootGuest(config, emu, timeout) {
  const iso = buildIso(`${config}-${emu}`, { config: `tests/configs/${config}.toml` });
  assert.equal(iso.code, 0, iso.output);
  const r = boot(iso.iso, { emu, timeout });
  assert.equal(r.code, 0, r.output.slice(-3000));
  return r;
}

// PIC + PIT at 100 Hz counted against the TSC, and the PIT's channel 2
// through port 0x61 (Linux's TSC calibration).
export function assertPitPic(emu, timeout) {
  const r = bootGuest("pit_pic", emu, timeout);
  allOk(r, "pit-pic", "pit", 6);
  return r;
}

// The local APIC timer in one-shot, periodic and TSC-deadline modes, and
// TPR masking, through x2APIC.
export function assertApicTimer(emu, timeout) {
  const r = bootGuest("apic_timer", emu, timeout);
  allOk(r, "apic-timer", "apic", 14);
  return r;
}

// The RTC's date agrees with the host's clock (within two minutes), and
// its periodic interrupt runs at 64 Hz.
export function assertRtc(emu, timeout) {
  const before = Date.now();
  const r = bootGuest("rtc", emu, timeout);
  allOk(r, "rtc", "rtc", 6);
  const date = guestLines(r, "rtc").map((l) => l.match(/^rtc: date (\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d) UTC$/))
    .find((m) => m);
  assert.ok(date, "the RTC guest printed its date");
  const [, y, mo, d, h, mi, s] = date.map(Number);
  const guest = Date.UTC(y, mo - 1, d, h, mi, s);
  assert.ok(guest >= before - 120000 && guest <= Date.now() + 120000,
            `the guest's RTC (${date[0]}) agrees with the host's clock (${new Date(before).toISOString()})`);
  return r;
}

// sti; hlt costs no host CPU time: a worker beside a sleeper on the same
// CPU gets (nearly) all of it.
export function assertIdle(emu, timeout) {
  const r = bootGuest("idle", emu, timeout);
  allOk(r, "worker", "idle", 1);
  assert.ok(guestLines(r, "sleeper").includes("idle: slept through 200 ticks"));
  line(r, /^\[hv\] guest sleeper stopped: exit code 0$/);
  // Its ~200 halts and wakes are decided by the CPU's own scheduler: the
  // supervisor's lock is taken only to start and stop the two guests.
  const halts = Number(line(r, /^\[hv\] guest sleeper exits: .*\bhlt \d+/).match(/\bhlt (\d+)/)[1]);
  const entries = Number(line(r, /^\[hv\] supervisor entered \d+ times while guests ran$/).match(/(\d+) times/)[1]);
  assert.ok(halts >= 150 && entries <= 40, `${halts} halts, supervisor entered ${entries} times`);
  return r;
}

// Interrupt-driven UART output: 200 lines, each whole, in order, once.
export function assertUartIrqOutput(emu, timeout) {
  const r = bootGuest("uart_irq_out", emu, timeout);
  const lines = guestLines(r, "uart-irq").filter((l) => l.startsWith("uart-irq: line "));
  assert.equal(lines.length, 200, r.output.slice(-2000));
  lines.forEach((l, i) => assert.equal(l, `uart-irq: line ${i} of interrupt-driven output, nothing polled`));
  line(r, /^\[hv\] guest uart-irq stopped: exit code 0$/);
  return r;
}

// A guest's own power: reboots by the reset control register, the i8042
// and port 0x92 ("rebooted", fresh, CMOS RAM kept, not counted as a crash
// even with max_restarts = 0), then S5 ("stopped: power off").
export function assertPower(emu, timeout) {
  const r = bootGuest("power", emu, timeout);
  const boots = { cf9: 2, kbd: 2, port92: 3, s5: 1 };
  for (const [name, count] of Object.entries(boots)) {
    const lines = guestLines(r, name);
    for (let n = 1; n <= count; n++) assert.ok(lines.includes(`power: boot ${n}`), `${name} booted ${n} times:\n${lines.join("\n")}`);
    assert.deepEqual(lines.filter((l) => l.includes("FAIL")), []);
    assert.equal(r.hv.filter((l) => l === `[hv] guest ${name} rebooted`).length, count - 1, name);
    line(r, new RegExp(`^\\[hv\\] guest ${name} stopped: power off$`));
  }
  assert.equal(r.hv.filter((l) => / restarted \(/.test(l)).length, 0, "a reboot is not a crash restart");
  return r;
}

// The PCI bus scan finds the host bridge alone; the i8042 and the delay
// ports answer as a PC's do.
export function assertPc(emu, timeout) {
  const r = bootGuest("pc", emu, timeout);
  allOk(r, "pc", "pc", 13);
  assert.ok(guestLines(r, "pc").includes("pc: a line sent by rep outsb"));
  assert.deepEqual(guestLines(r, "pc").filter((l) => l.startsWith("pc: pci ")),
                   ["pc: pci 00:00.0 id 0x12378086 class 0x00060000"]);
  return r;
}

// The ACPI tables found by the scan, every checksum right, the MADT and
// FADT as the platform is, the PM timer's rate; then S5 through them.
export function assertAcpi(emu, timeout) {
  const iso = buildIso(`acpi-${emu}`, { config: "tests/configs/acpi.toml" });
  assert.equal(iso.code, 0, iso.output);
  const r = boot(iso.iso, { emu, timeout });
  assert.equal(r.code, 0, r.output.slice(-3000));
  const lines = guestLines(r, "acpi");
  assert.deepEqual(lines.filter((l) => l.includes("FAIL") || l.includes("BAD")), [], r.output.slice(-4000));
  const tables = lines.filter((l) => l.startsWith("acpi: table ")).map((l) => l.split(" ")[2]);
  assert.deepEqual(tables.sort(), ["APIC", "DSDT", "FACP", "RSDT", "XSDT"]);
  assert.ok(lines.filter((l) => l.startsWith("acpi: ok ")).length >= 20);
  line(r, /^\[hv\] guest acpi stopped: power off$/);
  return r;
}

// The xAPIC page and the I/O APIC through MMIO: edge and level routing,
// remote IRR, EOIs by MMIO, all ones where no device answers.
export function assertIoApic(emu, timeout) {
  const r = bootGuest("ioapic", emu, timeout);
  allOk(r, "ioapic", "ioapic", 10);
  line(r, /^\[hv\] guest ioapic exits: .*unclaimed MMIO 2$/);
  return r;
}
