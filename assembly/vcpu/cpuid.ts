// CPUID as the guest sees it: the host CPU's answers, with what a guest
// must not see removed (nested virtualization, MONITOR/MWAIT) and what a
// guest should know added (that it runs under a hypervisor, and which).
// Vendor-neutral: the same policy on AMD-V and VT-x hosts.
// Leaf numbers and bits: Intel SDM vol. 2A, CPUID; AMD APM vol. 3, appendix E.

import { KVM_LEAF_BASE, KVM_LEAF_LAST, kvmLeaf } from "./pvclock";
import { Platform, CPUID_ANSWER_BYTES } from "../guest/platform";
import { guestXcr0Allowed } from "./xsetbv";
import { LAPIC_TIMER_HZ } from "../devices/lapic";

// Leaves 0x40000000-0x400000FF belong to the hypervisor (the range CPUs
// leave unused for software; SDM vol. 2A CPUID, "Hypervisor use").
export const HYPERVISOR_LEAF_FIRST: u32 = 0x40000000;
export const HYPERVISOR_LEAF_LAST: u32 = 0x400000ff;
export const HYPERVISOR_LEAF_MAX: u32 = 0x40000010;
// The timing leaf, in the layout VMware and KVM use: EAX = the guest TSC's
// rate in kHz, EBX = the local APIC timer's (bus) rate in kHz.
export const HYPERVISOR_LEAF_TIMING: u32 = 0x40000010;

// The signature in EBX, ECX, EDX of leaf 0x40000000: "tshv-hv-core", as
// KVM answers "KVMKVMKVM" and Xen "XenVMMXenVMM". Little-endian: EBX holds
// bytes 0-3 ("tshv"), ECX 4-7 ("-hv-"), EDX 8-11 ("core").
export const SIGNATURE_EBX: u32 = 0x76687374; // "tshv"
export const SIGNATURE_ECX: u32 = 0x2d76682d; // "-hv-"
export const SIGNATURE_EDX: u32 = 0x65726f63; // "core"

// Leaf 1 (SDM vol. 2A, Table 3-10 / 3-11)
export const LEAF1_ECX_MONITOR: u32 = 1 << 3;
// The local APIC the platform backs (devices/lapic.ts): xAPIC, x2APIC and
// its TSC-deadline timer mode, offered whatever the host has.
export const LEAF1_EDX_APIC: u32 = 1 << 9;
export const LEAF1_ECX_X2APIC: u32 = 1 << 21;
export const LEAF1_ECX_TSC_DEADLINE: u32 = 1 << 24;
// Features whose MSRs or state the platform does not back, hidden so that
// what is offered works (SDM vol. 2A, Table 3-10/3-11): in ECX DTES64 (2),
// DS-CPL (4), SMX (6), EST (7), TM2 (8), xTPR update control (14), PDCM
// (15); in EDX MCE (7), MCA (14), DS (21), ACPI thermal control (22), TM
// (29), PBE (31).
export const LEAF1_ECX_UNBACKED: u32 = (1 << 2) | (1 << 4) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 14) | (1 << 15);
export const LEAF1_EDX_UNBACKED: u32 = (1 << 7) | (1 << 14) | (1 << 21) | (1 << 22) | (1 << 29) | (1 << 31);
export const LEAF1_ECX_VMX: u32 = 1 << 5;
export const LEAF1_ECX_OSXSAVE: u32 = 1 << 27;
export const LEAF1_ECX_XSAVE: u32 = 1 << 26;
// XSAVE and everything whose state only XSAVE manages (AVX, FMA, F16C):
// offered when the stub switches XCR0 and XSAVE areas, i.e. when the host
// has XSAVE with x87 and SSE (vcpu/xsetbv.ts guestXcr0Allowed). AVX, FMA
// and F16C need XCR0.AVX among the allowed components too.
export const LEAF1_ECX_XSAVE_FAMILY: u32 = (1 << 12) | (1 << 26) | (1 << 27) | (1 << 28) | (1 << 29);
export const LEAF1_ECX_AVX_FAMILY: u32 = (1 << 12) | (1 << 28) | (1 << 29); // FMA, AVX, F16C
// Leaf 7 subleaf 0: AVX2 (EBX bit 5) is offered with AVX. Still hidden:
// AVX-512 (EBX), VEX/EVEX-only extensions and PKU (ECX), AVX-512/AMX
// (EDX): SDM vol. 2A, Table 3-8 (leaf 07H). Their state (opmask, ZMM,
// PKRU, tiles) is not switched between guests.
export const LEAF7_EBX_AVX2: u32 = 1 << 5;
export const LEAF7_EBX_AVX: u32 = (1 << 16) | (1 << 17) | (1 << 21) | (1 << 26) | (1 << 27) | (1 << 28) | (1 << 30) | (1 << 31);
export const LEAF7_ECX_AVX: u32 = (1 << 1) | (1 << 3) | (1 << 6) | (1 << 9) | (1 << 10) | (1 << 11) | (1 << 12) | (1 << 14);
export const LEAF7_EDX_AVX: u32 = (1 << 2) | (1 << 3) | (1 << 8) | (1 << 22) | (1 << 23) | (1 << 24) | (1 << 25);
// Leaf 7 subleaf 0, features whose state or MSRs are not virtualised, so
// that what is offered works (issue 11): in ECX CET_SS (7), LA57 (16,
// 5-level paging, CR4.LA57 is refused), KL (23), PKS (31); in EDX UINTR
// (5), SRBDS_CTRL (9), MD_CLEAR (10), TSX_FORCE_ABORT (13), CET_IBT (20),
// IBRS/IBPB (26), STIBP (27), L1D_FLUSH (28), ARCH_CAPABILITIES (29),
// CORE_CAPABILITIES (30), SSBD (31): the MSRs behind them (SPEC_CTRL,
// PRED_CMD, FLUSH_CMD, ARCH_CAPABILITIES, ...) raise #GP. The host applies
// the mitigations between guests itself (boot/mitigations.c).
export const LEAF7_ECX_UNBACKED: u32 = (1 << 7) | (1 << 16) | (1 << 23) | (1 << 31);
export const LEAF7_EDX_UNBACKED: u32 = (1 << 5) | (1 << 9) | (1 << 10) | (1 << 13) | (1 << 20) |
  (1 << 26) | (1 << 27) | (1 << 28) | (1 << 29) | (1 << 30) | (1 << 31);
