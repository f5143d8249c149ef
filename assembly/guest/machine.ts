// One guest's machine as its exits see it: the guest's state and its
// devices, each at a fixed place in static memory, wired once. Also the
// guest's life around the exits: create (name, command line, RAM size),
// load (the kernel), stop (one line on the console saying why).

import { TextWriter } from "../lib/text";
import { GuestState } from "./state";
import { Platform } from "./platform";
import { ConsoleLine, CONSOLE_LINE_BYTES } from "../devices/console_line";
import { DebugExit } from "../devices/debug_exit";
import { PortBus, PORT_BUS_BYTES, DeviceKind } from "../devices/port_bus";
import { Uart16550 } from "../devices/uart16550";
import { MsrFile, MSR_FILE_BYTES } from "../vcpu/msr";
import { GuestClock } from "../devices/clock";
import { InterruptLines, IRQ_COM1 } from "../devices/interrupt_lines";
import { Pic8259Pair } from "../devices/pic8259";
import { IoApic } from "../devices/ioapic";
import { Lapic, LAPIC_STRIDE } from "../devices/lapic";
import { Pit8254, PIT8254_BYTES } from "../devices/pit8254";
import { SystemControlB } from "../devices/system_control_b";
import { RtcCmos, RTC_CMOS_BYTES } from "../devices/rtc_cmos";
import { AcpiPm } from "../devices/acpi_pm";
import { PciHost } from "../devices/pci_host";
import { ResetControl } from "../devices/reset_control";
import { I8042 } from "../devices/i8042";
import { SystemControlA } from "../devices/system_control_a";
import { PostDelay } from "../devices/post_delay";
import { MmioBus, MMIO_BUS_BYTES, MmioKind } from "../devices/mmio_bus";
import { Emulation, EMULATION_BYTES } from "../x86/emulation";
import {
  PORT_PIC_MASTER, PORT_PIC_SLAVE, PORT_ELCR, PORT_PIT, PORT_SYSTEM_CONTROL_B, PORT_RTC,
  PORT_I8042_DATA, PORT_I8042_COMMAND, PORT_POST, PORT_DELAY, PORT_SYSTEM_CONTROL_A, PORT_PCI_CONFIG_ADDRESS,
  LAPIC_BASE, LAPIC_BYTES, IOAPIC_BASE, IOAPIC_BYTES,
  PORT_PM1A_EVENT, PM1A_EVENT_BYTES, PORT_PM1A_CONTROL, PM1A_CONTROL_BYTES, PORT_PM_TIMER, PM_TIMER_BYTES,
} from "../devices/pc_layout";
import { ExitRecord, ExitAction, StopReason, VcpuState, EXIT_RECORD_BYTES, VCPU_STATE_BYTES } from "../vcpu/exit_record";
import { IpiTargets } from "../devices/apic_bus";
import { VcpuRun, MSR_FILE_STRIDE, vcpuLapic, vcpuMsrs, selectVcpu, retargetVcpu, setRunState } from "./vcpus";
import { loadKernel, loadAcpiTables } from "../loaders/kernel";
import { appendExitStats, exitStatsReset } from "./exit_stats";
import { timersChanged } from "./timers";

export const COM1_BASE: u32 = 0x3f8;
export const COM1_PORTS: u32 = 8;
export const DEBUG_EXIT_PORT: u32 = 0xf4;

// Before create(), the stub copies the guest's name and then its command
// line here (create says how long each is).
export const SETUP_AREA_BYTES: u32 = 8192;
// The guest's name is cut to this many bytes in "[hv] guest <name> ..." lines.
const STOP_NAME_BYTES: u32 = 64;

// The vCPUs a machine has room for (one local APIC, ExitRecord, first
// state and MsrFile each). The I/O APIC's ID comes after theirs and has
// 4 bits (82093AA, 3.2.1), so at most 15; the stub's twin is
// CORE_MAX_VCPUS (linker/core.h), the config's limit is the same.
export const MAX_VCPUS: u32 = 8;

