// Addresses, ports and register values in messages: "0x" and lower-case
// hexadecimal without leading zeros ("0x10012a", "0x3f8", "0x0"), the way
// the hypervisor's stop lines print them. Appends to a TextWriter, so it
// allocates nothing.

import { TextWriter } from "./text";

export function appendAddress(writer: TextWriter, value: u64): TextWriter {
  writer.byte(0x30).byte(0x78); // "0x"
  let shift: i32 = 60;
  while (shift > 0 && ((value >> <u64>shift) & 0xf) == 0) shift -= 4;
  for (; shift >= 0; shift -= 4) {
    let nibble = <u32>((value >> <u64>shift) & 0xf);
    writer.byte(nibble < 10 ? 0x30 + nibble : 0x61 + nibble - 10);
  }
  return writer;
}