// Leaf 0x80000008 EBX, AMD's speculation controls, for the same reason:
// IBPB (12), IBRS (14), STIBP (15), STIBP/IBRS always-on and preferred
// (16-18), IBRS same mode (19), SSBD (24), VIRT_SSBD (25). SSB_NO (26)
// stays: it says what the CPU is, and needs no MSR.
export const EXT8_EBX_SPECULATION: u32 = (1 << 12) | (1 << 14) | (1 << 15) | (1 << 16) | (1 << 17) |
  (1 << 18) | (1 << 19) | (1 << 24) | (1 << 25);
// Leaf 0xD subleaf 1 EAX: XSAVEOPT, XSAVEC, XGETBV with ECX=1. Not
// XSAVES (bit 3; IA32_XSS is not virtualised) nor XFD (bit 4).
export const LEAFD1_EAX_OFFERED: u32 = 0x7;
const XCR0_AVX: u64 = 1 << 2;
// Legacy region + XSAVE header: the standard-format area for x87 and SSE.
const XSAVE_LEGACY_AND_HEADER: u32 = 576;
export const LEAF1_ECX_HYPERVISOR: u32 = 1 << 31;
// Leaf 7 subleaf 0, ECX
export const LEAF7_ECX_OSPKE: u32 = 1 << 4;
// Leaf 0x80000001 ECX (APM vol. 3, E.4.2)
export const EXT1_ECX_SVM: u32 = 1 << 2;


// The guest's answers are kept once computed, as KVM keeps a vCPU's CPUID
// table (KVM_SET_CPUID2) and answers from it: the host's CPUID never
// changes, and the policy depends on nothing else but the vCPU (leaf 1
// EBX[31:24], leaves 0xB and 0x1F EDX) and the guest's CR4 (leaf 1
// OSXSAVE), which go in per answer. Leaf 0xD follows the guest's XCR0 and
// is computed each time, as are the hypervisor's leaves (cheap, and their
// TSC rate may still settle). Direct-mapped by leaf and subleaf; a slot is
// [leaf, subleaf, kept, XSAVE offered, EAX, EBX, ECX, EDX], and Platform
// holds them.
const CPUID_SLOTS: u32 = 32;
const CPUID_SLOT_SHIFT: u32 = 5;   // 32 bytes a slot
// @ts-ignore: static assertion
if ((CPUID_SLOTS << CPUID_SLOT_SHIFT) != <u32>CPUID_ANSWER_BYTES) ERROR("Platform's CPUID_ANSWER_BYTES holds the slots");

