// Two AVX guests on one CPU (tests/configs/avx.toml, tests/guests/avx.c):
// each sees XSAVE and AVX, XCR0 x87 at reset, XSETBV refusing AVX without
// SSE and AVX-512, and keeps its own ymm0-ymm15 and XCR0 across 20 yields
// to the other.
import assert from "node:assert/strict";
import { line } from "./lib.mjs";
import { guestLines } from "./guests.mjs";

export const AVX_LINES = [
  "avx: ok   CPUID offers XSAVE",
  "avx: ok   CPUID offers AVX",
  "avx: ok   CPUID.1:ECX.OSXSAVE is clear before CR4.OSXSAVE",
  "avx: AVX2 offered",
  "avx: ok   CPUID.(0xD,0) offers x87|SSE|AVX only",
  "avx: ok   CPUID.(0xD,0).ECX is 832 bytes",
  "avx: ok   CPUID.1:ECX.OSXSAVE follows CR4.OSXSAVE",
  "avx: ok   XCR0 is x87 at reset",
  "avx: ok   XSETBV AVX without SSE (0x5) raises #GP",
  "avx: ok   XSETBV AVX-512 (0xe7) raises #GP",
  "avx: ok   XCR0 is still x87",
  "avx: ok   XSETBV x87|SSE|AVX (0x7) works",
  "avx: ok   XCR0 reads back 0x7",
  "avx: ok   CPUID.(0xD,0).EBX is 832 bytes for XCR0 0x7",
  "avx: ok   ymm0-ymm15 hold the pattern",
  "avx: ok   ymm0-ymm15 kept the pattern across 20 of 20 yields",
  "avx: ok   XCR0 is still 0x7 after the yields",
];

export function assertAvx(r) {
  for (const name of ["avx-a", "avx-b"]) {
    assert.deepEqual(guestLines(r, name), AVX_LINES, `${name}:\n${r.output.slice(-4000)}`);
    line(r, new RegExp(`^\\[hv\\] guest ${name} stopped: exit code 0$`));
  }
  line(r, /^\[hv\] all guests stopped$/);
  assert.equal(r.code, 0);
}
