import { PortBus, PORT_BUS_BYTES, PORT_BUS_RANGES, DeviceKind, REQUESTING_KINDS } from "../../../assembly/devices/port_bus";
import { Uart16550 } from "../../../assembly/devices/uart16550";
import { DebugExit } from "../../../assembly/devices/debug_exit";
import { ConsoleLine, CONSOLE_LINE_BYTES } from "../../../assembly/devices/console_line";

const BUS: usize = memory.data(PORT_BUS_BYTES, 16);
const UART: usize = memory.data(64, 16);
const EXIT: usize = memory.data(16, 16);
const CONSOLE: usize = memory.data(CONSOLE_LINE_BYTES, 16);

function newBus(): PortBus {
  memory.fill(BUS, 0, PORT_BUS_BYTES);
  let bus = changetype<PortBus>(BUS);
  let uart = changetype<Uart16550>(UART);
  changetype<ConsoleLine>(CONSOLE).init(0, 0);
  uart.output = changetype<ConsoleLine>(CONSOLE);
  bus.map(0x3f8, 8, DeviceKind.Uart16550, UART, true);
  bus.map(0xf4, 1, DeviceKind.DebugExit, EXIT, false);
  bus.reset();
  return bus;
}

describe("the port bus", () => {
  it("says which kinds of device a write reached, none for an unclaimed port", () => {
    let bus = newBus();
    expect(bus.write(0x3ff, 1, 0x12)).toBe(<u32>1 << <u32>DeviceKind.Uart16550);
    expect(bus.write(0xf4, 1, 0)).toBe(<u32>1 << <u32>DeviceKind.DebugExit);
    expect(bus.write(0x2f0, 4, 0)).toBe(0);
    // A split access that enters the UART's range from an unclaimed port.
    expect(bus.write(0x3f6, 4, 0)).toBe(<u32>1 << <u32>DeviceKind.Uart16550);
    expect((bus.write(0xf4, 1, 0) & REQUESTING_KINDS) != 0).toBe(true);
    expect((bus.write(0x3ff, 1, 0) & REQUESTING_KINDS) != 0).toBe(false);
  });

  it("reads all ones from a port no device claims", () => {
    let bus = newBus();
    expect(bus.read(0x2f0, 1)).toBe(0xff);
    expect(bus.read(0x2f0, 2)).toBe(0xffff);
    expect(bus.read(0x2f0, 4)).toBe(0xffffffff);
  });

  it("drops writes to a port no device claims", () => {
    let bus = newBus();
    bus.write(0x80, 1, 0x12);
    expect(bus.read(0x80, 1)).toBe(0xff);
  });

  it("routes a port to the device that claims it, at its offset", () => {
    let bus = newBus();
    bus.write(0x3ff, 1, 0xa5); // UART scratch register
    expect(bus.read(0x3ff, 1)).toBe(0xa5);
    expect(changetype<Uart16550>(UART).scr).toBe(0xa5);
  });

  it("splits a wide access to a byte-wide device into byte accesses", () => {
    let bus = newBus();
    // LSR (0x3fd) 0x60, MSR (0x3fe) 0xb0, SCR (0x3ff) 0x11, then 0x400 unclaimed.
    bus.write(0x3ff, 1, 0x11);
    expect(bus.read(0x3fd, 4)).toBe(0xff11b060);
  });

  it("finds each byte's device again when a split access enters a range", () => {
    let bus = newBus();
    bus.write(0x3f6, 4, 0x00330000);  // 0x3f6-0x3f7 unclaimed, 0x3f8 THR, 0x3f9 IER 0
    bus.write(0x3fe, 2, 0x5500);      // byte 1 reaches SCR
    expect(bus.read(0x3ff, 1)).toBe(0x55);
    expect(bus.read(0x3f6, 4)).toBe(0x0000ffff); // RBR empty, IER 0
  });

  it("hands a wide access whole to a device that is not byte-wide", () => {
    let bus = newBus();
    bus.write(0xf4, 4, 0x01020304);
    expect(changetype<DebugExit>(EXIT).code).toBe(0x01020304);
  });

  it("refuses a range that overlaps one already claimed", () => {
    let bus = newBus();
    expect(bus.map(0x3fc, 2, DeviceKind.DebugExit, EXIT, false)).toBe(false);
    expect(bus.map(0x3f0, 8, DeviceKind.DebugExit, EXIT, false)).toBe(true);
  });

  it("refuses more ranges than it has room for, and ranges past port 0xffff", () => {
    let bus = newBus();
    expect(bus.map(0xfffe, 4, DeviceKind.DebugExit, EXIT, false)).toBe(false);
    let mapped: u32 = 2;
    for (let i: u32 = 0; i < PORT_BUS_RANGES + 8; i++) {
      if (bus.map(0x100 + i, 1, DeviceKind.DebugExit, EXIT, false)) mapped++;
    }
    expect(mapped).toBe(PORT_BUS_RANGES);
  });
});
