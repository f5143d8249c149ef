import {
  I8042, CTR_POWER_ON, OUTPUT_QUEUE_BYTES,
} from "../../../assembly/devices/i8042";
import { InterruptLines, IRQ_KEYBOARD, IRQ_MOUSE } from "../../../assembly/devices/interrupt_lines";

const DEVICE: usize = memory.data(offsetof<I8042>(), 16);
const LINES: usize = memory.data(offsetof<InterruptLines>(), 16);

const DATA: u32 = 0x60;
const COMMAND: u32 = 0x64;

// Status bits.
const OBF: u32 = 0x01;
const IBF: u32 = 0x02;
const SYS: u32 = 0x04;
const CMD: u32 = 0x08;
const AUX: u32 = 0x20;
const TIMEOUT: u32 = 0x40;

function newController(): I8042 {
  memory.fill(DEVICE, 0xee, offsetof<I8042>()); // reset() must set every field
  memory.fill(LINES, 0, offsetof<InterruptLines>()); // no PIC, no I/O APIC: levels only
  let device = changetype<I8042>(DEVICE);
  device.lines = changetype<InterruptLines>(LINES);
  device.reset();
  return device;
}

function irq(line: u32): bool {
  return changetype<InterruptLines>(LINES).level(line);
}

function status(device: I8042): u32 {
  return device.read(COMMAND);
}

// Reads one byte, as Linux's i8042_wait_read then inb(0x60) do; -1 if none.
function next(device: I8042): i32 {
  if ((status(device) & OBF) == 0) return -1;
  return <i32>device.read(DATA);
}

// A controller command with an optional data byte, as Linux's i8042_command.
function command(device: I8042, cmd: u32, data: i32 = -1): void {
  device.write(COMMAND, cmd);
  if (data >= 0) device.write(DATA, <u32>data);
}

function setCommandByte(device: I8042, value: u32): void {
  command(device, 0x60, <i32>value);
}

function commandByte(device: I8042): i32 {
  command(device, 0x20);
  return next(device);
}

describe("the 8042 controller", () => {
  it("starts with an empty output buffer and a status a probe accepts", () => {
    let device = newController();
    let value = status(device);
    expect(value).not.toBe(0xff); // Linux: 0xFF means no controller
    expect(value & (OBF | IBF)).toBe(0);
    expect(value & SYS).toBe(SYS);
  });

  it("never sets IBF: commands complete instantly", () => {
    let device = newController();
    command(device, 0xaa);
    expect(status(device) & IBF).toBe(0);
    device.write(DATA, 0xf2);
    expect(status(device) & IBF).toBe(0);
  });

  it("answers self-test 0xAA with 0x55 and sets the system flag", () => {
    let device = newController();
    setCommandByte(device, 0x00);
    expect(status(device) & SYS).toBe(0);
    command(device, 0xaa);
    expect(next(device)).toBe(0x55);
    expect(status(device) & SYS).toBe(SYS);
    expect(commandByte(device) & 0x04).toBe(0x04);
  });

  it("reads the command byte as a BIOS leaves it: keyboard IRQ, system flag, aux off, translation", () => {
    let device = newController();
    expect(commandByte(device)).toBe(CTR_POWER_ON);
    expect(CTR_POWER_ON).toBe(0x65);
  });

  it("writes the command byte with 0x60 and reads it back with 0x20", () => {
    let device = newController();
    setCommandByte(device, 0x74);
    expect(commandByte(device)).toBe(0x74);
  });

  it("sets status bit 3 after a write to 0x64 and clears it after a write to 0x60", () => {
    let device = newController();
    device.write(COMMAND, 0x60);
    expect(status(device) & CMD).toBe(CMD);
    device.write(DATA, 0x65);
    expect(status(device) & CMD).toBe(0);
  });

  it("sets and clears command byte bits 4 and 5 with 0xAD/0xAE and 0xA7/0xA8", () => {
    let device = newController();
    setCommandByte(device, 0x00);
    command(device, 0xad);
    expect(commandByte(device)).toBe(0x10);
    command(device, 0xa7);
    expect(commandByte(device)).toBe(0x30);
    command(device, 0xae);
    expect(commandByte(device)).toBe(0x20);
    command(device, 0xa8);
    expect(commandByte(device)).toBe(0x00);
  });

  it("passes the keyboard (0xAB) and aux (0xA9) interface tests with 0x00", () => {
    let device = newController();
    command(device, 0xab);
    expect(next(device)).toBe(0x00);
    command(device, 0xa9);
    expect(next(device)).toBe(0x00);
  });

  it("ignores an unknown command", () => {
    let device = newController();
    command(device, 0xc5);
    expect(status(device) & OBF).toBe(0);
    expect(device.resetRequested).toBe(false);
  });

  it("lets a new command replace one still waiting for its data byte", () => {
    let device = newController();
    device.write(COMMAND, 0x60);
    command(device, 0x20);
    expect(next(device)).toBe(CTR_POWER_ON);
  });

  it("reads the output port with 0xD0: running, A20 on", () => {
    let device = newController();
    command(device, 0xd0);
    expect(next(device) & 0x03).toBe(0x03);
  });

  it("keeps A20 in the output port (0xD1, 0xDD, 0xDF) without a reset", () => {
    let device = newController();
    command(device, 0xd1, 0xdd); // bit 1 clear, bit 0 set
    command(device, 0xd0);
    expect(next(device) & 0x03).toBe(0x01);
    command(device, 0xdf);
    command(device, 0xd0);
    expect(next(device) & 0x03).toBe(0x03);
    command(device, 0xdd);
    command(device, 0xd0);
    expect(next(device) & 0x03).toBe(0x01);
    expect(device.resetRequested).toBe(false);
  });

  it("empties the output buffer when port 0x60 is read, and reads the last byte again", () => {
    let device = newController();
    command(device, 0xaa);
    expect(device.read(DATA)).toBe(0x55);
    expect(status(device) & OBF).toBe(0);
    expect(device.read(DATA)).toBe(0x55);
  });
});

