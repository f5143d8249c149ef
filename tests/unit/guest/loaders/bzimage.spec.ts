import { StopReason } from "../../../../assembly/vcpu/exit_record";
import { linux } from "../../../../assembly/loaders/kernel";
import { FakePlatform, Image, ramU8, ramU32, ramU64, ramString } from "../helpers";
import { boot, state, why } from "./boot";

const ZERO_PAGE: u64 = 0x7000;
const CMDLINE: u64 = 0x20000;
const GDT: u64 = 0x6000;
const PML4: u64 = 0x9000;
const MiB: u64 = 1 << 20;
const RAM: u64 = 64 << 20;

// The protected-mode kernel starts at (setup_sects + 1) * 512 = 0xA00.
const SETUP_SECTS: u32 = 4;
const KERNEL_OFFSET: u32 = 0xa00;
const KERNEL_BYTES: u32 = 0x2000;

// A bzImage with the header fields of a Linux 6.1 x86_64 build (protocol
// 2.15, xloadflags 0x7F, relocatable, 2 MiB alignment, pref_address 16 MiB)
// but an init_size of 4 MiB, so that it fits the fake's guests. Its
// protected-mode kernel is KERNEL_BYTES of 0xAB, with 0x48 0x31 at +0x200.
function bzImage(kernelBytes: u32 = KERNEL_BYTES): Image {
  let image = new Image(<i32>(KERNEL_OFFSET + kernelBytes));
  image.fill(KERNEL_OFFSET, kernelBytes, 0xab).u8(KERNEL_OFFSET + 0x200, 0x48).u8(KERNEL_OFFSET + 0x201, 0x31);
  image.u8(0x1f1, SETUP_SECTS).u32(0x1f4, kernelBytes >> 4).u16(0x1fe, 0xaa55);
  image.u8(0x200, 0xeb).u8(0x201, 0x6a).u32(0x202, 0x53726448).u16(0x206, 0x020f);
  image.u8(0x211, 0x01);                    // loadflags: LOADED_HIGH
  image.u32(0x22c, 0x7fffffff);             // initrd_addr_max
  image.u32(0x230, 0x200000);               // kernel_alignment
  image.u8(0x234, 1).u8(0x235, 0x15);       // relocatable_kernel, min_alignment
  image.u16(0x236, 0x7f);                   // xloadflags
  image.u32(0x238, 0x7ff);                  // cmdline_size
  image.u32(0x258, 0x1000000).u32(0x25c, 0); // pref_address
  image.u32(0x260, 0x400000);               // init_size
  return image;
}

// The same, not relocatable: loaded at 1 MiB, where the fake keeps bytes.
function fixedBzImage(): Image {
  return bzImage().u8(0x234, 0);
}

