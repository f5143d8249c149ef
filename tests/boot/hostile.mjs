// Hostile guests (issue 11), the same assertions under AMD-V (QEMU) and
// VT-x (Bochs): each attacks one boundary; the host and a neighbour on the
// same CPU must be unharmed.
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { buildIso, boot, line, root } from "./lib.mjs";
import { guestLines } from "./guests.mjs";

const SWITCH = "\x01\x01\x01";
const PROMPT = /^\[hv\] input focus: hypervisor prompt/;

// DR0-DR3 and DR6 written by one guest are never seen by the next on the
// same CPU, and each keeps its own (tests/guests/debugregs.c); then a
// guest that would spin for minutes is stopped at the prompt (`stop`).
// Bochs's serial port takes no input here: under it nothing is typed and
// the spinner's stop_after_ms ends it.
export async function assertDebugRegisters(emu, timeout) {
  const typing = emu !== "bochs";
  mkdirSync(path.join(root, "build/test-configs"), { recursive: true });
  let toml = readFileSync(path.join(root, "tests/configs/debugregs.toml"), "utf8").replaceAll("../../build/guests/", "../guests/");

  // Without typing, the spinner is ended by its stop_after_ms instead.
  if (!typing) toml = toml.replace('cmdline = "loops=4000000000"', 'cmdline = "loops=4000000000"\nstop_after_ms = 20000');
  const config = `build/test-configs/debugregs-${emu}.toml`;
  writeFileSync(path.join(root, config), toml);
  const iso = buildIso(`debugregs-${emu}`, { config });
  assert.equal(iso.code, 0, iso.output);
  const r = await boot(iso.iso, {
    emu, timeout,
    input: !typing ? null : async (machine) => {
      await machine.waitFor(/^\[hv\] guest dr-a stopped: /, { fromStart: true });
      await machine.waitFor(/^\[hv\] guest dr-b stopped: /, { fromStart: true });
      await machine.waitFor(/^\[hv\] guest flush stopped: /, { fromStart: true });
      await machine.waitFor(/^\[hv\] guest iso-a stopped: /, { fromStart: true });
      await machine.waitFor(/^\[hv\] guest iso-b stopped: /, { fromStart: true });
      for (let i = 0; i < 4; i++) {
        await machine.type(SWITCH);
        try {
          await machine.waitFor(PROMPT, { seconds: 5 });
          break;
        } catch { /* the next guest had the focus: switch again */ }
      }
      await machine.type("stop spin\r");
      await machine.waitFor(/^\[hv\] all guests stopped$/);
    },
  });
  for (const name of ["dr-a", "dr-b"]) {
    const lines = guestLines(r, name);
    assert.deepEqual(lines.filter((l) => l.includes("FAIL")), [], `${name}:\n${lines.join("\n")}`);
    assert.equal(lines.filter((l) => l.startsWith("debugregs: ok ")).length, 5, lines.join("\n"));
    line(r, new RegExp(`^\\[hv\\] guest ${name} stopped: exit code 0$`));
  }
  // Memory isolation: fresh RAM reads zeros, each pattern stays whole.
  for (const name of ["iso-a", "iso-b"]) {
    assert.deepEqual(guestLines(r, name), [
      "memtest: 6 MiB fresh, ok: 0 words not zero",
      "memtest: 6 MiB checked, ok: 0 bad words in 6 rounds",
    ]);
    line(r, new RegExp(`^\\[hv\\] guest ${name} stopped: exit code 0$`));
  }
  // WBINVD and WBNOINVD exit, each a no-op, and the guest goes on.
  line(r, /^\[flush\] wbinvd: 1000 WBINVD and 1000 WBNOINVD done$/);
  line(r, /^\[hv\] guest flush exits: .*wbinvd 2000/);
  line(r, /^\[hv\] guest flush stopped: exit code 0$/);
  // CR4 bits that are not virtualised cannot be set (#GP), owned ones can.
  const cr4 = guestLines(r, "cr4");
  assert.deepEqual(cr4.filter((l) => l.includes("FAIL")), [], `cr4:\n${cr4.join("\n")}`);
  assert.equal(cr4.filter((l) => l.startsWith("cr4: ok ")).length, 8, cr4.join("\n"));
  line(r, /^\[hv\] guest cr4 stopped: exit code 0$/);
  if (typing) {
    line(r, /^\[hv\] guest spin: stopping it$/);
    // (after the prompt the stop line may follow "[hv] > " on its line)
    line(r, /^(\[hv\] > )?\[hv\] guest spin stopped: at the prompt \(stop spin\)$/);
  } else {
    line(r, /^\[hv\] guest spin stopped: its stop_after_ms \(20000 ms\) ran out$/);
  }
  assert.equal(r.code, 0, r.output.slice(-3000));
  return r;
}

