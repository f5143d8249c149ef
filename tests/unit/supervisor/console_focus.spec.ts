// Console input focus and the hypervisor prompt, as the stub sees them
// through the supervisor's exports: every typed byte goes through
// consoleInput(), guests stop through guestMarkStopped().

import {
  consoleFocus, consoleInput, consoleInputReleased, setConsoleOutput, CTRL_A, TO_HYPERVISOR,
} from "../../../assembly/supervisor/console_focus";
import { monitorNoteStop, stopRequests } from "../../../assembly/supervisor/monitor";
import { guestMarkStopped, schedulerReset } from "../../../assembly/supervisor/schedule";
import { StopReason } from "../../../assembly/vcpu/exit_record";
import { parse, setModules } from "../config/helpers";
import { capture, output } from "./capture";

const WEB: i32 = 0;
const DB: i32 = 1;
const CACHE: i32 = 2;

const FOCUS_WEB = "[hv] input focus: guest web (press Ctrl-A three times to switch)\n";
const FOCUS_DB = "[hv] input focus: guest db (press Ctrl-A three times to switch)\n";
const FOCUS_CACHE = "[hv] input focus: guest cache (press Ctrl-A three times to switch)\n";
const FOCUS_PROMPT = "[hv] input focus: hypervisor prompt (type help; press Ctrl-A three times to switch)\n";
const PROMPT = "[hv] > ";


// Three guests, web, db and cache, all running; the reset's focus line read.
function threeGuests(): void {
  setModules(["web.elf", "db.elf", "cache.elf"]);
  parse(
    '[[guest]]\nname = "web"\nkernel = "web.elf"\n' +
    '[[guest]]\nname = "db"\nkernel = "db.elf"\n' +
    '[[guest]]\nname = "cache"\nkernel = "cache.elf"\n',
  );
  setConsoleOutput(capture);
  schedulerReset(3);
  output();
}

// Types `text`; answers where each byte went, "-" for the hypervisor.
function type(text: string): string {
  let where = "";
  for (let i = 0; i < text.length; i++) {
    let target = consoleInput(<u32>text.charCodeAt(i));
    where += target == TO_HYPERVISOR ? "-" : target.toString();
  }
  return where;
}

function switchFocus(): void {
  expect(type("\x01\x01\x01")).toBe("---");
}

function toPrompt(): void {
  switchFocus(); // db
  switchFocus(); // cache
  switchFocus(); // the prompt
  output();
}

