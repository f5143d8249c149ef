// MOV to CR4 (0F 22 /r with reg = 4), for the backends that intercept CR4
// writes and do not emulate them themselves (AMD-V: issue 11, hole 3). The
// source register comes from the CPU's decode assist when it gives one
// (EXITINFO1 bit 63, GPR in bits 3:0: APM vol. 2, 15.8.1), else from the
// instruction's bytes. Checked as MOV CR4 checks its value (SDM vol. 2B,
// MOV CR; vol. 3A, 2.5), and bits whose state is not switched between
// guests are refused as the CPU refuses reserved ones: #GP(0).

import { Platform } from "../guest/platform";
import { ExitRecord, gprAddress } from "../vcpu/exit_record";
import { WalkResult, WALK_RESULT_BYTES, EFER_LMA } from "../mm/guest_page_walk";
import { fetchInstruction, codeSize } from "./fetch";
import { decodeSystemInstruction, DecodeResult, Instruction, INSTRUCTION_BYTES } from "./decoder";

const BYTES: usize = memory.data(16, 16);
const decoded = changetype<Instruction>(memory.data(<i32>INSTRUCTION_BYTES, 8));
const walk = changetype<WalkResult>(memory.data(<i32>WALK_RESULT_BYTES, 8));

const DECODE_ASSIST_VALID: u64 = <u64>1 << 63;
const CR4_PAE: u64 = 1 << 5;
const CR4_VMXE: u64 = 1 << 13;
const CR4_SMXE: u64 = 1 << 14;
const CR4_PCIDE: u64 = 1 << 17;
// Not virtualised (boot/arch/vcpu.h CR4_NOT_VIRTUALISED): LA57, KL, PKE,
// CET, PKS, UINTR; VMXE and SMXE (no nested VT-x, no SMX); and the bits
// no CPU defines (15, 26-63).
export const CR4_REFUSED: u64 = (1 << 12) | (1 << 19) | (1 << 22) | (1 << 23) | (1 << 24) | (1 << 25) |
  CR4_VMXE | CR4_SMXE | (1 << 15) | 0xffff_ffff_fc00_0000;

export const MOV_CR_DONE: u32 = 0;
export const MOV_CR_FAULT: u32 = 1;       // #GP(0)
export const MOV_CR_UNKNOWN: u32 = 2;     // not a MOV to CR4 the core can read

// Emulates the MOV to CR4 at RIP: on MOV_CR_DONE record.cr4 holds the new
// value (the caller marks it dirty) and record.advance the length.
export function movToCr4(record: ExitRecord, platform: Platform): u32 {
  let register: i32 = -1;
  let length: u32 = record.instructionLength;
  if ((record.detail & DECODE_ASSIST_VALID) != 0 && length != 0) {
    register = <i32>(record.detail & 15);
  } else {
    let fetched = fetchInstruction(platform, record, BYTES, walk);
    if (decodeSystemInstruction(BYTES, fetched, codeSize(record), decoded) != DecodeResult.Ok ||
        decoded.opcode != 0x0f22 || decoded.immediate != 4) {
      return MOV_CR_UNKNOWN;
    }
    register = <i32>decoded.register;
    length = decoded.length;
  }
  let value = load<u64>(gprAddress(record, <u32>register));
  let long64 = codeSize(record) == 8;
  if (!long64) value &= 0xffff_ffff;
  let lma = (record.efer & EFER_LMA) != 0;
  let pcideOn = (value & CR4_PCIDE) != 0 && (record.cr4 & CR4_PCIDE) == 0;
  if ((value & CR4_REFUSED) != 0 || (lma && (value & CR4_PAE) == 0) ||
      (pcideOn && (!lma || (record.cr3 & 0xfff) != 0))) {
    return MOV_CR_FAULT;
  }
  record.cr4 = value;
  record.advance = length;
  return MOV_CR_DONE;
}
