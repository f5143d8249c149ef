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

function bytes(list: u8[]): Image {
  let image = new Image(64);
  for (let i = 0; i < list.length; i++) image.u8(i, list[i]);
  return image;
}

describe("a file that is plainly no kernel", () => {
  it("is refused when compressed, saying how", () => {
    let platform = new FakePlatform();
    expect(boot(platform, bytes([0x1f, 0x8b, 8, 0]))).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe("the kernel image is a gzip-compressed file, not a kernel (decompress it, or give the bzImage)");
    expect(boot(platform = new FakePlatform(), bytes([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0]))).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe("the kernel image is an xz-compressed file, not a kernel (decompress it, or give the bzImage)");
    expect(boot(platform = new FakePlatform(), bytes([0x28, 0xb5, 0x2f, 0xfd]))).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe("the kernel image is a zstd-compressed file, not a kernel (decompress it, or give the bzImage)");
    expect(boot(platform = new FakePlatform(), bytes([0x42, 0x5a, 0x68, 0x39]))).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe("the kernel image is a bzip2-compressed file, not a kernel (decompress it, or give the bzImage)");
  });

  it("is refused when it is a cpio archive (an initrd given as the kernel)", () => {
    let platform = new FakePlatform();
    expect(boot(platform, bytes([0x30, 0x37, 0x30, 0x37, 0x30, 0x31]))).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe("the kernel image is a cpio archive (an initrd?), not a kernel");
  });

  it("is refused when it is a PE/EFI executable without a Linux setup header", () => {
    let platform = new FakePlatform();
    expect(boot(platform, bytes([0x4d, 0x5a, 0x90, 0]))).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe("the kernel image is a PE/EFI executable without a Linux setup header, not a kernel this loader enters");
  });

  it("is refused when it is a script or text", () => {
    let platform = new FakePlatform();
    expect(boot(platform, bytes([0x23, 0x21, 0x2f, 0x62]))).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe("the kernel image is a script (#!), not a kernel");
    let text = new Image(40);
    for (let i = 0; i < 40; i++) text.u8(i, i == 39 ? 0x0a : 0x61 + i % 26);
    expect(boot(platform = new FakePlatform(), text)).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe("the kernel image is text, not a kernel");
  });

  it("is still loaded as a flat binary when one byte is not text", () => {
    let platform = new FakePlatform();
    let image = new Image(40).fill(0, 40, 0x61).u8(20, 0xf4);
    expect(boot(platform, image)).toBe(0);
  });
});