describe("console input focus", () => {
  beforeEach(() => { threeGuests(); });

  it("starts on the first guest and says so", () => {
    setConsoleOutput(capture);
    schedulerReset(3);
    expect(output()).toBe(FOCUS_WEB);
    expect(consoleFocus()).toBe(WEB);
  });

  it("sends what is typed to the focused guest, printing nothing", () => {
    expect(type("ls -l\r")).toBe("000000");
    expect(consoleInputReleased()).toBe(0);
    expect(output()).toBe("");
  });

  it("moves on at the third Ctrl-A in a row, and only then says so", () => {
    expect(type("\x01\x01")).toBe("--");
    expect(output()).toBe("");
    expect(consoleFocus()).toBe(WEB);
    expect(type("\x01")).toBe("-");
    expect(output()).toBe(FOCUS_DB);
    expect(consoleFocus()).toBe(DB);
    expect(type("x")).toBe("1");
  });

  it("cycles through the guests in config order, then the prompt, then the first guest", () => {
    switchFocus();
    expect(output()).toBe(FOCUS_DB);
    switchFocus();
    expect(output()).toBe(FOCUS_CACHE);
    switchFocus();
    expect(output()).toBe(FOCUS_PROMPT + PROMPT);
    expect(consoleFocus()).toBe(TO_HYPERVISOR);
    switchFocus();
    expect(output()).toBe("\n" + FOCUS_WEB);
    expect(consoleFocus()).toBe(WEB);
  });

  it("skips stopped guests when it cycles", () => {
    guestMarkStopped(<u32>DB);
    switchFocus();
    expect(output()).toBe(FOCUS_CACHE);
    guestMarkStopped(<u32>WEB);
    switchFocus();
    switchFocus();
    expect(output()).toBe(FOCUS_PROMPT + PROMPT + "\n" + FOCUS_CACHE);
  });

  it("delivers one or two Ctrl-As followed by another byte to the guest, before that byte", () => {
    expect(type("\x01")).toBe("-");
    expect(type("a")).toBe("0");
    expect(consoleInputReleased()).toBe(1);
    expect(type("\x01\x01b")).toBe("--0");
    expect(consoleInputReleased()).toBe(2);
    expect(type("c")).toBe("0");
    expect(consoleInputReleased()).toBe(0);
    expect(consoleFocus()).toBe(WEB);
  });

  it("counts only Ctrl-As in a row: another byte between them starts the count again", () => {
    expect(type("\x01\x01x\x01\x01")).toBe("--0--");
    expect(consoleFocus()).toBe(WEB);
    expect(type("\x01")).toBe("-");
    expect(consoleFocus()).toBe(DB);
  });

  it("takes a fourth and fifth Ctrl-A as the start of the next switch", () => {
    expect(type("\x01\x01\x01\x01\x01")).toBe("-----");
    expect(consoleFocus()).toBe(DB);
    expect(type("\x01")).toBe("-");
    expect(consoleFocus()).toBe(CACHE);
  });

  it("moves on when the focused guest stops, and says so", () => {
    guestMarkStopped(<u32>WEB);
    expect(output()).toBe(FOCUS_DB);
    expect(type("y")).toBe("1");
  });

  it("wraps around to the first running guest when the last one stops with the focus", () => {
    switchFocus();
    switchFocus();
    output();
    guestMarkStopped(<u32>CACHE);
    expect(output()).toBe(FOCUS_WEB);
    expect(consoleFocus()).toBe(WEB);
  });

  it("stays where it is when another guest stops", () => {
    guestMarkStopped(<u32>DB);
    expect(output()).toBe("");
    expect(consoleFocus()).toBe(WEB);
  });

  it("goes to the prompt without a word when no guest is left", () => {
    guestMarkStopped(<u32>DB);
    guestMarkStopped(<u32>CACHE);
    guestMarkStopped(<u32>WEB);
    expect(output()).toBe("");
    expect(consoleFocus()).toBe(TO_HYPERVISOR);
    expect(type("x")).toBe("-");
  });

  it("forgets a Ctrl-A count when the focus moves because a guest stopped", () => {
    expect(type("\x01\x01")).toBe("--");
    guestMarkStopped(<u32>WEB);
    expect(type("\x01")).toBe("-");
    expect(consoleFocus()).toBe(DB);
    expect(type("z")).toBe("1");
    expect(consoleInputReleased()).toBe(1);
  });

  it("stays on the prompt, saying so again, when Ctrl-A is pressed three times and no guest runs", () => {
    toPrompt();
    guestMarkStopped(<u32>WEB);
    guestMarkStopped(<u32>DB);
    guestMarkStopped(<u32>CACHE);
    switchFocus();
    expect(output()).toBe("\n" + FOCUS_PROMPT + PROMPT);
    expect(consoleFocus()).toBe(TO_HYPERVISOR);
  });

  it("starts on the prompt, silently, when there are no guests", () => {
    schedulerReset(0);
    expect(output()).toBe("");
    expect(consoleFocus()).toBe(TO_HYPERVISOR);
  });

  it("answers only byte values: the bits above 8 are ignored", () => {
    expect(type("\u0101\u0101\u0101")).toBe("---");
    expect(consoleFocus()).toBe(DB);
    expect(CTRL_A).toBe(1);
  });
});

