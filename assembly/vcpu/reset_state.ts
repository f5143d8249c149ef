// The architectural state an application processor starts from when a
// STARTUP IPI ends its wait (Intel SDM vol. 3A, 10.1.4 Table 10-1 and
// 10.4.4; AMD APM vol. 2, 14.1.3): the INIT state, in real mode, with CS
// at the page the SIPI's vector names (CS = VV00h, base VV000h, IP 0).
// The stub loads it into a fresh VMCB/VMCS, as for the first vCPU's
// state from the loader.

import { VcpuState } from "./exit_record";

// Segment attributes in the VMCB layout (bits 0-3 type, 4 S, 7 P).
const REAL_CODE_ATTRIBUTES: u16 = 0x9b;  // present, code, readable, accessed
const REAL_DATA_ATTRIBUTES: u16 = 0x93;  // present, data, writable, accessed
const LDT_ATTRIBUTES: u16 = 0x82;        // present, LDT
const TSS_ATTRIBUTES: u16 = 0x8b;        // present, busy 32-bit TSS (VT-x checks the type)
const REAL_LIMIT: u32 = 0xffff;
const CR0_RESET: u64 = 0x60000010;       // CD, NW, ET
const RFLAGS_RESET: u64 = 0x2;
const XCR0_RESET: u64 = 1;               // x87 (SDM vol. 1, 13.3)

// Fills `state` for a STARTUP IPI with vector `vector`; `signature` is
// CPUID leaf 1 EAX, which EDX holds after INIT.
export function startupState(state: VcpuState, vector: u32, signature: u32, tscOffset: i64): void {
  memory.fill(changetype<usize>(state), 0, offsetof<VcpuState>());
  state.rdx = <u64>signature;
  state.rip = 0;
  state.rflags = RFLAGS_RESET;
  state.cr0 = CR0_RESET;
  let page = vector & 0xff;
  state.csSelector = <u16>(page << 8);
  state.csBase = <u64>page << 12;
  state.csLimit = REAL_LIMIT;
  state.csAttributes = REAL_CODE_ATTRIBUTES;
  state.esLimit = REAL_LIMIT; state.esAttributes = REAL_DATA_ATTRIBUTES;
  state.ssLimit = REAL_LIMIT; state.ssAttributes = REAL_DATA_ATTRIBUTES;
  state.dsLimit = REAL_LIMIT; state.dsAttributes = REAL_DATA_ATTRIBUTES;
  state.fsLimit = REAL_LIMIT; state.fsAttributes = REAL_DATA_ATTRIBUTES;
  state.gsLimit = REAL_LIMIT; state.gsAttributes = REAL_DATA_ATTRIBUTES;
  state.ldtrLimit = REAL_LIMIT; state.ldtrAttributes = LDT_ATTRIBUTES;
  state.trLimit = REAL_LIMIT; state.trAttributes = TSS_ATTRIBUTES;
  state.gdtrLimit = REAL_LIMIT;
  state.idtrLimit = REAL_LIMIT;
  state.xcr0 = XCR0_RESET;
  state.tscOffset = tscOffset;
}
