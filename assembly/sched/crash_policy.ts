// What happens when a guest crashes: `on_crash = "stop"` (the default) or
// `"restart"` with `max_restarts = N`. A crash is what the guest cannot
// have meant: a triple fault, a trap in its guest VMM instance, or a state
// the CPU refused to enter. A guest that ends itself (the exit port) or
// stops for another reason is not restarted.
//
// A triple fault is a crash that a PC answers with a reset (the CPU's
// shutdown cycle resets the machine), and one a guest may mean: Linux's
// `reboot=t` reboots by one. Restarted, it is a reboot: the guest boots
// again fresh, as after any other reset, and the line says so ("rebooted
// (triple fault, n of N)"). It still counts against max_restarts, so a
// guest that triple-faults in a loop does not restart forever.

import { StopReason } from "../vcpu/exit_record";

export const MAX_GUESTS: u32 = 256;   // the config's MAX_GUESTS

// Restarts used so far, per guest.
const RESTARTS: usize = memory.data(<i32>MAX_GUESTS * 4, 4);

export function isCrash(reason: u32): bool {
  return reason == <u32>StopReason.TripleFault || reason == <u32>StopReason.VmmTrap ||
    reason == <u32>StopReason.InvalidState;
}

// Whether restarting a guest that crashed this way is the reboot a PC
// would do by itself (a triple fault), rather than a restart only the
// policy asks for (a VMM trap, an invalid state).
export function restartIsReboot(reason: u32): bool {
  return reason == <u32>StopReason.TripleFault;
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