// Each part of the machine at its fixed place in one block of static
// memory, 16-byte aligned, each part's size written once: the offset of
// the next part. The addresses are constants, so the Wasm reaches a
// device without loading a pointer first (make bench, P1); layoutMachine()
// zeroes the block. What an exit reads comes first and the parts read only
// at start or on rarer exits last, so an exit touches two pages of it (under
// QEMU TCG each page is a TLB fill on every exit: scripts/exit-pages).
const OBJECT_OFFSET: usize = 0;   // the Machine object itself: read on every exit, beside its parts
const CPUID_SCRATCH_OFFSET: usize = (OBJECT_OFFSET + offsetof<Machine>() + 15) & ~15;
const STATE_OFFSET: usize = (CPUID_SCRATCH_OFFSET + 16 + 15) & ~15;
const BUS_OFFSET: usize = (STATE_OFFSET + offsetof<GuestState>() + 15) & ~15;
const UART_OFFSET: usize = (BUS_OFFSET + <usize>PORT_BUS_BYTES + 15) & ~15;
const DEBUG_EXIT_OFFSET: usize = (UART_OFFSET + offsetof<Uart16550>() + 15) & ~15;
const CONSOLE_OFFSET: usize = (DEBUG_EXIT_OFFSET + offsetof<DebugExit>() + 15) & ~15;
const CLOCK_OFFSET: usize = (CONSOLE_OFFSET + <usize>CONSOLE_LINE_BYTES + 15) & ~15;
const LINES_OFFSET: usize = (CLOCK_OFFSET + offsetof<GuestClock>() + 15) & ~15;
const PIC_OFFSET: usize = (LINES_OFFSET + offsetof<InterruptLines>() + 15) & ~15;
const IOAPIC_OFFSET: usize = (PIC_OFFSET + offsetof<Pic8259Pair>() + 15) & ~15;
const RUN_STATES_OFFSET: usize = (IOAPIC_OFFSET + offsetof<IoApic>() + 15) & ~15;
const IPI_TARGETS_OFFSET: usize = (RUN_STATES_OFFSET + <usize>MAX_VCPUS + 15) & ~15;
const RECORDS_OFFSET: usize = (IPI_TARGETS_OFFSET + offsetof<IpiTargets>() + 15) & ~15;
const LAPICS_OFFSET: usize = (RECORDS_OFFSET + <usize>(EXIT_RECORD_BYTES * MAX_VCPUS) + 15) & ~15;
const PIT_OFFSET: usize = (LAPICS_OFFSET + <usize>(LAPIC_STRIDE * MAX_VCPUS) + 15) & ~15;
const SYSTEM_CONTROL_B_OFFSET: usize = (PIT_OFFSET + <usize>PIT8254_BYTES + 15) & ~15;
const RTC_OFFSET: usize = (SYSTEM_CONTROL_B_OFFSET + offsetof<SystemControlB>() + 15) & ~15;
const PM_OFFSET: usize = (RTC_OFFSET + <usize>RTC_CMOS_BYTES + 15) & ~15;
const PCI_HOST_OFFSET: usize = (PM_OFFSET + offsetof<AcpiPm>() + 15) & ~15;
const RESET_CONTROL_OFFSET: usize = (PCI_HOST_OFFSET + offsetof<PciHost>() + 15) & ~15;
const I8042_OFFSET: usize = (RESET_CONTROL_OFFSET + offsetof<ResetControl>() + 15) & ~15;
const SYSTEM_CONTROL_A_OFFSET: usize = (I8042_OFFSET + offsetof<I8042>() + 15) & ~15;
const POST_DELAY_OFFSET: usize = (SYSTEM_CONTROL_A_OFFSET + offsetof<SystemControlA>() + 15) & ~15;
const MMIO_OFFSET: usize = (POST_DELAY_OFFSET + offsetof<PostDelay>() + 15) & ~15;
const EMULATION_OFFSET: usize = (MMIO_OFFSET + <usize>MMIO_BUS_BYTES + 15) & ~15;
const MSR_FILES_OFFSET: usize = (EMULATION_OFFSET + <usize>EMULATION_BYTES + 15) & ~15;
const INITIAL_STATES_OFFSET: usize = (MSR_FILES_OFFSET + <usize>(MSR_FILE_STRIDE * MAX_VCPUS) + 15) & ~15;
const SETUP_AREA_OFFSET: usize = (INITIAL_STATES_OFFSET + <usize>(VCPU_STATE_BYTES * MAX_VCPUS) + 15) & ~15;
const PARTS_BYTES: usize = (SETUP_AREA_OFFSET + <usize>SETUP_AREA_BYTES + 15) & ~15;
const PARTS_AT = memory.data(<i32>PARTS_BYTES, 16);
// Scratch for CPUID answers (EAX, EBX, ECX, EDX: guest/exits.ts), in the
// block too: every CPUID exit writes it.
export const CPUID_SCRATCH: usize = PARTS_AT + CPUID_SCRATCH_OFFSET;

