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
// (setFlatSegments, below, is shared with the 64-bit entry of bzimage.ts.)
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

  setFlatSegments(state, BOOT_CODE_SELECTOR, BOOT_CODE_ATTRIBUTES, BOOT_DATA_SELECTOR, BOOT_DATA_ATTRIBUTES);

  // Undefined for a multiboot kernel, which must load its own.
  state.gdtrBase = 0;
  state.gdtrLimit = 0xffff;
  state.idtrBase = 0;
  state.idtrLimit = 0xffff;
}

// Flat segments with base 0 and a 4 GiB limit, as every boot protocol
// here hands them over: CS from `codeSelector`, DS/ES/SS/FS/GS from
// `dataSelector`; no TSS or LDT in the guest, but VT-x refuses an entry
// without a usable TR (SDM vol. 3C, 26.3.1.2), so both get minimal
// attributes. The state must be zeroed before (bases and selectors 0).
export function setFlatSegments(state: VcpuState, codeSelector: u16, codeAttributes: u16,
                                dataSelector: u16, dataAttributes: u16): void {
  state.csSelector = codeSelector;
  state.csAttributes = codeAttributes;
  state.csLimit = 0xffffffff;
  state.dsSelector = dataSelector;
  state.dsAttributes = dataAttributes;
  state.dsLimit = 0xffffffff;
  state.esSelector = dataSelector;
  state.esAttributes = dataAttributes;
  state.esLimit = 0xffffffff;
  state.ssSelector = dataSelector;
  state.ssAttributes = dataAttributes;
  state.ssLimit = 0xffffffff;
  state.fsSelector = dataSelector;
  state.fsAttributes = dataAttributes;
  state.fsLimit = 0xffffffff;
  state.gsSelector = dataSelector;
  state.gsAttributes = dataAttributes;
  state.gsLimit = 0xffffffff;
  state.trAttributes = BOOT_TR_ATTRIBUTES;
  state.trLimit = 0xffff;
  state.ldtrAttributes = BOOT_LDTR_ATTRIBUTES;
  state.ldtrLimit = 0xffff;
}
