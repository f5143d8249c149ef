// The PC's two cascaded 8259A programmable interrupt controllers: the
// master at ports 0x20-0x21 (IRQ 0-7), the slave at 0xA0-0xA1 (IRQ 8-15)
// whose INT output drives the master's IR2, and the PIIX edge/level
// control registers (ELCR) at 0x4D0-0x4D1.
// Behaviour from the Intel 8259A datasheet (order no. 231468-003):
// "Interrupt sequence", "Initialization command words" (ICW1-ICW4),
// "Operation command words" (OCW1-OCW3), "Fully nested mode", "Automatic
// rotation", "Special mask mode", "Poll command"; the ELCR from the Intel
// 82371AB PIIX4 datasheet, 12.4.2 (ELCR1/ELCR2).
//
// The model, as QEMU's and KVM's: an edge-triggered input latches its IRR
// bit on a rising edge and holds it until the INTA that takes it (so a
// device's pulse is never lost); a level-triggered input's IRR bit follows
// the line. When the request is gone by the time the vCPU acknowledges
// (a level line dropped, or the level masked meanwhile), the INTA answers
// the spurious vector base + 7 and sets no ISR bit (datasheet, "Interrupt
// sequence": "...the 8259A will issue an interrupt level 7").
//
// The cascade input (master IR2) is the slave's INT output. It is latched
// on its rising edge like any edge input (so a slave request that vanishes
// before INTA gives the slave's spurious vector 15 and the master's ISR
// bit 2, as the pair does), and it also counts while the slave's INT is
// high, so a slave request is never stranded behind a missed edge.
//
// The bus calls readPort/writePort with absolute port numbers, a byte at a
// time. reset() leaves the pair as a PC BIOS does before it hands over
// (the role this hypervisor plays): initialized in 8086 mode, vectors 0x08
// and 0x70, cascade on IR2, every input masked except the cascade.

import { PORT_PIC_MASTER, PORT_PIC_SLAVE, PORT_ELCR } from "./pc_layout";

// ICW1 (written to the command port with bit 4 set).
const ICW1_INIT: u8 = 0x10;
const ICW1_IC4: u8 = 0x01;      // ICW4 follows
const ICW1_SINGLE: u8 = 0x02;   // no slaves: no ICW3
const ICW1_LTIM: u8 = 0x08;     // all inputs level-triggered
// ICW4
const ICW4_AUTO_EOI: u8 = 0x02;
const ICW4_SFNM: u8 = 0x10;     // special fully nested mode
// OCW2 (command port, bits 4-3 = 00): R, SL, EOI in bits 7-5, level in 2-0.
const OCW2_COMMAND_SHIFT: u8 = 5;
const OCW2_ROTATE_AUTO_EOI_CLEAR: u8 = 0;
const OCW2_NON_SPECIFIC_EOI: u8 = 1;
const OCW2_NOP: u8 = 2;
const OCW2_SPECIFIC_EOI: u8 = 3;
const OCW2_ROTATE_AUTO_EOI_SET: u8 = 4;
const OCW2_ROTATE_NON_SPECIFIC_EOI: u8 = 5;
const OCW2_SET_PRIORITY: u8 = 6;
const OCW2_ROTATE_SPECIFIC_EOI: u8 = 7;
// OCW3 (command port, bits 4-3 = 01).
const OCW3_SELECT: u8 = 0x08;
const OCW3_READ_REGISTER: u8 = 0x02;  // RR: bit 0 (RIS) picks ISR or IRR
const OCW3_READ_ISR: u8 = 0x01;
const OCW3_POLL: u8 = 0x04;
const OCW3_SPECIAL_MASK_ENABLE: u8 = 0x40; // ESMM: bit 5 (SMM) sets or clears
const OCW3_SPECIAL_MASK: u8 = 0x20;
// The poll command's answer: bit 7 = an interrupt was pending, 2-0 its level.
const POLL_INTERRUPT: u32 = 0x80;

