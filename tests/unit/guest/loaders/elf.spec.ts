// Hostile and broken ELF32 multiboot kernels: every one is refused with a
// reason, none traps, and nothing is copied before the whole image checks.
import { StopReason } from "../../../../assembly/vcpu/exit_record";
import { FakePlatform, Image, multibootElf, multibootHeader, elf32Header, programHeader, ramU8 } from "../helpers";
import { boot, why } from "./boot";

// A multiboot ELF with `phnum` program headers at 52 and room for data.
function elf(phnum: u32, size: i32 = 0x2000): Image {
  let image = new Image(size);
  elf32Header(image, 0x100000, 52, phnum);
  return multibootHeader(image, 0x1000 - 12, 0);
}

describe("a hostile ELF kernel", () => {
  it("refuses an ELF segment beyond guest RAM", () => {
    let platform = new FakePlatform();
    let image = elf(1);
    programHeader(image, 52, 0, 1, 0x1000, 0x100000, 0x100000, 0x100, 0x1000000);
    expect(boot(platform, image, "", 16 << 20)).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe("ELF segment [0x100000, 0x1100000) lies outside guest RAM (0x1000000 bytes)");
  });

  it("refuses a segment whose address wraps around 4 GiB", () => {
    let platform = new FakePlatform();
    let image = elf(1);
    programHeader(image, 52, 0, 1, 0x1000, 0xfffff000, 0xfffff000, 0x100, 0x2000);
    expect(boot(platform, image)).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe("ELF segment [0xfffff000, 0x100001000) lies outside guest RAM (0x1000000 bytes)");
  });

  it("refuses an absurd p_memsz", () => {
    let platform = new FakePlatform();
    let image = elf(1);
    programHeader(image, 52, 0, 1, 0x1000, 0x100000, 0x100000, 0x100, 0xffffffff);
    expect(boot(platform, image)).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe("ELF segment [0x100000, 0x1000fffff) lies outside guest RAM (0x1000000 bytes)");
  });

  // Refused while the multiboot information had a fixed place at 0x9000;
  // now the information moves out of the kernel's way (multiboot.spec.ts).
  it("accepts a segment where the multiboot information usually goes", () => {
    let platform = new FakePlatform();
    let image = elf(1);
    elf32Header(image, 0x8000, 52, 1);
    programHeader(image, 52, 0, 1, 0x1000, 0x8000, 0x8000, 0x100, 0x2000);
    expect(boot(platform, image)).toBe(0);
  });

  // The reserved area starts at 0x9FC00 now (it was 0xA0000), as the
  // memory map the guest is given says.
  it("refuses a segment in the reserved area between 0x9FC00 and 1 MiB", () => {
    let platform = new FakePlatform();
    let image = elf(1);
    elf32Header(image, 0xf0000, 52, 1);
    programHeader(image, 52, 0, 1, 0x1000, 0xf0000, 0xf0000, 0x100, 0x20000);
    expect(boot(platform, image)).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe("ELF segment [0xf0000, 0x110000) overlaps the reserved area [0x9fc00, 0x100000)");
  });

  it("refuses a huge program header count", () => {
    let platform = new FakePlatform();
    let image = elf(0xffff);
    expect(boot(platform, image)).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe("ELF has 65535 program headers (at most 64)");
  });

  it("refuses program headers past the end of the file", () => {
    let platform = new FakePlatform();
    let image = elf(2);
    elf32Header(image, 0x100000, 0xfffffff0, 2);
    expect(boot(platform, image)).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe("ELF program headers at offset 0xfffffff0 lie beyond the end of the file (8192 bytes)");
  });

  it("refuses program headers that run off the end of the file", () => {
    let platform = new FakePlatform();
    let image = elf(4);
    elf32Header(image, 0x100000, 0x2000 - 64, 4);
    expect(boot(platform, image)).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe("ELF program headers at offset 0x1fc0 lie beyond the end of the file (8192 bytes)");
  });

  it("refuses program headers smaller than 32 bytes", () => {
    let platform = new FakePlatform();
    let image = elf(1).u16(42, 8);
    expect(boot(platform, image)).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe("ELF program headers of 8 bytes (at least 32)");
  });

  it("refuses an ELF with no program headers", () => {
    let platform = new FakePlatform();
    expect(boot(platform, elf(0))).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe("ELF has no program headers");
  });

  it("refuses an ELF with no loadable segment", () => {
    let platform = new FakePlatform();
    let image = elf(1);
    programHeader(image, 52, 0, 4, 0x1000, 0x100000, 0x100000, 0x100, 0x100);
    expect(boot(platform, image)).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe("ELF has no loadable segment");
  });

  it("refuses file bytes past the end of the file, even when the sum overflows 32 bits", () => {
    let platform = new FakePlatform();
    let image = elf(1);
    programHeader(image, 52, 0, 1, 0xffffff00, 0x100000, 0x100000, 0x200, 0x200);
    expect(boot(platform, image)).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe(
      "ELF segment 0: file bytes [0xffffff00, 0x100000100) lie beyond the end of the file (8192 bytes)");
  });

  it("refuses p_filesz larger than p_memsz", () => {
    let platform = new FakePlatform();
    let image = elf(1);
    programHeader(image, 52, 0, 1, 0x1000, 0x100000, 0x100000, 0x200, 0x100);
    expect(boot(platform, image)).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe("ELF segment 0: p_filesz 0x200 exceeds p_memsz 0x100");
  });

  it("refuses an entry point in no loadable segment", () => {
    let platform = new FakePlatform();
    let image = elf(1);
    elf32Header(image, 0x500000, 52, 1);
    programHeader(image, 52, 0, 1, 0x1000, 0x100000, 0x100000, 0x100, 0x100);
    expect(boot(platform, image)).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe("ELF entry point 0x500000 is in no loadable segment");
  });

  it("checks every segment before copying any", () => {
    let platform = new FakePlatform();
    let image = elf(2);
    image.fill(0x1000, 0x100, 0x77);
    programHeader(image, 52, 0, 1, 0x1000, 0x100000, 0x100000, 0x100, 0x100);
    programHeader(image, 52, 1, 1, 0x1000, 0x40000000, 0x40000000, 0x100, 0x100);
    expect(boot(platform, image)).toBe(StopReason.LoadFailed);
    expect(ramU8(0x100000)).toBe(0);
    expect(platform.guestWrites).toBe(0);
  });

  it("refuses a 64-bit ELF with a multiboot header but no a.out kludge", () => {
    let platform = new FakePlatform();
    let image = multibootElf().u8(4, 2);
    expect(boot(platform, image)).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe("a 64-bit ELF: without the a.out kludge (flags bit 16) a multiboot kernel must be ELF32");
  });

  it("refuses an ELF of another class, byte order, type or machine", () => {
    let platform = new FakePlatform();
    expect(boot(platform, multibootElf().u8(4, 9))).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe("ELF of unknown class 9");
    platform = new FakePlatform();
    expect(boot(platform, multibootElf().u8(5, 2))).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe("ELF is not little-endian");
    platform = new FakePlatform();
    expect(boot(platform, multibootElf().u16(16, 3))).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe("ELF is not an executable (e_type 3)");
    platform = new FakePlatform();
    expect(boot(platform, multibootElf().u16(18, 62))).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe("ELF is not for x86 (e_machine 62)");
  });

  it("refuses an ELF too short for its own header", () => {
    let platform = new FakePlatform();
    let image = new Image(40);
    image.u32(0, 0x464c457f).u8(4, 1);
    multibootHeader(image, 24, 0);
    expect(boot(platform, image)).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe(
      "a multiboot header without the a.out kludge (flags bit 16) needs an ELF image, and this is not ELF");
  });
});

describe("an ELF kernel without a multiboot header", () => {
  it("is refused", () => {
    let platform = new FakePlatform();
    let image = new Image(0x200);
    elf32Header(image, 0x100000, 52, 1);
    programHeader(image, 52, 0, 1, 0, 0x100000, 0x100000, 0x100, 0x100);
    expect(boot(platform, image)).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe("ELF without a multiboot header");
  });

  it("is refused as a 64-bit ELF, pointing at the bzImage loader", () => {
    let platform = new FakePlatform();
    let image = new Image(0x200).u32(0, 0x464c457f).u8(4, 2).u8(5, 1);
    expect(boot(platform, image)).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe("ELF without a multiboot header (64-bit ELF; a Linux vmlinux needs the bzImage loader)");
  });
});
