// The guest's ACPI tables as an OS reads them from guest RAM: the RSDP it
// scans for, the tables that hang from it, and the AML of the DSDT.
//
// The bytes were also checked with ACPICA (Debian's acpica-tools 20200925):
// `node tests/unit/acpi/dump-tables.mjs [vcpus] [MiB]` writes each table and
// runs `iasl -d` on it (every table disassembles without a complaint; the
// DSDT gives back the ASL in assembly/acpi/dsdt.ts and recompiles to the
// same AML, but for iasl dropping the redundant root prefixes and writing
// End Tag checksums as 0) and `acpiexec`, ACPICA's interpreter, which loads
// the DSDT, evaluates \_S5_ and decodes every _CRS. Checked for 1, 4 and 64
// vCPUs and 1 MiB, 512 MiB and 64 GiB.

import { buildAcpiTables, ACPI_RSDP_ADDRESS, RSDT_ADDRESS, XSDT_ADDRESS, FADT_ADDRESS, MADT_ADDRESS, FACS_ADDRESS }
  from "../../../assembly/acpi/tables";
import { AmlWriter, pkgLengthExtraBytes } from "../../../assembly/acpi/aml";
import { pciMmioBase } from "../../../assembly/acpi/dsdt";
import { loadAcpiTables } from "../../../assembly/loaders/kernel";
import { TextWriter } from "../../../assembly/lib/text";
import { FakePlatform, ramU8, ramU32, ramU64 } from "../guest/helpers";

const WHY: usize = memory.data(256);

const MiB: u64 = 1 << 20;
const GiB: u64 = 1 << 30;

function build(vcpus: u32 = 1, memoryBytes: u64 = 512 * MiB): FakePlatform {
  let platform = new FakePlatform();
  platform.ramBytes = memoryBytes;
  expect(buildAcpiTables(platform, vcpus, memoryBytes)).toBe(true);
  return platform;
}

function ramSum(gpa: u64, length: u32): u32 {
  let sum: u32 = 0;
  for (let i: u32 = 0; i < length; i++) sum += ramU8(gpa + i);
  return sum & 0xff;
}

function ramAscii(gpa: u64, length: u32): string {
  let text = "";
  for (let i: u32 = 0; i < length; i++) text += String.fromCharCode(ramU8(gpa + i));
  return text;
}

function ramU16(gpa: u64): u32 {
  return <u32>ramU8(gpa) | (<u32>ramU8(gpa + 1) << 8);
}

// The first 16-byte aligned "RSD PTR " in [0xE0000, 0x100000) whose first
// 20 bytes sum to 0, as an OS's scan finds it (ACPI 6.5, 5.2.5.1); 0 if none.
function scanForRsdp(): u64 {
  for (let at: u64 = 0xe0000; at < 0x100000; at += 16) {
    if (ramAscii(at, 8) == "RSD PTR " && ramSum(at, 20) == 0) return at;
  }
  return 0;
}

function dsdtAddress(): u64 {
  return <u64>ramU32(FADT_ADDRESS + 40);
}

// Where `bytes` first occur in the `length` bytes at `gpa`, or -1.
function findBytes(gpa: u64, length: u32, bytes: u8[]): i32 {
  for (let i: u32 = 0; i + <u32>bytes.length <= length; i++) {
    let same = true;
    for (let j = 0; j < bytes.length && same; j++) same = ramU8(gpa + i + <u32>j) == bytes[j];
    if (same) return <i32>i;
  }
  return -1;
}

function expectHeader(gpa: u64, signature: string, revision: u8): void {
  expect(ramAscii(gpa, 4)).toBe(signature);
  expect(ramU8(gpa + 8)).toBe(revision);
  expect(ramSum(gpa, ramU32(gpa + 4))).toBe(0);
  expect(ramAscii(gpa + 10, 6)).toBe("TSHV  ");
  expect(ramAscii(gpa + 16, 8)).toBe("TSHVPC  ");
  expect(ramU32(gpa + 24)).toBe(1);
  expect(ramAscii(gpa + 28, 4)).toBe("TSHV");
  expect(ramU32(gpa + 32)).toBe(1);
}