@unmanaged
export class Machine {
  @inline get state(): GuestState { return changetype<GuestState>(PARTS_AT + STATE_OFFSET); }
  @inline get bus(): PortBus { return changetype<PortBus>(PARTS_AT + BUS_OFFSET); }
  @inline get uart(): Uart16550 { return changetype<Uart16550>(PARTS_AT + UART_OFFSET); }
  @inline get debugExit(): DebugExit { return changetype<DebugExit>(PARTS_AT + DEBUG_EXIT_OFFSET); }
  @inline get console(): ConsoleLine { return changetype<ConsoleLine>(PARTS_AT + CONSOLE_OFFSET); }
  msrs: MsrFile;         // the current vCPU's
  @inline get setupArea(): usize { return PARTS_AT + SETUP_AREA_OFFSET; }
  // The vCPUs (guest/vcpus.ts): vcpuCount of them, `current` the one whose
  // exit is being handled; per vCPU at these bases: ExitRecords, first
  // states, MsrFiles, run states (VcpuRun, a byte each).
  vcpuCount: u32;
  current: u32;
  loadPending: u32;      // bit n: vCPU n was started and its first state waits for the stub
  @inline get records(): usize { return PARTS_AT + RECORDS_OFFSET; }
  @inline get initialStates(): usize { return PARTS_AT + INITIAL_STATES_OFFSET; }
  @inline get msrFiles(): usize { return PARTS_AT + MSR_FILES_OFFSET; }
  @inline get runStates(): usize { return PARTS_AT + RUN_STATES_OFFSET; }
  @inline get ipiTargets(): IpiTargets { return changetype<IpiTargets>(PARTS_AT + IPI_TARGETS_OFFSET); }
  // The PC platform (devices/README.md): time, interrupt lines and
  // controllers, timers.
  @inline get clock(): GuestClock { return changetype<GuestClock>(PARTS_AT + CLOCK_OFFSET); }
  timersDue: u64;        // guest TSC of the earliest device event (guest/timers.ts)
  hostDeadline: u64;     // the last answer of nextHostDeadline
  @inline get lines(): InterruptLines { return changetype<InterruptLines>(PARTS_AT + LINES_OFFSET); }
  @inline get pic(): Pic8259Pair { return changetype<Pic8259Pair>(PARTS_AT + PIC_OFFSET); }
  @inline get ioapic(): IoApic { return changetype<IoApic>(PARTS_AT + IOAPIC_OFFSET); }
  lapic: Lapic;          // the current vCPU's
  @inline get lapics(): Lapic { return changetype<Lapic>(PARTS_AT + LAPICS_OFFSET); }         // vCPU 0's; the others follow LAPIC_STRIDE apart
  @inline get pit(): Pit8254 { return changetype<Pit8254>(PARTS_AT + PIT_OFFSET); }
  @inline get systemControlB(): SystemControlB { return changetype<SystemControlB>(PARTS_AT + SYSTEM_CONTROL_B_OFFSET); }
  @inline get rtc(): RtcCmos { return changetype<RtcCmos>(PARTS_AT + RTC_OFFSET); }
  @inline get pm(): AcpiPm { return changetype<AcpiPm>(PARTS_AT + PM_OFFSET); }
  @inline get pciHost(): PciHost { return changetype<PciHost>(PARTS_AT + PCI_HOST_OFFSET); }
  @inline get resetControl(): ResetControl { return changetype<ResetControl>(PARTS_AT + RESET_CONTROL_OFFSET); }
  @inline get i8042(): I8042 { return changetype<I8042>(PARTS_AT + I8042_OFFSET); }
  @inline get systemControlA(): SystemControlA { return changetype<SystemControlA>(PARTS_AT + SYSTEM_CONTROL_A_OFFSET); }
  @inline get postDelay(): PostDelay { return changetype<PostDelay>(PARTS_AT + POST_DELAY_OFFSET); }
  // Guest-physical addresses outside RAM, and the workspace of the
  // instruction emulation (MMIO, string I/O).
  @inline get mmio(): MmioBus { return changetype<MmioBus>(PARTS_AT + MMIO_OFFSET); }
  @inline get emulation(): Emulation { return changetype<Emulation>(PARTS_AT + EMULATION_OFFSET); }
}

