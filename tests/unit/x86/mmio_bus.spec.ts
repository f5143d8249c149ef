import { MmioBus, MmioKind, MMIO_BUS_RANGES } from "../../../assembly/devices/mmio_bus";
import { MmioScratch, MMIO_SCRATCH_BYTES } from "../../../assembly/devices/mmio_scratch";
import { Lapic } from "../../../assembly/devices/lapic";
import { IoApic } from "../../../assembly/devices/ioapic";
import { LAPIC_BASE, LAPIC_BYTES, IOAPIC_BASE, IOAPIC_BYTES } from "../../../assembly/devices/pc_layout";
import { newBus, scratch, scratch2, SCRATCH_GPA, SCRATCH2_GPA } from "./helpers";

const LAPIC: usize = memory.data(offsetof<Lapic>(), 16);
const IOAPIC: usize = memory.data(offsetof<IoApic>(), 16);
const SMALL: usize = memory.data(MMIO_SCRATCH_BYTES, 16);

describe("the MMIO bus", () => {
  it("reads all ones where no device is, and counts it", () => {
    let bus = newBus();
    expect(bus.read(0xd000_0000, 1)).toBe(0xff);
    expect(bus.read(0xd000_0000, 2)).toBe(0xffff);
    expect(bus.read(0xd000_0000, 4)).toBe(0xffffffff);
    expect(bus.read(0xd000_0000, 8)).toBe(0xffffffffffffffff);
    expect(bus.unclaimedReads).toBe(4);
    expect(bus.unclaimedWrites).toBe(0);
  });

  it("drops writes where no device is, and counts them", () => {
    let bus = newBus();
    bus.write(0xd000_0000, 4, 0x12345678);
    expect(bus.read(0xd000_0000, 4)).toBe(0xffffffff);
    expect(bus.unclaimedWrites).toBe(1);
  });

  it("routes an access to the device at its offset, whole", () => {
    let bus = newBus();
    bus.write(SCRATCH_GPA + 0x20, 8, 0x1122334455667788);
    expect(scratch().writes).toBe(1);
    expect(scratch().lastOffset).toBe(0x20);
    expect(scratch().lastSize).toBe(8);
    expect(bus.read(SCRATCH_GPA + 0x24, 4)).toBe(0x11223344);
    expect(bus.read(SCRATCH_GPA + 0x21, 2)).toBe(0x6677);
    expect(bus.read(SCRATCH_GPA + 0x27, 1)).toBe(0x11);
    expect(scratch().reads).toBe(3);
    expect(scratch2().reads + scratch2().writes).toBe(0);
    expect(bus.unclaimedReads + bus.unclaimedWrites).toBe(0);
  });

  it("masks what a device answers to the access size", () => {
    let bus = newBus();
    bus.write(SCRATCH_GPA, 8, 0xffffffffffffffff);
    expect(bus.read(SCRATCH_GPA, 2)).toBe(0xffff);
    bus.write(SCRATCH_GPA, 2, 0x123456);
    expect(bus.read(SCRATCH_GPA, 4)).toBe(0xffff3456);
  });

  it("splits an access across two devices into bytes, each to its own", () => {
    let bus = newBus();
    bus.write(SCRATCH_GPA + 0xffe, 4, 0xa1b2c3d4);
    expect(scratch().writes).toBe(2);
    expect(scratch().lastSize).toBe(1);
    expect(scratch2().writes).toBe(2);
    expect(scratch2().lastOffset).toBe(1);
    expect(bus.read(SCRATCH_GPA + 0xffe, 2)).toBe(0xc3d4);
    expect(bus.read(SCRATCH2_GPA, 2)).toBe(0xa1b2);
    expect(bus.read(SCRATCH_GPA + 0xffe, 4)).toBe(0xa1b2c3d4);
    expect(bus.unclaimedReads + bus.unclaimedWrites).toBe(0);
  });

  it("clips an access that runs off a device's end: the rest reads 0xFF, counted once", () => {
    let bus = newBus();
    bus.write(SCRATCH2_GPA + 0xffc, 4, 0x44332211);
    expect(bus.read(SCRATCH2_GPA + 0xffc, 8)).toBe(0xffffffff44332211);
    expect(bus.unclaimedReads).toBe(1);
    bus.write(SCRATCH2_GPA + 0xffe, 4, 0);
    expect(bus.unclaimedWrites).toBe(1);
    expect(bus.read(SCRATCH2_GPA + 0xffc, 4)).toBe(0x00002211);
  });

  it("splits sizes other than 1, 2, 4, 8 and refuses 0 and more than 8", () => {
    let bus = newBus();
    bus.write(SCRATCH_GPA, 3, 0xaabbccdd);
    expect(scratch().writes).toBe(3);
    expect(bus.read(SCRATCH_GPA, 4)).toBe(0x00bbccdd);
    expect(bus.read(SCRATCH_GPA, 0)).toBe(0xffffffffffffffff);
    expect(bus.read(SCRATCH_GPA, 9)).toBe(0xffffffffffffffff);
    bus.write(SCRATCH_GPA, 16, 0);
    expect(bus.unclaimedReads).toBe(2);
    expect(bus.unclaimedWrites).toBe(1);
  });

  it("says which addresses a device claims", () => {
    let bus = newBus();
    expect(bus.claims(SCRATCH_GPA)).toBe(true);
    expect(bus.claims(SCRATCH2_GPA + 0xfff)).toBe(true);
    expect(bus.claims(SCRATCH2_GPA + 0x1000)).toBe(false);
    expect(bus.claims(SCRATCH_GPA - 1)).toBe(false);
  });

  it("refuses overlapping, empty and top-of-space ranges, and a ninth range", () => {
    let bus = newBus();
    expect(bus.map(SCRATCH_GPA + 0x800, 0x1000, MmioKind.Scratch, SMALL)).toBe(false);
    expect(bus.map(SCRATCH_GPA - 0x10, 0x11, MmioKind.Scratch, SMALL)).toBe(false);
    expect(bus.map(SCRATCH_GPA - 0x10, 0x10, MmioKind.Scratch, SMALL)).toBe(true);
    expect(bus.map(0x1000, 0, MmioKind.Scratch, SMALL)).toBe(false);
    expect(bus.map(0xffff_ffff_ffff_f000, 0x1000, MmioKind.Scratch, SMALL)).toBe(false);
    expect(bus.map(0xffff_ffff_ffff_e000, 0x1000, MmioKind.Scratch, SMALL)).toBe(true);
    for (let i: u32 = bus.ranges; i < MMIO_BUS_RANGES; i++) {
      expect(bus.map(0x1_0000_0000 + <u64>i * 0x1000, 0x1000, MmioKind.Scratch, SMALL)).toBe(true);
    }
    expect(bus.map(0x2_0000_0000, 0x1000, MmioKind.Scratch, SMALL)).toBe(false);
  });

  it("dispatches to the local APIC and the I/O APIC by kind", () => {
    let bus = newBus();
    memory.fill(LAPIC, 0, offsetof<Lapic>());
    memory.fill(IOAPIC, 0, offsetof<IoApic>());
    expect(bus.map(LAPIC_BASE, LAPIC_BYTES, MmioKind.Lapic, LAPIC)).toBe(true);
    expect(bus.map(IOAPIC_BASE, IOAPIC_BYTES, MmioKind.IoApic, IOAPIC)).toBe(true);
    bus.read(LAPIC_BASE + 0x20, 4);
    bus.write(LAPIC_BASE + 0xb0, 4, 0);
    bus.read(IOAPIC_BASE + 0x10, 4);
    bus.write(IOAPIC_BASE, 4, 1);
    expect(bus.unclaimedReads + bus.unclaimedWrites).toBe(0);
  });
});

describe("the MMIO scratch device", () => {
  it("stores 16 bytes to 4 KiB, and nothing past its end", () => {
    let device = changetype<MmioScratch>(SMALL);
    memory.fill(SMALL, 0xee, MMIO_SCRATCH_BYTES);
    device.reset();
    expect(device.bytes).toBe(16);
    device.init(1);
    expect(device.bytes).toBe(16);
    device.mmioWrite(12, 8, 0x8877665544332211);
    expect(device.mmioRead(12, 8)).toBe(0x44332211);
    expect(device.mmioRead(0xffff_fffe, 8)).toBe(0);
    device.init(100000);
    expect(device.bytes).toBe(4096);
  });
});