describe("the RSDP", () => {
  it("puts an RSDP the 0xE0000-0xFFFFF scan finds, with both checksums right", () => {
    build();
    expect(scanForRsdp()).toBe(ACPI_RSDP_ADDRESS);
    expect(ACPI_RSDP_ADDRESS & 15).toBe(0);
    let rsdp = ACPI_RSDP_ADDRESS;
    expect(ramSum(rsdp, 20)).toBe(0);
    expect(ramSum(rsdp, 36)).toBe(0);
    expect(ramAscii(rsdp + 9, 6)).toBe("TSHV  ");
    expect(ramU8(rsdp + 15)).toBe(2);           // revision: ACPI 2.0+
    expect(ramU32(rsdp + 16)).toBe(<u32>RSDT_ADDRESS);
    expect(ramU32(rsdp + 20)).toBe(36);         // length
    expect(ramU64(rsdp + 24)).toBe(XSDT_ADDRESS);
  });

  it("is the only one the scan can find, whatever an earlier run left in the BIOS area", () => {
    let platform = new FakePlatform();
    platform.ramBytes = 512 * MiB;
    // A stale RSDP with a good checksum at 0xE8000, and junk everywhere.
    let junk = new ArrayBuffer(0x20000);
    memory.fill(changetype<usize>(junk), 0x5a, 0x20000);
    platform.guestWrite(0xe0000, changetype<usize>(junk), 0x20000);
    let stale = String.UTF8.encode("RSD PTR ");
    platform.guestWrite(0xe8000, changetype<usize>(stale), 8);
    expect(buildAcpiTables(platform, 2, 512 * MiB)).toBe(true);
    expect(scanForRsdp()).toBe(ACPI_RSDP_ADDRESS);
    expect(ramU8(0xe8000)).toBe(0);
    expect(ramU8(0xfffff)).toBe(0);
  });

  it("writes only the tables and the RSDP where the platform's RAM starts zeroed", () => {
    let cleared = new FakePlatform();
    cleared.ramBytes = 512 * MiB;
    expect(buildAcpiTables(cleared, 2, 512 * MiB)).toBe(true);
    let zeroed = new FakePlatform();
    zeroed.ramBytes = 512 * MiB;
    zeroed.ramZeroAtLoad = true;
    expect(buildAcpiTables(zeroed, 2, 512 * MiB)).toBe(true);
    expect(zeroed.guestWrites).toBe(2, "the tables, the RSDP");
    expect(cleared.guestWrites).toBeGreaterThan(30, "and the BIOS area cleared 4 KiB at a time");
    expect(scanForRsdp()).toBe(ACPI_RSDP_ADDRESS);
  });

  it("leaves guest RAM outside [0xE0000, 1 MiB) alone", () => {
    let platform = new FakePlatform();
    platform.ramBytes = 512 * MiB;
    let junk = new ArrayBuffer(16);
    memory.fill(changetype<usize>(junk), 0x5a, 16);
    platform.guestWrite(0xdfff0, changetype<usize>(junk), 16);
    platform.guestWrite(0x100000, changetype<usize>(junk), 16);
    expect(buildAcpiTables(platform, 2, 512 * MiB)).toBe(true);
    expect(ramU8(0xdffff)).toBe(0x5a);
    expect(ramU8(0x100000)).toBe(0x5a);
  });
});

describe("the RSDT and the XSDT", () => {
  it("list the FADT and the MADT, each table with its checksum right", () => {
    build(4);
    expectHeader(RSDT_ADDRESS, "RSDT", 1);
    expect(ramU32(RSDT_ADDRESS + 4)).toBe(36 + 8);
    expect(ramU32(RSDT_ADDRESS + 36)).toBe(<u32>FADT_ADDRESS);
    expect(ramU32(RSDT_ADDRESS + 40)).toBe(<u32>MADT_ADDRESS);
    expectHeader(XSDT_ADDRESS, "XSDT", 1);
    expect(ramU32(XSDT_ADDRESS + 4)).toBe(36 + 16);
    expect(ramU64(XSDT_ADDRESS + 36)).toBe(FADT_ADDRESS);
    expect(ramU64(XSDT_ADDRESS + 44)).toBe(MADT_ADDRESS);
    expectHeader(FADT_ADDRESS, "FACP", 6);
    expectHeader(MADT_ADDRESS, "APIC", 6);
    expectHeader(dsdtAddress(), "DSDT", 2);
  });

  it("keep every table inside [ACPI_TABLES_BASE, +ACPI_TABLES_BYTES), apart", () => {
    build(64);
    let dsdt = dsdtAddress();
    expect(FACS_ADDRESS & 63).toBe(0);
    expect(FACS_ADDRESS + 64 <= RSDT_ADDRESS).toBe(true);
    expect(RSDT_ADDRESS + 44 <= XSDT_ADDRESS).toBe(true);
    expect(XSDT_ADDRESS + 52 <= FADT_ADDRESS).toBe(true);
    expect(FADT_ADDRESS + 276 <= MADT_ADDRESS).toBe(true);
    expect(MADT_ADDRESS + <u64>ramU32(MADT_ADDRESS + 4) <= dsdt).toBe(true);
    expect(dsdt + <u64>ramU32(dsdt + 4) <= 0xf0000).toBe(true);
  });
});