describe("a bzImage's setup header", () => {
  it("is recognised by \"HdrS\" at 0x202 before the other formats", () => {
    let platform = new FakePlatform();
    expect(boot(platform, bzImage(), "", RAM)).toBe(0);
    expect(platform.console.length).toBe(0);
    expect(state.efer).toBe(0x500);
  });

  it("refuses a bzImage older than protocol 2.12", () => {
    let platform = new FakePlatform();
    expect(boot(platform, bzImage().u16(0x206, 0x020a), "", RAM)).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe("bzImage boot protocol 2.10 is older than 2.12");
  });

  it("refuses a bzImage without a 64-bit entry point", () => {
    let platform = new FakePlatform();
    expect(boot(platform, bzImage().u16(0x236, 0x7e), "", RAM)).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe("bzImage without a 64-bit entry point (xloadflags bit 0 clear)");
  });

  it("refuses a wrong boot_flag", () => {
    let platform = new FakePlatform();
    expect(boot(platform, bzImage().u16(0x1fe, 0x1234), "", RAM)).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe("bzImage boot_flag is 0x1234, not 0xaa55");
  });

  it("refuses a setup header that ends before init_size", () => {
    let platform = new FakePlatform();
    expect(boot(platform, bzImage().u8(0x201, 0x40), "", RAM)).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe("the bzImage setup header ends at 0x242, before init_size (protocol 2.12 runs to 0x264)");
  });

  it("refuses a truncated image", () => {
    let platform = new FakePlatform();
    // syssize says 0x2000 bytes; 0x1000 are there.
    let image = bzImage(0x1000).u32(0x1f4, 0x200);
    expect(boot(platform, image, "", RAM)).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe("truncated bzImage: the protected-mode kernel is 4096 bytes, syssize says 8192");

    platform = new FakePlatform();
    let setupOnly = new Image(0xa00);
    memory.copy(changetype<usize>(setupOnly.bytes), changetype<usize>(bzImage().bytes), 0xa00);
    expect(boot(platform, setupOnly, "", RAM)).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe("truncated bzImage: 2560 bytes, no protected-mode kernel after the 2560 bytes of " +
      "boot sector and setup");

    platform = new FakePlatform();
    let headerOnly = new Image(0x240);
    memory.copy(changetype<usize>(headerOnly.bytes), changetype<usize>(bzImage().bytes), 0x240);
    expect(boot(platform, headerOnly, "", RAM)).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe("truncated bzImage: 576 bytes end inside the setup header (to 0x26c)");
  });

  it("takes setup_sects 0 as 4", () => {
    let platform = new FakePlatform();
    expect(boot(platform, fixedBzImage().u8(0x1f1, 0), "", RAM)).toBe(0);
    expect(ramU8(0x100000)).toBe(0xab);
    expect(ramU8(0x100200)).toBe(0x48);
  });
});

describe("the bzImage's protected-mode kernel", () => {
  it("is loaded at pref_address when relocatable", () => {
    let platform = new FakePlatform();
    expect(boot(platform, bzImage(), "", RAM)).toBe(0);
    expect(linux.loadAddress).toBe(0x1000000);
    expect(state.rip).toBe(0x1000200);
  });

  it("is loaded at pref_address rounded up to kernel_alignment", () => {
    let platform = new FakePlatform();
    expect(boot(platform, bzImage().u32(0x258, 0x1100000), "", RAM)).toBe(0);
    expect(linux.loadAddress).toBe(0x1200000);
  });

  it("is loaded at 1 MiB when not relocatable, its bytes from (setup_sects + 1) * 512", () => {
    let platform = new FakePlatform();
    expect(boot(platform, fixedBzImage(), "", RAM)).toBe(0);
    expect(linux.loadAddress).toBe(MiB);
    expect(ramU8(0x100000)).toBe(0xab);
    expect(ramU8(0x100200)).toBe(0x48);
    expect(ramU8(0x100201)).toBe(0x31);
    expect(ramU8(0x100000 + KERNEL_BYTES - 1)).toBe(0xab);
    expect(state.rip).toBe(0x100200);
  });

  it("goes to the lowest aligned address above 1 MiB when relocatable and pref_address does not fit", () => {
    let platform = new FakePlatform();
    expect(boot(platform, bzImage(), "", 16 << 20)).toBe(0);
    expect(linux.loadAddress).toBe(0x200000);
    expect(state.rip).toBe(0x200200);
  });

  it("refuses an init_size past the guest's RAM", () => {
    let platform = new FakePlatform();
    expect(boot(platform, bzImage().u32(0x260, 0x4000000), "", RAM)).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe("the bzImage's init_size (67108864 bytes) from its load address 0x200000 runs past " +
      "guest RAM (0x4000000 bytes)");
    platform = new FakePlatform();
    expect(boot(platform, fixedBzImage(), "", 4 << 20)).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe("the bzImage's init_size (4194304 bytes) from its load address 0x100000 runs past " +
      "guest RAM (0x400000 bytes)");
  });

  it("refuses a kernel_alignment that is not a power of two", () => {
    let platform = new FakePlatform();
    expect(boot(platform, bzImage().u32(0x230, 0x300000), "", RAM)).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe("the bzImage's kernel_alignment 0x300000 is not a power of two");
  });

  it("refuses an init_size smaller than the kernel", () => {
    let platform = new FakePlatform();
    expect(boot(platform, bzImage().u32(0x260, 0x1000), "", RAM)).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe("the bzImage's init_size (4096 bytes) is smaller than its protected-mode kernel " +
      "(8192 bytes)");
  });
});

