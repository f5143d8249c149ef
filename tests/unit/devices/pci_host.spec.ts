import {
  PciHost, CONFIG_ADDRESS_ENABLE, HOST_BRIDGE_COMMAND_FIXED,
} from "../../../assembly/devices/pci_host";
import { ResetControl } from "../../../assembly/devices/reset_control";

const HOST: usize = memory.data(offsetof<PciHost>(), 16);
const RESET: usize = memory.data(offsetof<ResetControl>(), 16);

// Offsets in 0xCF8-0xCFF.
const CF8: u32 = 0;
const CF9: u32 = 1;
const CFA: u32 = 2;
const CFB: u32 = 3;
const CFC: u32 = 4;

function newHost(): PciHost {
  memory.fill(HOST, 0xee, offsetof<PciHost>()); // reset() must set every field
  memory.fill(RESET, 0xee, offsetof<ResetControl>());
  let host = changetype<PciHost>(HOST);
  host.resetControl = changetype<ResetControl>(RESET);
  host.reset();
  return host;
}

// CONFIG_ADDRESS for bus/device/function and register, enabled.
function configAddress(bus: u32, device: u32, fn: u32, register: u32): u32 {
  return CONFIG_ADDRESS_ENABLE | (bus << 16) | (device << 11) | (fn << 8) | register;
}

function readConfig(host: PciHost, bus: u32, device: u32, fn: u32, register: u32, size: u32): u32 {
  host.write(CF8, 4, configAddress(bus, device, fn, register & 0xfc));
  return host.read(CFC + (register & 3), size);
}

function writeConfig(host: PciHost, bus: u32, device: u32, fn: u32, register: u32, size: u32, value: u32): void {
  host.write(CF8, 4, configAddress(bus, device, fn, register & 0xfc));
  host.write(CFC + (register & 3), size, value);
}