// Basic leaves 0-15 and extended leaves 0x80000000-0x8000000F each get
// their own slot at subleaf 0.
// @ts-ignore: decorator
@inline function cpuidSlot(platform: Platform, leaf: u32, subleaf: u32): usize {
  return platform.cpuidAnswers + (<usize>((leaf ^ (leaf >> 27) ^ (subleaf << 3)) & (CPUID_SLOTS - 1)) << CPUID_SLOT_SHIFT);
}

// Answers CPUID (leaf, subleaf) for the guest, whose CR4 is `guestCr4`
// and XCR0 `guestXcr0`: EAX, EBX, ECX, EDX as 4 u32 at `out`.
// The asking vCPU is `vcpuIndex` of the guest's `vcpuCount`.
export function guestCpuid(leaf: u32, subleaf: u32, guestCr4: u64, guestXcr0: u64, platform: Platform, out: usize,
                           vcpuIndex: u32 = 0): void {
  if (leaf >= HYPERVISOR_LEAF_FIRST && leaf <= HYPERVISOR_LEAF_LAST) {
    hypervisorLeaf(leaf, out, platform);
    return;
  }
  if (leaf >= KVM_LEAF_BASE && leaf <= KVM_LEAF_LAST) {
    kvmLeaf(leaf, out);             // the paravirtual clock (vcpu/pvclock.ts)
    return;
  }
  if (leaf == 0xd) {
    computeCpuid(leaf, subleaf, guestCr4, guestXcr0, platform, out, vcpuIndex);
    return;
  }
  let slot = cpuidSlot(platform, leaf, subleaf);
  if (load<u64>(slot) != ((<u64>subleaf << 32) | leaf) || load<u32>(slot, 8) == 0) {
    computeCpuid(leaf, subleaf, 0, guestXcr0, platform, slot + 16, 0);
    store<u64>(slot, (<u64>subleaf << 32) | leaf);
    store<u32>(slot, 1, 8);
    store<u32>(slot, guestXcr0Allowed(platform) != 0 ? 1 : 0, 12);   // OSXSAVE may be offered
  }
  store<u64>(out, load<u64>(slot, 16));
  store<u64>(out, load<u64>(slot, 24), 8);
  if (leaf == 1) {
    store<u32>(out, (load<u32>(out, 4) & 0x00ffffff) | (vcpuIndex << 24), 4);
    if ((guestCr4 & CR4_OSXSAVE) != 0 && load<u32>(slot, 12) != 0) {
      store<u32>(out, load<u32>(out, 8) | LEAF1_ECX_OSXSAVE, 8);
    }
  } else if (leaf == 0xb || leaf == 0x1f) {
    store<u32>(out, vcpuIndex, 12);
  }
}

// The answer from the host's: also for leaves beyond the host's maximum,
// which the CPU answers as it does for them, so the guest sees the same
// thing as on bare metal.
function computeCpuid(leaf: u32, subleaf: u32, guestCr4: u64, guestXcr0: u64, platform: Platform, out: usize,
                      vcpuIndex: u32): void {
  platform.cpuid(leaf, subleaf, out);
  if (leaf == 1 || leaf == 7 || leaf == 0xd) {
    xsaveFeatures(leaf, subleaf, guestCr4, guestXcr0, guestXcr0Allowed(platform), platform, out);
  }
  applyCpuidPolicy(leaf, subleaf, guestCr4, out, vcpuIndex);
}

