// Files that are not kernels, told apart before an image falls through to
// the flat-binary loader (kernel.ts), which would otherwise take any bytes
// and enter them at 1 MiB: a compressed file, an archive (an initrd named
// as the kernel), an EFI application without a Linux setup header, a
// script or plain text. Each answer names what the file is; "" when it may
// be a flat binary. Magic numbers: RFC 1952 (gzip), the xz and zstd
// format specifications, the cpio(5) and PE/COFF headers.

const TEXT_PROBE_BYTES: u32 = 512;

// What the image whose first `length` bytes are at `window` is, when it is
// plainly not a kernel; "" otherwise.
export function notAKernel(window: usize, length: u32): string {
  if (length >= 2 && load<u8>(window) == 0x1f && load<u8>(window, 1) == 0x8b) {
    return "a gzip-compressed file, not a kernel (decompress it, or give the bzImage)";
  }
  if (length >= 6 && load<u32>(window) == 0x587a37fd && load<u16>(window, 4) == 0x005a) {
    return "an xz-compressed file, not a kernel (decompress it, or give the bzImage)";
  }
  if (length >= 4 && load<u32>(window) == 0xfd2fb528) {
    return "a zstd-compressed file, not a kernel (decompress it, or give the bzImage)";
  }
  if (length >= 3 && load<u8>(window) == 0x42 && load<u8>(window, 1) == 0x5a && load<u8>(window, 2) == 0x68) {
    return "a bzip2-compressed file, not a kernel (decompress it, or give the bzImage)";
  }
  // "070701", "070702" (newc) and "070707" (odc): an initramfs.
  if (length >= 6 && load<u32>(window) == 0x37303730 && load<u8>(window, 4) == 0x30 &&
      (load<u8>(window, 5) == 0x31 || load<u8>(window, 5) == 0x32 || load<u8>(window, 5) == 0x37)) {
    return "a cpio archive (an initrd?), not a kernel";
  }
  // A PE image that is not a bzImage (those are told apart first, by "HdrS").
  if (length >= 2 && load<u8>(window) == 0x4d && load<u8>(window, 1) == 0x5a) {
    return "a PE/EFI executable without a Linux setup header, not a kernel this loader enters";
  }
  if (length >= 2 && load<u8>(window) == 0x23 && load<u8>(window, 1) == 0x21) {
    return "a script (#!), not a kernel";
  }
  if (isText(window, length < TEXT_PROBE_BYTES ? length : TEXT_PROBE_BYTES)) {
    return "text, not a kernel";
  }
  return "";
}

// Printable ASCII, tab, CR and LF only: no machine code is all of those.
function isText(window: usize, length: u32): bool {
  if (length == 0) return false;
  for (let i: u32 = 0; i < length; i++) {
    let c = load<u8>(window + i);
    if (!((c >= 0x20 && c < 0x7f) || c == 0x09 || c == 0x0a || c == 0x0d)) return false;
  }
  return true;
}
