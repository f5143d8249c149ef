import { Pic8259Pair, ELCR_MASTER_BITS, ELCR_SLAVE_BITS } from "../../../assembly/devices/pic8259";

const PIC: usize = memory.data(offsetof<Pic8259Pair>(), 16);
const MASTER_COMMAND: u32 = 0x20;
const MASTER_DATA: u32 = 0x21;
const SLAVE_COMMAND: u32 = 0xa0;
const SLAVE_DATA: u32 = 0xa1;
const ELCR_MASTER: u32 = 0x4d0;
const ELCR_SLAVE: u32 = 0x4d1;

function newPic(): Pic8259Pair {
  memory.fill(PIC, 0xee, offsetof<Pic8259Pair>()); // reset() must set every field
  let pic = changetype<Pic8259Pair>(PIC);
  pic.reset();
  return pic;
}

// Linux's init_8259A: ICW1 0x11, vectors 0x30/0x38, cascade on IR2, ICW4
// 8086 mode (auto-EOI when asked), then every IRQ unmasked.
function newLinuxPic(icw4: u32 = 0x01): Pic8259Pair {
  let pic = newPic();
  pic.writePort(MASTER_DATA, 0xff);
  pic.writePort(SLAVE_DATA, 0xff);
  pic.writePort(MASTER_COMMAND, 0x11);
  pic.writePort(MASTER_DATA, 0x30);
  pic.writePort(MASTER_DATA, 0x04);
  pic.writePort(MASTER_DATA, icw4);
  pic.writePort(SLAVE_COMMAND, 0x11);
  pic.writePort(SLAVE_DATA, 0x38);
  pic.writePort(SLAVE_DATA, 0x02);
  pic.writePort(SLAVE_DATA, icw4);
  pic.writePort(MASTER_DATA, 0x00);
  pic.writePort(SLAVE_DATA, 0x00);
  return pic;
}

function readIsr(pic: Pic8259Pair, command: u32): u32 {
  pic.writePort(command, 0x0b);
  let value = pic.readPort(command);
  pic.writePort(command, 0x0a);
  return value;
}

function pulse(pic: Pic8259Pair, irq: u32): void {
  pic.setIrq(irq, true);
  pic.setIrq(irq, false);
}

function eoi(pic: Pic8259Pair, command: u32): void {
  pic.writePort(command, 0x20);
}

