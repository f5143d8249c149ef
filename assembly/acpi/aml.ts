// The few AML encodings the DSDT needs (ACPI 6.5, chapter 20 "ACPI Machine
// Language Specification", and 6.4 "Resource Data Types for ACPI"),
// written into a fixed byte region without allocation.
//
// A package (Scope, Device, Package, Buffer) is written content first:
// begin*() answers where its PkgLength goes, end*() measures the content
// and inserts the PkgLength (20.2.4) there, moving the content up by the 1
// to 4 bytes it takes. Nested packages are closed innermost first, so an
// outer package's recorded position never moves.
//
// A write past the region's end, or a name or ID that is not well formed,
// sets `failed` and is dropped: the caller refuses the table. Nothing traps.

// Opcodes (20.2.5) and prefixes (20.2.3, 20.2.2).
export const AML_ZERO_OP: u8 = 0x00;
export const AML_ONE_OP: u8 = 0x01;
export const AML_NAME_OP: u8 = 0x08;
export const AML_BYTE_PREFIX: u8 = 0x0a;
export const AML_WORD_PREFIX: u8 = 0x0b;
export const AML_DWORD_PREFIX: u8 = 0x0c;
export const AML_QWORD_PREFIX: u8 = 0x0e;
export const AML_SCOPE_OP: u8 = 0x10;
export const AML_BUFFER_OP: u8 = 0x11;
export const AML_PACKAGE_OP: u8 = 0x12;
export const AML_DUAL_NAME_PREFIX: u8 = 0x2e;
export const AML_MULTI_NAME_PREFIX: u8 = 0x2f;
export const AML_EXT_OP_PREFIX: u8 = 0x5b;
export const AML_DEVICE_OP: u8 = 0x82;       // after AML_EXT_OP_PREFIX
export const AML_ROOT_CHAR: u8 = 0x5c;       // '\'
export const AML_NULL_NAME: u8 = 0x00;

// Resource descriptors (6.4.2 small, 6.4.3 large).
export const RESOURCE_IRQ_NO_FLAGS: u8 = 0x22;   // IRQ descriptor, 2 bytes of mask (6.4.2.1)
export const RESOURCE_IO: u8 = 0x47;             // I/O port descriptor, 7 bytes (6.4.2.5)
export const RESOURCE_END_TAG: u8 = 0x79;        // End Tag, 1 byte of checksum (6.4.2.9)
export const RESOURCE_DWORD_ADDRESS: u8 = 0x87;  // DWord Address Space (6.4.3.5.2)
export const RESOURCE_WORD_ADDRESS: u8 = 0x88;   // Word Address Space (6.4.3.5.3)
const DWORD_ADDRESS_LENGTH: u32 = 23;            // the descriptor's bytes after its 3-byte header
const WORD_ADDRESS_LENGTH: u32 = 13;
export const IO_DECODE16: u8 = 0x01;             // I/O descriptor information: 16-bit decode

// Address space descriptors' Resource Type (6.4.3.5.2).
export const ADDRESS_SPACE_MEMORY: u8 = 0;
export const ADDRESS_SPACE_IO: u8 = 1;
export const ADDRESS_SPACE_BUS_NUMBER: u8 = 2;
// General flags (6.4.3.5.2): _MAF, _MIF; _DEC 0 (positive decode) and
// bit 0 clear (ResourceProducer: a bridge's window).
export const ADDRESS_MAX_FIXED: u8 = 1 << 3;
export const ADDRESS_MIN_FIXED: u8 = 1 << 2;
export const ADDRESS_CONSUMER: u8 = 1 << 0;
// Type-specific flags (6.4.3.5.5): I/O _RNG = 3, EntireRange; memory _RW
// read-write, _MEM 0 (non-cacheable), _MTP 0 AddressRangeMemory.
export const IO_RANGE_ENTIRE: u8 = 3;
export const MEMORY_READ_WRITE: u8 = 1 << 0;