// Lays the machine out at its fixed places, zeroed, with the UART (COM1)
// and the exit port on the bus. Every call answers the same machine,
// emptied again (the tests start each case from here).
export function layoutMachine(): Machine {
  memory.fill(PARTS_AT, 0, PARTS_BYTES);
  let machine = changetype<Machine>(PARTS_AT + OBJECT_OFFSET);
  machine.vcpuCount = 1;
  retargetVcpu(machine, 0);
  wirePlatform(machine);
  machine.console.init(0, 0);
  timersChanged(machine);
  return machine;
}

// Connects the devices to each other and puts them on the bus: each sees
// the clock and raises lines; the lines feed both interrupt controllers;
// the I/O APIC delivers to the local APICs, whose EOIs reach it back.
function wirePlatform(machine: Machine): void {
  let clock = machine.clock;
  let lines = machine.lines;
  machine.uart.output = machine.console;
  machine.console.clock = clock; // its share of the host console refills by guest time
  machine.uart.lines = lines;
  machine.uart.irq = IRQ_COM1;
  lines.pic = machine.pic;
  lines.ioapic = machine.ioapic;
  machine.ioapic.lapics = changetype<usize>(machine.lapics);
  machine.ioapic.lapicCount = machine.vcpuCount;
  for (let v: u32 = 0; v < MAX_VCPUS; v++) {
    let lapic = vcpuLapic(machine, v);
    lapic.clock = clock;
    lapic.ioapic = machine.ioapic;
    let msrs = vcpuMsrs(machine, v);
    msrs.lapic = lapic;
    msrs.clock = clock;
  }
  machine.pit.clock = clock;
  machine.pit.lines = lines;
  machine.systemControlB.pit = machine.pit;
  machine.rtc.clock = clock;
  machine.rtc.lines = lines;
  machine.pm.clock = clock;
  machine.pm.lines = lines;
  machine.pciHost.resetControl = machine.resetControl;
  machine.i8042.lines = lines;

  let bus = machine.bus;
  bus.clear();
  bus.map(COM1_BASE, COM1_PORTS, DeviceKind.Uart16550, changetype<usize>(machine.uart), true);
  bus.map(DEBUG_EXIT_PORT, 1, DeviceKind.DebugExit, changetype<usize>(machine.debugExit), false);
  let pic = changetype<usize>(machine.pic);
  bus.map(PORT_PIC_MASTER, 2, DeviceKind.Pic, pic, true);
  bus.map(PORT_PIC_SLAVE, 2, DeviceKind.Pic, pic, true);
  bus.map(PORT_ELCR, 2, DeviceKind.Pic, pic, true);
  bus.map(PORT_PIT, 4, DeviceKind.Pit, changetype<usize>(machine.pit), true);
  bus.map(PORT_SYSTEM_CONTROL_B, 1, DeviceKind.SystemControlB, changetype<usize>(machine.systemControlB), true);
  bus.map(PORT_RTC, 2, DeviceKind.Rtc, changetype<usize>(machine.rtc), true);
  let pm = changetype<usize>(machine.pm);
  bus.map(PORT_PM1A_EVENT, PM1A_EVENT_BYTES, DeviceKind.PmEvent, pm, false);
  bus.map(PORT_PM1A_CONTROL, PM1A_CONTROL_BYTES, DeviceKind.PmControl, pm, false);
  bus.map(PORT_PM_TIMER, PM_TIMER_BYTES, DeviceKind.PmTimer, pm, false);
  bus.map(PORT_PCI_CONFIG_ADDRESS, 8, DeviceKind.PciHost, changetype<usize>(machine.pciHost), false);
  let i8042 = changetype<usize>(machine.i8042);
  bus.map(PORT_I8042_DATA, 1, DeviceKind.I8042, i8042, true);
  bus.map(PORT_I8042_COMMAND, 1, DeviceKind.I8042, i8042, true);
  bus.map(PORT_SYSTEM_CONTROL_A, 1, DeviceKind.SystemControlA, changetype<usize>(machine.systemControlA), true);
  let delay = changetype<usize>(machine.postDelay);
  bus.map(PORT_POST, 1, DeviceKind.PostDelay, delay, true);
  bus.map(PORT_DELAY, 1, DeviceKind.PostDelay, delay, true);

  let mmio = machine.mmio;
  mmio.clear();
  // The local APIC page answers for the vCPU whose access it is.
  mmio.map(LAPIC_BASE, LAPIC_BYTES, MmioKind.Lapic, changetype<usize>(machine.lapic));
  mmio.map(IOAPIC_BASE, IOAPIC_BYTES, MmioKind.IoApic, changetype<usize>(machine.ioapic));
}