describe("the bzImage's initrd", () => {
  it("places the initrd below initrd_addr_max, after the kernel", () => {
    let platform = new FakePlatform();
    // Highest page-aligned place below the end of RAM.
    expect(boot(platform, bzImage(), "", RAM, new Image(5000))).toBe(0);
    expect(ramU32(ZERO_PAGE + 0x218)).toBe(<u32>(RAM - 0x2000));
    expect(ramU32(ZERO_PAGE + 0x21c)).toBe(5000);
    expect(ramU32(ZERO_PAGE + 0xc0)).toBe(0);
    expect(ramU32(ZERO_PAGE + 0xc4)).toBe(0);
    // Below initrd_addr_max (the highest byte it may occupy), above the
    // kernel's init_size (16 MiB + 4 MiB).
    platform = new FakePlatform();
    expect(boot(platform, bzImage().u32(0x22c, 0x17fffff), "", RAM, new Image(5000))).toBe(0);
    expect(ramU32(ZERO_PAGE + 0x218)).toBe(0x17fe000);
    expect(linux.initrdAddress).toBe(0x17fe000);
    expect(linux.initrdAddress >= 0x1400000).toBe(true);
  });

  it("holds the initrd's bytes", () => {
    let platform = new FakePlatform();
    let initrd = new Image(5000).fill(0, 5000, 0x42);
    expect(boot(platform, fixedBzImage(), "", 8 << 20, initrd)).toBe(0);
    expect(ramU32(ZERO_PAGE + 0x218)).toBe(0x7fe000);
    expect(ramU8(0x7fe000)).toBe(0x42);
    expect(ramU8(0x7fe000 + 4999)).toBe(0x42);
  });

  it("gives no initrd when the guest has none", () => {
    let platform = new FakePlatform();
    expect(boot(platform, bzImage(), "", RAM)).toBe(0);
    expect(ramU32(ZERO_PAGE + 0x218)).toBe(0);
    expect(ramU32(ZERO_PAGE + 0x21c)).toBe(0);
  });

  it("refuses an initrd that does not fit", () => {
    let platform = new FakePlatform();
    // Kernel [16 MiB, 20 MiB); initrd_addr_max leaves one page above it.
    expect(boot(platform, bzImage().u32(0x22c, 0x1400fff), "", RAM, new Image(0x1001))).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe("no room for the initrd (4097 bytes) between the kernel's end 0x1400000 and " +
      "0x1401000 (initrd_addr_max or the end of guest RAM)");
    platform = new FakePlatform();
    expect(boot(platform, fixedBzImage(), "", 8 << 20, new Image(<i32>(4 << 20)))).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe("no room for the initrd (4194304 bytes) between the kernel's end 0x500000 and " +
      "0x800000 (initrd_addr_max or the end of guest RAM)");
  });
});

