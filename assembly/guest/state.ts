// The state of the guest this instance serves, at a fixed place in its linear
// memory (reached with changetype, never allocated).
@unmanaged
export class GuestState {
  created: bool;
  guestId: u32;
  memoryBytes: u64;
}
