// Guests of several vCPUs (issue 9): the same assertions under AMD-V
// (QEMU) and VT-x (Bochs). tests/guests/smp.c starts its APs by INIT and
// STARTUP, physical and all-but-self, and they park with interrupts off.
import assert from "node:assert/strict";
import { buildIso, boot, line } from "./lib.mjs";
import { guestLines } from "./guests.mjs";

export function assertSmpGuest(emu, timeout) {
  const iso = buildIso(`vcpus-${emu}`, { config: "tests/configs/vcpus.toml" });
  assert.equal(iso.code, 0, iso.output);
  const r = boot(iso.iso, { emu, timeout });
  assert.equal(r.code, 0, r.output.slice(-3000));
  line(r, /^\[hv\] guest smp: 8 MiB, 3 vCPUs, /);
  const lines = guestLines(r, "smp");
  assert.deepEqual(lines.filter((l) => l.includes("FAIL")), [], r.output.slice(-3000));
  assert.equal(lines.filter((l) => l.startsWith("smp: ok ")).length, 4, lines.join("\n"));
  // vCPU 1 started twice (the all-but-self INIT restarts it), vCPU 2 once.
  assert.ok(lines.includes("smp: 3 starts counted"), lines.join("\n"));
  line(r, /^\[hv\] guest smp stopped: exit code 0$/);
  return r;
}