// PkgLength (20.2.4) counts itself: at most 63 in its lead byte alone, else
// the lead byte's low nibble and 1-3 more bytes, up to 2^28 - 1.
const PKG_LENGTH_MAX: u32 = 0x0fffffff;

@unmanaged
export class AmlWriter {
  base: usize;
  capacity: u32;
  length: u32;
  failed: bool;

  reset(base: usize, capacity: u32): void {
    this.base = base;
    this.capacity = capacity;
    this.length = 0;
    this.failed = false;
  }

  byte(value: u32): void {
    if (this.length >= this.capacity) {
      this.failed = true;
      return;
    }
    store<u8>(this.base + <usize>this.length, <u8>value);
    this.length++;
  }

  word(value: u32): void {
    this.byte(value & 0xff);
    this.byte((value >> 8) & 0xff);
  }

  dword(value: u32): void {
    this.word(value & 0xffff);
    this.word(value >> 16);
  }

  // --- data objects (20.2.3) -------------------------------------------------

  // The shortest encoding of an integer: ZeroOp, OneOp, or a Byte/Word/
  // DWord/QWordConst.
  integer(value: u64): void {
    if (value == 0) {
      this.byte(AML_ZERO_OP);
    } else if (value == 1) {
      this.byte(AML_ONE_OP);
    } else if (value <= 0xff) {
      this.byte(AML_BYTE_PREFIX);
      this.byte(<u32>value);
    } else if (value <= 0xffff) {
      this.byte(AML_WORD_PREFIX);
      this.word(<u32>value);
    } else if (value <= 0xffffffff) {
      this.byte(AML_DWORD_PREFIX);
      this.dword(<u32>value);
    } else {
      this.byte(AML_QWORD_PREFIX);
      this.dword(<u32>value);
      this.dword(<u32>(value >> 32));
    }
  }

  // ASL's EISAID("PNP0A03") (19.6) as its DWordConst: three upper-case letters
  // compressed to 5 bits each (letter - 0x40) in a big-endian u16, then
  // four hexadecimal digits as a big-endian u16.
  eisaId(id: string): void {
    if (id.length != 7) {
      this.failed = true;
      return;
    }
    let vendor: u32 = 0;
    for (let i = 0; i < 3; i++) {
      let c = <u32>id.charCodeAt(i);
      if (c < 0x41 || c > 0x5a) this.failed = true;
      vendor = (vendor << 5) | ((c - 0x40) & 0x1f);
    }
    let product: u32 = 0;
    for (let i = 3; i < 7; i++) {
      let digit = hexDigit(<u32>id.charCodeAt(i));
      if (digit > 15) this.failed = true;
      product = (product << 4) | (digit & 0xf);
    }
    if (this.failed) return;
    this.byte(AML_DWORD_PREFIX);
    this.byte(vendor >> 8);
    this.byte(vendor & 0xff);
    this.byte(product >> 8);
    this.byte(product & 0xff);
  }

  // --- names (20.2.2) ----------------------------------------------------------

  // A NameString: an optional leading '\' (RootChar), then 4-character name
  // segments joined by '.' (as ASL pads them: "RTC_", not "RTC"). One
  // segment is written as it is, two after DualNamePrefix, more after
  // MultiNamePrefix and their count; none is NullName.
  nameString(path: string): void {
    let count = path.length;
    let at = 0;
    if (count > 0 && <u32>path.charCodeAt(0) == AML_ROOT_CHAR) {
      this.byte(AML_ROOT_CHAR);
      at = 1;
    }
    let rest = count - at;
    if (rest == 0) {
      this.byte(AML_NULL_NAME);
      return;
    }
    // "ABCD" or "ABCD.EFGH...": 5 characters per segment, one '.' short.
    if ((rest + 1) % 5 != 0) {
      this.failed = true;
      return;
    }
    let segments = (rest + 1) / 5;
    if (segments > 255) {
      this.failed = true;
      return;
    }
    if (segments == 2) {
      this.byte(AML_DUAL_NAME_PREFIX);
    } else if (segments > 2) {
      this.byte(AML_MULTI_NAME_PREFIX);
      this.byte(<u32>segments);
    }
    for (let s = 0; s < segments; s++) {
      let first = at + s * 5;
      if (s > 0 && path.charCodeAt(first - 1) != 0x2e) this.failed = true;
      for (let i = 0; i < 4; i++) {
        let c = <u32>path.charCodeAt(first + i);
        let upper = c >= 0x41 && c <= 0x5a;
        let digit = c >= 0x30 && c <= 0x39;
        // LeadNameChar is 'A'-'Z' or '_'; a NameChar may also be a digit.
        if (!(upper || c == 0x5f || (digit && i > 0))) this.failed = true;
        this.byte(c);
      }
    }
  }

