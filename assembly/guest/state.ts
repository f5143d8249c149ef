// The state of the guest this instance serves, at a fixed place in its linear
// memory (reached with changetype, never allocated).
@unmanaged
export class GuestState {
  created: bool;
  loaded: bool;
  stopped: bool;        // the exit handler answers Stop from now on
  guestId: u32;
  memoryBytes: u64;
  name: usize;          // in the setup area, as the stub copied it
  nameLength: u32;
  cmdline: usize;       // right after the name
  cmdlineLength: u32;
  stopReason: u32;      // StopReason, once stopped
  stopCode: u64;
  tscOffset: i64;       // guest TSC = host TSC + tscOffset
}
