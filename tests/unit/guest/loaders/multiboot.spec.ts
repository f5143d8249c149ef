import { StopReason } from "../../../../assembly/vcpu/exit_record";
import {
  FakePlatform, Image, multibootElf, multibootHeader, elf32Header, programHeader, ramU8, ramU32, ramU64, ramString,
} from "../helpers";
import { boot, state, why } from "./boot";

// Where the boot information goes when nothing of the kernel is there.
const INFO: u64 = 0x9000;

describe("a multiboot ELF32 kernel", () => {
  it("is loaded at its segments' physical addresses", () => {
    let platform = new FakePlatform();
    expect(boot(platform, multibootElf())).toBe(0);
    expect(platform.console.length).toBe(0);
    expect(ramU32(0x100000)).toBe(0x1badb002);
    expect(ramU8(0x10000c)).toBe(0xab);
    expect(ramU8(0x1003ff)).toBe(0xab);
  });

  it("has the bss part of a segment zeroed, whatever RAM held", () => {
    let platform = new FakePlatform();
    let junk = new Image(0x4000).fill(0, 0x4000, 0x5a);
    platform.guestWrite(0x100000, changetype<usize>(junk.bytes), 0x4000);
    expect(boot(platform, multibootElf())).toBe(0);
    expect(ramU8(0x100400)).toBe(0);
    expect(ramU8(0x1033ff)).toBe(0);
    expect(ramU8(0x103400)).toBe(0x5a); // beyond memsz: untouched
  });

  it("is entered in 32-bit protected mode, paging off, EAX=0x2BADB002, EBX=the boot information", () => {
    let platform = new FakePlatform();
    expect(boot(platform, multibootElf())).toBe(0);
    expect(state.rip).toBe(0x10000c);
    expect(state.rax).toBe(0x2badb002);
    expect(state.rbx).toBe(INFO);
    expect(state.rcx).toBe(0);
    expect(state.rsp).toBe(0);
    expect(state.rflags).toBe(0x2);
    expect(state.cr0).toBe(0x11);
    expect(state.cr3).toBe(0);
    expect(state.cr4).toBe(0);
    expect(state.efer).toBe(0);
    expect(state.xcr0).toBe(1);
    expect(state.csSelector).toBe(0x08);
    expect(state.csAttributes).toBe(0xc9b);
    expect(state.csLimit).toBe(0xffffffff);
    expect(state.csBase).toBe(0);
    expect(state.dsSelector).toBe(0x10);
    expect(state.dsAttributes).toBe(0xc93);
    expect(state.ssSelector).toBe(0x10);
    expect(state.ssAttributes).toBe(0xc93);
    expect(state.ssLimit).toBe(0xffffffff);
    expect(state.esAttributes).toBe(0xc93);
    expect(state.fsAttributes).toBe(0xc93);
    expect(state.gsAttributes).toBe(0xc93);
    expect(state.gsLimit).toBe(0xffffffff);
    expect(state.trSelector).toBe(0);
    expect(state.trAttributes).toBe(0x8b);
    expect(state.trLimit).toBe(0xffff);
    expect(state.ldtrAttributes).toBe(0x82);
    expect(state.ldtrLimit).toBe(0xffff);
    expect(state.gdtrBase).toBe(0);
    expect(state.gdtrLimit).toBe(0xffff);
    expect(state.idtrLimit).toBe(0xffff);
  });

  it("has a virtual entry point translated through the segment that holds it", () => {
    let platform = new FakePlatform();
    let image = multibootElf();
    elf32Header(image, 0xc010000c, 52, 1);
    programHeader(image, 52, 0, 1, 0x1000, 0xc0100000, 0x100000, 0x400, 0x400);
    expect(boot(platform, image)).toBe(0);
    expect(state.rip).toBe(0x10000c);
  });

  it("loads every PT_LOAD segment and skips the others", () => {
    let platform = new FakePlatform();
    let image = new Image(0x3000);
    elf32Header(image, 0x100000, 52, 3);
    programHeader(image, 52, 0, 1, 0x1000, 0x100000, 0x100000, 0x1000, 0x1000);
    programHeader(image, 52, 1, 4, 0x2000, 0x300000, 0x300000, 0x1000, 0x1000); // PT_NOTE
    programHeader(image, 52, 2, 1, 0x2000, 0x200000, 0x200000, 0x1000, 0x1000);
    image.fill(0x1000, 0x2000, 0x77);
    multibootHeader(image, 0x1000, 0);
    expect(boot(platform, image)).toBe(0);
    expect(ramU8(0x200000)).toBe(0x77);
    expect(ramU8(0x300000)).toBe(0);
  });
});