// The platform's power-on state (a PC after its BIOS ran: see each
// device's reset).
function resetPlatform(machine: Machine, memoryBytes: u64): void {
  machine.bus.reset();
  machine.lines.reset();
  machine.pic.reset();
  machine.ioapic.reset();
  machine.ioapic.lapicCount = machine.vcpuCount;
  machine.ioapic.id = machine.vcpuCount;  // as the MADT says: the APIC IDs after the vCPUs
  for (let v: u32 = 0; v < MAX_VCPUS; v++) {
    vcpuLapic(machine, v).reset(v);
    vcpuMsrs(machine, v).reset();
    setRunState(machine, v, v == 0 ? VcpuRun.Runnable : VcpuRun.WaitForSipi);
  }
  machine.loadPending = 0;
  selectVcpu(machine, 0);
  machine.pit.reset();
  machine.systemControlB.reset();
  machine.rtc.reset();
  machine.rtc.setMemorySize(memoryBytes);
  machine.pm.reset();
  machine.pciHost.reset();
  machine.i8042.reset();
  machine.systemControlA.reset();
  machine.postDelay.reset();
}

// Gives the instance its guest of `vcpus` vCPUs: `nameLength` bytes of
// name then `cmdlineLength` bytes of command line are in the setup area.
// Returns 0, 1 if the instance already has a guest (one guest for its
// life), 2 if the lengths do not fit the setup area, 3 if `vcpus` is not
// 1 to MAX_VCPUS.
export function createGuest(machine: Machine, guestId: u32, memoryBytes: u64, nameLength: u32,
                            cmdlineLength: u32, vcpus: u32 = 1): u32 {
  let state = machine.state;
  if (state.created) return 1;
  if (<u64>nameLength + <u64>cmdlineLength > <u64>SETUP_AREA_BYTES) return 2;
  if (vcpus == 0 || vcpus > MAX_VCPUS) return 3;
  machine.vcpuCount = vcpus;
  state.created = true;
  state.guestId = guestId;
  state.memoryBytes = memoryBytes;
  state.name = machine.setupArea;
  state.nameLength = nameLength;
  state.cmdline = machine.setupArea + <usize>nameLength;
  state.cmdlineLength = cmdlineLength;
  machine.console.init(state.name, nameLength);
  exitStatsReset();
  machine.clock.init(0, 0);       // a rate until load() gives the host's
  resetPlatform(machine, memoryBytes);
  timersChanged(machine);
  return 0;
}

