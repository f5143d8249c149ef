import { StopReason } from "../../../../assembly/vcpu/exit_record";
import { FakePlatform, Image, ramU8, ramU32 } from "../helpers";
import { boot, state, why } from "./boot";

describe("a flat binary", () => {
  it("is loaded at 1 MiB and entered there, EAX and EBX 0, in protected mode", () => {
    let platform = new FakePlatform();
    let image = new Image(0x300).fill(0, 0x300, 0x90).u32(0, 0xdeadbeef);
    expect(boot(platform, image)).toBe(0);
    expect(ramU32(0x100000)).toBe(0xdeadbeef);
    expect(ramU8(0x1002ff)).toBe(0x90);
    expect(state.rip).toBe(0x100000);
    expect(state.rax).toBe(0);
    expect(state.rbx).toBe(0);
    expect(state.cr0).toBe(0x11);
    expect(state.rflags).toBe(2);
    expect(state.csAttributes).toBe(0xc9b);
    expect(state.trAttributes).toBe(0x8b);
  });

  it("writes no boot information", () => {
    let platform = new FakePlatform();
    expect(boot(platform, new Image(16).u32(0, 0x12345678))).toBe(0);
    expect(ramU32(0x9000)).toBe(0);
  });

  it("is refused when it does not fit in guest RAM above 1 MiB", () => {
    let platform = new FakePlatform();
    expect(boot(platform, new Image(0x100001), "", 2 << 20)).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe("the flat binary [0x100000, 0x200001) lies outside guest RAM (0x200000 bytes)");
  });

  it("is refused with an initrd, which it would have no way to find", () => {
    let platform = new FakePlatform();
    expect(boot(platform, new Image(16), "", 16 << 20, new Image(16))).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe("a flat binary cannot be given an initrd (it gets no boot information)");
  });
});

describe("any kernel", () => {
  it("is refused when the guest has none", () => {
    let platform = new FakePlatform();
    expect(boot(platform, null)).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe("the guest has no kernel");
  });

  it("is refused when empty", () => {
    let platform = new FakePlatform();
    expect(boot(platform, new Image(0))).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe("the kernel image is empty");
  });

  it("is refused in less than 2 MiB of guest RAM", () => {
    let platform = new FakePlatform();
    expect(boot(platform, new Image(16), "", 1 << 20)).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe("guest RAM of 1024 KiB is too small (at least 2 MiB)");
  });
});