describe("the multiboot information", () => {
  it("sets flags mem (0), cmdline (2), mmap (6) and loader name (9), and no modules without an initrd", () => {
    let platform = new FakePlatform();
    expect(boot(platform, multibootElf())).toBe(0);
    expect(ramU32(INFO)).toBe(0x245);
    expect(ramU32(INFO + 20)).toBe(0);
  });

  // 639, not 640: the memory map reserves [0x9FC00, 1 MiB) (was 640 when
  // the reserved area began at 0xA0000).
  it("gives mem_lower 639 and mem_upper (RAM - 1 MiB) / 1024", () => {
    let platform = new FakePlatform();
    expect(boot(platform, multibootElf(), "", 32 << 20)).toBe(0);
    expect(ramU32(INFO + 4)).toBe(639);
    expect(ramU32(INFO + 8)).toBe(31 * 1024);
  });

  // The reserved entry starts at 0x9FC00 (CONVENTIONAL_MEMORY_END), where it
  // started at 0xA0000 before: it covers the ACPI tables at 0xE0000.
  it("gives a memory map: RAM to 0x9FC00, reserved to 1 MiB, RAM to the end", () => {
    let platform = new FakePlatform();
    expect(boot(platform, multibootElf(), "", 32 << 20)).toBe(0);
    expect(ramU32(INFO + 44)).toBe(72);
    let map = <u64>ramU32(INFO + 48);
    expect(map >= INFO && map < 0xc000).toBe(true);
    expect(ramU32(map)).toBe(20);
    expect(ramU64(map + 4)).toBe(0);
    expect(ramU64(map + 12)).toBe(0x9fc00);
    expect(ramU32(map + 20)).toBe(1);
    expect(ramU32(map + 24)).toBe(20);
    expect(ramU64(map + 28)).toBe(0x9fc00);
    expect(ramU64(map + 36)).toBe(0x60400);
    expect(ramU32(map + 44)).toBe(2);
    expect(ramU64(map + 52)).toBe(0x100000);
    expect(ramU64(map + 60)).toBe((32 << 20) - 0x100000);
    expect(ramU32(map + 68)).toBe(1);
  });

  it("passes the command line as a NUL-terminated string below 1 MiB", () => {
    let platform = new FakePlatform();
    expect(boot(platform, multibootElf(), "console=ttyS0 greeting=alpha")).toBe(0);
    let cmdline = <u64>ramU32(INFO + 16);
    expect(cmdline >= INFO && cmdline < 0xc000).toBe(true);
    expect(ramString(cmdline)).toBe("console=ttyS0 greeting=alpha");
  });

  it("passes an empty command line as an empty string", () => {
    let platform = new FakePlatform();
    expect(boot(platform, multibootElf(), "")).toBe(0);
    expect(ramString(<u64>ramU32(INFO + 16))).toBe("");
  });

  it("names the boot loader \"tshv\"", () => {
    let platform = new FakePlatform();
    expect(boot(platform, multibootElf())).toBe(0);
    expect(ramString(<u64>ramU32(INFO + 64))).toBe("tshv");
  });

  it("gives the initrd as module 0, \"initrd\", page-aligned above the kernel", () => {
    let platform = new FakePlatform();
    let initrd = new Image(5000).fill(0, 5000, 0x42);
    expect(boot(platform, multibootElf(), "", 16 << 20, initrd)).toBe(0);
    expect(ramU32(INFO) & 0x8).toBe(0x8);
    expect(ramU32(INFO + 20)).toBe(1);
    let module = <u64>ramU32(INFO + 24);
    let start = ramU32(module);
    expect(start).toBe(0x104000); // the kernel ends at 0x103400
    expect(ramU32(module + 4)).toBe(0x104000 + 5000);
    expect(ramString(<u64>ramU32(module + 8))).toBe("initrd");
    expect(ramU8(0x104000)).toBe(0x42);
    expect(ramU8(0x104000 + 4999)).toBe(0x42);
  });

  it("places an initrd above 1 MiB when the kernel sits below the reserved area", () => {
    let platform = new FakePlatform();
    let image = new Image(0x1400);
    elf32Header(image, 0x10000, 52, 1);
    programHeader(image, 52, 0, 1, 0x1000, 0x10000, 0x10000, 0x400, 0x400);
    multibootHeader(image, 0x1000, 1);
    expect(boot(platform, image, "", 16 << 20, new Image(100))).toBe(0);
    expect(ramU32(<u64>ramU32(INFO + 24))).toBe(0x100000);
  });

  // The message changed: the initrd is no longer tried at one place only.
  it("refuses an initrd that fits in no gap of guest RAM", () => {
    let platform = new FakePlatform();
    expect(boot(platform, multibootElf(), "", 2 << 20, new Image(2 << 20))).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe("no room for the initrd (2097152 bytes): guest RAM (0x200000 bytes) has no gap that " +
      "size below 0xfec00000 outside the kernel, the first page and [0x9fc00, 0x100000)");
  });
});

