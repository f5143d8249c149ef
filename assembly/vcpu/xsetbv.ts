// XSETBV: the guest sets XCR0, which says which state components XSAVE
// manages and which instructions (SSE, AVX, AVX-512, ...) may run. Checked
// as the CPU checks it (Intel SDM vol. 2C, XSETBV; vol. 1, 13.3), and
// limited to what the host supports.

import { Platform } from "../guest/platform";

export const XCR0_X87: u64 = 1 << 0;
export const XCR0_SSE: u64 = 1 << 1;
export const XCR0_AVX: u64 = 1 << 2;
export const XCR0_BNDREGS: u64 = 1 << 3;
export const XCR0_BNDCSR: u64 = 1 << 4;
export const XCR0_AVX512: u64 = 7 << 5; // opmask, ZMM_Hi256, Hi16_ZMM
export const XCR0_TILECFG: u64 = 1 << 17;
export const XCR0_TILEDATA: u64 = 1 << 18;

// The components a guest may enable, where the host has them: the stub
// (boot/fpu.c) saves and restores exactly these with XSAVE/XRSTOR and
// switches XCR0 between guests. Never MPX, AVX-512, PKRU or AMX.
export const XCR0_GUEST_COMPONENTS: u64 = XCR0_X87 | XCR0_SSE | XCR0_AVX;

const CR4_OSXSAVE: u64 = 1 << 18;
const LEAF1_ECX_XSAVE: u32 = 1 << 26;

const REGS: usize = memory.data(16, 16);

// What the check answers: done, or the exception the guest gets.
export const XSETBV_OK: u32 = 0;
export const XSETBV_UD: u32 = 6;
export const XSETBV_GP: u32 = 13;

// The XCR0 bits the host CPU supports: CPUID.(EAX=0DH,ECX=0):EDX:EAX, or 0
// on a CPU without XSAVE (whose leaf 0DH is not to be trusted, SDM vol. 1,
// 13.2).
export function hostXcr0(platform: Platform): u64 {
  platform.cpuid(0, 0, REGS);
  if (load<u32>(REGS) < 0xd) return 0;
  platform.cpuid(1, 0, REGS);
  if ((load<u32>(REGS, 8) & LEAF1_ECX_XSAVE) == 0) return 0;
  platform.cpuid(0xd, 0, REGS);
  return <u64>load<u32>(REGS) | (<u64>load<u32>(REGS, 12) << 32);
}

// The XCR0 bits a guest may set: the host's among XCR0_GUEST_COMPONENTS,
// or 0 without XSAVE (or without both x87 and SSE, which the stub then
// switches with FXSAVE: boot/fpu.c fpu_probe()).
export function guestXcr0Allowed(platform: Platform): u64 {
  if (platform.guestXcr0Known) return platform.guestXcr0;
  let allowed = hostXcr0(platform) & XCR0_GUEST_COMPONENTS;
  platform.guestXcr0 = (allowed & (XCR0_X87 | XCR0_SSE)) == (XCR0_X87 | XCR0_SSE) ? allowed : 0;
  platform.guestXcr0Known = true;
  return platform.guestXcr0;
}

// Checks XSETBV of `value` to XCR `index` by a guest at privilege `cpl`
// with CR4 `cr4`, on a host whose XCR0 may hold `hostXcr0`
// (CPUID.(EAX=0DH,ECX=0):EDX:EAX).
export function checkXsetbv(index: u32, value: u64, hostXcr0: u64, cr4: u64, cpl: u32): u32 {
  if ((cr4 & CR4_OSXSAVE) == 0) return XSETBV_UD;
  if (cpl != 0 || index != 0) return XSETBV_GP;
  if ((value & XCR0_X87) == 0) return XSETBV_GP;
  if ((value & ~hostXcr0) != 0) return XSETBV_GP;
  // AVX needs SSE state.
  if ((value & XCR0_AVX) != 0 && (value & XCR0_SSE) == 0) return XSETBV_GP;
  // MPX: both components or neither.
  if (((value & XCR0_BNDREGS) != 0) != ((value & XCR0_BNDCSR) != 0)) return XSETBV_GP;
  // AVX-512: all three components or none, and then AVX and SSE too.
  let avx512 = value & XCR0_AVX512;
  if (avx512 != 0 && (avx512 != XCR0_AVX512 || (value & (XCR0_SSE | XCR0_AVX)) != (XCR0_SSE | XCR0_AVX))) {
    return XSETBV_GP;
  }
  // AMX: tile configuration and tile data together.
  if (((value & XCR0_TILECFG) != 0) != ((value & XCR0_TILEDATA) != 0)) return XSETBV_GP;
  return XSETBV_OK;
}