describe("the FACS", () => {
  it("is there, 64 bytes, version 2, everything else 0", () => {
    build();
    expect(ramU32(FADT_ADDRESS + 36)).toBe(<u32>FACS_ADDRESS);
    expect(ramAscii(FACS_ADDRESS, 4)).toBe("FACS");
    expect(ramU32(FACS_ADDRESS + 4)).toBe(64);
    expect(ramU8(FACS_ADDRESS + 32)).toBe(2);
    expect(ramU32(FACS_ADDRESS + 12)).toBe(0); // no waking vector
    expect(ramU32(FACS_ADDRESS + 16)).toBe(0); // global lock free
    expect(ramU32(FACS_ADDRESS + 20)).toBe(0); // no S4BIOS
  });
});

describe("the MADT", () => {
  it("lists one local APIC per vCPU in the MADT", () => {
    build(4);
    let madt = MADT_ADDRESS;
    expect(ramU32(madt + 36)).toBe(0xfee00000); // local APIC address
    expect(ramU32(madt + 40)).toBe(1);          // PCAT_COMPAT
    for (let i: u32 = 0; i < 4; i++) {
      let entry = madt + 44 + 8 * i;
      expect(ramU8(entry)).toBe(0);       // Processor Local APIC
      expect(ramU8(entry + 1)).toBe(8);
      expect(ramU8(entry + 2)).toBe(<u8>i); // processor UID
      expect(ramU8(entry + 3)).toBe(<u8>i); // APIC ID
      expect(ramU32(entry + 4)).toBe(1);    // enabled
    }
    expect(ramU8(madt + 44 + 32)).toBe(1); // then the I/O APIC
  });

  it("gives the I/O APIC the ID after the vCPUs', at 0xFEC00000 from GSI 0", () => {
    build(4);
    let ioapic = MADT_ADDRESS + 44 + 4 * 8;
    expect(ramU8(ioapic)).toBe(1);
    expect(ramU8(ioapic + 1)).toBe(12);
    expect(ramU8(ioapic + 2)).toBe(4);
    expect(ramU32(ioapic + 4)).toBe(0xfec00000);
    expect(ramU32(ioapic + 8)).toBe(0);
  });

  it("overrides IRQ 0 to GSI 2 (conforming) and makes the SCI, IRQ 9, level-triggered active-high", () => {
    build(2);
    let pit = MADT_ADDRESS + 44 + 2 * 8 + 12;
    expect(ramU8(pit)).toBe(2);
    expect(ramU8(pit + 1)).toBe(10);
    expect(ramU8(pit + 2)).toBe(0);     // ISA
    expect(ramU8(pit + 3)).toBe(0);     // IRQ 0
    expect(ramU32(pit + 4)).toBe(2);    // GSI 2
    expect(ramU16(pit + 8)).toBe(0);
    let sci = pit + 10;
    expect(ramU8(sci)).toBe(2);
    expect(ramU8(sci + 3)).toBe(9);
    expect(ramU32(sci + 4)).toBe(9);
    expect(ramU16(sci + 8)).toBe(0x000d);
  });

  it("makes LINT1 of every processor the NMI, and ends there", () => {
    build(2);
    let nmi = MADT_ADDRESS + 44 + 2 * 8 + 12 + 20;
    expect(ramU8(nmi)).toBe(4);
    expect(ramU8(nmi + 1)).toBe(6);
    expect(ramU8(nmi + 2)).toBe(0xff);
    expect(ramU16(nmi + 3)).toBe(0);
    expect(ramU8(nmi + 5)).toBe(1);
    expect(ramU32(MADT_ADDRESS + 4)).toBe(<u32>(nmi + 6 - MADT_ADDRESS));
  });
});

