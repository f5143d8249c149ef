import { SystemControlA } from "../../../assembly/devices/system_control_a";

const PORT_A: usize = memory.data(offsetof<SystemControlA>(), 16);

function newPortA(): SystemControlA {
  memory.fill(PORT_A, 0xee, offsetof<SystemControlA>()); // reset() must set every field
  let device = changetype<SystemControlA>(PORT_A);
  device.reset();
  return device;
}

describe("System Control Port A (0x92)", () => {
  it("reads fast A20 on and no reset after reset, the state a BIOS leaves", () => {
    let port = newPortA();
    expect(port.read(0, 1)).toBe(0x02);
    expect(port.a20Enabled()).toBe(true);
    expect(port.resetRequested).toBe(false);
  });

  it("keeps fast A20 (bit 1) as written", () => {
    let port = newPortA();
    port.write(0, 1, 0x00);
    expect(port.read(0, 1)).toBe(0x00);
    expect(port.a20Enabled()).toBe(false);
    port.write(0, 1, 0x02);
    expect(port.a20Enabled()).toBe(true);
    expect(port.resetRequested).toBe(false);
  });

  it("requests a reset when bit 0 is written going from 0 to 1", () => {
    let port = newPortA();
    port.write(0, 1, 0x03);
    expect(port.resetRequested).toBe(true);
    expect(port.read(0, 1)).toBe(0x03);
  });

  it("does not request a reset again while bit 0 stays 1", () => {
    let port = newPortA();
    port.write(0, 1, 0x01);
    port.resetRequested = false; // as if the exit handler had looked and declined
    port.write(0, 1, 0x01);
    expect(port.resetRequested).toBe(false);
    port.write(0, 1, 0x00);
    port.write(0, 1, 0x01);
    expect(port.resetRequested).toBe(true);
  });

  it("follows Linux's A20 code: sets bit 1 and clears bit 0, no reset", () => {
    let port = newPortA();
    let value = port.read(0, 1);
    port.write(0, 1, (value | 0x02) & ~0x01);
    expect(port.resetRequested).toBe(false);
    expect(port.a20Enabled()).toBe(true);
  });

  it("reads the unmodelled bits 2-7 as 0", () => {
    let port = newPortA();
    port.write(0, 1, 0xfc);
    expect(port.read(0, 1)).toBe(0x00);
    expect(port.resetRequested).toBe(false);
  });

  it("forgets a request on reset", () => {
    let port = newPortA();
    port.write(0, 1, 0x01);
    port.reset();
    expect(port.resetRequested).toBe(false);
    expect(port.read(0, 1)).toBe(0x02);
  });

  it("never traps whatever is written at any size, and requests a reset only for bit 0 rising", () => {
    let port = newPortA();
    for (let size: u32 = 1; size <= 4; size++) {
      for (let value: u32 = 0; value < 256; value++) {
        port.reset();
        port.write(0, size, value | (value << 8) | (value << 16) | (value << 24));
        expect(port.resetRequested).toBe((value & 1) != 0);
        expect(port.read(0, size) & 0xff).toBe(value & 3);
      }
    }
    port.write(0xffffffff, 4, 0xffffffff);
    expect(port.read(1, 1)).toBe(0xff);
    expect(port.read(0, 4)).toBe(0xffffff00 | (port.read(0, 1) & 0xff));
  });
});