// Hostile guests of issue 11 in one boot (tests/configs/hostile.toml), all
// on CPU 0 beside a memtest neighbour: every one must get through its
// attack (or be stopped alone with its own reason) and the neighbour must
// finish with its RAM whole. Under Bochs the loop counts are cut down.
export async function assertHostileGuests(emu, timeout) {
  const bochs = emu === "bochs";
  mkdirSync(path.join(root, "build/test-configs"), { recursive: true });
  let toml = readFileSync(path.join(root, "tests/configs/hostile.toml"), "utf8").replaceAll("../../build/guests/", "../guests/");
  if (bochs) {
    toml = toml.replace('cmdline = "step=4"', 'cmdline = "step=64"')
      .replace('cmdline = "n=1000"', 'cmdline = "n=100"');
  }
  const config = `build/test-configs/hostile-${emu}.toml`;
  writeFileSync(path.join(root, config), toml);
  const iso = buildIso(`hostile-${emu}`, { config });
  assert.equal(iso.code, 0, iso.output);
  const r = boot(iso.iso, { emu, timeout });
  const stop = (name) => {
    const stops = r.hv.filter((l) => l.startsWith(`[hv] guest ${name} stopped: `));
    assert.equal(stops.length, 1, `exactly one stop line for ${name}:\n${r.output.slice(-3000)}`);
    return stops[0].slice(`[hv] guest ${name} stopped: `.length);
  };
  const noFail = (name) => {
    const lines = guestLines(r, name);
    assert.deepEqual(lines.filter((l) => l.includes("FAIL")), [], `${name}:\n${lines.join("\n")}`);
    return lines;
  };

  // ports: every port at every size, INS/OUTS; the reset, power-off,
  // exit and own-UART ports left out of the writes (66 accesses touch one).
  const step = bochs ? 64 : 4;
  const ports = 0x1000 + Math.ceil((0x10000 - 0x1000) / step);
  const portLines = noFail("ports");
  assert.ok(portLines.includes(`ports: ${ports} ports: ${ports * 3 - 66} OUT, 66 OUT left out, ${ports * 3} IN`), portLines.join("\n"));
  assert.ok(portLines.includes("ports: 795 INS/OUTS done"), portLines.join("\n"));
  assert.equal(portLines.filter((l) => l.startsWith("ports: ok ")).length, 4, portLines.join("\n"));
  assert.equal(stop("ports"), "exit code 0");

  // exc-storm: every vector raised arrives exactly once per raise.
  const n = bochs ? 100 : 1000;
  const storm = noFail("exc-storm");
  assert.ok(storm.includes(`exc-storm: ok   INT n for every n 0..255, ${n} each: 0 vectors miscounted`), storm.join("\n"));
  assert.equal(storm.filter((l) => l.startsWith("exc-storm: ok ")).length, 11, storm.join("\n"));
  // ICEBP is a #DB trap on Bochs; QEMU 7.2's TCG has none (#UD, natively).
  assert.ok(storm.includes(bochs ? `exc-storm: ICEBP ${n} times: #DB ${n}, #UD 0, returned to the ICEBP itself 0`
                                 : `exc-storm: ICEBP ${n} times: #DB 0, #UD ${n}, returned to the ICEBP itself 0`), storm.join("\n"));
  assert.equal(stop("exc-storm"), "exit code 0");

  // virt-garbage: every virtualisation instruction with garbage operands
  // raises #UD (QEMU's TCG checks VMRUN/VMLOAD/VMSAVE's alignment before
  // the intercept: #GP natively, 7 forms x 5 unaligned addresses).
  const virt = noFail("virt-garbage");
  assert.ok(virt.includes(bochs ? "virt-garbage: 430 tried: #UD 430, #GP 0, #GP for an unaligned VMCB address 0, #PF 0, other 0, none 0 (Intel)"
                                : "virt-garbage: 430 tried: #UD 395, #GP 0, #GP for an unaligned VMCB address 35, #PF 0, other 0, none 0 (AMD)"),
            virt.join("\n"));
  assert.equal(virt.filter((l) => l.startsWith("virt-garbage: ok ")).length, 2, virt.join("\n"));
  assert.equal(stop("virt-garbage"), "exit code 0");

  // The neighbour on the same CPU: fresh RAM all zeros, its pattern whole.
  assert.deepEqual(guestLines(r, "neighbour"), [
    "memtest: 6 MiB fresh, ok: 0 words not zero",
    `memtest: 6 MiB checked, ok: 0 bad words in ${bochs ? 8 : 8} rounds`,
  ]);
  assert.equal(stop("neighbour"), "exit code 0");
  line(r, /^\[hv\] all guests stopped$/);
  assert.equal(r.code, 0, r.output.slice(-3000));
  return r;
}