// Loads the guest's kernel and fills `initial`. 0 on success; else the
// guest is stopped, the reason printed ("... cannot load kernel: <why>"),
// and the answer is StopReason.LoadFailed (or 1 before create, 2 when
// already loaded).
export function loadGuest(machine: Machine, initial: VcpuState, platform: Platform): u32 {
  let state = machine.state;
  if (!state.created) return 1;
  if (state.loaded || state.stopped) return 2;
  let line = beginStopLine(machine).text("cannot load kernel: ");
  if (!loadKernel(platform, state.memoryBytes, state.cmdline, state.cmdlineLength, initial, line) ||
      !loadAcpiTables(platform, machine.vcpuCount, state.memoryBytes, line)) {
    markStopped(machine, StopReason.LoadFailed, 0);
    printStopLine(machine, platform);
    return <u32>StopReason.LoadFailed;
  }
  state.loaded = true;
  // Guest time starts now: its TSC near 0, its RTC at the host's time.
  machine.clock.initFrom(platform, platform.wallClockSeconds());
  machine.console.clockChanged();
  let tsc = platform.readTsc();
  state.tscOffset = -<i64>tsc;
  initial.tscOffset = state.tscOffset;
  timersChanged(machine);
  return 0;
}

// --- stopping ------------------------------------------------------------------

const LINE_BYTES: u32 = 512;
const LINE: usize = memory.data(LINE_BYTES);
// One byte short of the buffer: the '\n' always fits.
const line = new TextWriter(LINE, LINE_BYTES - 1);

// Starts "[hv] guest <name> stopped: " and answers the writer, for the
// reason to be appended.
export function beginStopLine(machine: Machine): TextWriter {
  return beginGuestLine(machine).text(" stopped: ");
}

// Starts "[hv] guest <name>" (the name cut to STOP_NAME_BYTES).
function beginGuestLine(machine: Machine): TextWriter {
  let state = machine.state;
  let nameLength = state.nameLength < STOP_NAME_BYTES ? state.nameLength : STOP_NAME_BYTES;
  return line.clear().text("[hv] guest ").bytes(state.name, nameLength);
}

// Prints the line in the writer, with its newline (there is room for it).
function writeLine(platform: Platform): void {
  store<u8>(LINE + <usize>line.length, 0x0a);
  platform.consoleWrite(LINE, line.length + 1);
}

// Prints the line begun by beginStopLine, after everything the guest wrote
// to its console (a partial line too): its last words come first.
export function printStopLine(machine: Machine, platform: Platform): void {
  machine.console.flush(platform);
  writeLine(platform);
  printExitStats(machine, platform);
}

// "[hv] guest <name> exits: <by reason>", for a guest that was loaded;
// also for one the stub stops (stop_after_ms, `stop` at the prompt).
export function printExitStats(machine: Machine, platform: Platform): void {
  if (!machine.state.loaded) return;
  appendExitStats(beginGuestLine(machine).text(" exits: "), machine.mmio.unclaimedReads + machine.mmio.unclaimedWrites);
  writeLine(platform);
}

// Whether a device asked for a reset of the machine (the exit handler acts
// after the write that asked).
export function resetRequested(machine: Machine): bool {
  return machine.resetControl.requested || machine.i8042.resetRequested || machine.systemControlA.resetRequested;
}

// A reset: the guest ends here and the stub starts it again, fresh, from
// the same config ("[hv] guest <name> rebooted"; not a crash).
export function rebootGuest(record: ExitRecord, machine: Machine, platform: Platform): void {
  beginGuestLine(machine).text(" rebooted");
  stopGuest(record, machine, platform, StopReason.Reboot, 0);
}

export function markStopped(machine: Machine, reason: StopReason, code: u64): void {
  machine.state.stopped = true;
  machine.state.stopReason = <u32>reason;
  machine.state.stopCode = code;
}

// Answers Stop in the record, prints the line begun by beginStopLine.
export function stopGuest(record: ExitRecord, machine: Machine, platform: Platform, reason: StopReason,
                          code: u64): void {
  markStopped(machine, reason, code);
  record.action = ExitAction.Stop;
  record.stopReason = <u32>reason;
  record.stopCode = code;
  printStopLine(machine, platform);
}
