// A Wasm module for dump-tables.mjs: builds the ACPI tables into the specs'
// fake guest (helpers.ts) and copies its RAM below 1 MiB out, so Node can
// hand the bytes to iasl.

import { buildAcpiTables } from "../../../assembly/acpi/tables";
import { FakePlatform, ramU8 } from "../guest/helpers";

const LOW_RAM_BYTES: u32 = 0x100000;
const LOW_RAM: usize = memory.data(LOW_RAM_BYTES, 16);

// Builds the tables; answers where a copy of guest RAM's first MiB is in
// this memory, or 0 when buildAcpiTables refused.
export function build(vcpuCount: u32, memoryMiB: u32): usize {
  let platform = new FakePlatform();
  platform.ramBytes = <u64>memoryMiB << 20;
  if (!buildAcpiTables(platform, vcpuCount, platform.ramBytes)) return 0;
  for (let gpa: u32 = 0; gpa < LOW_RAM_BYTES; gpa++) store<u8>(LOW_RAM + <usize>gpa, ramU8(gpa));
  return LOW_RAM;
}