describe("the 8259A pair: initialization", () => {
  it("starts as a PC BIOS leaves it: vectors 0x08 and 0x70, all masked but the cascade", () => {
    let pic = newPic();
    expect(pic.readPort(MASTER_DATA)).toBe(0xfb);
    expect(pic.readPort(SLAVE_DATA)).toBe(0xff);
    pic.setIrq(1, true);
    expect(pic.hasInterrupt()).toBe(false);
    pic.writePort(MASTER_DATA, 0xf9);
    expect(pic.hasInterrupt()).toBe(true);
    expect(pic.acknowledge()).toBe(0x09);
  });

  it("reads back the IMR, as Linux's probe_8259A expects", () => {
    let pic = newPic();
    pic.writePort(MASTER_DATA, 0xff);
    expect(pic.readPort(MASTER_DATA)).toBe(0xff);
    pic.writePort(MASTER_DATA, 0x5a);
    expect(pic.readPort(MASTER_DATA)).toBe(0x5a);
  });

  it("delivers IRQ 1 at the vector base programmed by ICW2", () => {
    let pic = newLinuxPic();
    pulse(pic, 1);
    expect(pic.hasInterrupt()).toBe(true);
    expect(pic.acknowledge()).toBe(0x31);
    expect(pic.hasInterrupt()).toBe(false);
  });

  it("ignores ICW2's low three bits in 8086 mode", () => {
    let pic = newPic();
    pic.writePort(MASTER_COMMAND, 0x11);
    pic.writePort(MASTER_DATA, 0x47);
    pic.writePort(MASTER_DATA, 0x04);
    pic.writePort(MASTER_DATA, 0x01);
    pulse(pic, 3);
    expect(pic.acknowledge()).toBe(0x43);
  });

  it("clears the IMR, the ISR and pending edges on ICW1", () => {
    let pic = newLinuxPic();
    pulse(pic, 4);
    pulse(pic, 3);
    pic.acknowledge();
    pic.writePort(MASTER_DATA, 0x20);
    pic.writePort(MASTER_COMMAND, 0x11);
    expect(pic.readPort(MASTER_DATA)).toBe(0);
    expect(readIsr(pic, MASTER_COMMAND)).toBe(0);
    expect(pic.readPort(MASTER_COMMAND)).toBe(0); // IRR: the edge is gone
    expect(pic.hasInterrupt()).toBe(false);
  });

  it("needs a new rising edge after ICW1 for an input that stayed high", () => {
    let pic = newLinuxPic();
    pic.setIrq(5, true);
    pic.writePort(MASTER_COMMAND, 0x11);
    pic.writePort(MASTER_DATA, 0x30);
    pic.writePort(MASTER_DATA, 0x04);
    pic.writePort(MASTER_DATA, 0x01);
    expect(pic.hasInterrupt()).toBe(false);
    pic.setIrq(5, false);
    pic.setIrq(5, true);
    expect(pic.acknowledge()).toBe(0x35);
  });

  it("takes no ICW3 in single mode, and ICW4 only when ICW1 asks", () => {
    let pic = newPic();
    pic.writePort(MASTER_COMMAND, 0x13); // single, ICW4
    pic.writePort(MASTER_DATA, 0x50);
    pic.writePort(MASTER_DATA, 0x03);    // ICW4: auto-EOI
    pic.writePort(MASTER_DATA, 0xfe);    // OCW1
    expect(pic.readPort(MASTER_DATA)).toBe(0xfe);
    pic.writePort(MASTER_COMMAND, 0x12); // single, no ICW4
    pic.writePort(MASTER_DATA, 0x60);
    pic.writePort(MASTER_DATA, 0x00);    // already OCW1
    pulse(pic, 6);
    expect(pic.acknowledge()).toBe(0x66);
    expect(readIsr(pic, MASTER_COMMAND)).toBe(0x40); // ICW4's auto-EOI was cleared
  });

  it("answers a master IR2 at its own vector in single mode, without the slave", () => {
    let pic = newPic();
    pic.writePort(MASTER_COMMAND, 0x13);
    pic.writePort(MASTER_DATA, 0x50);
    pic.writePort(MASTER_DATA, 0x01);
    pic.writePort(MASTER_DATA, 0x00);
    pic.writePort(SLAVE_DATA, 0x00);
    pulse(pic, 9);
    expect(pic.acknowledge()).toBe(0x52);
  });

  it("returns to the BIOS state on reset", () => {
    let pic = newLinuxPic();
    pulse(pic, 1);
    pic.acknowledge();
    pic.reset();
    expect(pic.readPort(MASTER_DATA)).toBe(0xfb);
    expect(readIsr(pic, MASTER_COMMAND)).toBe(0);
    expect(pic.readPort(ELCR_MASTER)).toBe(0);
  });
});