describe("the FADT", () => {
  it("is revision 6.5, 276 bytes, and points at the DSDT both ways", () => {
    build();
    let fadt = FADT_ADDRESS;
    expect(ramU32(fadt + 4)).toBe(276);
    expect(ramU8(fadt + 131)).toBe(5); // minor version
    expect(<u64>ramU32(fadt + 40)).toBe(ramU64(fadt + 140));
    expect(ramU64(fadt + 132)).toBe(0); // X_FIRMWARE_CTRL: the FACS is below 4 GiB
  });

  it("gives SCI_INT 9, no SMI_CMD (always in ACPI mode) and the PM1a/PM timer blocks", () => {
    build();
    let fadt = FADT_ADDRESS;
    expect(ramU16(fadt + 46)).toBe(9);
    expect(ramU32(fadt + 48)).toBe(0);
    expect(ramU8(fadt + 52)).toBe(0); // ACPI_ENABLE
    expect(ramU8(fadt + 53)).toBe(0); // ACPI_DISABLE
    expect(ramU32(fadt + 56)).toBe(0x600);
    expect(ramU32(fadt + 60)).toBe(0);
    expect(ramU32(fadt + 64)).toBe(0x604);
    expect(ramU32(fadt + 68)).toBe(0);
    expect(ramU32(fadt + 72)).toBe(0);
    expect(ramU32(fadt + 76)).toBe(0x608);
    expect(ramU32(fadt + 80)).toBe(0); // no GPE0
    expect(ramU8(fadt + 88)).toBe(4);
    expect(ramU8(fadt + 89)).toBe(2);
    expect(ramU8(fadt + 91)).toBe(4);
    expect(ramU8(fadt + 92)).toBe(0);
    expect(ramU16(fadt + 96)).toBe(101);  // no C2
    expect(ramU16(fadt + 98)).toBe(1001); // no C3
    expect(ramU8(fadt + 108)).toBe(0x32); // century
  });

  it("has the X_ generic addresses of the same blocks: system I/O, 32/16/32 bits", () => {
    build();
    let fadt = FADT_ADDRESS;
    expect(ramU8(fadt + 148)).toBe(1);
    expect(ramU8(fadt + 149)).toBe(32);
    expect(ramU64(fadt + 152)).toBe(0x600);
    expect(ramU8(fadt + 172)).toBe(1);
    expect(ramU8(fadt + 173)).toBe(16);
    expect(ramU64(fadt + 176)).toBe(0x604);
    expect(ramU8(fadt + 208)).toBe(1);
    expect(ramU8(fadt + 209)).toBe(32);
    expect(ramU64(fadt + 212)).toBe(0x608);
    expect(ramU8(fadt + 160)).toBe(0); // no PM1b, PM2, GPE
    expect(ramU8(fadt + 184)).toBe(0);
    expect(ramU8(fadt + 196)).toBe(0);
    expect(ramU8(fadt + 220)).toBe(0);
  });

  it("sets WBINVD, PROC_C1, SLP_BUTTON, FIX_RTC, TMR_VAL_EXT, RESET_REG_SUP and nothing else", () => {
    build();
    let flags = ramU32(FADT_ADDRESS + 112);
    expect(flags).toBe(0x565);
    expect(flags & (1 << 4)).toBe(0);   // PWR_BUTTON clear: the fixed power button of acpi_pm.ts
    expect(flags & (1 << 7)).toBe(0);   // no RTC_S4
    expect(flags & (1 << 20)).toBe(0);  // not hardware-reduced
  });

  it("says legacy devices and an 8042, no VGA, no MSI, and a CMOS RTC", () => {
    build();
    expect(ramU16(FADT_ADDRESS + 109)).toBe(0x000f);
  });

  it("resets by writing 6 to port 0xCF9", () => {
    build();
    let reset = FADT_ADDRESS + 116;
    expect(ramU8(reset)).toBe(1);      // system I/O
    expect(ramU8(reset + 1)).toBe(8);
    expect(ramU8(reset + 2)).toBe(0);
    expect(ramU64(reset + 4)).toBe(0xcf9);
    expect(ramU8(FADT_ADDRESS + 128)).toBe(6);
  });

  it("names the hypervisor \"tshv-hv\"", () => {
    build();
    expect(ramAscii(FADT_ADDRESS + 268, 7)).toBe("tshv-hv");
    expect(ramU8(FADT_ADDRESS + 275)).toBe(0);
  });
});