  // Name(path, integer): DefName (20.2.5.1).
  nameInteger(path: string, value: u64): void {
    this.byte(AML_NAME_OP);
    this.nameString(path);
    this.integer(value);
  }

  // Name(path, EISAID(id)).
  nameEisaId(path: string, id: string): void {
    this.byte(AML_NAME_OP);
    this.nameString(path);
    this.eisaId(id);
  }

  // Name(path, ...): the object follows (a package, a resource template).
  name(path: string): void {
    this.byte(AML_NAME_OP);
    this.nameString(path);
  }

  // --- packages ------------------------------------------------------------------

  // Scope(path) { ...: DefScope := ScopeOp PkgLength NameString TermList.
  beginScope(path: string): u32 {
    this.byte(AML_SCOPE_OP);
    let start = this.length;
    this.nameString(path);
    return start;
  }

  // Device(path) { ...: DefDevice := DeviceOp PkgLength NameString TermList.
  beginDevice(path: string): u32 {
    this.byte(AML_EXT_OP_PREFIX);
    this.byte(AML_DEVICE_OP);
    let start = this.length;
    this.nameString(path);
    return start;
  }

  // Package(count) { ...: DefPackage := PackageOp PkgLength NumElements
  // PackageElementList.
  beginPackage(count: u32): u32 {
    this.byte(AML_PACKAGE_OP);
    let start = this.length;
    this.byte(count);
    return start;
  }

  // Closes what beginScope, beginDevice or beginPackage opened at `start`.
  end(start: u32): void {
    if (this.failed || start > this.length) {
      this.failed = true;
      return;
    }
    let content = this.length - start;
    let extra = pkgLengthExtraBytes(content);
    if (extra > 3 || !this.insertGap(start, extra + 1)) {
      this.failed = true;
      return;
    }
    this.putPkgLength(start, content + extra + 1, extra);
  }

  // ResourceTemplate() { ...: a Buffer (DefBuffer := BufferOp PkgLength
  // BufferSize ByteList) of resource descriptors.
  beginResourceTemplate(): u32 {
    this.byte(AML_BUFFER_OP);
    return this.length;
  }

  // Ends the template begun at `start` with an End Tag whose checksum makes
  // the template's bytes sum to 0, then inserts the Buffer's PkgLength and
  // BufferSize (a ByteConst or WordConst) in front of the descriptors.
  endResourceTemplate(start: u32): void {
    this.byte(RESOURCE_END_TAG);
    if (this.failed || start > this.length) {
      this.failed = true;
      return;
    }
    let sum: u32 = 0;
    for (let i = start; i < this.length; i++) sum += <u32>load<u8>(this.base + <usize>i);
    this.byte((0 - sum) & 0xff);
    if (this.failed) return;
    let bytes = this.length - start;
    if (bytes > 0xffff) {
      this.failed = true;
      return;
    }
    let sizeBytes: u32 = bytes <= 0xff ? 2 : 3;
    let content = sizeBytes + bytes;
    let extra = pkgLengthExtraBytes(content);
    if (extra > 3 || !this.insertGap(start, extra + 1 + sizeBytes)) {
      this.failed = true;
      return;
    }
    this.putPkgLength(start, content + extra + 1, extra);
    let size = this.base + <usize>(start + extra + 1);
    if (sizeBytes == 2) {
      store<u8>(size, AML_BYTE_PREFIX);
      store<u8>(size, <u8>bytes, 1);
    } else {
      store<u8>(size, AML_WORD_PREFIX);
      store<u16>(size, <u16>bytes, 1);
    }
  }