describe("the 8042's resets", () => {
  it("requests a reset on 0xFE, pulsing output line 0", () => {
    let device = newController();
    command(device, 0xfe);
    expect(device.resetRequested).toBe(true);
  });

  it("requests a reset for every pulse command with bit 0 clear, and for none with it set", () => {
    for (let cmd: u32 = 0xf0; cmd <= 0xff; cmd++) {
      let device = newController();
      command(device, cmd);
      expect(device.resetRequested).toBe((cmd & 1) == 0);
    }
  });

  it("requests a reset when 0xD1 writes output port bit 0 as 0", () => {
    let device = newController();
    command(device, 0xd1, 0xfe);
    expect(device.resetRequested).toBe(true);
  });

  it("forgets a request on reset", () => {
    let device = newController();
    command(device, 0xfe);
    device.reset();
    expect(device.resetRequested).toBe(false);
  });
});

describe("the keyboard behind the 8042", () => {
  it("acknowledges reset 0xFF with 0xFA then passes its self-test with 0xAA", () => {
    let device = newController();
    device.write(DATA, 0xff);
    expect(next(device)).toBe(0xfa);
    expect(next(device)).toBe(0xaa);
    expect(next(device)).toBe(-1);
  });

  it("identifies as an MF2 keyboard: 0xFA, 0xAB, 0x83 untranslated", () => {
    let device = newController();
    setCommandByte(device, 0x05);
    device.write(DATA, 0xf2);
    expect(next(device)).toBe(0xfa);
    expect(next(device)).toBe(0xab);
    expect(next(device)).toBe(0x83);
  });

  it("identifies as 0xAB, 0x41 with translation on, as atkbd expects of a PC", () => {
    let device = newController();
    device.write(DATA, 0xf2);
    expect(next(device)).toBe(0xfa);
    expect(next(device)).toBe(0xab);
    expect(next(device)).toBe(0x41);
  });

  it("acknowledges enable, disable and set-defaults (0xF4, 0xF5, 0xF6)", () => {
    let device = newController();
    for (let cmd: u32 = 0xf4; cmd <= 0xf6; cmd++) {
      device.write(DATA, cmd);
      expect(next(device)).toBe(0xfa);
      expect(next(device)).toBe(-1);
    }
  });

  it("acknowledges set-LEDs 0xED and its argument, each with 0xFA", () => {
    let device = newController();
    device.write(DATA, 0xed);
    expect(next(device)).toBe(0xfa);
    device.write(DATA, 0x07);
    expect(next(device)).toBe(0xfa);
    expect(device.leds).toBe(0x07);
  });

  it("acknowledges typematic 0xF3 and its argument", () => {
    let device = newController();
    device.write(DATA, 0xf3);
    device.write(DATA, 0x20);
    expect(next(device)).toBe(0xfa);
    expect(next(device)).toBe(0xfa);
    expect(device.typematic).toBe(0x20);
  });

  it("selects a scan code set with 0xF0 and reports it with argument 0", () => {
    let device = newController();
    setCommandByte(device, 0x01); // untranslated
    device.write(DATA, 0xf0);
    device.write(DATA, 0x03);
    expect(next(device)).toBe(0xfa);
    expect(next(device)).toBe(0xfa);
    device.write(DATA, 0xf0);
    device.write(DATA, 0x00);
    expect(next(device)).toBe(0xfa);
    expect(next(device)).toBe(0xfa);
    expect(next(device)).toBe(0x03);
  });

  it("reports set 2 as 0x41 through translation", () => {
    let device = newController();
    device.write(DATA, 0xf0);
    device.write(DATA, 0x00);
    expect(next(device)).toBe(0xfa);
    expect(next(device)).toBe(0xfa);
    expect(next(device)).toBe(0x41);
  });

  it("echoes 0xEE", () => {
    let device = newController();
    device.write(DATA, 0xee);
    expect(next(device)).toBe(0xee);
  });

  it("asks for a resend (0xFE) of a command it does not know", () => {
    let device = newController();
    device.write(DATA, 0x42);
    expect(next(device)).toBe(0xfe);
  });

  it("resends its last byte on 0xFE", () => {
    let device = newController();
    device.write(DATA, 0xee);
    next(device);
    device.write(DATA, 0xfe);
    expect(next(device)).toBe(0xee);
  });

  it("holds its bytes while the keyboard interface is disabled, ahead of nothing the controller says", () => {
    let device = newController();
    device.write(DATA, 0xff);   // 0xFA moves into the buffer, 0xAA waits
    command(device, 0xad);
    expect(next(device)).toBe(0xfa);
    expect(next(device)).toBe(-1); // 0xAA held back
    command(device, 0x20);
    expect(next(device)).toBe(CTR_POWER_ON | 0x10); // the controller's reply is not held
    command(device, 0xae);
    expect(next(device)).toBe(0xaa);
  });

  it("enables its interface again when sent a command, as the 8042 firmware does", () => {
    let device = newController();
    command(device, 0xad);
    device.write(DATA, 0xf4);
    expect(next(device)).toBe(0xfa);
    expect(commandByte(device) & 0x10).toBe(0);
  });

  it("drops bytes past its queue when the guest never reads", () => {
    let device = newController();
    for (let i: u32 = 0; i < 20; i++) device.write(DATA, 0xee);
    let count = 0;
    while (next(device) >= 0) count++;
    expect(count).toBe(<i32>OUTPUT_QUEUE_BYTES + 1); // the buffer and the queue behind it
  });
});