describe("the DSDT", () => {
  it("starts with \\_S5_ = Package(4) {5, 5, 0, 0}", () => {
    build();
    let dsdt = dsdtAddress();
    // NameOp '\' "_S5_" PackageOp PkgLength(8) NumElements(4) 5 5 Zero Zero
    let s5: u8[] = [0x08, 0x5c, 0x5f, 0x53, 0x35, 0x5f, 0x12, 0x08, 0x04, 0x0a, 0x05, 0x0a, 0x05, 0x00, 0x00];
    expect(findBytes(dsdt + 36, 64, s5)).toBe(0);
  });

  it("has \\_SB_.PCI0 with _HID EISAID(\"PNP0A03\"), _ADR, _UID and _BBN 0", () => {
    build();
    let dsdt = dsdtAddress();
    let length = ramU32(dsdt + 4);
    let scope: u8[] = [0x5c, 0x5f, 0x53, 0x42, 0x5f, 0x5b, 0x82]; // "\_SB_" then DeviceOp
    expect(findBytes(dsdt, length, scope) > 0).toBe(true);
    let hid: u8[] = [0x50, 0x43, 0x49, 0x30, 0x08, 0x5f, 0x48, 0x49, 0x44, 0x0c, 0x41, 0xd0, 0x0a, 0x03];
    expect(findBytes(dsdt, length, hid) > 0).toBe(true);
    let names: u8[] = [0x08, 0x5f, 0x41, 0x44, 0x52, 0x00, 0x08, 0x5f, 0x55, 0x49, 0x44, 0x00,
                       0x08, 0x5f, 0x42, 0x42, 0x4e, 0x00];
    expect(findBytes(dsdt, length, names) > 0).toBe(true);
  });

  it("gives PCI0 buses 0-0xFF, the config ports and both I/O windows", () => {
    build();
    let dsdt = dsdtAddress();
    let length = ramU32(dsdt + 4);
    let bus: u8[] = [0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00, 0, 0, 0, 0, 0xff, 0, 0, 0, 0x00, 0x01];
    expect(findBytes(dsdt, length, bus) > 0).toBe(true);
    let config: u8[] = [0x47, 0x01, 0xf8, 0x0c, 0xf8, 0x0c, 0x01, 0x08];
    expect(findBytes(dsdt, length, config) > 0).toBe(true);
    let low: u8[] = [0x88, 0x0d, 0x00, 0x01, 0x0c, 0x03, 0, 0, 0x00, 0x00, 0xf7, 0x0c, 0, 0, 0xf8, 0x0c];
    expect(findBytes(dsdt, length, low) > 0).toBe(true);
    let high: u8[] = [0x88, 0x0d, 0x00, 0x01, 0x0c, 0x03, 0, 0, 0x00, 0x0d, 0xff, 0xff, 0, 0, 0x00, 0xf3];
    expect(findBytes(dsdt, length, high) > 0).toBe(true);
  });

  it("puts the PCI MMIO window from the end of RAM, rounded up to 256 MiB, to 0xFEBFFFFF", () => {
    build(1, 300 * MiB);
    let dsdt = dsdtAddress();
    let window: u8[] = [0x87, 0x17, 0x00, 0x00, 0x0c, 0x01, 0, 0, 0, 0, 0x00, 0x00, 0x00, 0x20, 0xff, 0xff, 0xbf, 0xfe,
                        0, 0, 0, 0, 0x00, 0x00, 0xc0, 0xde];
    expect(findBytes(dsdt, ramU32(dsdt + 4), window) > 0).toBe(true);
    expect(pciMmioBase(1 * MiB)).toBe(256 * MiB);
    expect(pciMmioBase(256 * MiB)).toBe(256 * MiB);
    expect(pciMmioBase(256 * MiB + 1)).toBe(512 * MiB);
    expect(pciMmioBase(0xf0000000)).toBe(0xf0000000);
  });

  it("leaves the MMIO window out when RAM reaches past 0xF0000000", () => {
    expect(pciMmioBase(0xf0000001)).toBe(0);
    expect(pciMmioBase(4 * GiB)).toBe(0);
    expect(pciMmioBase(0xffffffffffffffff)).toBe(0);
    build(1, 4 * GiB);
    let dsdt = dsdtAddress();
    let memoryDescriptor: u8[] = [0x87, 0x17, 0x00, 0x00];
    expect(findBytes(dsdt, ramU32(dsdt + 4), memoryDescriptor)).toBe(-1);
  });

  it("describes the RTC, the keyboard and COM1 with their ports and IRQs", () => {
    build();
    let dsdt = dsdtAddress();
    let length = ramU32(dsdt + 4);
    let rtc: u8[] = [0x0c, 0x41, 0xd0, 0x0b, 0x00];
    let rtcResources: u8[] = [0x47, 0x01, 0x70, 0x00, 0x70, 0x00, 0x01, 0x02, 0x22, 0x00, 0x01, 0x79];
    let keyboard: u8[] = [0x0c, 0x41, 0xd0, 0x03, 0x03];
    let keyboardResources: u8[] = [0x47, 0x01, 0x60, 0x00, 0x60, 0x00, 0x01, 0x01,
                                   0x47, 0x01, 0x64, 0x00, 0x64, 0x00, 0x01, 0x01, 0x22, 0x02, 0x00, 0x79];
    let com1: u8[] = [0x0c, 0x41, 0xd0, 0x05, 0x01];
    let com1Resources: u8[] = [0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08, 0x22, 0x10, 0x00, 0x79];
    expect(findBytes(dsdt, length, rtc) > 0).toBe(true);
    expect(findBytes(dsdt, length, rtcResources) > 0).toBe(true);
    expect(findBytes(dsdt, length, keyboard) > 0).toBe(true);
    expect(findBytes(dsdt, length, keyboardResources) > 0).toBe(true);
    expect(findBytes(dsdt, length, com1) > 0).toBe(true);
    expect(findBytes(dsdt, length, com1Resources) > 0).toBe(true);
  });

  it("ends every resource template with an End Tag whose checksum makes it sum to 0", () => {
    build();
    let dsdt = dsdtAddress();
    let length = ramU32(dsdt + 4);
    let templates = 0;
    // Each _CRS: NameOp "_CRS" BufferOp PkgLength BufferSize bytes.
    for (let i: u32 = 0; i + 5 < length; i++) {
      let at = dsdt + i;
      if (!(ramU8(at) == 0x08 && ramAscii(at + 1, 4) == "_CRS" && ramU8(at + 5) == 0x11)) continue;
      let lead = ramU8(at + 6);
      let pkgBytes: u32 = 1 + (<u32>lead >> 6);
      let size = at + 6 + pkgBytes;
      let bytes: u32 = ramU8(size) == 0x0a ? ramU8(size + 1) : ramU16(size + 1);
      let data = size + (ramU8(size) == 0x0a ? 2 : 3);
      expect(ramU8(data + bytes - 2)).toBe(0x79);
      expect(ramSum(data, bytes)).toBe(0);
      templates++;
    }
    expect(templates).toBe(4);
  });
});

