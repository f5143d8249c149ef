// WBINVD (0F 09) and WBNOINVD (F3 0F 09): the guest's request to write back
// and drop every cache, answered as a no-op (exits.ts; issue 11). Only its
// length is needed, for when the CPU does not give it (no next-RIP, as
// under QEMU TCG): the prefixes before 0F 09, then the two bytes.
// SDM vol. 2A, 2.1.1 (prefixes) and 2.2.1 (REX); vol. 2D, WBINVD/WBNOINVD.

import { Platform } from "../guest/platform";
import { ExitRecord } from "../vcpu/exit_record";
import { WalkResult, WALK_RESULT_BYTES } from "../mm/guest_page_walk";
import { fetchInstruction, codeSize, skipPrefixes } from "./fetch";

const BYTES: usize = memory.data(16, 16);
const walk = changetype<WalkResult>(memory.data(<i32>WALK_RESULT_BYTES, 8));

// The instruction's length in bytes; 2 when its bytes cannot be read or
// are not 0F 09 after prefixes.
export function wbinvdLength(record: ExitRecord, platform: Platform): u32 {
  if (record.instructionLength != 0) return record.instructionLength;
  let fetched = fetchInstruction(platform, record, BYTES, walk);
  let i = skipPrefixes(BYTES, fetched, codeSize(record) == 8);
  if (i + 2 <= fetched && load<u8>(BYTES + <usize>i) == 0x0f && load<u8>(BYTES + <usize>i + 1) == 0x09) return i + 2;
  return 2;
}