describe("the 8042's aux port, no mouse plugged in", () => {
  it("loops a byte back as aux data with 0xD3, as Linux's aux probe expects", () => {
    let device = newController();
    command(device, 0xd3, 0x5a);
    let value = status(device);
    expect(value & (OBF | AUX)).toBe(OBF | AUX);
    expect(device.read(DATA)).toBe(0x5a);
    expect(status(device) & (OBF | AUX)).toBe(0);
  });

  it("loops a byte back as keyboard data with 0xD2", () => {
    let device = newController();
    command(device, 0xd2, 0x1c);
    expect(status(device) & (OBF | AUX)).toBe(OBF);
    expect(device.read(DATA)).toBe(0x1c); // untranslated: it never passed the keyboard interface
  });

  it("times out a byte sent to the mouse with 0xD4: 0xFE with the aux and time-out bits", () => {
    let device = newController();
    command(device, 0xd4, 0xf2);
    expect(status(device) & (OBF | AUX | TIMEOUT)).toBe(OBF | AUX | TIMEOUT);
    expect(device.read(DATA)).toBe(0xfe);
    expect(status(device) & TIMEOUT).toBe(0);
  });

  it("passes Linux's bit assignment test: 0xA7 sets and 0xA8 clears command byte bit 5", () => {
    let device = newController();
    command(device, 0xa7);
    expect(commandByte(device) & 0x20).toBe(0x20);
    command(device, 0xa8);
    expect(commandByte(device) & 0x20).toBe(0);
  });

  it("shows aux output in output port bit 5 and keyboard output in bit 4", () => {
    let device = newController();
    command(device, 0xd3, 0x01);
    command(device, 0xd0); // the reply waits behind the aux byte in the buffer
    expect(next(device)).toBe(0x01);
    expect(next(device) & 0x30).toBe(0x20);
  });
});

