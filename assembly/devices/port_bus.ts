// The guest's I/O port space: which device answers which ports. A port no
// device claims reads as all ones and drops writes, as an ISA bus with
// nothing on it does.
//
// Devices are @unmanaged state at fixed places; the bus names each by kind
// and address and calls it with a switch (no virtual calls, no allocation).
// A device whose registers are bytes (`byteWide`, e.g. the UART) sees a
// 2- or 4-byte access as that many 1-byte accesses to consecutive ports,
// the way the ISA bus splits them; other devices see the whole access.

import { DebugExit } from "./debug_exit";
import { Uart16550 } from "./uart16550";
import { Pic8259Pair } from "./pic8259";
import { Pit8254 } from "./pit8254";
import { SystemControlB } from "./system_control_b";
import { RtcCmos } from "./rtc_cmos";
import { AcpiPm } from "./acpi_pm";
import { PciHost } from "./pci_host";
import { I8042 } from "./i8042";
import { SystemControlA } from "./system_control_a";
import { PostDelay } from "./post_delay";

export const enum DeviceKind {
  None = 0,
  Uart16550 = 1,
  DebugExit = 2,
  Pic = 3,             // the 8259 pair and its ELCR: sees absolute port numbers
  Pit = 4,
  SystemControlB = 5,
  Rtc = 6,
  PmEvent = 7,         // the ACPI PM block's three ranges, one device
  PmControl = 8,
  PmTimer = 9,
  PciHost = 10,        // 0xCF8-0xCFF, the reset control register at 0xCF9 inside
  I8042 = 11,          // sees absolute port numbers (0x60, 0x64)
  SystemControlA = 12,
  PostDelay = 13,
}

// The kinds whose port writes may ask the machine to stop, power off or
// reset: the exit port, PM1 control (S5), the PCI host's range (0xCF9),
// the i8042 (output port pulse) and port 0x92. PortBus.write says which
// kinds a write reached; the exit handler looks for such a request only
// after a write reached one of these (guest/exits.ts, afterPortWrite). A
// device that gains such a request must be added here.
export const REQUESTING_KINDS: u32 =
  1 << <u32>DeviceKind.DebugExit | 1 << <u32>DeviceKind.PmControl | 1 << <u32>DeviceKind.PciHost |
  1 << <u32>DeviceKind.I8042 | 1 << <u32>DeviceKind.SystemControlA;

export const PORT_BUS_RANGES: u32 = 32;
const RANGE_BYTES: u32 = 16;

// One claimed range: [base, base+count).
@unmanaged
class PortRange {
  base: u32;
  count: u32;
  kind: u32;
  device: usize;
}

const FIELDS_BYTES: u32 = 16;
// What a PortBus needs in all: its fields and its ranges.
export const PORT_BUS_BYTES: u32 = FIELDS_BYTES + PORT_BUS_RANGES * RANGE_BYTES;

@unmanaged
export class PortBus {
  ranges: u32;
  // Bit i set: range i is byte-wide.
  byteWide: u32;

  clear(): void {
    this.ranges = 0;
    this.byteWide = 0;
  }

  // Claims [base, base+count) for a device. False when the table is full
  // or the range overlaps one already claimed (a wiring bug).
  map(base: u32, count: u32, kind: DeviceKind, device: usize, byteWide: bool): bool {
    if (this.ranges >= PORT_BUS_RANGES || count == 0 || base + count > 0x10000) return false;
    for (let i: u32 = 0; i < this.ranges; i++) {
      let r = this.range(i);
      if (base < r.base + r.count && r.base < base + count) return false;
    }
    let r = this.range(this.ranges);
    r.base = base;
    r.count = count;
    r.kind = <u32>kind;
    r.device = device;
    if (byteWide) this.byteWide |= <u32>1 << this.ranges;
    this.ranges++;
    return true;
  }

  // Reads `size` (1, 2 or 4) bytes from `port`; the value is zero-extended.
  // Inline (as write): two callers, the port I/O exit and string I/O, and
  // the call cost as much as finding the range (make bench P1, io).
  @inline read(port: u32, size: u32): u32 {
    let index = this.find(port);
    // One byte, or a device that takes any width: straight to it.
    if (index >= 0 && (size == 1 || !this.isByteWide(index))) {
      let r = this.range(index);
      // The UART (nearly every port exit: a Linux boot's console is
      // 40,000 of its 46,000 exits) is called directly, not through the
      // switch over every device, whose prologue costs as much as the
      // register's work (make bench P1, io: 599 -> 593).
      if (r.kind == <u32>DeviceKind.Uart16550) return changetype<Uart16550>(r.device).read(port - r.base, size) & sizeMask(size);
      return deviceRead(r, port, size) & sizeMask(size);
    }
    let value: u32 = 0;
    for (let i: u32 = 0; i < size; i++) {
      let byte = (port + i) & 0xffff;
      index = this.findNext(index, byte, i);
      value |= (index < 0 ? 0xff : this.readByteAt(<u32>index, byte)) << (i * 8);
    }
    return value;
  }

  // Writes the low `size` (1, 2 or 4) bytes of `value` to `port`. Answers
  // the kinds of device the write reached, bit 1 << kind each (0: none).
  @inline write(port: u32, size: u32, value: u32): u32 {
    let index = this.find(port);
    if (index >= 0 && (size == 1 || !this.isByteWide(index))) {
      let r = this.range(index);
      // The UART directly, as in read(), and its kind a constant, not
      // loaded again after the call.
      if (r.kind == <u32>DeviceKind.Uart16550) {
        let uart = changetype<Uart16550>(r.device);
        if (!uart.writeConsoleByte(port - r.base, value & 0xff)) uart.write(port - r.base, size, value & sizeMask(size));
        return <u32>1 << <u32>DeviceKind.Uart16550;
      }
      deviceWrite(r, port, size, value & sizeMask(size));
      return <u32>1 << r.kind;
    }
    let reached: u32 = 0;
    for (let i: u32 = 0; i < size; i++) {
      let byte = (port + i) & 0xffff;
      index = this.findNext(index, byte, i);
      if (index >= 0) reached |= this.writeByteAt(<u32>index, byte, (value >> (i * 8)) & 0xff);
    }
    return reached;
  }