// The XSAVE features as the guest sees them, for guests that may set the
// XCR0 bits in `allowed` (0: no XSAVE at all).
function xsaveFeatures(leaf: u32, subleaf: u32, guestCr4: u64, guestXcr0: u64, allowed: u64,
                       platform: Platform, regs: usize): void {
  let avx = (allowed & XCR0_AVX) != 0;
  if (leaf == 1) {
    let ecx = load<u32>(regs, 8) & ~LEAF1_ECX_OSXSAVE;
    if (allowed == 0) ecx &= ~LEAF1_ECX_XSAVE_FAMILY;
    else if (!avx) ecx &= ~LEAF1_ECX_AVX_FAMILY;
    // OSXSAVE mirrors the guest's own CR4.OSXSAVE.
    if (allowed != 0 && (guestCr4 & CR4_OSXSAVE) != 0) ecx |= LEAF1_ECX_OSXSAVE;
    store<u32>(regs, ecx, 8);
  } else if (leaf == 7) {
    if (subleaf == 0 && !avx) store<u32>(regs, load<u32>(regs, 4) & ~LEAF7_EBX_AVX2, 4);
    if (subleaf == 1 && !avx) store<u32>(regs, load<u32>(regs) & ~(1 << 4), 0); // AVX-VNNI
  } else if (allowed == 0) {
    // The XSAVE leaf describes a feature the guest does not have.
    setRegisters(regs, 0, 0, 0, 0);
  } else if (subleaf == 0) {
    // Supported components, and the sizes of the standard-format area for
    // the guest's XCR0 (EBX) and for all of them (ECX).
    setRegisters(regs, <u32>allowed, xsaveSize(guestXcr0 & allowed, platform),
                 xsaveSize(allowed, platform), <u32>(allowed >> 32));
  } else if (subleaf == 1) {
    // XSAVEC's compacted area for the guest's XCR0 equals the standard
    // one for a prefix x87|SSE|AVX; no supervisor state (IA32_XSS).
    setRegisters(regs, load<u32>(regs) & LEAFD1_EAX_OFFERED, xsaveSize(guestXcr0 & allowed, platform), 0, 0);
  } else if (subleaf >= 64 || ((allowed >> subleaf) & 1) == 0) {
    // A component the guest may not enable.
    setRegisters(regs, 0, 0, 0, 0);
  }
}

// Bytes of a standard-format XSAVE area holding `components`: the end of
// the last one (size EAX at offset EBX of its subleaf), at least the legacy
// region and header.
function xsaveSize(components: u64, platform: Platform): u32 {
  let end = XSAVE_LEGACY_AND_HEADER;
  for (let i: u32 = 2; i < 64; i++) {
    if (((components >> i) & 1) == 0) continue;
    platform.cpuid(0xd, i, XSAVE_REGS);
    let last = load<u32>(XSAVE_REGS, 4) + load<u32>(XSAVE_REGS);
    if (last > end) end = last;
  }
  return end;
}

const XSAVE_REGS: usize = memory.data(16, 16);
const CR4_OSXSAVE: u64 = 1 << 18;

// Our own leaves: the signature, and the timing leaf so a guest that looks
// there need not calibrate its TSC or APIC timer. The others answer zeros.
export function hypervisorLeaf(leaf: u32, out: usize, platform: Platform): void {
  if (leaf == HYPERVISOR_LEAF_FIRST) {
    setRegisters(out, HYPERVISOR_LEAF_MAX, SIGNATURE_EBX, SIGNATURE_ECX, SIGNATURE_EDX);
  } else if (leaf == HYPERVISOR_LEAF_TIMING) {
    let khz = platform.tscHz() / 1000;
    setRegisters(out, khz > 0xffffffff ? 0xffffffff : <u32>khz, <u32>(LAPIC_TIMER_HZ / 1000), 0, 0);
  } else {
    setRegisters(out, 0, 0, 0, 0);
  }
}

// The topology the guest sees, whatever the host's: each vCPU is a
// package of one core of one thread whose APIC ID is its index (as the
// MADT lists them), so no leaf speaks of host CPUs or of siblings that
// do not exist. SDM vol. 3A 10.9 (topology enumeration); APM vol. 3 E.5.
export const LEAF1_EDX_HTT: u32 = 1 << 28;
export const EXT1_ECX_CMP_LEGACY: u32 = 1 << 1;
export const EXT1_ECX_TOPOEXT: u32 = 1 << 22;
// Leaf 0x80000007 EDX bit 8, invariant TSC: the guest's TSC is the host's
// plus an offset, one rate for all its vCPUs, and the hypervisor's own
// timers already rely on a constant-rate TSC (every CPU with NPT or EPT:
// AMD family 10h on, Intel Nehalem on). Without it Linux on AMD marks the
// TSC of a guest with more than one CPU unstable (unsynchronized_tsc()).
export const EXT7_EDX_INVARIANT_TSC: u32 = 1 << 8;