describe("the 8259A pair: requests", () => {
  it("latches a pulse on its rising edge and holds it after the line falls", () => {
    let pic = newLinuxPic();
    pulse(pic, 4);
    expect(pic.readPort(MASTER_COMMAND)).toBe(0x10);
    expect(pic.acknowledge()).toBe(0x34);
  });

  it("interrupts once for an edge input held high", () => {
    let pic = newLinuxPic();
    pic.setIrq(4, true);
    expect(pic.acknowledge()).toBe(0x34);
    eoi(pic, MASTER_COMMAND);
    expect(pic.hasInterrupt()).toBe(false);
    pic.setIrq(4, true);
    expect(pic.hasInterrupt()).toBe(false);
  });

  it("holds an edge that arrives while masked until it is unmasked", () => {
    let pic = newLinuxPic();
    pic.writePort(MASTER_DATA, 0x08);
    pulse(pic, 3);
    expect(pic.hasInterrupt()).toBe(false);
    expect(pic.readPort(MASTER_COMMAND)).toBe(0x08);
    pic.writePort(MASTER_DATA, 0x00);
    expect(pic.acknowledge()).toBe(0x33);
  });

  it("ignores IRQ 2 (the cascade) and numbers above 15", () => {
    let pic = newLinuxPic();
    pulse(pic, 2);
    pulse(pic, 16);
    pulse(pic, 0xffffffff);
    expect(pic.hasInterrupt()).toBe(false);
    expect(pic.readPort(MASTER_COMMAND)).toBe(0);
  });

  it("delivers slave IRQ 12 at the slave's vector through the master's IR2", () => {
    let pic = newLinuxPic();
    pulse(pic, 12);
    expect(pic.readPort(MASTER_COMMAND)).toBe(0x04); // IR2 requested
    expect(pic.acknowledge()).toBe(0x3c);
    expect(readIsr(pic, MASTER_COMMAND)).toBe(0x04);
    expect(readIsr(pic, SLAVE_COMMAND)).toBe(0x10);
  });

  it("masks the whole slave with the master's IMR bit 2", () => {
    let pic = newLinuxPic();
    pic.writePort(MASTER_DATA, 0x04);
    pulse(pic, 8);
    expect(pic.hasInterrupt()).toBe(false);
    pic.writePort(MASTER_DATA, 0x00);
    expect(pic.acknowledge()).toBe(0x38);
  });

  it("follows the line for a level-triggered input set in the ELCR", () => {
    let pic = newLinuxPic();
    pic.writePort(ELCR_SLAVE, 0x02); // IRQ 9
    pic.setIrq(9, true);
    expect(pic.acknowledge()).toBe(0x39);
    eoi(pic, SLAVE_COMMAND);
    eoi(pic, MASTER_COMMAND);
    expect(pic.hasInterrupt()).toBe(true); // still high: again
    expect(pic.acknowledge()).toBe(0x39);
    pic.setIrq(9, false);
    eoi(pic, SLAVE_COMMAND);
    eoi(pic, MASTER_COMMAND);
    expect(pic.hasInterrupt()).toBe(false);
  });

  it("keeps ELCR bits for IRQ 0, 1, 2, 8 and 13 at 0, as the PIIX does", () => {
    let pic = newLinuxPic();
    pic.writePort(ELCR_MASTER, 0xff);
    pic.writePort(ELCR_SLAVE, 0xff);
    expect(pic.readPort(ELCR_MASTER)).toBe(ELCR_MASTER_BITS);
    expect(pic.readPort(ELCR_SLAVE)).toBe(ELCR_SLAVE_BITS);
    pulse(pic, 0); // IRQ 0 stays edge-triggered: the pulse is kept
    expect(pic.acknowledge()).toBe(0x30);
  });

  it("drops a level-triggered request when its ELCR bit is set with the line low", () => {
    let pic = newLinuxPic();
    pulse(pic, 5);
    pic.writePort(ELCR_MASTER, 0x20);
    expect(pic.readPort(MASTER_COMMAND)).toBe(0);
  });

  it("makes every input level-triggered with ICW1 LTIM", () => {
    let pic = newPic();
    pic.writePort(MASTER_COMMAND, 0x19);
    pic.writePort(MASTER_DATA, 0x30);
    pic.writePort(MASTER_DATA, 0x04);
    pic.writePort(MASTER_DATA, 0x01);
    pic.writePort(MASTER_DATA, 0x00);
    pulse(pic, 1);
    expect(pic.hasInterrupt()).toBe(false);
    pic.setIrq(1, true);
    expect(pic.acknowledge()).toBe(0x31);
  });
});