export const CASCADE_LEVEL: u32 = 2;    // the master's input the slave drives
export const SPURIOUS_LEVEL: u32 = 7;   // the level a spurious INTA reports
const CASCADE_BIT: u8 = 1 << <u8>CASCADE_LEVEL;
// PIIX4 12.4.2: IRQ 0, 1, 2 (master) and 8, 13 (slave) are edge only; their
// ELCR bits read 0 and cannot be set.
export const ELCR_MASTER_BITS: u8 = 0xf8;
export const ELCR_SLAVE_BITS: u8 = 0xde;

// Initialization progress: which ICW the data port takes next.
const INIT_DONE: u8 = 0;
const INIT_ICW2: u8 = 2;
const INIT_ICW3: u8 = 3;
const INIT_ICW4: u8 = 4;

// One 8259A.
@unmanaged
export class Pic8259 {
  irr: u8;               // interrupt request register
  isr: u8;               // in-service register
  imr: u8;               // interrupt mask register (OCW1)
  lines: u8;             // the inputs' levels, for edge detection
  elcr: u8;              // level-triggered inputs (ELCR), reserved bits clear
  elcrBits: u8;          // the ELCR bits this chip has
  vectorBase: u8;        // ICW2, bits 7-3
  icw3: u8;              // master: inputs with a slave; slave: its ID
  highestPriority: u8;   // the level with the highest priority (rotation)
  initStep: u8;          // INIT_*
  icw4Needed: bool;
  singleMode: bool;
  levelTriggeredAll: bool; // ICW1 LTIM
  autoEoi: bool;
  rotateOnAutoEoi: bool;
  specialMask: bool;
  specialFullyNested: bool;
  readIsr: bool;         // OCW3: the command port reads ISR, else IRR
  pollPending: bool;     // OCW3 poll: the next read answers the poll

  // Inputs in level-triggered mode.
  @inline levelMask(): u8 {
    return this.levelTriggeredAll ? 0xff : this.elcr;
  }

  // An input changes level (edge latch or level follow).
  setLine(level: u32, high: bool): void {
    let bit = <u8>(<u32>1 << (level & 7));
    let rising = high && (this.lines & bit) == 0;
    this.lines = high ? this.lines | bit : this.lines & ~bit;
    if ((this.levelMask() & bit) != 0) {
      this.irr = high ? this.irr | bit : this.irr & ~bit;
    } else if (rising) {
      this.irr |= bit;
    }
  }

  // Level-triggered IRR bits follow their lines again (after an ELCR or
  // LTIM change); edge latches stay.
  followLevels(): void {
    let level = this.levelMask();
    this.irr = (this.irr & ~level) | (this.lines & level);
  }

  // The priority (0 highest .. 7 lowest) of the highest-priority level in
  // `mask`, 8 when it is empty.
  priorityOf(mask: u8): u32 {
    // Rotated so the highest-priority level is bit 0; bit 8 stops at 8.
    let shift = <u32>this.highestPriority & 7;
    let doubled = <u32>mask * 0x101;
    return ctz((doubled >> shift) | 0x100);
  }

  @inline levelAtPriority(priority: u32): u32 {
    return (priority + this.highestPriority) & 7;
  }

  // The level that would interrupt now given these requests, or -1:
  // unmasked, and above every level in service (fully nested mode). In
  // special mask mode any unmasked level not in service may interrupt;
  // in special fully nested mode the master lets the cascade nest.
  pendingLevel(requests: u8, isMaster: bool): i32 {
    let candidates = requests & ~this.imr;
    let inService = this.isr;
    if (this.specialMask) {
      candidates &= ~inService;
      inService = 0;
    }
    if (candidates == 0) return -1;
    if (isMaster && this.specialFullyNested) inService &= ~CASCADE_BIT;
    let priority = this.priorityOf(candidates);
    if (inService != 0 && priority >= this.priorityOf(inService)) return -1;
    return <i32>this.levelAtPriority(priority);
  }