describe("buildAcpiTables, hostile", () => {
  it("fits 64 vCPUs, and the most the MADT can name (254)", () => {
    build(64);
    expect(ramU32(MADT_ADDRESS + 4)).toBe(44 + 64 * 8 + 12 + 20 + 6);
    expect(ramU8(MADT_ADDRESS + 44 + 63 * 8 + 3)).toBe(63);
    expect(ramU8(MADT_ADDRESS + 44 + 64 * 8 + 2)).toBe(64); // the I/O APIC's ID
    expect(ramSum(dsdtAddress(), ramU32(dsdtAddress() + 4))).toBe(0);
    build(254);
    expect(ramU8(MADT_ADDRESS + 44 + 253 * 8 + 3)).toBe(253);
    expect(scanForRsdp()).toBe(ACPI_RSDP_ADDRESS);
  });

  it("refuses 0 vCPUs and more than 254", () => {
    let platform = new FakePlatform();
    expect(buildAcpiTables(platform, 0, 16 * MiB)).toBe(false);
    expect(buildAcpiTables(platform, 255, 16 * MiB)).toBe(false);
    expect(buildAcpiTables(platform, 0xffffffff, 16 * MiB)).toBe(false);
    expect(platform.guestWrites).toBe(0);
  });

  it("builds for memory sizes from 1 MiB up to 64 GiB", () => {
    let sizes: u64[] = [1 * MiB, 2 * MiB, 16 * MiB + 4096, 256 * MiB, 3 * GiB, 0xf0000000, 4 * GiB, 64 * GiB];
    for (let i = 0; i < sizes.length; i++) {
      build(2, sizes[i]);
      expect(scanForRsdp()).toBe(ACPI_RSDP_ADDRESS);
      expect(ramSum(dsdtAddress(), ramU32(dsdtAddress() + 4))).toBe(0);
    }
  });

  it("refuses less than 1 MiB of RAM, and RAM the platform will not write", () => {
    let platform = new FakePlatform();
    platform.ramBytes = 16 * MiB;
    expect(buildAcpiTables(platform, 1, MiB - 1)).toBe(false);
    expect(buildAcpiTables(platform, 1, 0)).toBe(false);
    platform.ramBytes = 0xf0000; // the tables fit, the RSDP does not
    expect(buildAcpiTables(platform, 1, 16 * MiB)).toBe(false);
    platform.ramBytes = 0x10000;
    expect(buildAcpiTables(platform, 1, 16 * MiB)).toBe(false);
  });
});

