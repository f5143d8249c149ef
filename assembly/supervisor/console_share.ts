// Each guest's share of the host console, in bytes per second: its
// console_bytes_per_second, else what the host port carries (measured by
// the stub: boot/console.c console_bytes_per_second) split between the host
// CPUs that may run guests at once (at least 2), so flooding guests on
// every CPU together stay near the port's rate. A 115200-baud port carries
// ~11,520 bytes/s and gives 5,760 each; an emulator's port, which takes
// bytes as fast as the CPU writes them, gives far more, and a guest that
// prints a lot (Linux at boot) is not held to a real port's pace there.
// Never below MIN_CONSOLE_SHARE, so a slow port still lets a guest print;
// a port the stub could not measure (0) gets half of 115200 baud.

import { configGuest, MAX_CONSOLE_BYTES_PER_SECOND } from "../config/guest_config";
import { configGuestCount } from "../config/schema";
import { CONSOLE_BYTES_PER_SECOND } from "../devices/console_line";

export const MIN_CONSOLE_SHARE: u32 = 960;
export const MAX_CONSOLE_SHARE: u32 = MAX_CONSOLE_BYTES_PER_SECOND;
// Half of 115200 baud: the guest's own default (devices/console_line.ts).
export const UNMEASURED_CONSOLE_SHARE: u32 = CONSOLE_BYTES_PER_SECOND;

export function consoleShare(index: u32, hostBytesPerSecond: u64, hostCpus: u32): u32 {
  if (index >= configGuestCount()) return UNMEASURED_CONSOLE_SHARE;
  let pinned = configGuest(index).consoleBytesPerSecond;
  if (pinned != 0) return pinned;
  if (hostBytesPerSecond == 0) return UNMEASURED_CONSOLE_SHARE;
  let share = hostBytesPerSecond / <u64>(hostCpus > 2 ? hostCpus : 2);
  if (share < <u64>MIN_CONSOLE_SHARE) return MIN_CONSOLE_SHARE;
  if (share > <u64>MAX_CONSOLE_SHARE) return MAX_CONSOLE_SHARE;
  return <u32>share;
}