describe("the 8042's interrupts (IRQ 1, IRQ 12)", () => {
  it("raises IRQ 1 for keyboard output when command byte bit 0 is set", () => {
    let device = newController();
    device.write(DATA, 0xf4);
    expect(irq(IRQ_KEYBOARD)).toBe(true);
    expect(irq(IRQ_MOUSE)).toBe(false);
    device.read(DATA);
    expect(irq(IRQ_KEYBOARD)).toBe(false);
  });

  it("keeps IRQ 1 low with command byte bit 0 clear, the byte still readable", () => {
    let device = newController();
    setCommandByte(device, 0x64);
    device.write(DATA, 0xf4);
    expect(irq(IRQ_KEYBOARD)).toBe(false);
    expect(next(device)).toBe(0xfa);
  });

  it("raises IRQ 12 for aux output when command byte bit 1 is set, as Linux's IRQ test needs", () => {
    let device = newController();
    setCommandByte(device, 0x47); // Linux's i8042_enable_aux_port: AUXINT on, AUXDIS off
    command(device, 0xd3, 0xa5);
    expect(irq(IRQ_MOUSE)).toBe(true);
    expect(irq(IRQ_KEYBOARD)).toBe(false);
    expect(status(device) & AUX).toBe(AUX);
    expect(device.read(DATA)).toBe(0xa5);
    expect(irq(IRQ_MOUSE)).toBe(false);
  });

  it("keeps IRQ 12 low with command byte bit 1 clear", () => {
    let device = newController();
    command(device, 0xd3, 0xa5);
    expect(irq(IRQ_MOUSE)).toBe(false);
  });

  it("raises the line again for each byte of a multi-byte reply", () => {
    let device = newController();
    device.write(DATA, 0xf2);
    for (let i = 0; i < 3; i++) {
      expect(irq(IRQ_KEYBOARD)).toBe(true);
      device.read(DATA);
    }
    expect(irq(IRQ_KEYBOARD)).toBe(false);
  });

  it("raises IRQ 1 when the command byte enables it with a byte already waiting", () => {
    let device = newController();
    setCommandByte(device, 0x64);
    device.write(DATA, 0xee);
    setCommandByte(device, 0x65);
    expect(irq(IRQ_KEYBOARD)).toBe(true);
  });

  it("lowers both lines on reset", () => {
    let device = newController();
    device.write(DATA, 0xee);
    device.reset();
    expect(irq(IRQ_KEYBOARD)).toBe(false);
    expect(status(device) & OBF).toBe(0);
  });

  it("works without lines wired, raising nothing", () => {
    let device = newController();
    device.lines = changetype<InterruptLines>(0);
    device.write(DATA, 0xf2);
    expect(next(device)).toBe(0xfa);
    device.reset();
    expect(irq(IRQ_KEYBOARD)).toBe(false);
  });
});

describe("the 8042 under hostile input", () => {
  it("answers other ports with all ones and ignores writes to them", () => {
    let device = newController();
    device.write(0x61, 0xfe);
    device.write(0x65, 0xfe);
    expect(device.read(0x61)).toBe(0xff);
    expect(device.read(0xffffffff)).toBe(0xff);
    expect(device.resetRequested).toBe(false);
  });

  it("never traps whatever byte follows whatever command, on either port", () => {
    let device = newController();
    for (let first: u32 = 0; first < 256; first++) {
      for (let second: u32 = 0; second < 256; second++) {
        device.write(COMMAND, first);
        device.write(DATA, second);
        device.write(DATA, second ^ 0xff);
        if ((second & 3) == 0) device.read(DATA);
        if ((second & 7) == 0) device.read(COMMAND);
      }
      // The lines follow the buffer whatever happened.
      let value = status(device);
      let ctr = device.commandByte;
      let full = (value & OBF) != 0;
      expect(irq(IRQ_KEYBOARD)).toBe(full && (value & AUX) == 0 && (ctr & 1) != 0);
      expect(irq(IRQ_MOUSE)).toBe(full && (value & AUX) != 0 && (ctr & 2) != 0);
      expect(value & IBF).toBe(0);
      device.reset();
    }
    for (let value: u32 = 0; value < 0x10000; value += 0x101) {
      device.write(DATA, value * 0x10001);  // wider values: only the low byte counts
      device.write(COMMAND, value * 0x10001);
    }
  });

  it("still probes like a fresh controller after the storm", () => {
    let device = newController();
    for (let value: u32 = 0; value < 256; value++) device.write(DATA, value);
    while (next(device) >= 0) {}
    command(device, 0xaa);
    expect(next(device)).toBe(0x55);
  });
});