  // --- resource descriptors (6.4) ----------------------------------------------

  // IO(Decode16, min, max, alignment, length) (6.4.2.5).
  io(minimum: u32, maximum: u32, alignment: u32, length: u32): void {
    this.byte(RESOURCE_IO);
    this.byte(IO_DECODE16);
    this.word(minimum);
    this.word(maximum);
    this.byte(alignment);
    this.byte(length);
  }

  // IRQNoFlags() {irq} (6.4.2.1): edge-triggered, active-high, exclusive.
  irqNoFlags(irq: u32): void {
    if (irq > 15) this.failed = true;
    this.byte(RESOURCE_IRQ_NO_FLAGS);
    this.word((<u32>1 << (irq & 15)) & 0xffff);
  }

  // WordBusNumber / WordIO (6.4.3.5.3): granularity and translation 0.
  wordAddressSpace(type: u8, generalFlags: u8, typeFlags: u8, minimum: u32, maximum: u32, length: u32): void {
    this.byte(RESOURCE_WORD_ADDRESS);
    this.word(WORD_ADDRESS_LENGTH);
    this.byte(type);
    this.byte(generalFlags);
    this.byte(typeFlags);
    this.word(0);        // _GRA
    this.word(minimum);  // _MIN
    this.word(maximum);  // _MAX
    this.word(0);        // _TRA
    this.word(length);   // _LEN
  }

  // DWordMemory (6.4.3.5.2): granularity and translation 0.
  dwordAddressSpace(type: u8, generalFlags: u8, typeFlags: u8, minimum: u32, maximum: u32, length: u32): void {
    this.byte(RESOURCE_DWORD_ADDRESS);
    this.word(DWORD_ADDRESS_LENGTH);
    this.byte(type);
    this.byte(generalFlags);
    this.byte(typeFlags);
    this.dword(0);
    this.dword(minimum);
    this.dword(maximum);
    this.dword(0);
    this.dword(length);
  }

  // --- helpers -------------------------------------------------------------------

  // Moves bytes [at, length) up by `count`; false (nothing moved) when they
  // would pass the region's end.
  private insertGap(at: u32, count: u32): bool {
    if (<u64>this.length + <u64>count > <u64>this.capacity) return false;
    memory.copy(this.base + <usize>(at + count), this.base + <usize>at, <usize>(this.length - at));
    this.length += count;
    return true;
  }

  // Writes PkgLength `value` as a lead byte and `extra` following bytes.
  private putPkgLength(at: u32, value: u32, extra: u32): void {
    let p = this.base + <usize>at;
    if (extra == 0) {
      store<u8>(p, <u8>value);
      return;
    }
    store<u8>(p, <u8>((extra << 6) | (value & 0xf)));
    for (let i: u32 = 1; i <= extra; i++) store<u8>(p + <usize>i, <u8>(value >> (4 + 8 * (i - 1))));
  }
}

// How many bytes follow the PkgLength lead byte for `content` bytes of
// package (the PkgLength itself not counted); 4 when too long to encode.
export function pkgLengthExtraBytes(content: u32): u32 {
  if (content + 1 <= 63) return 0;
  if (content + 2 <= 0xfff) return 1;
  if (content + 3 <= 0xfffff) return 2;
  if (<u64>content + 4 <= <u64>PKG_LENGTH_MAX) return 3;
  return 4;
}

// 0-15 for '0'-'9' and 'A'-'F', else 16.
function hexDigit(c: u32): u32 {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return 16;
}