  // The INTA (or poll) takes `level`: in service unless auto-EOI; an edge
  // latch is consumed.
  acknowledgeLevel(level: u32): void {
    let bit = <u8>(<u32>1 << (level & 7));
    if (this.autoEoi) {
      if (this.rotateOnAutoEoi) this.highestPriority = <u8>((level + 1) & 7);
    } else {
      this.isr |= bit;
    }
    if ((this.levelMask() & bit) == 0) this.irr &= ~bit;
  }

  // ICW1: starts initialization (datasheet, "Initialization command words":
  // edge sense reset, IMR cleared, IR7 lowest priority, special mask mode
  // off, IRR selected for reads; ICW4 functions cleared without IC4).
  initialize(icw1: u8): void {
    this.icw4Needed = (icw1 & ICW1_IC4) != 0;
    this.singleMode = (icw1 & ICW1_SINGLE) != 0;
    this.levelTriggeredAll = (icw1 & ICW1_LTIM) != 0;
    this.irr = this.lines & this.levelMask();
    this.isr = 0;
    this.imr = 0;
    this.highestPriority = 0;
    this.specialMask = false;
    this.readIsr = false;
    this.pollPending = false;
    this.autoEoi = false;
    this.rotateOnAutoEoi = false;
    this.specialFullyNested = false;
    this.initStep = INIT_ICW2;
  }

  // A write to the data port: the next ICW while initializing, else OCW1.
  writeData(value: u8): void {
    switch (this.initStep) {
      case INIT_ICW2: {
        this.vectorBase = value & 0xf8;
        this.initStep = !this.singleMode ? INIT_ICW3 : this.icw4Needed ? INIT_ICW4 : INIT_DONE;
        break;
      }
      case INIT_ICW3: {
        this.icw3 = value;
        this.initStep = this.icw4Needed ? INIT_ICW4 : INIT_DONE;
        break;
      }
      case INIT_ICW4: {
        // Bit 0 (8086 mode) is assumed; buffered mode (bits 2-3) has no
        // meaning here.
        this.autoEoi = (value & ICW4_AUTO_EOI) != 0;
        this.specialFullyNested = (value & ICW4_SFNM) != 0;
        this.initStep = INIT_DONE;
        break;
      }
      default: this.imr = value;
    }
  }

  // OCW2: end of interrupt and priority rotation.
  writeOcw2(value: u8): void {
    let level = <u32>(value & 7);
    switch (value >> OCW2_COMMAND_SHIFT) {
      case OCW2_NON_SPECIFIC_EOI:
      case OCW2_ROTATE_NON_SPECIFIC_EOI: {
        let priority = this.priorityOf(this.isr);
        if (priority == 8) break;
        let served = this.levelAtPriority(priority);
        this.isr &= ~(<u8>(<u32>1 << served));
        if ((value >> OCW2_COMMAND_SHIFT) == OCW2_ROTATE_NON_SPECIFIC_EOI) this.highestPriority = <u8>((served + 1) & 7);
        break;
      }
      case OCW2_SPECIFIC_EOI: {
        this.isr &= ~(<u8>(<u32>1 << level));
        break;
      }
      case OCW2_ROTATE_SPECIFIC_EOI: {
        this.isr &= ~(<u8>(<u32>1 << level));
        this.highestPriority = <u8>((level + 1) & 7);
        break;
      }
      case OCW2_SET_PRIORITY: {
        this.highestPriority = <u8>((level + 1) & 7); // `level` becomes the lowest
        break;
      }
      case OCW2_ROTATE_AUTO_EOI_SET: {
        this.rotateOnAutoEoi = true;
        break;
      }
      case OCW2_ROTATE_AUTO_EOI_CLEAR: {
        this.rotateOnAutoEoi = false;
        break;
      }
      default: break; // OCW2_NOP
    }
  }