describe("the 8259A pair: spurious interrupts", () => {
  it("returns spurious IRQ 7 when the request is gone before INTA", () => {
    let pic = newLinuxPic();
    pic.writePort(ELCR_MASTER, 0x20);
    pic.setIrq(5, true);
    expect(pic.hasInterrupt()).toBe(true);
    pic.setIrq(5, false);
    expect(pic.acknowledge()).toBe(0x37);
    expect(readIsr(pic, MASTER_COMMAND)).toBe(0); // no ISR bit for a spurious IRQ 7
  });

  it("returns spurious IRQ 7 when the level was masked after INT", () => {
    let pic = newLinuxPic();
    pulse(pic, 3);
    pic.writePort(MASTER_DATA, 0x08);
    expect(pic.acknowledge()).toBe(0x37);
    expect(readIsr(pic, MASTER_COMMAND)).toBe(0);
  });

  it("sets ISR bit 7 for a real IRQ 7", () => {
    let pic = newLinuxPic();
    pulse(pic, 7);
    expect(pic.acknowledge()).toBe(0x37);
    expect(readIsr(pic, MASTER_COMMAND)).toBe(0x80);
  });

  it("returns the slave's spurious IRQ 15 and sets the master's ISR bit 2", () => {
    let pic = newLinuxPic();
    pic.writePort(ELCR_SLAVE, 0x04); // IRQ 10
    pic.setIrq(10, true);
    pic.setIrq(10, false);           // gone, but the master latched IR2's edge
    expect(pic.hasInterrupt()).toBe(true);
    expect(pic.acknowledge()).toBe(0x3f);
    expect(readIsr(pic, MASTER_COMMAND)).toBe(0x04);
    expect(readIsr(pic, SLAVE_COMMAND)).toBe(0);
  });
});

