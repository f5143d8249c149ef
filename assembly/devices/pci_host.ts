// The PCI host bridge: configuration mechanism #1 at ports 0xCF8-0xCFF (PCI
// Local Bus Specification 3.0, 3.2.2.3.2) and the one device on the guest's
// PCI bus, the host bridge itself at 00:00.0, an Intel 440FX-like (82441FX
// PMC) that a kernel's PCI scan finds and accepts as a PC.
//
// CONFIG_ADDRESS (0xCF8) is reached by dword accesses only; bit 31 enables
// the mechanism, bits 23-16 name the bus, 15-11 the device, 10-8 the
// function, 7-2 the dword register; reserved bits 30-24 and 1-0 read as 0.
// CONFIG_DATA (0xCFC-0xCFF) reaches that dword of configuration space, a
// byte, word or dword access at 0xCFC + n taking byte lanes n and up. With
// the enable bit clear, or for any bus/device/function but 00:00.0 (none
// exists), reads are all ones (vendor ID 0xFFFF: nothing there, 3.2.2.3.2)
// and writes are dropped.
//
// The same eight ports hold the PIIX's Reset Control register at 0xCF9
// (devices/reset_control.ts, `resetControl`, wired by the machine): a byte
// access there goes to it. Every access other than a dword at 0xCF8 or one
// inside 0xCFC-0xCFF is taken byte by byte, as the chipset decodes it: 0xCF9
// is the reset register, 0xCF8, 0xCFA and 0xCFB are nothing (all ones), so
// Linux's probe (a byte write to 0xCFB, then dword reads of 0xCF8) and its
// type 2 probe (byte reads of 0xCF8 and 0xCFA) see mechanism #1 only.
//
// The host bridge's configuration header (82441FX datasheet 3.2; PCI 3.0,
// 6.1): vendor 0x8086, device 0x1237, revision 2, class 0x060000 (host
// bridge), header type 0 (one function). Command reads 0x0006 (memory and
// bus master hard-wired on) and keeps only the bits the 82441FX lets
// software set (4 MWI, 6 parity, 8 SERR#); status reads 0 (no capability
// list, no error ever signalled; the real chip's 0x0280 describes bus
// timing a virtual bus does not have); the latency timer keeps bits 7-3.
// BARs, subsystem IDs, the interrupt pin and line and everything past the
// header (the 82441FX's DRAM and PAM registers) read 0 and drop writes: the
// guest's memory map is fixed by the hypervisor, not programmed here.

import { ResetControl } from "./reset_control";

// Offsets in the 0xCF8-0xCFF range.
export const PCI_CONFIG_ADDRESS_OFFSET: u32 = 0;
export const PCI_RESET_CONTROL_OFFSET: u32 = 1;  // port 0xCF9
export const PCI_CONFIG_DATA_OFFSET: u32 = 4;
export const PCI_HOST_PORTS: u32 = 8;

// CONFIG_ADDRESS (3.2.2.3.2, figure 3-2).
export const CONFIG_ADDRESS_ENABLE: u32 = 0x80000000;
const CONFIG_ADDRESS_KEPT: u32 = 0x80fffffc;     // bits 30-24 and 1-0 are reserved, read 0
const CONFIG_ADDRESS_FUNCTION: u32 = 0x00ffff00; // bus, device, function
const CONFIG_ADDRESS_REGISTER: u32 = 0x000000fc;

// Configuration header registers (PCI 3.0, 6.1, figure 6-1), dword offsets.
export const PCI_VENDOR_DEVICE: u32 = 0x00;
export const PCI_COMMAND_STATUS: u32 = 0x04;
export const PCI_CLASS_REVISION: u32 = 0x08;
export const PCI_HEADER_LATENCY: u32 = 0x0c;    // BIST, header type, latency timer, cache line size

// The host bridge's identity (82441FX datasheet 3.2.1-3.2.6).
export const HOST_BRIDGE_VENDOR: u32 = 0x8086;
export const HOST_BRIDGE_DEVICE: u32 = 0x1237;
export const HOST_BRIDGE_REVISION: u32 = 0x02;
export const HOST_BRIDGE_CLASS: u32 = 0x060000;  // bridge, host bridge, no programming interface
// PCICMD: memory access (1) and bus master (2) are hard-wired on; MWI (4),
// parity error response (6) and SERR# (8) are read/write.
export const HOST_BRIDGE_COMMAND_FIXED: u16 = 0x0006;
export const HOST_BRIDGE_COMMAND_WRITABLE: u16 = 0x0150;
const LATENCY_TIMER_WRITABLE: u8 = 0xf8;

@unmanaged
export class PciHost {
  resetControl: ResetControl; // port 0xCF9; null: that byte reads all ones, writes dropped
  address: u32;               // CONFIG_ADDRESS as kept
  command: u16;               // the host bridge's PCICMD
  latencyTimer: u8;