describe("PCI configuration mechanism #1 (PCI 3.0, 3.2.2.3.2)", () => {
  it("reads CONFIG_ADDRESS back as written, reserved bits 30-24 and 1-0 as 0", () => {
    let host = newHost();
    expect(host.read(CF8, 4)).toBe(0);
    host.write(CF8, 4, 0x80000000);
    expect(host.read(CF8, 4)).toBe(0x80000000);
    host.write(CF8, 4, 0xffffffff);
    expect(host.read(CF8, 4)).toBe(0x80fffffc);
  });

  it("passes Linux's type 1 probe: a byte write to 0xCFB leaves CONFIG_ADDRESS alone", () => {
    let host = newHost();
    host.write(CF8, 4, 0x12345678);
    host.write(CFB, 1, 0x01);
    expect(host.read(CF8, 4)).toBe(0x12345678 & 0x80fffffc);
    host.write(CF8, 4, 0x80000000);
    expect(host.read(CF8, 4)).toBe(0x80000000);
  });

  it("fails Linux's type 2 probe: byte reads of 0xCF8 and 0xCFA are not CONFIG_ADDRESS", () => {
    let host = newHost();
    host.write(CFB, 1, 0x00);
    host.write(CF8, 1, 0x00);
    host.write(CFA, 1, 0x00);
    expect(host.read(CF8, 1)).toBe(0xff);
    expect(host.read(CFA, 1)).toBe(0xff);
    expect(host.read(CF8, 2)).toBe(0x00ff); // 0xCF8 nothing, 0xCF9 the reset register (0)
    expect(host.read(CF8, 4)).toBe(0);
  });

  it("reads the host bridge's vendor and device at 00:00.0: 8086:1237", () => {
    let host = newHost();
    expect(readConfig(host, 0, 0, 0, 0x00, 4)).toBe(0x12378086);
    expect(readConfig(host, 0, 0, 0, 0x00, 2)).toBe(0x8086);
    expect(readConfig(host, 0, 0, 0, 0x02, 2)).toBe(0x1237);
  });

  it("selects byte lanes with the CONFIG_DATA port: 0xCFC + n is byte n", () => {
    let host = newHost();
    expect(readConfig(host, 0, 0, 0, 0x00, 1)).toBe(0x86);
    expect(readConfig(host, 0, 0, 0, 0x01, 1)).toBe(0x80);
    expect(readConfig(host, 0, 0, 0, 0x02, 1)).toBe(0x37);
    expect(readConfig(host, 0, 0, 0, 0x03, 1)).toBe(0x12);
    expect(readConfig(host, 0, 0, 0, 0x01, 2)).toBe(0x3780); // a word at lanes 1-2
  });

  it("describes a host bridge: class 06/00/00, revision 2, header type 0, no BIST", () => {
    let host = newHost();
    expect(readConfig(host, 0, 0, 0, 0x08, 4)).toBe(0x06000002);
    expect(readConfig(host, 0, 0, 0, 0x0e, 1)).toBe(0x00); // single function
    expect(readConfig(host, 0, 0, 0, 0x0f, 1)).toBe(0x00);
  });

  it("reads command 0x0006 and status 0 after reset", () => {
    let host = newHost();
    expect(readConfig(host, 0, 0, 0, 0x04, 4)).toBe(0x00000006);
  });

  it("keeps only the 82441FX's writable command bits, memory and bus master staying on", () => {
    let host = newHost();
    writeConfig(host, 0, 0, 0, 0x04, 2, 0xffff);
    expect(readConfig(host, 0, 0, 0, 0x04, 2)).toBe(0x0156);
    writeConfig(host, 0, 0, 0, 0x04, 2, 0x0000);
    expect(readConfig(host, 0, 0, 0, 0x04, 2)).toBe(HOST_BRIDGE_COMMAND_FIXED);
    writeConfig(host, 0, 0, 0, 0x05, 1, 0x01); // SERR# enable by the high byte alone
    expect(readConfig(host, 0, 0, 0, 0x04, 2)).toBe(0x0106);
  });

  it("leaves status at 0 when software writes ones to clear its error bits", () => {
    let host = newHost();
    writeConfig(host, 0, 0, 0, 0x04, 4, 0xffff0000);
    expect(readConfig(host, 0, 0, 0, 0x06, 2)).toBe(0);
    expect(readConfig(host, 0, 0, 0, 0x04, 2)).toBe(0x0006); // a dword write with command 0
  });

  it("keeps latency timer bits 7-3", () => {
    let host = newHost();
    writeConfig(host, 0, 0, 0, 0x0d, 1, 0xff);
    expect(readConfig(host, 0, 0, 0, 0x0c, 4)).toBe(0x0000f800);
  });

  it("has no BARs: writing all ones to size them reads back 0", () => {
    let host = newHost();
    for (let bar: u32 = 0x10; bar <= 0x24; bar += 4) {
      writeConfig(host, 0, 0, 0, bar, 4, 0xffffffff);
      expect(readConfig(host, 0, 0, 0, bar, 4)).toBe(0);
    }
    writeConfig(host, 0, 0, 0, 0x30, 4, 0xfffff800); // expansion ROM
    expect(readConfig(host, 0, 0, 0, 0x30, 4)).toBe(0);
  });

  it("has no subsystem IDs, capability list, interrupt pin or line", () => {
    let host = newHost();
    expect(readConfig(host, 0, 0, 0, 0x2c, 4)).toBe(0);
    expect(readConfig(host, 0, 0, 0, 0x34, 4)).toBe(0);
    writeConfig(host, 0, 0, 0, 0x3c, 1, 0x0b);
    expect(readConfig(host, 0, 0, 0, 0x3c, 4)).toBe(0);
  });

  it("reads all ones from every other device and function: nothing is there", () => {
    let host = newHost();
    expect(readConfig(host, 0, 1, 0, 0x00, 4)).toBe(0xffffffff);
    expect(readConfig(host, 0, 31, 0, 0x00, 2)).toBe(0xffff);
    expect(readConfig(host, 0, 0, 1, 0x00, 4)).toBe(0xffffffff);
    expect(readConfig(host, 0, 0, 7, 0x00, 1)).toBe(0xff);
    expect(readConfig(host, 1, 0, 0, 0x00, 4)).toBe(0xffffffff);
    expect(readConfig(host, 255, 31, 7, 0xfc, 4)).toBe(0xffffffff);
  });

  it("drops writes to absent functions, leaving the host bridge alone", () => {
    let host = newHost();
    writeConfig(host, 0, 1, 0, 0x04, 2, 0xffff);
    writeConfig(host, 1, 0, 0, 0x04, 2, 0xffff);
    expect(readConfig(host, 0, 1, 0, 0x04, 2)).toBe(0xffff);
    expect(readConfig(host, 0, 0, 0, 0x04, 2)).toBe(0x0006);
  });

  it("reads all ones from CONFIG_DATA with the enable bit clear, and drops writes", () => {
    let host = newHost();
    host.write(CF8, 4, 0x00000000); // 00:00.0 register 0, not enabled
    expect(host.read(CFC, 4)).toBe(0xffffffff);
    expect(host.read(CFC + 2, 2)).toBe(0xffff);
    host.write(CF8, 4, 0x00000004);
    host.write(CFC, 2, 0xffff);
    expect(readConfig(host, 0, 0, 0, 0x04, 2)).toBe(0x0006);
  });

  it("answers the lanes that fit and all ones past 0xCFF for an access running off the end", () => {
    let host = newHost();
    host.write(CF8, 4, configAddress(0, 0, 0, 0));
    expect(host.read(CFC + 2, 4)).toBe(0xffff1237);
    expect(host.read(CFC + 3, 2)).toBe(0xff12);
  });

  it("returns to its power-on state on reset", () => {
    let host = newHost();
    writeConfig(host, 0, 0, 0, 0x04, 2, 0x0150);
    writeConfig(host, 0, 0, 0, 0x0d, 1, 0x40);
    host.reset();
    expect(host.read(CF8, 4)).toBe(0);
    expect(readConfig(host, 0, 0, 0, 0x04, 2)).toBe(0x0006);
    expect(readConfig(host, 0, 0, 0, 0x0d, 1)).toBe(0);
  });
});