describe("the 8259A pair: priorities and end of interrupt", () => {
  it("gives IRQ 0 the highest priority and IRQ 7 the lowest", () => {
    let pic = newLinuxPic();
    pulse(pic, 7);
    pulse(pic, 3);
    pulse(pic, 0);
    pic.writePort(MASTER_COMMAND, 0x60); // keep ISR clear between them
    expect(pic.acknowledge()).toBe(0x30);
    eoi(pic, MASTER_COMMAND);
    expect(pic.acknowledge()).toBe(0x33);
    eoi(pic, MASTER_COMMAND);
    expect(pic.acknowledge()).toBe(0x37);
  });

  it("ranks the slave's IRQs 8-15 between IRQ 1 and IRQ 3", () => {
    let pic = newLinuxPic();
    pulse(pic, 3);
    pulse(pic, 14);
    expect(pic.acknowledge()).toBe(0x3e);
  });

  it("lets a higher level nest over one in service and holds lower ones back", () => {
    let pic = newLinuxPic();
    pulse(pic, 3);
    expect(pic.acknowledge()).toBe(0x33);
    pulse(pic, 5);
    expect(pic.hasInterrupt()).toBe(false);
    pulse(pic, 1);
    expect(pic.acknowledge()).toBe(0x31);
    expect(readIsr(pic, MASTER_COMMAND)).toBe(0x0a);
    eoi(pic, MASTER_COMMAND);                  // ends IRQ 1, the highest in service
    expect(readIsr(pic, MASTER_COMMAND)).toBe(0x08);
    expect(pic.hasInterrupt()).toBe(false);
    eoi(pic, MASTER_COMMAND);
    expect(pic.acknowledge()).toBe(0x35);
  });

  it("blocks the same level while it is in service", () => {
    let pic = newLinuxPic();
    pulse(pic, 4);
    pic.acknowledge();
    pulse(pic, 4);
    expect(pic.hasInterrupt()).toBe(false);
    eoi(pic, MASTER_COMMAND);
    expect(pic.acknowledge()).toBe(0x34);
  });

  it("clears the named level with a specific EOI", () => {
    let pic = newLinuxPic();
    pulse(pic, 3);
    pic.acknowledge();
    pulse(pic, 1);
    pic.acknowledge();
    pic.writePort(MASTER_COMMAND, 0x63); // specific EOI, level 3
    expect(readIsr(pic, MASTER_COMMAND)).toBe(0x02);
  });

  it("ends a slave interrupt with EOIs to both chips, as Linux does", () => {
    let pic = newLinuxPic();
    pulse(pic, 8);
    pic.acknowledge();
    pic.writePort(SLAVE_COMMAND, 0x60);
    pic.writePort(MASTER_COMMAND, 0x62);
    expect(readIsr(pic, MASTER_COMMAND)).toBe(0);
    expect(readIsr(pic, SLAVE_COMMAND)).toBe(0);
    pulse(pic, 8);
    expect(pic.acknowledge()).toBe(0x38);
  });

  it("sets no ISR bit in auto-EOI mode (ICW4 bit 1)", () => {
    let pic = newLinuxPic(0x03);
    pulse(pic, 3);
    expect(pic.acknowledge()).toBe(0x33);
    expect(readIsr(pic, MASTER_COMMAND)).toBe(0);
    pulse(pic, 5);
    expect(pic.acknowledge()).toBe(0x35); // nothing in service blocks it
  });

  it("rotates priorities on auto-EOI when OCW2 asks", () => {
    let pic = newLinuxPic(0x03);
    pic.writePort(MASTER_COMMAND, 0x80); // rotate in auto-EOI mode: set
    pulse(pic, 1);
    pic.acknowledge();                   // IRQ 1 becomes the lowest
    pulse(pic, 1);
    pulse(pic, 4);
    expect(pic.acknowledge()).toBe(0x34);
    pic.writePort(MASTER_COMMAND, 0x00); // clear: IRQ 4 stays the lowest
    pulse(pic, 3);
    expect(pic.acknowledge()).toBe(0x31); // 5, 6, 7, 0, 1 come before 3
    expect(pic.acknowledge()).toBe(0x33);
  });

  it("rotates on a non-specific EOI: the level served becomes the lowest", () => {
    let pic = newLinuxPic();
    pulse(pic, 3);
    pic.acknowledge();
    pic.writePort(MASTER_COMMAND, 0xa0); // rotate on non-specific EOI
    pulse(pic, 3);
    pulse(pic, 5);
    expect(pic.acknowledge()).toBe(0x35);
  });

  it("rotates on a specific EOI", () => {
    let pic = newLinuxPic();
    pulse(pic, 6);
    pic.acknowledge();
    pic.writePort(MASTER_COMMAND, 0xe6); // rotate on specific EOI, level 6
    expect(readIsr(pic, MASTER_COMMAND)).toBe(0);
    pulse(pic, 6);
    pulse(pic, 7);
    expect(pic.acknowledge()).toBe(0x37);
  });

  it("makes the named level the lowest with the set-priority command", () => {
    let pic = newLinuxPic();
    pic.writePort(MASTER_COMMAND, 0xc4); // IRQ 4 lowest: 5 is the highest
    pulse(pic, 0);
    pulse(pic, 5);
    expect(pic.acknowledge()).toBe(0x35);
    pic.writePort(MASTER_COMMAND, 0x40); // no operation
    expect(readIsr(pic, MASTER_COMMAND)).toBe(0x20);
  });

  it("lets any unmasked level interrupt in special mask mode", () => {
    let pic = newLinuxPic();
    pulse(pic, 3);
    pic.acknowledge();
    pic.writePort(MASTER_DATA, 0x08);    // mask the level in service
    pic.writePort(MASTER_COMMAND, 0x68); // OCW3: enable special mask mode
    pulse(pic, 5);
    expect(pic.acknowledge()).toBe(0x35);
    pic.writePort(MASTER_COMMAND, 0x48); // and off again
    pic.writePort(MASTER_COMMAND, 0x65); // specific EOI 5
    pulse(pic, 6);
    expect(pic.hasInterrupt()).toBe(false); // IRQ 3 in service blocks it again
  });

  it("lets a higher slave IRQ nest through the cascade in special fully nested mode", () => {
    let pic = newPic();
    pic.writePort(MASTER_COMMAND, 0x11);
    pic.writePort(MASTER_DATA, 0x30);
    pic.writePort(MASTER_DATA, 0x04);
    pic.writePort(MASTER_DATA, 0x11); // SFNM
    pic.writePort(MASTER_DATA, 0x00);
    pic.writePort(SLAVE_DATA, 0x00);
    pulse(pic, 10);
    expect(pic.acknowledge()).toBe(0x72); // the slave keeps the BIOS's base 0x70
    pulse(pic, 9);
    expect(pic.acknowledge()).toBe(0x71);
  });

  it("holds a higher slave IRQ behind the cascade in service without SFNM", () => {
    let pic = newLinuxPic();
    pulse(pic, 10);
    pic.acknowledge();
    pulse(pic, 9);
    expect(pic.hasInterrupt()).toBe(false);
  });
});

