import { GiB, KiB, MiB, NOT_A_SIZE, parseSize, SIZE_TOO_LARGE } from "../../../assembly/config/sizes";

function size(text: string): u64 {
  let bytes = String.UTF8.encode(text);
  return parseSize(changetype<usize>(bytes), <u32>bytes.byteLength);
}

describe("sizes", () => {
  it("reads K, M and G as binary units", () => {
    expect(size("512K")).toBe(512 * KiB);
    expect(size("32M")).toBe(32 * MiB);
    expect(size("1G")).toBe(GiB);
    expect(size("64G")).toBe(64 * GiB);
  });
  it("accepts the suffix in either case", () => {
    expect(size("32m")).toBe(32 * MiB);
    expect(size("4k")).toBe(4 * KiB);
    expect(size("2g")).toBe(2 * GiB);
  });
  it("accepts leading zeros and zero", () => {
    expect(size("032M")).toBe(32 * MiB);
    expect(size("0M")).toBe(0);
  });
  it("rejects a size with an unknown suffix", () => {
    expect(size("12Q")).toBe(NOT_A_SIZE);
    expect(size("12MB")).toBe(NOT_A_SIZE);
    expect(size("12MiB")).toBe(NOT_A_SIZE);
  });
  it("rejects a size without a suffix or without digits", () => {
    expect(size("32")).toBe(NOT_A_SIZE);
    expect(size("M")).toBe(NOT_A_SIZE);
    expect(size("")).toBe(NOT_A_SIZE);
  });
  it("rejects signs, spaces, underscores and fractions", () => {
    expect(size("-1M")).toBe(NOT_A_SIZE);
    expect(size("+1M")).toBe(NOT_A_SIZE);
    expect(size("32 M")).toBe(NOT_A_SIZE);
    expect(size(" 32M")).toBe(NOT_A_SIZE);
    expect(size("1_024M")).toBe(NOT_A_SIZE);
    expect(size("1.5G")).toBe(NOT_A_SIZE);
  });
  it("answers SIZE_TOO_LARGE instead of overflowing", () => {
    expect(size("17179869184G")).toBe(SIZE_TOO_LARGE);
    expect(size("99999999999999999999999999K")).toBe(SIZE_TOO_LARGE);
  });
});
