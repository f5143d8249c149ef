import { dispatchExit } from "../../../assembly/guest/exits";
import {
  ExitReason, ExitAction, StopReason, Access, INJECT_VALID, INJECT_TYPE_EXCEPTION, INJECT_HAS_ERROR_CODE,
} from "../../../assembly/vcpu/exit_record";
import { flatRecord } from "./helpers";
import { FakePlatform, newGuest, newRecord } from "./helpers";

const UD: u32 = INJECT_VALID | INJECT_TYPE_EXCEPTION | 6;

describe("every exit", () => {
  it("resets every result field before answering", () => {
    let platform = new FakePlatform();
    let machine = newGuest();
    let record = newRecord(ExitReason.ExternalInterrupt);
    record.action = 2;
    record.advance = 9;
    record.inject = 0x80000b0e;
    record.injectErrorCode = 5;
    record.dirty = 0x1f;
    record.stopReason = 3;
    record.stopCode = 77;
    dispatchExit(record, machine, platform);
    expect(record.action).toBe(ExitAction.Resume);
    expect(record.advance).toBe(0);
    expect(record.inject).toBe(0);
    expect(record.injectErrorCode).toBe(0);
    expect(record.dirty).toBe(0);
    expect(record.stopReason).toBe(0);
    expect(record.stopCode).toBe(0);
  });

  it("counts exits in the record", () => {
    let platform = new FakePlatform();
    let machine = newGuest();
    let record = newRecord(ExitReason.ExternalInterrupt);
    dispatchExit(record, machine, platform);
    dispatchExit(record, machine, platform);
    expect(record.exits).toBe(2);
  });

  it("resumes the guest after an external interrupt or an interrupt window", () => {
    let platform = new FakePlatform();
    let machine = newGuest();
    let record = newRecord(ExitReason.InterruptWindow);
    dispatchExit(record, machine, platform);
    expect(record.action).toBe(ExitAction.Resume);
    expect(platform.console.length).toBe(0);
  });
});

describe("HLT", () => {
  it("waits, without moving past HLT, when interrupts are enabled and none is pending", () => {
    let platform = new FakePlatform();
    let machine = newGuest();
    let record = newRecord(ExitReason.Hlt);
    dispatchExit(record, machine, platform);
    expect(record.action).toBe(ExitAction.Wait);
    expect(record.advance).toBe(0);
  });

  it("waits again when woken with nothing pending", () => {
    let platform = new FakePlatform();
    let machine = newGuest();
    let record = newRecord(ExitReason.Wake);
    dispatchExit(record, machine, platform);
    expect(record.action).toBe(ExitAction.Wait);
  });

  it("yields the CPU on the yield hypercall and moves past it", () => {
    let platform = new FakePlatform();
    let machine = newGuest();
    let record = newRecord(ExitReason.Hypercall);
    record.rax = 0x444c4559;
    dispatchExit(record, machine, platform);
    expect(record.action).toBe(ExitAction.Yield);
    expect(record.advance).toBe(3);
    expect(record.inject).toBe(0);
  });

  it("stops the guest when interrupts are disabled", () => {
    let platform = new FakePlatform();
    let machine = newGuest();
    let record = newRecord(ExitReason.Hlt);
    record.rflags = 0x2;
    record.rip = 0x100123;
    dispatchExit(record, machine, platform);
    expect(record.action).toBe(ExitAction.Stop);
    expect(record.stopReason).toBe(StopReason.Halted);
    expect(platform.console[0]).toBe("[hv] guest web stopped: halted with interrupts disabled (RIP 0x100123)\n");
  });
});

