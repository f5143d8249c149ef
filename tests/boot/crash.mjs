// The crash policy, the same under both vendors: a crashing guest is
// restarted with a fresh instance until max_restarts, then stays stopped;
// its neighbour finishes untouched. A triple fault restarted is a reboot
// (a PC resets on one) and says so, counted against max_restarts all the
// same; a trap in a guest VMM instance is a restart.
import assert from "node:assert/strict";
import { line } from "./lib.mjs";
import { guestLines } from "./guests.mjs";

export function assertCrashPolicy(r) {
  const crashy = r.hv.filter((l) => l.startsWith("[hv] guest crashy "));
  assert.deepEqual(crashy.filter((l) => !l.includes(" exits in ") && !l.includes(" exits: ")), [
    "[hv] guest crashy stopped: triple fault",
    "[hv] guest crashy rebooted (triple fault, 1 of 2)",
    "[hv] guest crashy stopped: triple fault",
    "[hv] guest crashy rebooted (triple fault, 2 of 2)",
    "[hv] guest crashy stopped: triple fault",
  ], r.output.slice(-3000));
  // Each life of the guest ran its image from the start.
  assert.equal(guestLines(r, "crashy").filter((l) => l.startsWith("triple: loading")).length, 3);
  // A trap in a guest VMM instance: a crash too, restarted with a fresh one.
  const vmm = r.hv.filter((l) => l.startsWith("[hv] guest vmm-crashy ") && !l.includes(" exits in ") && !l.includes(" exits: "));
  assert.equal(vmm.length, 3, vmm.join("\n"));
  assert.match(vmm[0], /^\[hv\] guest vmm-crashy stopped: its guest VMM trapped: unreachable executed \(abort\) \(RIP 0x[0-9a-f]+, exit 9\)$/);
  assert.equal(vmm[1], "[hv] guest vmm-crashy restarted (1 of 1)");
  assert.match(vmm[2], /^\[hv\] guest vmm-crashy stopped: its guest VMM trapped: /);
  assert.equal(guestLines(r, "vmm-crashy").filter((l) => l.startsWith("vmmtrap: asking")).length, 2);
  assert.deepEqual(guestLines(r, "steady"), ["memtest: 6 MiB checked, ok: 0 bad words"]);
  line(r, /^\[hv\] guest steady stopped: exit code 0$/);
  line(r, /^\[hv\] all guests stopped$/);
  assert.equal(r.code, 0);
}