describe("the multiboot header", () => {
  it("is found 4-aligned within the first 8192 bytes", () => {
    let platform = new FakePlatform();
    let image = multibootElf();
    expect(boot(platform, image)).toBe(0);
    expect(state.rax).toBe(0x2badb002);
  });

  it("is not found beyond the first 8192 bytes: the image is then an ELF without one", () => {
    let platform = new FakePlatform();
    let image = new Image(0x3000);
    elf32Header(image, 0x100000, 52, 1);
    programHeader(image, 52, 0, 1, 0x2000, 0x100000, 0x100000, 0x100, 0x100);
    multibootHeader(image, 0x2000, 0);
    expect(boot(platform, image)).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe("ELF without a multiboot header");
  });

  it("is not found unaligned: a flat binary then", () => {
    let platform = new FakePlatform();
    let image = multibootHeader(new Image(64), 6, 0);
    expect(boot(platform, image)).toBe(0);
    expect(state.rip).toBe(0x100000);
    expect(state.rax).toBe(0);
  });

  it("does not count with a wrong checksum", () => {
    let platform = new FakePlatform();
    let image = multibootElf();
    image.u32(0x1008, 0x12345678);
    expect(boot(platform, image)).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe("ELF without a multiboot header");
  });

  it("is refused when it requires a feature we cannot provide (flags bits 3-15)", () => {
    let platform = new FakePlatform();
    let image = multibootElf();
    multibootHeader(image, 0x1000, 0x00000803);
    expect(boot(platform, image)).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe(
      "the multiboot header requires features this loader does not provide (flags 0x803, unsupported 0x800)");
  });

  it("may ask for a video mode (flags bit 2) and optional features (bits 17-31)", () => {
    let platform = new FakePlatform();
    let image = multibootElf();
    multibootHeader(image, 0x1000, 0x80020007);
    expect(boot(platform, image)).toBe(0);
  });

  it("without the a.out kludge needs an ELF image", () => {
    let platform = new FakePlatform();
    let image = multibootHeader(new Image(64), 0, 0);
    expect(boot(platform, image)).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe(
      "a multiboot header without the a.out kludge (flags bit 16) needs an ELF image, and this is not ELF");
  });
});