describe("a nested page fault", () => {
  it("emulates a write outside RAM that no device claims: dropped, counted, the guest goes on", () => {
    let platform = new FakePlatform();
    let machine = newGuest("web", "", 32 << 20);
    let record = flatRecord(ExitReason.NestedPageFault, platform, [0x89, 0x08]); // mov [eax], ecx
    record.gpa = 0x40000000;
    record.rax = 0x40000000;
    record.access = Access.Write;
    dispatchExit(record, machine, platform);
    expect(record.action).toBe(ExitAction.Resume);
    expect(record.advance).toBe(2);
    expect(machine.mmio.unclaimedWrites).toBe(1);
  });

  it("reads all ones from an address outside RAM that no device claims", () => {
    let platform = new FakePlatform();
    let machine = newGuest("web", "", 32 << 20);
    let record = flatRecord(ExitReason.NestedPageFault, platform, [0x8b, 0x08]); // mov ecx, [eax]
    record.gpa = 0x40000000;
    record.rax = 0x40000000;
    record.access = Access.Read;
    dispatchExit(record, machine, platform);
    expect(record.rcx).toBe(0xffffffff);
    expect(record.advance).toBe(2);
  });

  it("reads the local APIC's version register through MMIO", () => {
    let platform = new FakePlatform();
    let machine = newGuest("web", "", 32 << 20);
    let record = flatRecord(ExitReason.NestedPageFault, platform, [0x8b, 0x08]); // mov ecx, [eax]
    record.gpa = 0xfee00030;
    record.rax = 0xfee00030;
    record.access = Access.Read;
    dispatchExit(record, machine, platform);
    expect(<u32>record.rcx & 0xff).toBe(0x14);
  });

  it("stops the guest on an MMIO instruction it does not know, printing its bytes and RIP", () => {
    let platform = new FakePlatform();
    let machine = newGuest("web", "", 32 << 20);
    let record = flatRecord(ExitReason.NestedPageFault, platform, [0x0f, 0x0b]); // ud2
    record.gpa = 0x40000000;
    record.access = Access.Write;
    dispatchExit(record, machine, platform);
    expect(record.action).toBe(ExitAction.Stop);
    expect(record.stopReason).toBe(StopReason.Unsupported);
    expect(platform.console[0].startsWith("[hv] guest web stopped: MMIO: an instruction the emulator does not know (bytes 0F 0B")).toBe(true);
    expect(platform.console[0].includes("RIP 0x100000, guest-physical 0x40000000")).toBe(true);
  });

  it("stops the guest on an instruction fetch outside RAM, naming address, kind and RIP", () => {
    let platform = new FakePlatform();
    let machine = newGuest("b", "", 32 << 20);
    let record = newRecord(ExitReason.NestedPageFault);
    record.gpa = 0x80000000;
    record.rip = 0x80000000;
    record.access = Access.Execute | Access.Read;
    dispatchExit(record, machine, platform);
    expect(record.action).toBe(ExitAction.Stop);
    expect(record.stopReason).toBe(StopReason.OutsideRam);
    expect(platform.console[0]).toBe("[hv] guest b stopped: access outside RAM at guest-physical 0x80000000 (execute, RIP 0x80000000)\n");
  });

  it("stops a guest whose own page-table walk reaches beyond RAM, instead of emulating its instruction there", () => {
    let platform = new FakePlatform();
    let machine = newGuest("pt", "", 32 << 20);
    // mov ecx, [eax] through a PDE whose page table is at 0x40000000: the
    // fault is on the CPU's read of the PTE, not on the data.
    let record = flatRecord(ExitReason.NestedPageFault, platform, [0x8b, 0x08]);
    record.gpa = 0x40000010;
    record.rax = 0x00800010;
    record.rcx = 0x1234;
    record.access = Access.Read | Access.PageWalk;
    dispatchExit(record, machine, platform);
    expect(record.action).toBe(ExitAction.Stop);
    expect(record.stopReason).toBe(StopReason.OutsideRam);
    expect(record.rcx).toBe(0x1234);
    expect(record.advance).toBe(0);
    expect(record.inject).toBe(0);
    expect(machine.mmio.unclaimedReads).toBe(0);
    expect(platform.console[0]).toBe("[hv] guest pt stopped: its page tables reach outside RAM at guest-physical 0x40000010 (RIP 0x100000)\n");
  });

  it("never writes a device register at a page table's address: a walk into the local APIC page stops the guest", () => {
    let platform = new FakePlatform();
    let machine = newGuest("pt", "", 32 << 20);
    // mov [eax], ecx with a PTE at the APIC's TPR (the walk setting A/D
    // bits is a write): the TPR keeps its value.
    let record = flatRecord(ExitReason.NestedPageFault, platform, [0x89, 0x08]);
    record.gpa = 0xfee00080;
    record.rax = 0x00c00000;
    record.rcx = 0xff;
    record.access = Access.Write | Access.PageWalk;
    dispatchExit(record, machine, platform);
    expect(record.stopReason).toBe(StopReason.OutsideRam);
    expect(machine.lapic.cr8Read()).toBe(0);
    expect(platform.console[0]).toBe("[hv] guest pt stopped: its page tables reach outside RAM at guest-physical 0xfee00080 (RIP 0x100000)\n");
  });

  it("takes a walk for a fetch (CR3 beyond RAM) as a page-table fault, not a fetch, and stops at once", () => {
    let platform = new FakePlatform();
    let machine = newGuest("pt", "", 32 << 20);
    let record = newRecord(ExitReason.NestedPageFault);
    record.cr0 = 0x80000011;
    record.cr3 = 0x40000000;
    record.gpa = 0x40000000;
    record.rip = 0x101c10;
    record.access = Access.Write | Access.Execute | Access.PageWalk;
    dispatchExit(record, machine, platform);
    expect(record.action).toBe(ExitAction.Stop);
    expect(record.inject).toBe(0);
    expect(platform.console[0]).toBe("[hv] guest pt stopped: its page tables reach outside RAM at guest-physical 0x40000000 (RIP 0x101c10)\n");
    // Once stopped, every later exit gets the same answer.
    let printed = platform.console.length;
    dispatchExit(record, machine, platform);
    expect(record.action).toBe(ExitAction.Stop);
    expect(platform.console.length).toBe(printed);
  });

  it("calls a fault inside RAM a bug in the nested tables", () => {
    let platform = new FakePlatform();
    let machine = newGuest("web", "", 32 << 20);
    let record = newRecord(ExitReason.NestedPageFault);
    record.gpa = 0x200000;
    record.access = Access.Write;
    dispatchExit(record, machine, platform);
    expect(record.stopReason).toBe(StopReason.Unsupported);
    expect(platform.console[0]).toBe("[hv] guest web stopped: bug: nested page fault inside RAM at guest-physical 0x200000 (write, RIP 0x100000)\n");
  });
});

