import { PostDelay } from "../../../assembly/devices/post_delay";

const DELAY: usize = memory.data(offsetof<PostDelay>(), 16);

function newDelay(): PostDelay {
  memory.fill(DELAY, 0xee, offsetof<PostDelay>()); // reset() must set every field
  let device = changetype<PostDelay>(DELAY);
  device.reset();
  return device;
}

describe("the POST and delay ports (0x80, 0xED)", () => {
  it("accepts writes and reads all ones", () => {
    let delay = newDelay();
    delay.write(0, 1, 0x55);
    expect(delay.read(0, 1)).toBe(0xff);
    expect(delay.read(0, 2)).toBe(0xffff);
    expect(delay.read(0, 4)).toBe(0xffffffff);
  });

  it("keeps the last POST code for a debugger, out of the guest's sight", () => {
    let delay = newDelay();
    delay.write(0, 1, 0x2a);
    expect(delay.lastWritten).toBe(0x2a);
    delay.reset();
    expect(delay.lastWritten).toBe(0);
  });

  it("never traps whatever is written at any size and offset", () => {
    let delay = newDelay();
    for (let size: u32 = 0; size <= 8; size++) {
      for (let value: u32 = 0; value < 256; value++) {
        delay.write(value, size, value * 0x01010101);
        delay.read(value, size);
      }
    }
    expect(delay.read(0, 1)).toBe(0xff);
  });
});