describe("the zero page", () => {
  it("builds an e820 map that matches the guest's RAM with the BIOS area reserved", () => {
    let platform = new FakePlatform();
    expect(boot(platform, bzImage(), "", RAM)).toBe(0);
    expect(ramU8(ZERO_PAGE + 0x1e8)).toBe(3);
    let table = ZERO_PAGE + 0x2d0;
    expect(ramU64(table)).toBe(0);
    expect(ramU64(table + 8)).toBe(0x9fc00);
    expect(ramU32(table + 16)).toBe(1);
    expect(ramU64(table + 20)).toBe(0x9fc00);
    expect(ramU64(table + 28)).toBe(0x100000 - 0x9fc00);
    expect(ramU32(table + 36)).toBe(2);
    expect(ramU64(table + 40)).toBe(0x100000);
    expect(ramU64(table + 48)).toBe(RAM - 0x100000);
    expect(ramU32(table + 56)).toBe(1);
    expect(ramU64(table + 60)).toBe(0); // nothing else
    expect(ramU32(table + 76)).toBe(0);
  });

  it("holds the kernel's setup header at 0x1F1 with the loader's fields", () => {
    let platform = new FakePlatform();
    expect(boot(platform, bzImage(), "", RAM)).toBe(0);
    expect(ramU8(ZERO_PAGE + 0x1f1)).toBe(<u8>SETUP_SECTS);
    expect(ramU32(ZERO_PAGE + 0x202)).toBe(0x53726448);
    expect(ramU32(ZERO_PAGE + 0x206) & 0xffff).toBe(0x020f);
    expect(ramU32(ZERO_PAGE + 0x260)).toBe(0x400000);
    expect(ramU8(ZERO_PAGE + 0x210)).toBe(0xff);        // type_of_loader
    expect(ramU8(ZERO_PAGE + 0x211)).toBe(0x81);        // LOADED_HIGH | CAN_USE_HEAP
    expect(ramU32(ZERO_PAGE + 0x224) & 0xffff).toBe(0xfe00); // heap_end_ptr
    expect(ramU64(ZERO_PAGE + 0x70)).toBe(0xf0000);     // acpi_rsdp_addr
    expect(ramU8(ZERO_PAGE + 0x0f)).toBe(0);            // orig_video_isVGA
    expect(ramU8(ZERO_PAGE + 0x1ef)).toBe(0);           // sentinel
    expect(ramU8(ZERO_PAGE + 0x26c)).toBe(0);           // past the header: zero
  });

  it("passes the command line and refuses one longer than cmdline_size", () => {
    let platform = new FakePlatform();
    expect(boot(platform, bzImage(), "console=ttyS0 root=/dev/vda", RAM)).toBe(0);
    expect(<u64>ramU32(ZERO_PAGE + 0x228)).toBe(CMDLINE);
    expect(ramU32(ZERO_PAGE + 0xc8)).toBe(0);
    expect(ramString(CMDLINE)).toBe("console=ttyS0 root=/dev/vda");

    platform = new FakePlatform();
    expect(boot(platform, bzImage().u32(0x238, 8), "console=ttyS0", RAM)).toBe(StopReason.LoadFailed);
    expect(why(platform)).toBe("the command line is 13 bytes; the bzImage takes at most 8 (cmdline_size)");

    platform = new FakePlatform();
    expect(boot(platform, bzImage().u32(0x238, 13), "console=ttyS0", RAM)).toBe(0);
    expect(ramString(CMDLINE)).toBe("console=ttyS0");
  });
});

