import { DebugExit } from "../../../assembly/devices/debug_exit";

const AREA: usize = memory.data(16, 16);

function newDevice(): DebugExit {
  let device = changetype<DebugExit>(AREA);
  device.reset();
  return device;
}

describe("the exit port", () => {
  it("records a 1-byte write as a stop request with that code", () => {
    let device = newDevice();
    device.write(0, 1, 0x2a);
    expect(device.requested).toBe(true);
    expect(device.code).toBe(42);
  });

  it("takes 2- and 4-byte writes whole", () => {
    let device = newDevice();
    device.write(0, 4, 0x12345678);
    expect(device.code).toBe(0x12345678);
    device.write(0, 2, 0xabcdef01);
    expect(device.code).toBe(0xef01);
  });

  it("reads all ones of the access size", () => {
    let device = newDevice();
    expect(device.read(0, 1)).toBe(0xff);
    expect(device.read(0, 2)).toBe(0xffff);
    expect(device.read(0, 4)).toBe(0xffffffff);
    expect(device.requested).toBe(false);
  });

  it("forgets a request on reset", () => {
    let device = newDevice();
    device.write(0, 1, 1);
    device.reset();
    expect(device.requested).toBe(false);
  });
});