describe("the Reset Control register at 0xCF9 (PIIX RC, ICH RST_CNT)", () => {
  it("is reached by a byte access at 0xCF9, not CONFIG_ADDRESS", () => {
    let host = newHost();
    host.write(CF8, 4, 0x80000000);
    host.write(CF9, 1, 0x02);
    expect(host.read(CF8, 4)).toBe(0x80000000);
    expect(host.read(CF9, 1)).toBe(0x02);
    expect(host.resetControl.requested).toBe(false);
  });

  it("requests a reset when bit 2 goes from 0 to 1, as the ACPI reset value 0x06 does", () => {
    let host = newHost();
    host.write(CF9, 1, 0x06);
    expect(host.resetControl.requested).toBe(true);
    expect(host.resetControl.requestedKind).toBe(0x02); // hard
  });

  it("follows Linux's reboot=pci sequence: 0x02, then 0x06", () => {
    let host = newHost();
    let before = host.read(CF9, 1) & ~0x06;
    host.write(CF9, 1, before | 0x02);
    expect(host.resetControl.requested).toBe(false);
    host.write(CF9, 1, before | 0x06);
    expect(host.resetControl.requested).toBe(true);
  });

  it("reads back bits 1 and 3 only, bit 2 being cleared by the reset it starts", () => {
    let host = newHost();
    host.write(CF9, 1, 0xff);
    expect(host.read(CF9, 1)).toBe(0x0a);
    expect(host.resetControl.requestedKind).toBe(0x0a); // hard and full
  });

  it("takes a word write at 0xCF8 byte by byte: its high byte reaches the reset register", () => {
    let host = newHost();
    host.write(CF8, 4, 0x80000000);
    host.write(CF8, 2, 0x0600);
    expect(host.resetControl.requested).toBe(true);
    expect(host.read(CF8, 4)).toBe(0x80000000);
  });

  it("forgets a request on reset", () => {
    let host = newHost();
    host.write(CF9, 1, 0x0e);
    host.reset();
    expect(host.resetControl.requested).toBe(false);
    expect(host.read(CF9, 1)).toBe(0);
  });

  it("reads all ones and drops writes when no reset register is wired", () => {
    let host = newHost();
    host.resetControl = changetype<ResetControl>(0);
    expect(host.read(CF9, 1)).toBe(0xff);
    host.write(CF9, 1, 0x06);
    host.reset();
  });
});

describe("the PCI host bridge under hostile input", () => {
  it("never traps, whatever is written at any offset and size, and keeps its fixed registers", () => {
    let host = newHost();
    for (let size: u32 = 1; size <= 4; size++) {
      for (let offset: u32 = 0; offset < 10; offset++) {
        for (let value: u32 = 0; value < 256; value++) {
          let wide = value | (value << 8) | (value << 16) | (value << 24);
          host.write(offset, size, wide);
          host.read(offset, size);
          host.write(CF8, 4, wide);         // every bus/device/function/register
          host.write(CFC + (value & 3), size, ~wide);
          host.read(CFC + (value & 3), size);
        }
      }
    }
    host.read(0xffffffff, 4);
    host.write(0xfffffffe, 4, 0);
    host.read(4, 0);
    host.write(4, 0, 0);
    expect(readConfig(host, 0, 0, 0, 0x00, 4)).toBe(0x12378086);
    expect(readConfig(host, 0, 0, 0, 0x08, 4)).toBe(0x06000002);
    expect(readConfig(host, 0, 0, 0, 0x04, 2) & 0xfeaf).toBe(0x0006);
  });
});