describe("the 8259A pair: OCW3 reads and polling", () => {
  it("reads IRR or ISR from the command port as OCW3 selects", () => {
    let pic = newLinuxPic();
    pulse(pic, 1);
    pulse(pic, 6);
    pic.acknowledge();
    expect(pic.readPort(MASTER_COMMAND)).toBe(0x40);
    pic.writePort(MASTER_COMMAND, 0x0b);
    expect(pic.readPort(MASTER_COMMAND)).toBe(0x02);
    expect(pic.readPort(MASTER_COMMAND)).toBe(0x02); // the selection stays
    pic.writePort(MASTER_COMMAND, 0x08);             // RR clear: no change
    expect(pic.readPort(MASTER_COMMAND)).toBe(0x02);
    pic.writePort(MASTER_COMMAND, 0x0a);
    expect(pic.readPort(MASTER_COMMAND)).toBe(0x40);
  });

  it("answers the poll command with the level and acknowledges it", () => {
    let pic = newLinuxPic();
    pulse(pic, 5);
    pic.writePort(MASTER_COMMAND, 0x0c);
    expect(pic.readPort(MASTER_COMMAND)).toBe(0x85);
    expect(readIsr(pic, MASTER_COMMAND)).toBe(0x20);
    expect(pic.hasInterrupt()).toBe(false);
  });

  it("answers a poll with nothing pending with 0, then reads normally", () => {
    let pic = newLinuxPic();
    pic.writePort(MASTER_COMMAND, 0x0c);
    expect(pic.readPort(MASTER_DATA)).toBe(0);
    expect(pic.readPort(MASTER_DATA)).toBe(0x00); // the IMR again
    pic.writePort(MASTER_DATA, 0x12);
    expect(pic.readPort(MASTER_DATA)).toBe(0x12);
  });

  it("polls the slave on its own ports", () => {
    let pic = newLinuxPic();
    pulse(pic, 11);
    pic.writePort(MASTER_COMMAND, 0x0c);
    expect(pic.readPort(MASTER_COMMAND)).toBe(0x82);
    pic.writePort(SLAVE_COMMAND, 0x0c);
    expect(pic.readPort(SLAVE_COMMAND)).toBe(0x83);
  });
});

describe("the 8259A pair: hostile input", () => {
  it("reads 0xFF from ports it does not have", () => {
    let pic = newPic();
    expect(pic.readPort(0x22)).toBe(0xff);
    expect(pic.readPort(0x4d2)).toBe(0xff);
    expect(pic.readPort(0)).toBe(0xff);
  });

  it("survives every value on every port, and stays sane", () => {
    let pic = newLinuxPic();
    let ports: u32[] = [MASTER_COMMAND, MASTER_DATA, SLAVE_COMMAND, SLAVE_DATA, ELCR_MASTER, ELCR_SLAVE, 0x22, 0xffffffff];
    for (let value: u32 = 0; value < 0x200; value++) {
      for (let i = 0; i < ports.length; i++) {
        pic.writePort(ports[i], value * 0x01010101);
        pic.readPort(ports[i]);
        pic.setIrq(value & 15, (value & 16) != 0);
        if (pic.hasInterrupt()) {
          let vector = pic.acknowledge();
          expect(vector).toBeLessThan(0x100);
        }
      }
    }
    expect(pic.acknowledge()).toBeLessThan(0x100);
  });
});

describe("8259 priority", () => {
  it("ranks every mask under every rotation as a level-by-level scan does", () => {
    let chip = newPic().master();
    for (let top: u32 = 0; top < 8; top++) {
      chip.highestPriority = <u8>top;
      for (let mask: u32 = 0; mask < 256; mask++) {
        let scan: u32 = 0;
        while (scan < 8 && (mask & (<u32>1 << ((scan + top) & 7))) == 0) scan++;
        expect(chip.priorityOf(<u8>mask)).toBe(scan);
      }
    }
  });
});