  // OCW3: register read select, poll, special mask mode.
  writeOcw3(value: u8): void {
    if ((value & OCW3_SPECIAL_MASK_ENABLE) != 0) this.specialMask = (value & OCW3_SPECIAL_MASK) != 0;
    if ((value & OCW3_READ_REGISTER) != 0) this.readIsr = (value & OCW3_READ_ISR) != 0;
    this.pollPending = (value & OCW3_POLL) != 0;
  }

  // The poll command's answer, which acknowledges like an INTA.
  poll(requests: u8, isMaster: bool): u32 {
    this.pollPending = false;
    let level = this.pendingLevel(requests, isMaster);
    if (level < 0) return 0;
    this.acknowledgeLevel(<u32>level);
    return POLL_INTERRUPT | <u32>level;
  }

  // The state a PC BIOS leaves: ICW1 0x11 (edge, cascade, ICW4), the given
  // vector base and ICW3, ICW4 0x01 (8086 mode, normal EOI).
  setUp(vectorBase: u8, icw3: u8, imr: u8, elcrBits: u8): void {
    this.lines = 0;
    this.elcr = 0;
    this.elcrBits = elcrBits;
    this.initialize(ICW1_INIT | ICW1_IC4);
    this.writeData(vectorBase);
    this.writeData(icw3);
    this.writeData(0x01);
    this.writeData(imr);
  }
}

// Room for one Pic8259 inside the pair (checked in chip()).
const CHIP_BYTES: usize = 24;

@unmanaged
export class Pic8259Pair {
  // The master's and the slave's Pic8259, reached by address.
  masterState0: u64; masterState1: u64; masterState2: u64;
  slaveState0: u64; slaveState1: u64; slaveState2: u64;
  slaveOutput: bool;     // the slave's INT as the master's IR2 last saw it

  reset(): void {
    this.master().setUp(0x08, CASCADE_BIT, 0xff & ~CASCADE_BIT, ELCR_MASTER_BITS);
    this.slave().setUp(0x70, <u8>CASCADE_LEVEL, 0xff, ELCR_SLAVE_BITS);
    this.slaveOutput = false;
  }

  @inline master(): Pic8259 {
    return this.chip(offsetof<Pic8259Pair>("masterState0"));
  }

  @inline slave(): Pic8259 {
    return this.chip(offsetof<Pic8259Pair>("slaveState0"));
  }

  private chip(fieldOffset: usize): Pic8259 {
    if (offsetof<Pic8259>() > CHIP_BYTES) ERROR("Pic8259 outgrew its room in Pic8259Pair");
    return changetype<Pic8259>(changetype<usize>(this) + fieldOffset);
  }

  // ISA IRQ `irq` (0-15) changes level. IRQ 2 is no input on a PC (the
  // master's IR2 is the cascade); it and numbers above 15 are ignored.
  setIrq(irq: u32, high: bool): void {
    if (irq >= 16 || irq == CASCADE_LEVEL) return;
    if (irq < 8) this.master().setLine(irq, high);
    else this.slave().setLine(irq - 8, high);
    this.updateCascade();
  }

  // The master's INT output: an interrupt for the vCPU.
  hasInterrupt(): bool {
    return this.hasRequests() && this.master().pendingLevel(this.masterRequests(), true) >= 0;
  }

  // An unmasked request on either chip; without one (most exits) no INT,
  // no cascade.
  @inline hasRequests(): bool {
    let master = this.master();
    let slave = this.slave();
    return ((master.irr & ~master.imr) | (slave.irr & ~slave.imr)) != 0;
  }