const AML: usize = memory.data(0x3000, 16);
const aml = changetype<AmlWriter>(memory.data(offsetof<AmlWriter>(), 16));

describe("the AML encodings", () => {
  it("encodes a PkgLength in one byte up to 63, with 1-3 more bytes above", () => {
    expect(pkgLengthExtraBytes(62)).toBe(0);  // 62 + 1 = 63
    expect(pkgLengthExtraBytes(63)).toBe(1);
    expect(pkgLengthExtraBytes(0xffd)).toBe(1);
    expect(pkgLengthExtraBytes(0xffe)).toBe(2);
    expect(pkgLengthExtraBytes(0xffffc)).toBe(2);
    expect(pkgLengthExtraBytes(0xffffd)).toBe(3);
    expect(pkgLengthExtraBytes(0x0ffffffc)).toBe(4); // past 2^28 - 1: not encodable
  });

  it("inserts a 2-byte PkgLength in front of 100 bytes of package, moving them", () => {
    aml.reset(AML, 0x3000);
    let start = aml.beginPackage(99); // NumElements, then 99 Zeros: 100 bytes
    for (let i = 0; i < 99; i++) aml.integer(0);
    aml.byte(0xaa); // a marker after the last element
    aml.end(start);
    expect(aml.failed).toBe(false);
    expect(load<u8>(AML)).toBe(0x12);
    // 101 bytes of content + 2 of PkgLength = 103 = 0x67: lead 0x47, then 0x06.
    expect(load<u8>(AML, 1)).toBe(0x47);
    expect(load<u8>(AML, 2)).toBe(0x06);
    expect(load<u8>(AML, 3)).toBe(99);
    expect(load<u8>(AML + 3 + 100)).toBe(0xaa);
    expect(aml.length).toBe(1 + 2 + 101);
  });

  it("inserts a 3-byte PkgLength for more than 4 KiB", () => {
    aml.reset(AML, 0x3000);
    let start = aml.beginScope("TEST");
    for (let i = 0; i < 0x1100; i++) aml.byte(0);
    aml.end(start);
    expect(aml.failed).toBe(false);
    let value: u32 = 4 + 0x1100 + 3;
    expect(load<u8>(AML, 1)).toBe(<u8>(0x80 | (value & 0xf)));
    expect(load<u8>(AML, 2)).toBe(<u8>(value >> 4));
    expect(load<u8>(AML, 3)).toBe(<u8>(value >> 12));
    expect(load<u8>(AML, 4)).toBe(0x54); // 'T': the NameString moved up
  });

  it("writes NameStrings with the root and the dual- and multi-name prefixes", () => {
    aml.reset(AML, 64);
    aml.nameString("\\_SB_.PCI0");
    expect(aml.length).toBe(10);
    expect(load<u8>(AML)).toBe(0x5c);
    expect(load<u8>(AML, 1)).toBe(0x2e);
    expect(load<u8>(AML, 6)).toBe(0x50);
    aml.reset(AML, 64);
    aml.nameString("_SB_.PCI0.COM1");
    expect(load<u8>(AML)).toBe(0x2f);
    expect(load<u8>(AML, 1)).toBe(3);
    expect(aml.length).toBe(14);
    aml.reset(AML, 64);
    aml.nameString("\\");
    expect(load<u8>(AML, 1)).toBe(0x00); // NullName
    expect(aml.failed).toBe(false);
  });

  it("refuses names that are not 4-character segments of A-Z, 0-9 and _", () => {
    let bad: string[] = ["RTC", "rtc_", "1ABC", "_SB_PCI0", "_SB_,PCI0", "ABCD."];
    for (let i = 0; i < bad.length; i++) {
      aml.reset(AML, 64);
      aml.nameString(bad[i]);
      expect(aml.failed).toBe(true);
    }
  });

  it("compresses EISA IDs, and refuses malformed ones", () => {
    aml.reset(AML, 64);
    aml.eisaId("PNP0A03");
    expect(load<u8>(AML)).toBe(0x0c);
    expect(load<u32>(AML, 1)).toBe(0x030ad041);
    let bad: string[] = ["pnp0a03", "PNP0A0", "PNP0A0G", "PN10A03"];
    for (let i = 0; i < bad.length; i++) {
      aml.reset(AML, 64);
      aml.eisaId(bad[i]);
      expect(aml.failed).toBe(true);
    }
  });

  it("encodes integers in their shortest form", () => {
    aml.reset(AML, 64);
    aml.integer(0);
    aml.integer(1);
    aml.integer(5);
    aml.integer(0x1234);
    aml.integer(0x12345678);
    aml.integer(0x123456789);
    expect(aml.length).toBe(1 + 1 + 2 + 3 + 5 + 9);
    expect(load<u8>(AML, 2)).toBe(0x0a);
    expect(load<u8>(AML, 4)).toBe(0x0b);
    expect(load<u8>(AML, 7)).toBe(0x0c);
    expect(load<u8>(AML, 12)).toBe(0x0e);
    expect(load<u64>(AML, 13)).toBe(0x123456789);
  });

  it("fails, without writing past its region, when the content does not fit", () => {
    memory.fill(AML, 0xee, 64);
    aml.reset(AML, 16);
    let start = aml.beginScope("\\_SB_");
    for (let i = 0; i < 20; i++) aml.byte(0);
    aml.end(start);
    expect(aml.failed).toBe(true);
    expect(aml.length <= 16).toBe(true);
    expect(load<u8>(AML, 16)).toBe(0xee);
    // A package that fits exactly but leaves no room for its PkgLength.
    aml.reset(AML, 16);
    let tight = aml.beginPackage(0);
    for (let i = 0; i < 14; i++) aml.byte(0);
    aml.end(tight);
    expect(aml.failed).toBe(true);
    expect(load<u8>(AML, 16)).toBe(0xee);
  });
});

describe("loadAcpiTables, the loaders' call", () => {
  it("builds the tables, or says why not", () => {
    let platform = new FakePlatform();
    platform.ramBytes = 16 * MiB;
    let why = new TextWriter(WHY, 256);
    expect(loadAcpiTables(platform, 2, 16 * MiB, why)).toBe(true);
    expect(scanForRsdp()).toBe(ACPI_RSDP_ADDRESS);
    expect(loadAcpiTables(platform, 0, 16 * MiB, why.clear())).toBe(false);
    expect(why.toString()).toBe("the ACPI tables cannot describe 0 vCPUs (1 to 254)");
    platform.ramBytes = 0x80000;
    expect(loadAcpiTables(platform, 1, 16 * MiB, why.clear())).toBe(false);
    expect(why.toString()).toBe("cannot write the ACPI tables below 1 MiB (RSDP at 0xf0000)");
  });
});