  // Puts every device on the bus back in its power-on state (those mapped
  // on one range; devices with several ranges are reset by their owner).
  reset(): void {
    for (let i: u32 = 0; i < this.ranges; i++) {
      let r = this.range(i);
      deviceReset(r.kind, r.device);
    }
  }

  // Byte `i` of a split access at `port`: byte 0's range was found
  // already, a later byte looks again unless the last range holds it.
  @inline private findNext(index: i32, port: u32, i: u32): i32 {
    if (i == 0) return index;
    if (index >= 0 && port - this.range(<u32>index).base < this.range(<u32>index).count) return index;
    return this.find(port);
  }

  private readByteAt(index: u32, port: u32): u32 {
    let r = this.range(index);
    return deviceRead(r, port, 1) & 0xff;
  }

  private writeByteAt(index: u32, port: u32, value: u32): u32 {
    let r = this.range(index);
    deviceWrite(r, port, 1, value);
    return <u32>1 << r.kind;
  }

  private find(port: u32): i32 {
    for (let i: u32 = 0; i < this.ranges; i++) {
      let r = this.range(i);
      if (port - r.base < r.count) return <i32>i;
    }
    return -1;
  }

  @inline private isByteWide(index: i32): bool {
    return (this.byteWide & (<u32>1 << <u32>index)) != 0;
  }

  @inline private range(index: u32): PortRange {
    return changetype<PortRange>(changetype<usize>(this) + <usize>FIELDS_BYTES + <usize>(index * RANGE_BYTES));
  }
}

// All ones of an access size: what an unclaimed port reads.
export function sizeMask(size: u32): u32 {
  return size >= 4 ? 0xffffffff : (<u32>1 << (size * 8)) - 1;
}

// The range's device, by kind; `offset` is the port's within the range.
// One range argument rather than its fields: the call passes all it needs
// in registers (make bench P1, io).
function deviceRead(r: PortRange, port: u32, size: u32): u32 {
  let kind = r.kind, device = r.device, offset = port - r.base;
  switch (kind) {
    case DeviceKind.Uart16550: return changetype<Uart16550>(device).read(offset, size);
    case DeviceKind.DebugExit: return changetype<DebugExit>(device).read(offset, size);
    case DeviceKind.Pic: return changetype<Pic8259Pair>(device).readPort(port);
    case DeviceKind.Pit: return changetype<Pit8254>(device).read(offset, size);
    case DeviceKind.SystemControlB: return changetype<SystemControlB>(device).read(offset, size);
    case DeviceKind.Rtc: return changetype<RtcCmos>(device).read(offset, size);
    case DeviceKind.PmEvent: return changetype<AcpiPm>(device).readEvent(offset, size);
    case DeviceKind.PmControl: return changetype<AcpiPm>(device).readControl(offset, size);
    case DeviceKind.PmTimer: return changetype<AcpiPm>(device).readTimer(offset, size);
    case DeviceKind.PciHost: return changetype<PciHost>(device).read(offset, size);
    case DeviceKind.I8042: return changetype<I8042>(device).read(port);
    case DeviceKind.SystemControlA: return changetype<SystemControlA>(device).read(offset, size);
    case DeviceKind.PostDelay: return changetype<PostDelay>(device).read(offset, size);
    default: return 0xffffffff;
  }
}

function deviceWrite(r: PortRange, port: u32, size: u32, value: u32): void {
  let kind = r.kind, device = r.device, offset = port - r.base;
  switch (kind) {
    case DeviceKind.Uart16550: { changetype<Uart16550>(device).write(offset, size, value); break; }
    case DeviceKind.DebugExit: { changetype<DebugExit>(device).write(offset, size, value); break; }
    case DeviceKind.Pic: { changetype<Pic8259Pair>(device).writePort(port, value); break; }
    case DeviceKind.Pit: { changetype<Pit8254>(device).write(offset, size, value); break; }
    case DeviceKind.SystemControlB: { changetype<SystemControlB>(device).write(offset, size, value); break; }
    case DeviceKind.Rtc: { changetype<RtcCmos>(device).write(offset, size, value); break; }
    case DeviceKind.PmEvent: { changetype<AcpiPm>(device).writeEvent(offset, size, value); break; }
    case DeviceKind.PmControl: { changetype<AcpiPm>(device).writeControl(offset, size, value); break; }
    case DeviceKind.PmTimer: { changetype<AcpiPm>(device).writeTimer(offset, size, value); break; }
    case DeviceKind.PciHost: { changetype<PciHost>(device).write(offset, size, value); break; }
    case DeviceKind.I8042: { changetype<I8042>(device).write(port, value); break; }
    case DeviceKind.SystemControlA: { changetype<SystemControlA>(device).write(offset, size, value); break; }
    case DeviceKind.PostDelay: { changetype<PostDelay>(device).write(offset, size, value); break; }
    default: break;
  }
}

function deviceReset(kind: u32, device: usize): void {
  switch (kind) {
    case DeviceKind.Uart16550: { changetype<Uart16550>(device).reset(); break; }
    case DeviceKind.DebugExit: { changetype<DebugExit>(device).reset(); break; }
    default: break; // reset by the machine (guest/machine.ts resetPlatform)
  }
}
