import { ConsoleLine, CONSOLE_LINE_BYTES, LINE_TEXT_BYTES } from "../../../assembly/devices/console_line";
import { FakePlatform } from "../guest/helpers";

const AREA: usize = memory.data(CONSOLE_LINE_BYTES, 16);

function newConsole(name: string): ConsoleLine {
  memory.fill(AREA, 0, CONSOLE_LINE_BYTES);
  let console = changetype<ConsoleLine>(AREA);
  let bytes = String.UTF8.encode(name);
  console.init(changetype<usize>(bytes), bytes.byteLength);
  return console;
}

function putText(console: ConsoleLine, text: string): void {
  for (let i = 0; i < text.length; i++) console.send(text.charCodeAt(i));
}

describe("the console line of a guest", () => {
  it("prints each finished line, prefixed with the guest's name", () => {
    let platform = new FakePlatform();
    let console = newConsole("web");
    putText(console, "hello\nworld\n");
    console.drain(platform);
    expect(platform.console.length).toBe(2);
    expect(platform.console[0]).toBe("[web] hello\n");
    expect(platform.console[1]).toBe("[web] world\n");
  });

  it("prints nothing until the line ends", () => {
    let platform = new FakePlatform();
    let console = newConsole("web");
    putText(console, "no newline yet");
    console.drain(platform);
    expect(platform.console.length).toBe(0);
    expect(console.hasPartialLine()).toBe(true);
  });

  it("drops carriage returns", () => {
    let platform = new FakePlatform();
    let console = newConsole("db");
    putText(console, "dos line\r\n");
    console.drain(platform);
    expect(platform.console[0]).toBe("[db] dos line\n");
  });

  it("replaces control characters and non-ASCII bytes with '.', a tab with a space", () => {
    let platform = new FakePlatform();
    let console = newConsole("x");
    console.send(0x1b); // ESC: no terminal escapes reach the host
    putText(console, "[2J\tend");
    console.send(0xc3);
    console.send(0x7f);
    console.send(0x0a);
    console.drain(platform);
    expect(platform.console[0]).toBe("[x] .[2J end..\n");
  });

  it("splits a line of more than 200 bytes", () => {
    let platform = new FakePlatform();
    let console = newConsole("g");
    for (let i: u32 = 0; i < LINE_TEXT_BYTES + 5; i++) console.send(0x61 + (i % 26));
    console.drain(platform);
    expect(platform.console.length).toBe(1);
    expect(platform.console[0].length).toBe(4 + <i32>LINE_TEXT_BYTES + 1);
    expect(console.hasPartialLine()).toBe(true);
    console.flush(platform);
    expect(platform.console.length).toBe(2);
    expect(platform.console[1]).toBe("[g] stuvw\n");
  });

  it("flushes a partial line with a newline added", () => {
    let platform = new FakePlatform();
    let console = newConsole("web");
    putText(console, "done\nlast words");
    console.flush(platform);
    expect(platform.console.length).toBe(2);
    expect(platform.console[1]).toBe("[web] last words\n");
    expect(console.hasPartialLine()).toBe(false);
  });

  it("prints an empty line as the prefix alone", () => {
    let platform = new FakePlatform();
    let console = newConsole("web");
    console.send(0x0a);
    console.drain(platform);
    expect(platform.console[0]).toBe("[web] \n");
  });

  it("cuts a long guest name to 32 bytes in the prefix", () => {
    let platform = new FakePlatform();
    let console = newConsole("a-guest-name-that-is-much-longer-than-thirty-two-bytes");
    putText(console, "x\n");
    console.drain(platform);
    expect(platform.console[0]).toBe("[a-guest-name-that-is-much-longer] x\n");
  });
});