describe("the hypervisor prompt", () => {
  beforeEach(() => {
    threeGuests();
    toPrompt();
  });

  it("echoes what is typed, after its prompt", () => {
    expect(type("he")).toBe("--");
    expect(output()).toBe("he");
  });

  it("lists its commands on help", () => {
    type("help\r");
    expect(output()).toBe(
      "help\n" +
      "[hv] help   this list\n" +
      "[hv] list   the guests, running or stopped (why)\n" +
      "[hv] stop <name>   stop that guest\n" +
      "[hv] Ctrl-A three times moves the input to the next guest\n" +
      PROMPT,
    );
  });

  it("asks the stub to stop a running guest by name, once it is stopped forgets the request", () => {
    type("stop db\r");
    expect(output()).toBe("stop db\n[hv] guest db: stopping it\n" + PROMPT);
    expect(load<u8>(stopRequests() + <usize>DB)).toBe(1);
    expect(load<u8>(stopRequests() + <usize>WEB)).toBe(0);
    monitorNoteStop(<u32>DB, <u32>StopReason.Operator);
    guestMarkStopped(<u32>DB);
    expect(load<u8>(stopRequests() + <usize>DB)).toBe(0);
    output();
    type("stop db\r");
    expect(output()).toBe("stop db\n[hv] guest db is not running\n" + PROMPT);
    type("list\r");
    expect(output().includes("[hv] guest db: stopped (stopped at the prompt)\n")).toBe(true);
    type("stop nobody\r");
    expect(output()).toBe("stop nobody\n[hv] no guest named \"nobody\"\n" + PROMPT);
    expect(load<u8>(stopRequests() + <usize>CACHE)).toBe(0);
  });

  it("lists every guest with its state, and why a stopped one stopped", () => {
    monitorNoteStop(<u32>DB, <u32>StopReason.ExitCode);
    guestMarkStopped(<u32>DB);
    monitorNoteStop(<u32>CACHE, <u32>StopReason.TripleFault);
    guestMarkStopped(<u32>CACHE);
    output();
    type("list\r");
    expect(output()).toBe(
      "list\n" +
      "[hv] guest web: running\n" +
      "[hv] guest db: stopped (exited)\n" +
      "[hv] guest cache: stopped (triple fault)\n" +
      PROMPT,
    );
  });

  it("says a guest stopped without a reason did not start", () => {
    guestMarkStopped(<u32>WEB);
    type("list\n");
    expect(output().includes("[hv] guest web: stopped (did not start)\n")).toBe(true);
  });

  it("names an unknown command and points to help", () => {
    type("frob 1\r");
    expect(output()).toBe("frob 1\n[hv] unknown command \"frob 1\" (try help)\n" + PROMPT);
  });

  it("ignores spaces around a command", () => {
    type("  list \r");
    expect(output().includes("[hv] guest web: running\n")).toBe(true);
  });

  it("ends a line on \\r or \\n, and on \\r\\n only once", () => {
    type("nope\r\n");
    type("nope\n");
    type("\r\n");
    expect(output()).toBe(
      "nope\n[hv] unknown command \"nope\" (try help)\n" + PROMPT +
      "nope\n[hv] unknown command \"nope\" (try help)\n" + PROMPT +
      "\n" + PROMPT,
    );
  });

  it("erases the last byte on Backspace or DEL, and nothing on an empty line", () => {
    type("\x7fhelq\x08p\x7f\x7f\x7f\x7flist\r");
    let text = output();
    expect(text.startsWith("helq\b \bp\b \b\b \b\b \b\b \blist\n")).toBe(true);
    expect(text.includes("[hv] guest web: running\n")).toBe(true);
  });

  it("does not take control bytes or bytes outside ASCII", () => {
    type("\x1b\x00\xe9list\r");
    expect(output().includes("[hv] guest web: running\n")).toBe(true);
  });

  it("gives held-back Ctrl-As to the prompt, which does not take them", () => {
    expect(type("\x01\x01list\r")).toBe("--" + "-----");
    expect(output().includes("[hv] guest web: running\n")).toBe(true);
    expect(consoleFocus()).toBe(TO_HYPERVISOR);
  });

  it("keeps 64 typed bytes of a line and drops the rest", () => {
    let long = "";
    for (let i = 0; i < 70; i++) long += "x";
    type(long);
    expect(output().length).toBe(64);
  });

  it("ends an unfinished line when the focus leaves, and forgets it", () => {
    type("li");
    switchFocus();
    expect(output()).toBe("li\n" + FOCUS_WEB);
    toPrompt();
    type("st\r");
    expect(output()).toBe("st\n[hv] unknown command \"st\" (try help)\n" + PROMPT);
  });
});
