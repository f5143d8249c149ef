// WBINVD (0F 09) and WBNOINVD (F3 0F 09): the guest's request to write back
// and drop every cache, answered as a no-op (exits.ts; issue 11). Only its
// length is needed, for when the CPU does not give it (no next-RIP, as
// under QEMU TCG): decoded from its bytes (decoder.ts).
// SDM vol. 2D, WBINVD/WBNOINVD.

import { Platform } from "../guest/platform";
import { ExitRecord } from "../vcpu/exit_record";
import { WalkResult, WALK_RESULT_BYTES } from "../mm/guest_page_walk";
import { fetchInstruction, codeSize } from "./fetch";
import { decodeSystemInstruction, DecodeResult, Instruction, INSTRUCTION_BYTES } from "./decoder";

const BYTES: usize = memory.data(16, 16);
const walk = changetype<WalkResult>(memory.data(<i32>WALK_RESULT_BYTES, 8));
const decoded = changetype<Instruction>(memory.data(<i32>INSTRUCTION_BYTES, 8));

// The instruction's length in bytes; 2 when its bytes cannot be read or
// are not 0F 09 after prefixes.
export function wbinvdLength(record: ExitRecord, platform: Platform): u32 {
  if (record.instructionLength != 0) return record.instructionLength;
  let fetched = fetchInstruction(platform, record, BYTES, walk);
  if (decodeSystemInstruction(BYTES, fetched, codeSize(record), decoded) == DecodeResult.Ok &&
      decoded.opcode == 0x0f09) return decoded.length;
  return 2;
}
