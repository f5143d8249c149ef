// What happens when a guest crashes: `on_crash = "stop"` (the default) or
// `"restart"` with `max_restarts = N`. A crash is what the guest cannot
// have meant: a triple fault, a trap in its guest VMM instance, or a state
// the CPU refused to enter. A guest that ends itself (the exit port) or
// stops for another reason is not restarted.

import { StopReason } from "../vcpu/exit_record";

export const MAX_GUESTS: u32 = 64;

// Restarts used so far, per guest.
const RESTARTS: usize = memory.data(<i32>MAX_GUESTS * 4, 4);

export function isCrash(reason: u32): bool {
  return reason == <u32>StopReason.TripleFault || reason == <u32>StopReason.VmmTrap ||
    reason == <u32>StopReason.InvalidState;
}

export function crashPolicyReset(): void {
  memory.fill(RESTARTS, 0, <usize>MAX_GUESTS * 4);
}

// Decides for a guest that stopped with `reason`: the restart number (1 for
// the first restart) when it is to be restarted, 0 when it stays stopped.
export function decideRestart(guest: u32, reason: u32, restartOnCrash: bool, maxRestarts: u32): u32 {
  if (guest >= MAX_GUESTS || !restartOnCrash || !isCrash(reason)) return 0;
  let slot = RESTARTS + (<usize>guest << 2);
  let used = load<u32>(slot);
  if (used >= maxRestarts) return 0;
  store<u32>(slot, used + 1);
  return used + 1;
}

export function restartsUsed(guest: u32): u32 {
  return guest < MAX_GUESTS ? load<u32>(RESTARTS + (<usize>guest << 2)) : 0;
}
