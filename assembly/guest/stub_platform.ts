// The Platform of a real instance: each method is the import of the same
// name. Only index.ts makes one; tests use a fake instead.

import * as host from "./host";
import { Platform } from "./platform";

export class StubPlatform extends Platform {
  constructor() {
    super();
    this.ramZeroAtLoad = true;
  }

  consoleWrite(pointer: usize, length: u32): void {
    host.consoleWrite(pointer, length);
  }
  guestRead(gpa: u64, destination: usize, length: u32): u32 {
    return host.guestRead(gpa, destination, length);
  }
  guestLoad(gpa: u64, bytes: u32): u64 {
    return host.guestLoad(gpa, bytes);
  }
  guestWrite(gpa: u64, source: usize, length: u32): u32 {
    return host.guestWrite(gpa, source, length);
  }
  moduleSize(which: u32): u32 {
    return host.guestModuleSize(which);
  }
  moduleRead(which: u32, offset: u32, destination: usize, length: u32): u32 {
    return host.guestModuleRead(which, offset, destination, length);
  }
  moduleToRam(which: u32, offset: u32, gpa: u64, length: u32): u32 {
    return host.guestModuleToRam(which, offset, gpa, length);
  }
  cpuid(leaf: u32, subleaf: u32, destination: usize): void {
    host.hostCpuid(leaf, subleaf, destination);
  }
  readTsc(): u64 {
    return host.readTsc();
  }
  tscHz(): u64 {
    return host.tscHz();
  }
  wallClockSeconds(): u64 {
    return host.wallClockSeconds();
  }
}