describe("the 64-bit entry", () => {
  it("enters at load address + 0x200 in 64-bit mode with RSI = the zero page", () => {
    let platform = new FakePlatform();
    expect(boot(platform, bzImage(), "", RAM)).toBe(0);
    expect(state.rip).toBe(0x1000200);
    expect(state.rsi).toBe(ZERO_PAGE);
    expect(state.rax).toBe(0);
    expect(state.rbx).toBe(0);
    expect(state.rflags).toBe(0x2);
    expect(state.cr0).toBe(0x80000031);
    expect(state.cr4).toBe(0x20);
    expect(state.efer).toBe(0x500);
    expect(state.cr3).toBe(PML4);
    expect(state.xcr0).toBe(1);
    expect(state.csSelector).toBe(0x10);
    expect(state.csAttributes).toBe(0xa9b);
    expect(state.csBase).toBe(0);
    expect(state.csLimit).toBe(0xffffffff);
    expect(state.dsSelector).toBe(0x18);
    expect(state.dsAttributes).toBe(0xc93);
    expect(state.esSelector).toBe(0x18);
    expect(state.ssSelector).toBe(0x18);
    expect(state.ssAttributes).toBe(0xc93);
    expect(state.trAttributes).toBe(0x8b);
    expect(state.ldtrAttributes).toBe(0x82);
    expect(state.gdtrBase).toBe(GDT);
    expect(state.gdtrLimit).toBe(31);
  });

  it("has a GDT with __BOOT_CS 0x10 (64-bit code) and __BOOT_DS 0x18", () => {
    let platform = new FakePlatform();
    expect(boot(platform, bzImage(), "", RAM)).toBe(0);
    expect(ramU64(GDT)).toBe(0);
    expect(ramU64(GDT + 8)).toBe(0);
    expect(ramU64(GDT + 0x10)).toBe(0x00af9b000000ffff);
    expect(ramU64(GDT + 0x18)).toBe(0x00cf93000000ffff);
  });

  it("has page tables identity-mapping the first 4 GiB in 2 MiB pages", () => {
    let platform = new FakePlatform();
    expect(boot(platform, bzImage(), "", RAM)).toBe(0);
    let pdpt = ramU64(PML4) & ~0xfff;
    expect(ramU64(PML4) & 0xfff).toBe(0x3);
    expect(ramU64(PML4 + 8)).toBe(0);
    for (let i: u64 = 0; i < 4; i++) {
      let pde = ramU64(pdpt + i * 8);
      expect(pde & 0xfff).toBe(0x3);
      let pd = pde & ~0xfff;
      expect(ramU64(pd)).toBe((i << 30) | 0x83);
      expect(ramU64(pd + 8 * 8)).toBe((i << 30) + 0x1000000 | 0x83);
      expect(ramU64(pd + 511 * 8)).toBe((i << 30) + 511 * 0x200000 | 0x83);
      expect(pd >= 0x9000 && pd < 0x9fc00).toBe(true);
    }
    expect(ramU64(pdpt + 4 * 8)).toBe(0);
  });
});

// xorshift64: the same bytes on every run.
let seed: u64 = 0;
function next(): u64 {
  seed ^= seed << 13;
  seed ^= seed >> 7;
  seed ^= seed << 17;
  return seed;
}

describe("a hostile bzImage", () => {
  it("never traps, whatever its header bytes (random header fields over many seeds)", () => {
    let loaded = 0;
    for (let run: u64 = 1; run <= 300; run++) {
      seed = run * 0x9e3779b97f4a7c15;
      let image = bzImage();
      let changes = <u32>(next() % 24) + 1;
      for (let c: u32 = 0; c < changes; c++) {
        let offset = 0x1f1 + <u32>(next() % (0x290 - 0x1f1));
        if (offset >= 0x202 && offset < 0x206) continue; // keep "HdrS": the bzImage path
        image.u8(offset, <u32>next());
      }
      if ((run & 3) == 0) image.u32(0x1f4, <u32>next()).u32(0x260, <u32>next()); // syssize, init_size
      if ((run & 7) == 1) image.u32(0x258, <u32>next()).u32(0x25c, <u32>next()); // pref_address
      if ((run & 7) == 2) image.u8(0x201, <u32>next());                          // header length
      let platform = new FakePlatform();
      let initrd = (run & 1) == 0 ? new Image(<i32>(next() % 0x3000) + 1) : null;
      let status = boot(platform, image, "console=ttyS0", (<u64>(next() % 96) + 2) << 20, initrd);
      expect(status == 0 || status == StopReason.LoadFailed).toBe(true);
      if (status == 0) loaded++;
      else expect(why(platform).length > 0).toBe(true);
    }
    expect(loaded > 0).toBe(true);
  });

  it("never traps when it is cut anywhere in its first 0x300 bytes", () => {
    let whole = bzImage();
    for (let length = 0x206; length < 0x300; length += 3) {
      let image = new Image(length);
      memory.copy(changetype<usize>(image.bytes), changetype<usize>(whole.bytes), <usize>length);
      let platform = new FakePlatform();
      expect(boot(platform, image, "", RAM)).toBe(StopReason.LoadFailed);
    }
  });
});