// Edits a host answer (at `regs`) into the guest's, for vCPU `vcpuIndex`.
export function applyCpuidPolicy(leaf: u32, subleaf: u32, guestCr4: u64, regs: usize, vcpuIndex: u32 = 0): void {
  let ebx = load<u32>(regs, 4);
  let ecx = load<u32>(regs, 8);
  switch (leaf) {
    case 1: {
      ecx |= LEAF1_ECX_HYPERVISOR;
      // No nested VMX. No MONITOR/MWAIT: both are intercepted and raise
      // #UD, since MWAIT could park the physical CPU.
      ecx &= ~(LEAF1_ECX_VMX | LEAF1_ECX_MONITOR);
      ecx = (ecx & ~LEAF1_ECX_UNBACKED) | LEAF1_ECX_X2APIC | LEAF1_ECX_TSC_DEADLINE;
      store<u32>(regs, (load<u32>(regs, 12) & ~(LEAF1_EDX_UNBACKED | LEAF1_EDX_HTT)) | LEAF1_EDX_APIC, 12);
      // XSAVE, OSXSAVE, AVX, FMA, F16C: guestCpuid (xsaveFeatures).
      // EBX[31:24] is the initial APIC ID, the vCPU's, whichever host CPU
      // answered; EBX[23:16] one logical processor in the package.
      ebx = (ebx & 0x0000ffff) | (vcpuIndex << 24) | (1 << 16);
      break;
    }
    case 4: {
      // Deterministic cache parameters: no cores or threads share a
      // package or a cache (EAX[31:26], EAX[25:14]).
      store<u32>(regs, load<u32>(regs) & 0x3fff, 0);
      return;
    }
    case 5: {
      // The MONITOR/MWAIT leaf describes a feature the guest does not have.
      setRegisters(regs, 0, 0, 0, 0);
      return;
    }
    case 7: {
      if (subleaf == 0) {
        // PKU's PKRU register is XSAVE state too; OSPKE follows it out.
        ebx &= ~LEAF7_EBX_AVX;
        ecx &= ~(LEAF7_ECX_AVX | LEAF7_ECX_OSPKE | LEAF7_ECX_UNBACKED);
        store<u32>(regs, load<u32>(regs, 12) & ~(LEAF7_EDX_AVX | LEAF7_EDX_UNBACKED), 12);
      } else if (subleaf == 1) {
        store<u32>(regs, load<u32>(regs) & ~(1 << 5), 0); // AVX512_BF16
      }
      break;
    }
    case 0xa: {
      // Architectural performance monitoring: no PMU is virtualised.
      setRegisters(regs, 0, 0, 0, 0);
      return;
    }
    case 0xb:
    case 0x1f: {
      // Extended topology: a thread level and a core level of one each
      // (shift 0), then the invalid level; EDX is the vCPU's x2APIC ID.
      let type: u32 = subleaf == 0 ? 1 : subleaf == 1 ? 2 : 0;
      setRegisters(regs, 0, type != 0 ? 1 : 0, (type << 8) | (subleaf & 0xff), vcpuIndex);
      return;
    }
    case 0x80000001: {
      ecx &= ~(EXT1_ECX_SVM | EXT1_ECX_CMP_LEGACY | EXT1_ECX_TOPOEXT); // no nested SVM
      break;
    }
    case 0x80000007: {
      store<u32>(regs, load<u32>(regs, 12) | EXT7_EDX_INVARIANT_TSC, 12);
      return;
    }
    case 0x80000008: {
      ecx &= ~0xf0ff; // NC and ApicIdSize: one core per package
      ebx &= ~EXT8_EBX_SPECULATION;
      break;
    }
    case 0x8000001e: {
      // Extended APIC ID, compute unit and node (TOPOEXT, hidden).
      setRegisters(regs, 0, 0, 0, 0);
      return;
    }
    case 0x8000000a: {
      // SVM revision and features (APM vol. 3, E.4.9): none, since SVM is hidden.
      setRegisters(regs, 0, 0, 0, 0);
      return;
    }
    default:
      return;
  }
  store<u32>(regs, ebx, 4);
  store<u32>(regs, ecx, 8);
}

@inline function setRegisters(out: usize, eax: u32, ebx: u32, ecx: u32, edx: u32): void {
  store<u32>(out, eax, 0);
  store<u32>(out, ebx, 4);
  store<u32>(out, ecx, 8);
  store<u32>(out, edx, 12);
}