// Header at file offset 0x40, loaded so that file offset 0 lands at 1 MiB.
function aout(loadEnd: u32, bssEnd: u32, entry: u32): Image {
  let image = new Image(0x2000).fill(0, 0x2000, 0x99);
  multibootHeader(image, 0x40, 0x10003);
  image.u32(0x40 + 12, 0x100040).u32(0x40 + 16, 0x100000).u32(0x40 + 20, loadEnd)
    .u32(0x40 + 24, bssEnd).u32(0x40 + 28, entry);
  return image;
}

describe("an a.out-kludge multiboot kernel", () => {
  it("is loaded at load_addr up to load_end_addr, with the bss zeroed", () => {
    let platform = new FakePlatform();
    expect(boot(platform, aout(0x101000, 0x105000, 0x100060))).toBe(0);
    expect(ramU32(0x100040)).toBe(0x1badb002);
    expect(ramU8(0x100fff)).toBe(0x99);
    expect(ramU8(0x101000)).toBe(0);
    expect(state.rip).toBe(0x100060);
    expect(state.rax).toBe(0x2badb002);
  });

  it("takes the rest of the file when load_end_addr is 0, and no bss when bss_end_addr is 0", () => {
    let platform = new FakePlatform();
    expect(boot(platform, aout(0, 0, 0x100060))).toBe(0);
    expect(ramU8(0x101fff)).toBe(0x99);
    expect(ramU8(0x102000)).toBe(0);
  });

  it("honours load_addr below header_addr by starting earlier in the file", () => {
    let platform = new FakePlatform();
    let image = new Image(0x2000).fill(0, 0x2000, 0x99).u32(0x1000, 0x11223344);
    multibootHeader(image, 0x1040, 0x10000);
    image.u32(0x1040 + 12, 0x200040).u32(0x1040 + 16, 0x200000).u32(0x1040 + 20, 0)
      .u32(0x1040 + 24, 0).u32(0x1040 + 28, 0x200000);
    expect(boot(platform, image)).toBe(0);
    expect(ramU32(0x200000)).toBe(0x11223344);
  });

  it("is refused when load_addr is above header_addr", () => {
    let platform = new FakePlatform();
    let image = aout(0x101000, 0, 0x100060).u32(0x40 + 16, 0x100080);
    expect(boot(platform, image)).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe("a.out kludge: load_addr 0x100080 is above header_addr 0x100040");
  });

  it("is refused when header_addr - load_addr reaches before the file", () => {
    let platform = new FakePlatform();
    let image = aout(0x101000, 0, 0x100060).u32(0x40 + 16, 0x0);
    expect(boot(platform, image)).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe("a.out kludge: header_addr - load_addr (0x100040) reaches before the start of the file");
  });

  it("is refused when load_end_addr is below load_addr", () => {
    let platform = new FakePlatform();
    expect(boot(platform, aout(0xfffff, 0, 0x100060))).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe("a.out kludge: load_end_addr 0xfffff is below load_addr 0x100000");
  });

  it("is refused when load_end_addr runs past the end of the file", () => {
    let platform = new FakePlatform();
    expect(boot(platform, aout(0xffffffff, 0, 0x100060))).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe(
      "a.out kludge: 4293918719 bytes to load from offset 0x0 run past the end of the file (8192 bytes)");
  });

  it("is refused when bss_end_addr is below load_end_addr", () => {
    let platform = new FakePlatform();
    expect(boot(platform, aout(0x101000, 0x100800, 0x100060))).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe("a.out kludge: bss_end_addr 0x100800 is below load_end_addr 0x101000");
  });

  it("is refused when its bss runs beyond guest RAM", () => {
    let platform = new FakePlatform();
    expect(boot(platform, aout(0x101000, 0xffffffff, 0x100060))).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe("the a.out image [0x100000, 0xffffffff) lies outside guest RAM (0x1000000 bytes)");
  });

  it("is refused when entry_addr is outside the image", () => {
    let platform = new FakePlatform();
    expect(boot(platform, aout(0x101000, 0, 0x101000))).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe("a.out kludge: entry_addr 0x101000 is outside the loaded image");
  });

  // It was refused when the information had a fixed place at 0x9000.
  it("is loaded where the multiboot information usually goes, the information moving above its bss", () => {
    let platform = new FakePlatform();
    let image = new Image(0x200).fill(0, 0x200, 0x99);
    multibootHeader(image, 0, 0x10000);
    image.u32(12, 0x8000).u32(16, 0x8000).u32(20, 0).u32(24, 0x9800).u32(28, 0x8000);
    expect(boot(platform, image)).toBe(0);
    expect(ramU32(0x8000)).toBe(0x1badb002);
    expect(ramU8(0x81ff)).toBe(0x99);
    expect(ramU8(0x9000)).toBe(0); // bss, not the information
    expect(state.rbx).toBe(0x9800);
    expect(ramU32(0x9800)).toBe(0x245);
  });

  it("is refused when its address fields lie beyond the first 8192 bytes", () => {
    let platform = new FakePlatform();
    let image = new Image(0x3000);
    multibootHeader(image, 8192 - 12, 0x10000);
    expect(boot(platform, image)).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe("the multiboot header's a.out fields lie beyond the first 8192 bytes of the image");
  });

  it("is refused when the header sits at the very end of a short file", () => {
    let platform = new FakePlatform();
    let image = multibootHeader(new Image(16), 4, 0x10000);
    expect(boot(platform, image)).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe("the multiboot header's a.out fields lie beyond the first 8192 bytes of the image");
  });
});

