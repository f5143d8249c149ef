// Loads a kernel through the guest's load path, as the stub's load() would.

import { loadGuest } from "../../../../assembly/guest/machine";
import { VcpuState, VCPU_STATE_BYTES } from "../../../../assembly/vcpu/exit_record";
import { FakePlatform, Image, newGuest } from "../helpers";

const STATE: usize = memory.data(VCPU_STATE_BYTES, 16);
export const state = changetype<VcpuState>(STATE);

const PREFIX = "[hv] guest web stopped: cannot load kernel: ";

// Loads `kernel` (and `initrd`) into a guest with `memoryBytes` of RAM;
// answers load()'s status.
export function boot(platform: FakePlatform, kernel: Image | null, cmdline: string = "",
                     memoryBytes: u64 = 16 << 20, initrd: Image | null = null): u32 {
  memory.fill(STATE, 0xcc, VCPU_STATE_BYTES);
  platform.ramBytes = memoryBytes;
  platform.kernel = kernel == null ? null : kernel.bytes;
  platform.initrd = initrd == null ? null : initrd.bytes;
  let machine = newGuest("web", cmdline, memoryBytes);
  return loadGuest(machine, state, platform);
}

// Why the last boot failed: the printed line without its prefix and "\n".
export function why(platform: FakePlatform): string {
  if (platform.console.length != 1) return "(" + platform.console.length.toString() + " lines printed)";
  let line = platform.console[0];
  if (!line.startsWith(PREFIX) || !line.endsWith("\n")) return "(unexpected line) " + line;
  return line.slice(PREFIX.length, line.length - 1);
}
