// Console input (AMD-V, QEMU TCG): what is typed on the host's COM1 goes to
// one guest at a time; Ctrl-A three times moves the focus to the next
// guest, then the hypervisor's prompt. Two echo guests answer each line
// they read from their UART with "echo: <line>" and end on "quit".
import { test } from "node:test";
import assert from "node:assert/strict";
import { buildIso, boot, line } from "./lib.mjs";
import { guestLines } from "./guests.mjs";

const SWITCH = "\x01\x01\x01";
const focusOn = (name) => new RegExp(`^\\[hv\\] input focus: guest ${name} \\(press Ctrl-A three times to switch\\)$`);
const FOCUS_PROMPT = /^\[hv\] input focus: hypervisor prompt \(type help; press Ctrl-A three times to switch\)$/;

// A line of 100 bytes typed at once: more than the UART's 16-byte FIFO, so
// it arrives only if every stage waits for the next instead of dropping.
const LONG = Array.from({ length: 100 }, (_, i) => String.fromCharCode(0x61 + (i % 26))).join("");

async function converse(machine) {
  await machine.waitFor(/^\[echo-a\] echo: ready$/, { fromStart: true });
  await machine.waitFor(/^\[echo-b\] echo: ready$/, { fromStart: true });
  await machine.type("hello a\r");
  await machine.waitFor(/^\[echo-a\] echo: hello a$/);
  await machine.type(LONG + "\r", { delayMs: 0 });
  await machine.waitFor(new RegExp(`^\\[echo-a\\] echo: ${LONG}$`));

  await machine.type(SWITCH);
  await machine.waitFor(focusOn("echo-b"));
  await machine.type("hello b\r");
  await machine.waitFor(/^\[echo-b\] echo: hello b$/);

  await machine.type(SWITCH);
  await machine.waitFor(FOCUS_PROMPT);
  await machine.type("list\r");
  await machine.waitFor(/^\[hv\] guest echo-a: running$/);
  await machine.waitFor(/^\[hv\] guest echo-b: running$/);
  await machine.type("help\r");
  await machine.waitFor(/^\[hv\] list   the guests, running or stopped \(why\)$/);
  await machine.type("frob\r");
  await machine.waitFor(/^\[hv\] unknown command "frob" \(try help\)$/);

  await machine.type(SWITCH);
  await machine.waitFor(focusOn("echo-a"));
  // One Ctrl-A and another byte are no switch: both reach the guest.
  await machine.type("\x01x\r");
  await machine.waitFor(/^\[echo-a\] echo: \^Ax$/);
  await machine.type("quit\r");
  await machine.waitFor(/^\[hv\] guest echo-a stopped: exit code 0$/);
  // The focus moves on by itself when the focused guest stops.
  await machine.waitFor(focusOn("echo-b"));
  await machine.type("quit\r");
  await machine.waitFor(/^\[hv\] guest echo-b stopped: exit code 0$/);
}

function assertConsole(r) {
  line(r, /^\[hv\] input focus: guest echo-a \(press Ctrl-A three times to switch\)$/);
  // Each guest got exactly what was typed while it had the focus.
  assert.deepEqual(guestLines(r, "echo-a"), ["echo: ready", "echo: hello a", `echo: ${LONG}`, "echo: ^Ax", "echo: bye"]);
  assert.deepEqual(guestLines(r, "echo-b"), ["echo: ready", "echo: hello b", "echo: bye"]);
  line(r, /^\[hv\] all guests stopped$/);
  assert.equal(r.code, 0);
}

test("typed input goes to the focused guest; Ctrl-A three times switches guests and the prompt (1 CPU)", async () => {
  const iso = buildIso("console", { config: "tests/configs/console.toml" });
  assert.equal(iso.code, 0, iso.output);
  assertConsole(await boot(iso.iso, { emu: "qemu", timeout: 120, input: converse }));
});

test("the same with each echo guest on its own CPU (2 CPUs)", async () => {
  const iso = buildIso("console", { config: "tests/configs/console.toml" });
  assert.equal(iso.code, 0, iso.output);
  assertConsole(await boot(iso.iso, { emu: "qemu", timeout: 120, cpus: 2, input: converse }));
});

test("interrupt-driven UART input on IRQ 4: typed lines reach a guest that only sleeps between interrupts", async () => {
  const iso = buildIso("uart-irq", { config: "tests/configs/uart_irq.toml" });
  assert.equal(iso.code, 0, iso.output);
  const r = await boot(iso.iso, {
    emu: "qemu", timeout: 90,
    input: async (machine) => {
      await machine.waitFor(/^\[uart-irq\] uart-irq: ready$/, { fromStart: true });
      await machine.type("hello over IRQ 4\r");
      await machine.waitFor(/^\[uart-irq\] uart-irq: got hello over IRQ 4$/);
      await machine.type(LONG + "\r", { delayMs: 0 });
      await machine.waitFor(/^\[uart-irq\] uart-irq: got [a-z]{100}$/);
      await machine.type("quit\r");
      await machine.waitFor(/^\[hv\] guest uart-irq stopped: exit code 0$/);
    },
  });
  assert.equal(r.code, 0, r.output.slice(-2000));
  assert.equal(guestLines(r, "uart-irq").filter((l) => /^uart-irq: line \d+ of/.test(l)).length, 200);
});