// An ELF kernel of one segment per [paddr, memsz) given, each 0x100 bytes
// from the file (the multiboot header, then 0xAB) and the rest bss, entered
// at the first segment.
function elfAt(paddrs: u32[], memszs: u32[]): Image {
  let count = <u32>paddrs.length;
  let image = new Image(0x2000);
  elf32Header(image, paddrs[0], 52, count);
  for (let i: u32 = 0; i < count; i++) {
    programHeader(image, 52, i, 1, 0x1000, paddrs[i], paddrs[i], 0x100, memszs[i]);
  }
  image.fill(0x1000, 0x100, 0xab);
  return multibootHeader(image, 0x1000, 3);
}

describe("where the boot information and the initrd go", () => {
  it("loads a kernel linked at 0x8000", () => {
    let platform = new FakePlatform();
    // [0x8000, 0xb000): over 0x9000, where the information usually goes.
    expect(boot(platform, elfAt([0x8000], [0x3000]), "console=ttyS0")).toBe(0);
    expect(state.rip).toBe(0x8000);
    expect(ramU32(0x8000)).toBe(0x1badb002); // the file bytes: its header...
    expect(ramU8(0x80ff)).toBe(0xab);        // ...and the rest
    expect(ramU8(0x9000)).toBe(0);      // its bss, zeroed, not the information
    expect(state.rbx).toBe(0xb000);     // the lowest free place from 0x9000 up
    expect(ramU32(0xb000)).toBe(0x245);
    expect(ramString(<u64>ramU32(0xb000 + 16))).toBe("console=ttyS0");
    expect(ramString(<u64>ramU32(0xb000 + 64))).toBe("tshv");
  });

  it("puts the information in the gap between a kernel segment and the reserved area", () => {
    let platform = new FakePlatform();
    expect(boot(platform, elfAt([0x2000, 0x100000], [0x9d000, 0x1000]))).toBe(0);
    expect(state.rbx).toBe(0x9f000);
    let end = state.rbx + <u64>ramU32(0x9f000 + 16) - 0x9f000 + 1; // past the cmdline's NUL
    expect(end <= 0x9fc00).toBe(true);
    expect(ramU32(0x9f000)).toBe(0x245);
  });

  it("puts the information above 1 MiB when the kernel covers conventional memory", () => {
    let platform = new FakePlatform();
    expect(boot(platform, elfAt([0x0, 0x100000], [0x9fc00, 0x5000]), "a long command line", 4 << 20)).toBe(0);
    expect(state.rbx).toBe(0x105000);
    expect(ramU32(0x105000)).toBe(0x245);
    expect(ramString(<u64>ramU32(0x105000 + 16))).toBe("a long command line");
  });

  it("puts an initrd too big for the space above the kernel in a gap between its segments", () => {
    let platform = new FakePlatform();
    let initrd = new Image(0x100000).fill(0, 0x100000, 0x42);
    // Segments [1 MiB, +4 KiB) and [3 MiB, 4 MiB - 4 KiB) in 4 MiB: 4 KiB above the kernel.
    expect(boot(platform, elfAt([0x100000, 0x300000], [0x1000, 0xff000]), "", 4 << 20, initrd)).toBe(0);
    let module = <u64>ramU32(INFO + 24);
    expect(ramU32(module)).toBe(0x101000);
    expect(ramU32(module + 4)).toBe(0x201000);
    expect(ramU8(0x101000)).toBe(0x42);
    expect(ramU8(0x200fff)).toBe(0x42);
    expect(ramU8(0x3000ff)).toBe(0xab); // the kernel's second segment, untouched
    expect(state.rbx).toBe(INFO);
  });

  it("puts a small initrd in conventional memory when RAM above the kernel is full, and the information after it", () => {
    let platform = new FakePlatform();
    let initrd = new Image(0x10000).fill(0, 0x10000, 0x42);
    // The kernel fills [1 MiB, 2 MiB) of a 2 MiB guest.
    expect(boot(platform, elfAt([0x100000], [0x100000]), "", 2 << 20, initrd)).toBe(0);
    let module = <u64>ramU32(state.rbx + 24);
    expect(ramU32(module)).toBe(0x1000);  // page-aligned, above the first page
    expect(ramU32(module + 4)).toBe(0x11000);
    expect(state.rbx).toBe(0x11000);       // 0x9000 is the initrd's
    expect(ramU8(0x1000)).toBe(0x42);
    expect(ramU8(0x10fff)).toBe(0x42);
  });

  it("never puts boot data in the first page or in [0x9FC00, 1 MiB)", () => {
    let platform = new FakePlatform();
    let initrd = new Image(0x1000).fill(0, 0x1000, 0x42);
    // The kernel leaves only the first page free, and the reserved area.
    expect(boot(platform, elfAt([0x1000, 0x100000], [0x9ec00, 0x100000]), "", 2 << 20, initrd))
      .toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe("no room for the initrd (4096 bytes): guest RAM (0x200000 bytes) has no gap that size " +
      "below 0xfec00000 outside the kernel, the first page and [0x9fc00, 0x100000)");
  });

  it("refuses the information only when there is really no room", () => {
    let platform = new FakePlatform();
    expect(boot(platform, elfAt([0x0, 0x100000], [0x9fc00, 0x100000]), "", 2 << 20)).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe("no room for the multiboot information (257 bytes): guest RAM (0x200000 bytes) has " +
      "no gap that size below 0xfec00000 outside the kernel, the first page and [0x9fc00, 0x100000)");
    // 272 bytes free at the very top of RAM are enough.
    let fits = new FakePlatform();
    expect(boot(fits, elfAt([0x0, 0x100000], [0x9fc00, 0xffef0]), "", 2 << 20)).toBe(0);
    expect(state.rbx).toBe(0x1ffef0);
  });

  it("keeps an a.out kernel's bss clear of the information", () => {
    let platform = new FakePlatform();
    let image = new Image(0x200).fill(0, 0x200, 0x99);
    multibootHeader(image, 0, 0x10000);
    // Loaded at 0x2000, bss to 0x20000: over 0x9000.
    image.u32(12, 0x2000).u32(16, 0x2000).u32(20, 0).u32(24, 0x20000).u32(28, 0x2000);
    expect(boot(platform, image, "hello")).toBe(0);
    expect(state.rbx).toBe(0x20000);
    expect(ramString(<u64>ramU32(0x20000 + 16))).toBe("hello");
  });
});
