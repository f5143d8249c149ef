// How many exits of each kind a guest took, for the line printed when it
// stops ("[hv] guest <name> exits: io 1234, hlt 100, ..."): the figures a
// reader compares to see where a guest's time with the hypervisor goes.

import { TextWriter } from "../lib/text";

// One counter per ExitReason (0-18), the last for anything beyond.
const KINDS: u32 = 23;
const COUNTS: usize = memory.data(<i32>(KINDS * 8), 8);
export function exitStatsReset(): void {
  memory.fill(COUNTS, 0, <usize>(KINDS * 8));
}

@inline export function countExit(reason: u32): void {
  let slot = COUNTS + (<usize>(reason < KINDS - 1 ? reason : KINDS - 1) << 3);
  store<u64>(slot, load<u64>(slot) + 1);
}

export function exitCount(reason: u32): u64 {
  return reason < KINDS ? load<u64>(COUNTS + (<usize>reason << 3)) : 0;
}

// Appends "cpuid 3, io 1234, ..." for the kinds that happened, and the
// accesses outside RAM that no device claimed (read as all ones, dropped).
export function appendExitStats(line: TextWriter, unclaimed: u64): TextWriter {
  let any = false;
  for (let reason: u32 = 0; reason < KINDS; reason++) {
    let count = load<u64>(COUNTS + (<usize>reason << 3));
    if (count == 0) continue;
    line.text(any ? ", " : "").text(kindName(reason)).text(" ").decimal(count);
    any = true;
  }
  if (unclaimed != 0) line.text(any ? ", " : "").text("unclaimed MMIO ").decimal(unclaimed);
  else if (!any) line.text("none");
  return line;
}

function kindName(reason: u32): string {
  switch (reason) {
    case 1: return "cpuid";
    case 2: return "io";
    case 3: return "msr-read";
    case 4: return "msr-write";
    case 5: return "hlt";
    case 6: return "npf";
    case 7: return "interrupt";
    case 8: return "window";
    case 9: return "hypercall";
    case 10: return "exception";
    case 11: return "shutdown";
    case 12: return "invalid";
    case 13: return "virt";
    case 14: return "xsetbv";
    case 15: return "misconfig";
    case 16: return "unknown";
    case 17: return "wake";
    case 18: return "nmi-window";
    case 19: return "pause";
    case 20: return "wbinvd";
    case 21: return "cr-write";
    default: return "other";
  }
}
