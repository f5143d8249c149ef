// The vCPU state a kernel is entered with: 32-bit protected mode, paging
// off, flat 4 GiB segments, as the Multiboot spec 0.6.96, 3.2 ("Machine
// state") requires; flat binaries get the same. Segment attributes are in the
// AMD VMCB layout (APM vol. 2, 15.5.1; linker/exit_record.h): bits 0-3 type,
// 4 S, 5-6 DPL, 7 P, 11:8 AVL, L, D/B, G.

import { VcpuState, VCPU_STATE_BYTES } from "../vcpu/exit_record";

export const BOOT_CODE_SELECTOR: u16 = 0x08;
export const BOOT_DATA_SELECTOR: u16 = 0x10;
// G=1 D=1 P=1 S=1, type 0xB: execute/read code, accessed.
export const BOOT_CODE_ATTRIBUTES: u16 = 0xc9b;
// G=1 D=1 P=1 S=1, type 0x3: read/write data, accessed.
export const BOOT_DATA_ATTRIBUTES: u16 = 0xc93;
// P=1, type 0xB: busy 32-bit TSS. The guest has no TSS yet, but VT-x
// refuses a VM entry whose TR is not a busy TSS (SDM vol. 3C, 27.3.1.2).
export const BOOT_TR_ATTRIBUTES: u16 = 0x08b;
// P=1, type 0x2: LDT.
export const BOOT_LDTR_ATTRIBUTES: u16 = 0x082;
export const BOOT_CR0: u64 = 0x11;      // PE | ET: protected mode, paging off
export const BOOT_RFLAGS: u64 = 0x2;    // bit 1 is always set; IF and VM clear
export const BOOT_XCR0: u64 = 0x1;      // x87 only, the power-on XCR0

// Fills `state` for an entry at `entry` with EAX and EBX as given (the
// Multiboot magic and info address; 0 and 0 for a flat binary).
export function setProtectedModeEntry(state: VcpuState, entry: u64, eax: u32, ebx: u32): void {
  memory.fill(changetype<usize>(state), 0, <usize>VCPU_STATE_BYTES);
  state.rax = eax;
  state.rbx = ebx;
  state.rsp = 0; // undefined by the spec; the kernel sets its own stack
  state.rip = entry;
  state.rflags = BOOT_RFLAGS;
  state.cr0 = BOOT_CR0;
  state.cr3 = 0;
  state.cr4 = 0;
  state.efer = 0;
  state.xcr0 = BOOT_XCR0;

  state.csSelector = BOOT_CODE_SELECTOR;
  state.csAttributes = BOOT_CODE_ATTRIBUTES;
  state.csLimit = 0xffffffff;
  state.csBase = 0;

  state.dsSelector = BOOT_DATA_SELECTOR;
  state.dsAttributes = BOOT_DATA_ATTRIBUTES;
  state.dsLimit = 0xffffffff;
  state.esSelector = BOOT_DATA_SELECTOR;
  state.esAttributes = BOOT_DATA_ATTRIBUTES;
  state.esLimit = 0xffffffff;
  state.ssSelector = BOOT_DATA_SELECTOR;
  state.ssAttributes = BOOT_DATA_ATTRIBUTES;
  state.ssLimit = 0xffffffff;
  state.fsSelector = BOOT_DATA_SELECTOR;
  state.fsAttributes = BOOT_DATA_ATTRIBUTES;
  state.fsLimit = 0xffffffff;
  state.gsSelector = BOOT_DATA_SELECTOR;
  state.gsAttributes = BOOT_DATA_ATTRIBUTES;
  state.gsLimit = 0xffffffff;

  state.trSelector = 0;
  state.trAttributes = BOOT_TR_ATTRIBUTES;
  state.trLimit = 0xffff;
  state.trBase = 0;
  state.ldtrSelector = 0;
  state.ldtrAttributes = BOOT_LDTR_ATTRIBUTES;
  state.ldtrLimit = 0xffff;
  state.ldtrBase = 0;

  // Undefined for a multiboot kernel, which must load its own.
  state.gdtrBase = 0;
  state.gdtrLimit = 0xffff;
  state.idtrBase = 0;
  state.idtrLimit = 0xffff;
}