  // The power-on state; the reset register's too. The wiring stays.
  reset(): void {
    this.address = 0;
    this.command = HOST_BRIDGE_COMMAND_FIXED;
    this.latencyTimer = 0;
    if (changetype<usize>(this.resetControl) != 0) this.resetControl.reset();
  }

  read(offset: u32, size: u32): u32 {
    if (offset == PCI_CONFIG_ADDRESS_OFFSET && size == 4) return this.address;
    if (isDataAccess(offset, size)) return this.readData(offset - PCI_CONFIG_DATA_OFFSET, size);
    let value: u32 = 0;
    for (let i: u32 = 0; i < size && i < 4; i++) value |= this.readByte(offset + i) << (i * 8);
    return value;
  }

  write(offset: u32, size: u32, value: u32): void {
    if (offset == PCI_CONFIG_ADDRESS_OFFSET && size == 4) {
      this.address = value & CONFIG_ADDRESS_KEPT;
      return;
    }
    if (isDataAccess(offset, size)) {
      this.writeData(offset - PCI_CONFIG_DATA_OFFSET, size, value);
      return;
    }
    for (let i: u32 = 0; i < size && i < 4; i++) this.writeByte(offset + i, (value >> (i * 8)) & 0xff);
  }

  // One port of an access split into bytes. Past offset 7 is outside this
  // device (an access that runs over the end): nothing there.
  private readByte(offset: u32): u32 {
    if (offset == PCI_RESET_CONTROL_OFFSET) {
      return changetype<usize>(this.resetControl) != 0 ? this.resetControl.read() & 0xff : 0xff;
    }
    if (offset >= PCI_CONFIG_DATA_OFFSET && offset < PCI_HOST_PORTS) {
      return this.readData(offset - PCI_CONFIG_DATA_OFFSET, 1);
    }
    return 0xff;
  }

  private writeByte(offset: u32, value: u32): void {
    if (offset == PCI_RESET_CONTROL_OFFSET) {
      if (changetype<usize>(this.resetControl) != 0) this.resetControl.write(value);
      return;
    }
    if (offset >= PCI_CONFIG_DATA_OFFSET && offset < PCI_HOST_PORTS) {
      this.writeData(offset - PCI_CONFIG_DATA_OFFSET, 1, value);
    }
  }

  // A CONFIG_DATA access of `size` bytes from byte lane `lane`.
  private readData(lane: u32, size: u32): u32 {
    let mask = laneMask(size);
    if (!this.addressesHostBridge()) return mask;
    return (this.hostBridgeRead(this.address & CONFIG_ADDRESS_REGISTER) >> (lane * 8)) & mask;
  }

  private writeData(lane: u32, size: u32, value: u32): void {
    if (!this.addressesHostBridge()) return;
    let register = this.address & CONFIG_ADDRESS_REGISTER;
    let lanes = laneMask(size) << (lane * 8);
    let merged = (this.hostBridgeRead(register) & ~lanes) | ((value << (lane * 8)) & lanes);
    this.hostBridgeWrite(register, merged);
  }

  // Enabled and naming 00:00.0, the only function on the bus.
  @inline private addressesHostBridge(): bool {
    return (this.address & CONFIG_ADDRESS_ENABLE) != 0 && (this.address & CONFIG_ADDRESS_FUNCTION) == 0;
  }

  // The host bridge's configuration dword at `register` (a multiple of 4).
  private hostBridgeRead(register: u32): u32 {
    switch (register) {
      case PCI_VENDOR_DEVICE: return HOST_BRIDGE_VENDOR | (HOST_BRIDGE_DEVICE << 16);
      case PCI_COMMAND_STATUS: return <u32>this.command; // status (bits 31-16) 0
      case PCI_CLASS_REVISION: return HOST_BRIDGE_REVISION | (HOST_BRIDGE_CLASS << 8);
      case PCI_HEADER_LATENCY: return <u32>this.latencyTimer << 8; // header type 0, no BIST
      default: return 0;
    }
  }

  // Takes the writable bits of a whole dword (the lanes not written carry
  // what was read); everything else is read-only.
  private hostBridgeWrite(register: u32, value: u32): void {
    switch (register) {
      case PCI_COMMAND_STATUS: {
        this.command = HOST_BRIDGE_COMMAND_FIXED | (<u16>value & HOST_BRIDGE_COMMAND_WRITABLE);
        break;
      }
      case PCI_HEADER_LATENCY: {
        this.latencyTimer = <u8>(value >> 8) & LATENCY_TIMER_WRITABLE;
        break;
      }
      default: break;
    }
  }
}

// A byte, word or dword inside CONFIG_DATA (0xCFC-0xCFF).
@inline function isDataAccess(offset: u32, size: u32): bool {
  return offset >= PCI_CONFIG_DATA_OFFSET && offset < PCI_HOST_PORTS && (size == 1 || size == 2 || size == 4) && offset + size <= PCI_HOST_PORTS;
}

@inline function laneMask(size: u32): u32 {
  return size >= 4 ? 0xffffffff : (<u32>1 << (size * 8)) - 1;
}