  // The INTA cycle: the vector the pair puts on the bus, now in service.
  acknowledge(): u32 {
    let master = this.master();
    let level = master.pendingLevel(this.masterRequests(), true);
    if (level < 0) return <u32>master.vectorBase + SPURIOUS_LEVEL;
    master.acknowledgeLevel(<u32>level);
    let vector: u32;
    if (this.cascadesAt(<u32>level)) {
      let slave = this.slave();
      let slaveLevel = slave.pendingLevel(slave.irr, false);
      if (slaveLevel < 0) {
        vector = <u32>slave.vectorBase + SPURIOUS_LEVEL; // the master's ISR bit 2 stays set
      } else {
        slave.acknowledgeLevel(<u32>slaveLevel);
        vector = <u32>slave.vectorBase + <u32>slaveLevel;
      }
    } else {
      vector = <u32>master.vectorBase + <u32>level;
    }
    this.updateCascade();
    return vector;
  }

  readPort(port: u32): u32 {
    let value: u32 = 0xff;
    switch (port) {
      case PORT_PIC_MASTER: value = this.readCommand(this.master(), this.masterRequests(), true); break;
      case PORT_PIC_MASTER + 1: value = this.readData(this.master(), this.masterRequests(), true); break;
      case PORT_PIC_SLAVE: value = this.readCommand(this.slave(), this.slave().irr, false); break;
      case PORT_PIC_SLAVE + 1: value = this.readData(this.slave(), this.slave().irr, false); break;
      case PORT_ELCR: value = this.master().elcr; break;
      case PORT_ELCR + 1: value = this.slave().elcr; break;
      default: return value;
    }
    this.updateCascade(); // a poll acknowledges
    return value;
  }

  writePort(port: u32, value: u32): void {
    let byte = <u8>value;
    switch (port) {
      case PORT_PIC_MASTER: this.writeCommand(this.master(), byte); break;
      case PORT_PIC_MASTER + 1: this.master().writeData(byte); break;
      case PORT_PIC_SLAVE: this.writeCommand(this.slave(), byte); break;
      case PORT_PIC_SLAVE + 1: this.slave().writeData(byte); break;
      case PORT_ELCR: this.writeElcr(this.master(), byte); break;
      case PORT_ELCR + 1: this.writeElcr(this.slave(), byte); break;
      default: return;
    }
    this.updateCascade();
  }

  // The master's requests: its own inputs and the slave's INT on IR2.
  private masterRequests(): u8 {
    let requests = this.master().irr;
    if (this.slaveInterrupting()) requests |= CASCADE_BIT;
    return requests;
  }

  @inline private slaveInterrupting(): bool {
    let slave = this.slave();
    return slave.pendingLevel(slave.irr, false) >= 0;
  }

  // The slave answers the INTA for master level `level` (ICW3 says a slave
  // sits there, and the master is not in single mode).
  private cascadesAt(level: u32): bool {
    let master = this.master();
    return !master.singleMode && (<u32>master.icw3 & (<u32>1 << level)) != 0;
  }

  // The slave's INT drives the master's IR2 (after every change of state).
  private updateCascade(): void {
    let output = this.slaveInterrupting();
    if (output != this.slaveOutput) {
      this.slaveOutput = output;
      this.master().setLine(CASCADE_LEVEL, output);
    }
  }

  private readCommand(chip: Pic8259, requests: u8, isMaster: bool): u32 {
    if (chip.pollPending) return chip.poll(requests, isMaster);
    return chip.readIsr ? chip.isr : requests;
  }

  private readData(chip: Pic8259, requests: u8, isMaster: bool): u32 {
    if (chip.pollPending) return chip.poll(requests, isMaster);
    return chip.imr;
  }

  private writeCommand(chip: Pic8259, value: u8): void {
    if ((value & ICW1_INIT) != 0) chip.initialize(value);
    else if ((value & OCW3_SELECT) != 0) chip.writeOcw3(value);
    else chip.writeOcw2(value);
  }

  private writeElcr(chip: Pic8259, value: u8): void {
    chip.elcr = value & chip.elcrBits;
    chip.followLevels();
  }
}
