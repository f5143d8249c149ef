// Loading a guest's kernel: which format it is, then the loader for it.
//   - the setup header's "HdrS" at 0x202: a Linux bzImage (bzimage.ts),
//     entered in 64-bit mode;
//   - a multiboot header in the first 8 KiB: a multiboot (v1) kernel
//     (multiboot.ts), a.out kludge or ELF32;
//   - ELF without one: refused (we would not know how to enter it);
//   - a file that is plainly no kernel (compressed, an archive, an EFI
//     application, text: not_a_kernel.ts): refused, saying what it is;
//   - anything else: a flat binary, loaded and entered at 1 MiB.
// On success the vCPU's initial state is filled; on failure `why` says why
// in one clause ("the guest has no kernel", "ELF segment [...] lies outside
// guest RAM ...").

import { TextWriter } from "../lib/text";
import { Platform, MODULE_KERNEL, MODULE_INITRD, NO_MODULE } from "../guest/platform";
import { VcpuState } from "../vcpu/exit_record";
import { setProtectedModeEntry } from "./boot_state";
import { isElf, elfClass, ELFCLASS64, LoadedImage } from "./elf";
import { checkPlacement, copyModuleToRam } from "./guest_ram";
import {
  findMultibootHeader, loadMultiboot, MultibootGuest, MULTIBOOT_SEARCH_BYTES, MULTIBOOT_BOOTLOADER_MAGIC,
} from "./multiboot";
import { isBzImage, loadBzImage, BzImageGuest } from "./bzimage";
import { notAKernel } from "./not_a_kernel";
import { buildAcpiTables, ACPI_MAX_VCPUS, ACPI_RSDP_ADDRESS } from "../acpi/tables";
import { appendAddress } from "../lib/address";

export const FLAT_LOAD_ADDRESS: u64 = 0x100000;
// Below this a kernel at 1 MiB has no room: 1 MiB of PC layout, 1 MiB above.
export const MIN_GUEST_RAM: u64 = 2 << 20;

// The first bytes of the image, where the formats are told apart.
const WINDOW: usize = memory.data(MULTIBOOT_SEARCH_BYTES, 16);
const image = changetype<LoadedImage>(memory.data(offsetof<LoadedImage>(), 16));
const guest = changetype<MultibootGuest>(memory.data(offsetof<MultibootGuest>(), 16));
// What the bzImage loader chose (load address, initrd), for the specs.
export const linux = changetype<BzImageGuest>(memory.data(offsetof<BzImageGuest>(), 16));

// Loads the kernel (and initrd) of a guest with `memoryBytes` of RAM and the
// given command line, and fills `state` for its first entry.
export function loadKernel(platform: Platform, memoryBytes: u64, cmdline: usize, cmdlineLength: u32,
                           state: VcpuState, why: TextWriter): bool {
  let size = platform.moduleSize(MODULE_KERNEL);
  if (size == NO_MODULE) {
    why.text("the guest has no kernel");
    return false;
  }
  if (size == 0) {
    why.text("the kernel image is empty");
    return false;
  }
  if (memoryBytes < MIN_GUEST_RAM) {
    why.text("guest RAM of ").decimal(memoryBytes >> 10).text(" KiB is too small (at least 2 MiB)");
    return false;
  }
  let windowLength = size < MULTIBOOT_SEARCH_BYTES ? size : MULTIBOOT_SEARCH_BYTES;
  if (platform.moduleRead(MODULE_KERNEL, 0, WINDOW, windowLength) != windowLength) {
    why.text("cannot read the kernel image");
    return false;
  }

  if (isBzImage(WINDOW, windowLength)) {
    linux.memoryBytes = memoryBytes;
    linux.cmdline = cmdline;
    linux.cmdlineLength = cmdlineLength;
    return loadBzImage(platform, WINDOW, windowLength, size, linux, state, why);
  }
  let headerOffset = findMultibootHeader(WINDOW, windowLength);
  if (headerOffset >= 0) {
    guest.memoryBytes = memoryBytes;
    guest.cmdline = cmdline;
    guest.cmdlineLength = cmdlineLength;
    if (!loadMultiboot(platform, WINDOW, windowLength, <u32>headerOffset, size, guest, image, why)) return false;
    setProtectedModeEntry(state, image.entry, MULTIBOOT_BOOTLOADER_MAGIC, <u32>guest.infoAddress);
    return true;
  }
  if (isElf(WINDOW, windowLength)) {
    why.text(elfClass(WINDOW) == ELFCLASS64
      ? "ELF without a multiboot header (64-bit ELF; a Linux vmlinux needs the bzImage loader)"
      : "ELF without a multiboot header");
    return false;
  }
  let what = notAKernel(WINDOW, windowLength);
  if (what.length != 0) {
    why.text("the kernel image is ").text(what);
    return false;
  }
  return loadFlat(platform, size, memoryBytes, state, why);
}

// A flat binary: its bytes at 1 MiB, entered there with EAX = EBX = 0. It
// gets no boot information, so it cannot be given an initrd.
function loadFlat(platform: Platform, size: u32, memoryBytes: u64, state: VcpuState, why: TextWriter): bool {
  if (platform.moduleSize(MODULE_INITRD) != NO_MODULE) {
    why.text("a flat binary cannot be given an initrd (it gets no boot information)");
    return false;
  }
  if (!checkPlacement("the flat binary", FLAT_LOAD_ADDRESS, size, memoryBytes, why)) return false;
  if (!copyModuleToRam(platform, MODULE_KERNEL, "the flat binary", 0, FLAT_LOAD_ADDRESS, size, why)) return false;
  setProtectedModeEntry(state, FLAT_LOAD_ADDRESS, 0, 0);
  return true;
}

// The guest's ACPI tables (acpi/tables.ts) for `vcpuCount` vCPUs and
// `memoryBytes` of RAM, in the BIOS area every loader leaves alone (and
// every memory map it gives reserves): call once per load, before or after
// loadKernel. False, with why in `why`, when they cannot be built.
export function loadAcpiTables(platform: Platform, vcpuCount: u32, memoryBytes: u64, why: TextWriter): bool {
  if (vcpuCount == 0 || vcpuCount > ACPI_MAX_VCPUS) {
    why.text("the ACPI tables cannot describe ").decimal(vcpuCount).text(" vCPUs (1 to ")
      .decimal(ACPI_MAX_VCPUS).text(")");
    return false;
  }
  if (!buildAcpiTables(platform, vcpuCount, memoryBytes)) {
    why.text("cannot write the ACPI tables below 1 MiB (RSDP at ");
    appendAddress(why, ACPI_RSDP_ADDRESS).text(")");
    return false;
  }
  return true;
}
