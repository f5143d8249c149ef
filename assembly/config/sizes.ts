// Memory sizes as hv.toml writes them: decimal digits and a K, M or G suffix
// (binary units, either case): "512K", "32M", "1G".

export const KiB: u64 = 1 << 10;
export const MiB: u64 = 1 << 20;
export const GiB: u64 = 1 << 30;

// parseSize's answer for text that is not a size.
export const NOT_A_SIZE: u64 = u64.MAX_VALUE;
// parseSize's answer for a size too large for a u64 (larger than any limit).
export const SIZE_TOO_LARGE: u64 = u64.MAX_VALUE - 1;

// The size in bytes written in [pointer, pointer+length), NOT_A_SIZE, or
// SIZE_TOO_LARGE.
export function parseSize(pointer: usize, length: u32): u64 {
  if (length < 2) return NOT_A_SIZE;
  let suffix = <u32>load<u8>(pointer + <usize>(length - 1)) | 0x20; // lower case
  let unit: u64;
  if (suffix == 0x6b) unit = KiB;
  else if (suffix == 0x6d) unit = MiB;
  else if (suffix == 0x67) unit = GiB;
  else return NOT_A_SIZE;
  let count: u64 = 0;
  let tooLarge = false;
  for (let i: u32 = 0; i < length - 1; i++) {
    let c = <u32>load<u8>(pointer + <usize>i);
    if (c < 0x30 || c > 0x39) return NOT_A_SIZE;
    if (count > (u64.MAX_VALUE / GiB - 9) / 10) tooLarge = true;
    else count = count * 10 + <u64>(c - 0x30);
  }
  if (tooLarge) return SIZE_TOO_LARGE;
  return count * unit;
}