// The setup header of Debian 12's kernel as shipped (linux-image-amd64,
// 6.1.0, vmlinuz bytes 0x1F1-0x26F, 8,247,232 bytes in all): protocol
// 2.15, setup_sects 39, syssize 0x7D820, init_size 0x3F98000,
// pref_address 16 MiB, kernel_alignment 2 MiB, xloadflags 0x7F.
const DEBIAN_HEADER: u8[] = [
  0x27, 0x01, 0x00, 0x20, 0xd8, 0x07, 0x00, 0x00, 0x00, 0xff, 0xff, 0x00, 0x00, 0x55, 0xaa, 0xeb,
  0x6a, 0x48, 0x64, 0x72, 0x53, 0x0f, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0xc0, 0x42, 0x00,
  0x01, 0x00, 0x80, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0xe0, 0x5b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0x7f, 0x00,
  0x00, 0x20, 0x00, 0x01, 0x15, 0x7f, 0x00, 0xff, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xcc, 0x02, 0x00, 0x00, 0xe4, 0xef, 0x7b, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x80, 0xf9, 0x03, 0x20, 0x8d, 0x7c, 0x00, 0xfc, 0x56, 0x7d, 0x00, 0x8c, 0xd8, 0x8e, 0xc0,
];
const DEBIAN_KERNEL_OFFSET: u32 = 40 * 512;
const DEBIAN_SYSSIZE_BYTES: u32 = 0x7d820 * 16;

function debianKernel(): Image {
  let image = new Image(<i32>(DEBIAN_KERNEL_OFFSET + DEBIAN_SYSSIZE_BYTES));
  for (let i = 0; i < DEBIAN_HEADER.length; i++) image.u8(0x1f1 + i, DEBIAN_HEADER[i]);
  return image;
}

describe("Debian 12's kernel header", () => {
  it("is loaded at its pref_address with the initrd above init_size, in 256 MiB", () => {
    let platform = new FakePlatform();
    expect(boot(platform, debianKernel(), "console=ttyS0", 256 * MiB, new Image(5000))).toBe(0);
    expect(linux.loadAddress).toBe(0x1000000);
    expect(state.rip).toBe(0x1000200);
    expect(ramU32(ZERO_PAGE + 0x202)).toBe(0x53726448);          // "HdrS"
    expect(ramU8(ZERO_PAGE + 0x210)).toBe(0xff);                 // type_of_loader
    expect(linux.initrdAddress >= 0x1000000 + 0x3f98000).toBe(true);
    expect(linux.initrdAddress + 5000 <= 256 * MiB).toBe(true);
    expect(ramString(CMDLINE)).toBe("console=ttyS0");
  });

  it("is refused where its init_size (63.6 MiB) does not fit", () => {
    let platform = new FakePlatform();
    expect(boot(platform, debianKernel(), "", 64 * MiB)).toBe(StopReason.LoadFailed);
    expect(why(platform).length > 0).toBe(true);
    expect(why(platform).includes("init_size")).toBe(true);
  });

  it("is refused when cut short of its syssize", () => {
    let platform = new FakePlatform();
    let cut = new Image(<i32>(DEBIAN_KERNEL_OFFSET + 0x1000));
    for (let i = 0; i < DEBIAN_HEADER.length; i++) cut.u8(0x1f1 + i, DEBIAN_HEADER[i]);
    expect(boot(platform, cut, "", 256 * MiB)).toBe(StopReason.LoadFailed);
    expect(why(platform).length > 0).toBe(true);
  });
});
