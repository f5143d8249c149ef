// A guest's share of the host console (supervisor/console_share.ts).
import { consoleShare, MIN_CONSOLE_SHARE, MAX_CONSOLE_SHARE, UNMEASURED_CONSOLE_SHARE } from "../../../assembly/supervisor/console_share";
import { parse, setModules } from "../config/helpers";

describe("a guest's share of the host console", () => {
  beforeEach(() => {
    setModules(["a.elf"]);
    expect(parse(
      '[[guest]]\nname = "free"\nkernel = "a.elf"\n' +
      '[[guest]]\nname = "pinned"\nkernel = "a.elf"\nconsole_bytes_per_second = 300\n',
    )).toBe(0);
  });
  it("is half a 115200-baud port's rate on a host of one or two CPUs", () => {
    expect(consoleShare(0, 11520, 1)).toBe(5760);
    expect(consoleShare(0, 11520, 2)).toBe(5760);
  });
  it("is the port's rate split over more CPUs", () => {
    expect(consoleShare(0, 11520, 4)).toBe(2880);
    expect(consoleShare(0, 600000, 3)).toBe(200000);
  });
  it("follows a fast (emulated) port, up to a cap", () => {
    expect(consoleShare(0, 900000, 2)).toBe(450000);
    expect(consoleShare(0, 1 << 40, 2)).toBe(MAX_CONSOLE_SHARE);
  });
  it("keeps a floor on a slow port, and half of 115200 baud when unmeasured", () => {
    expect(consoleShare(0, 960, 2)).toBe(MIN_CONSOLE_SHARE);
    expect(consoleShare(0, 0, 2)).toBe(UNMEASURED_CONSOLE_SHARE);
  });
  it("is what the config pins, whatever the port", () => {
    expect(consoleShare(1, 900000, 2)).toBe(300);
    expect(consoleShare(1, 0, 2)).toBe(300);
  });
  it("is the unmeasured share for a guest the config does not have", () => {
    expect(consoleShare(2, 900000, 2)).toBe(UNMEASURED_CONSOLE_SHARE);
  });
});