describe("a stopped guest", () => {
  it("prints its console's partial line before the stop line", () => {
    let platform = new FakePlatform();
    let machine = newGuest();
    machine.console.send(0x6f);
    machine.console.send(0x6b);
    let record = newRecord(ExitReason.Shutdown);
    dispatchExit(record, machine, platform);
    expect(platform.console.length).toBe(2);
    expect(platform.console[0]).toBe("[web] ok\n");
    expect(platform.console[1]).toBe("[hv] guest web stopped: triple fault\n");
  });

  it("answers Stop again, silently, on any later exit", () => {
    let platform = new FakePlatform();
    let machine = newGuest();
    let record = newRecord(ExitReason.Shutdown);
    dispatchExit(record, machine, platform);
    record = newRecord(ExitReason.Cpuid);
    dispatchExit(record, machine, platform);
    expect(record.action).toBe(ExitAction.Stop);
    expect(record.stopReason).toBe(StopReason.TripleFault);
    expect(platform.console.length).toBe(1);
  });
});

describe("the other exits", () => {
  it("stops the guest on a triple fault", () => {
    let platform = new FakePlatform();
    let machine = newGuest();
    let record = newRecord(ExitReason.Shutdown);
    dispatchExit(record, machine, platform);
    expect(record.action).toBe(ExitAction.Stop);
    expect(record.stopReason).toBe(StopReason.TripleFault);
    expect(platform.console[0]).toBe("[hv] guest web stopped: triple fault\n");
  });

  it("stops the guest on invalid state, with the vendor's reason and detail", () => {
    let platform = new FakePlatform();
    let machine = newGuest();
    let record = newRecord(ExitReason.InvalidState);
    record.rawReason = 0xffffffff;
    record.detail = 0x21;
    dispatchExit(record, machine, platform);
    expect(record.stopReason).toBe(StopReason.InvalidState);
    expect(platform.console[0]).toBe(
      "[hv] guest web stopped: invalid guest state, the VM entry failed (raw reason 0xffffffff, detail 0x21, RIP 0x100000)\n");
  });

  it("injects #UD for a virtualization instruction, without moving RIP", () => {
    let platform = new FakePlatform();
    let machine = newGuest();
    let record = newRecord(ExitReason.VirtualizationInstruction);
    record.instructionLength = 3;
    dispatchExit(record, machine, platform);
    expect(record.action).toBe(ExitAction.Resume);
    expect(record.inject).toBe(UD);
    expect(record.advance).toBe(0);
  });

  it("injects #UD for a hypercall", () => {
    let platform = new FakePlatform();
    let machine = newGuest();
    let record = newRecord(ExitReason.Hypercall);
    dispatchExit(record, machine, platform);
    expect(record.inject).toBe(UD);
  });

  it("re-injects an intercepted #GP with its error code", () => {
    let platform = new FakePlatform();
    let machine = newGuest();
    let record = newRecord(ExitReason.Exception);
    record.exceptionVector = 13;
    record.exceptionErrorCode = 0x18;
    dispatchExit(record, machine, platform);
    expect(record.inject).toBe(INJECT_VALID | INJECT_TYPE_EXCEPTION | INJECT_HAS_ERROR_CODE | 13);
    expect(record.injectErrorCode).toBe(0x18);
    expect(record.advance).toBe(0);
  });

  it("re-injects an intercepted #DB without an error code", () => {
    let platform = new FakePlatform();
    let machine = newGuest();
    let record = newRecord(ExitReason.Exception);
    record.exceptionVector = 1;
    record.exceptionErrorCode = 0x1234;
    dispatchExit(record, machine, platform);
    expect(record.inject).toBe(INJECT_VALID | INJECT_TYPE_EXCEPTION | 1);
    expect(record.injectErrorCode).toBe(0);
  });

  it("re-injects a #DB from a trap (single step, a breakpoint) at RIP, as the CPU left it", () => {
    let platform = new FakePlatform();
    let machine = newGuest();
    let record = newRecord(ExitReason.Exception);
    record.exceptionVector = 1;
    record.instructionLength = 0;
    dispatchExit(record, machine, platform);
    expect(record.inject).toBe(INJECT_VALID | INJECT_TYPE_EXCEPTION | 1);
    expect(record.advance).toBe(0);
  });

  it("delivers ICEBP's #DB (reported with its length) after the F1, so the handler does not return to it", () => {
    // Found by tests/guests/exc_storm.c under VT-x: the #DB was injected
    // at the F1 and every IRET raised it again.
    let platform = new FakePlatform();
    let machine = newGuest();
    let record = newRecord(ExitReason.Exception);
    record.exceptionVector = 1;
    record.instructionLength = 1;
    dispatchExit(record, machine, platform);
    expect(record.inject).toBe(INJECT_VALID | INJECT_TYPE_EXCEPTION | 1);
    expect(record.advance).toBe(1);
  });

  it("stops the guest on an intercepted #PF, which needs CR2 to re-inject", () => {
    let platform = new FakePlatform();
    let machine = newGuest();
    let record = newRecord(ExitReason.Exception);
    record.exceptionVector = 14;
    record.exceptionErrorCode = 2;
    dispatchExit(record, machine, platform);
    expect(record.stopReason).toBe(StopReason.Unsupported);
    expect(platform.console[0]).toBe(
      "[hv] guest web stopped: unexpected exception vector 14 (error code 0x2, RIP 0x100000)\n");
  });

  it("stops the guest on an exception vector beyond 31", () => {
    let platform = new FakePlatform();
    let machine = newGuest();
    let record = newRecord(ExitReason.Exception);
    record.exceptionVector = 0xffffffff;
    dispatchExit(record, machine, platform);
    expect(record.action).toBe(ExitAction.Stop);
    expect(record.inject).toBe(0);
  });

  it("stops the guest on misconfigured nested page tables, calling it a bug", () => {
    let platform = new FakePlatform();
    let machine = newGuest();
    let record = newRecord(ExitReason.NestedPageMisconfig);
    record.gpa = 0xb8000;
    dispatchExit(record, machine, platform);
    expect(record.stopReason).toBe(StopReason.Unsupported);
    expect(platform.console[0]).toBe(
      "[hv] guest web stopped: bug: nested page tables misconfigured at GPA 0xb8000 (RIP 0x100000)\n");
  });

  it("stops the guest on an unknown exit, naming the vendor's code", () => {
    let platform = new FakePlatform();
    let machine = newGuest();
    let record = newRecord(ExitReason.Unknown);
    record.rawReason = 0x7b;
    dispatchExit(record, machine, platform);
    expect(record.stopReason).toBe(StopReason.Unsupported);
    expect(platform.console[0]).toBe("[hv] guest web stopped: unsupported exit (reason 16, raw reason 0x7b, RIP 0x100000)\n");
  });

  it("stops the guest cleanly on a reason the contract does not know", () => {
    let platform = new FakePlatform();
    let machine = newGuest();
    let record = newRecord(0xdeadbeef);
    dispatchExit(record, machine, platform);
    expect(record.action).toBe(ExitAction.Stop);
    expect(record.stopReason).toBe(StopReason.Unsupported);
  });

  it("stops the guest cleanly on an empty record (reason None)", () => {
    let platform = new FakePlatform();
    let machine = newGuest();
    let record = newRecord(ExitReason.None);
    dispatchExit(record, machine, platform);
    expect(record.action).toBe(ExitAction.Stop);
  });
});
