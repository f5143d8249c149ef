// The ExitRecord: one VM exit, as the stub hands it to this guest VMM
// instance, and the core's answer. The C twin is linker/exit_record.h; field
// order and widths are identical (tests/unit/vcpu/exit_record.spec.ts checks
// the offsets against the C layout).

export const enum ExitReason {
  None = 0,
  Cpuid = 1,
  Io = 2,
  MsrRead = 3,
  MsrWrite = 4,
  Hlt = 5,
  NestedPageFault = 6,
  ExternalInterrupt = 7,
  InterruptWindow = 8,
  Hypercall = 9,
  Exception = 10,
  Shutdown = 11,
  InvalidState = 12,
  VirtualizationInstruction = 13,
  Xsetbv = 14,
  NestedPageMisconfig = 15,
  Unknown = 16,
  Wake = 17,          // not an exit: the wait the core asked for ended
  NmiWindow = 18,
  Pause = 19,         // PAUSE (intercepted in guests of several vCPUs: a spin loop)
  Wbinvd = 20,        // WBINVD or WBNOINVD: a no-op for the guest
  CrWrite = 21,       // MOV to CR4, where the backend intercepts it (AMD-V); detail: EXITINFO1
}

export const enum IoFlags { In = 1, String = 2, Rep = 4 }
// PageWalk: the fault was the CPU's own access to the guest's page tables
// (AMD EXITINFO1 bit 33; VT-x qualification bit 8 clear), not the
// instruction's data or fetch at that address.
export const enum Access { Read = 1, Write = 2, Execute = 4, Present = 8, PageWalk = 16 }
// Wait: HLT with nothing pending. The stub applies nothing and asks
// nextVcpu() which of the guest's vCPUs runs instead (none: the guest
// waits until `deadline` or an event for it). Switch: apply, then run the
// vCPU nextVcpu() names (another may have work: a spin loop's PAUSE, an
// interrupt for a halted one).
export const enum ExitAction { Resume = 0, Yield = 1, Stop = 2, Wait = 3, Switch = 4 }

export const enum StopReason {
  ExitCode = 1,
  TripleFault = 2,
  OutsideRam = 3,
  InvalidState = 4,
  Halted = 5,
  Unsupported = 6,
  LoadFailed = 7,
  VmmTrap = 8,
  PowerOff = 9,     // ACPI S5
  Reboot = 10,      // a reset: the guest starts again, fresh
  Operator = 11,    // `stop <name>` at the hypervisor's prompt
}

// Event injection, the same bits on both vendors.
export const INJECT_VALID: u32 = 1 << 31;
export const INJECT_HAS_ERROR_CODE: u32 = 1 << 11;
export const INJECT_TYPE_EXTERNAL: u32 = 0 << 8;
export const INJECT_TYPE_NMI: u32 = 2 << 8;
export const INJECT_TYPE_EXCEPTION: u32 = 3 << 8;

export const DIRTY_CR0: u32 = 0x1;
export const DIRTY_CR3: u32 = 0x2;
export const DIRTY_CR4: u32 = 0x4;
export const DIRTY_EFER: u32 = 0x8;
export const DIRTY_XCR0: u32 = 0x10;
export const DIRTY_CR8: u32 = 0x20;
export const DIRTY_CR2: u32 = 0x40;
export const DIRTY_PAT: u32 = 0x80;       // pat: the hardware's guest PAT (VMCB g_pat / GUEST_PAT)
export const DIRTY_TSC_AUX: u32 = 0x100;  // tscAux: what RDTSCP and RDPID read

// interruptibility
export const BLOCKED_BY_SHADOW: u32 = 0x1;
export const BLOCKED_NMI: u32 = 0x2;
// request
export const REQUEST_INTERRUPT_WINDOW: u32 = 0x1;
export const REQUEST_NMI_WINDOW: u32 = 0x2;
export const NO_DEADLINE: u64 = 0xFFFFFFFFFFFFFFFF;

// General registers in x86 encoding order.
export const enum Reg { RAX = 0, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15 }

@unmanaged
export class ExitRecord {
  reason: u32;                // 0
  instructionLength: u32;     // 4
  rax: u64; rcx: u64; rdx: u64; rbx: u64; rsp: u64; rbp: u64; rsi: u64; rdi: u64; // 8
  r8: u64; r9: u64; r10: u64; r11: u64; r12: u64; r13: u64; r14: u64; r15: u64;   // 72
  rip: u64;                   // 136
  rflags: u64;                // 144
  cr0: u64;                   // 152
  cr2: u64;                   // 160
  cr3: u64;                   // 168
  cr4: u64;                   // 176
  efer: u64;                  // 184
  gpa: u64;                   // 192
  access: u64;                // 200
  msr: u32;                   // 208
  port: u16;                  // 212
  ioSize: u8;                 // 214
  ioFlags: u8;                // 215
  exceptionVector: u32;       // 216
  exceptionErrorCode: u32;    // 220
  rawReason: u32;             // 224
  cpl: u32;                   // 228
  detail: u64;                // 232
  xcr0: u64;                  // 240
  csSelector: u16; csAttributes: u16; csLimit: u32; csBase: u64; // 248
  ssSelector: u16; ssAttributes: u16; ssLimit: u32; ssBase: u64; // 264
  // ES, DS, FS, GS: filled only on nested page faults and string I/O.
  esSelector: u16; esAttributes: u16; esLimit: u32; esBase: u64; // 280
  dsSelector: u16; dsAttributes: u16; dsLimit: u32; dsBase: u64; // 296
  fsSelector: u16; fsAttributes: u16; fsLimit: u32; fsBase: u64; // 312
  gsSelector: u16; gsAttributes: u16; gsLimit: u32; gsBase: u64; // 328
  interruptibility: u32;      // 344 BLOCKED_*
  pendingEvent: u32;          // 348 an interrupted delivery the stub repeats (INJECT_* layout)
  pendingErrorCode: u32;      // 352
  cr8: u32;                   // 356 the guest's TPR (CR8)
  action: u32;                // 360
  advance: u32;               // 364
  inject: u32;                // 368
  injectErrorCode: u32;       // 372
  dirty: u32;                 // 376
  stopReason: u32;            // 380
  stopCode: u64;              // 384
  exits: u64;                 // 392
  request: u32;               // 400 REQUEST_*
  reserved: u32;              // 404
  deadline: u64;              // 408 host TSC of the guest's next timer event
  pat: u64;                   // 416 the guest's IA32_PAT, with DIRTY_PAT
  tscAux: u32;                // 424 the guest's IA32_TSC_AUX, with DIRTY_TSC_AUX
  reserved2: u32;             // 428
}                             // 432

export const EXIT_RECORD_BYTES: u32 = 432;

// The answer before a handler writes it: Resume, nothing to advance, inject
// or reload, no stop, no request (and `reserved`), in five 8-byte stores.
// Binaryen does not merge field stores, and eight 4-byte ones each cost an
// address of their own (make bench, P1).
@inline export function clearAnswer(record: ExitRecord): void {
  let p = changetype<usize>(record);
  store<u64>(p, 0, offsetof<ExitRecord>("action"));   // action, advance
  store<u64>(p, 0, offsetof<ExitRecord>("inject"));   // inject, injectErrorCode
  store<u64>(p, 0, offsetof<ExitRecord>("dirty"));    // dirty, stopReason
  store<u64>(p, 0, offsetof<ExitRecord>("stopCode"));
  store<u64>(p, 0, offsetof<ExitRecord>("request"));  // request, reserved
}

// Register i (x86 encoding order) of the record, for decoded instructions.
@inline export function gprAddress(record: ExitRecord, index: u32): usize {
  return changetype<usize>(record) + 8 + ((<usize>index & 15) << 3);
}

// The state a vCPU starts from (C: struct vcpu_state). Segments are four
// fields each: selector, attributes (AMD VMCB layout), limit, base.
@unmanaged
export class VcpuState {
  rax: u64; rcx: u64; rdx: u64; rbx: u64; rsp: u64; rbp: u64; rsi: u64; rdi: u64;
  r8: u64; r9: u64; r10: u64; r11: u64; r12: u64; r13: u64; r14: u64; r15: u64;
  rip: u64; rflags: u64;                                 // 128
  cr0: u64; cr3: u64; cr4: u64; efer: u64;               // 144
  esSelector: u16; esAttributes: u16; esLimit: u32; esBase: u64;     // 176
  csSelector: u16; csAttributes: u16; csLimit: u32; csBase: u64;     // 192
  ssSelector: u16; ssAttributes: u16; ssLimit: u32; ssBase: u64;     // 208
  dsSelector: u16; dsAttributes: u16; dsLimit: u32; dsBase: u64;     // 224
  fsSelector: u16; fsAttributes: u16; fsLimit: u32; fsBase: u64;     // 240
  gsSelector: u16; gsAttributes: u16; gsLimit: u32; gsBase: u64;     // 256
  ldtrSelector: u16; ldtrAttributes: u16; ldtrLimit: u32; ldtrBase: u64; // 272
  trSelector: u16; trAttributes: u16; trLimit: u32; trBase: u64;     // 288
  gdtrBase: u64;              // 304
  idtrBase: u64;              // 312
  gdtrLimit: u32;             // 320
  idtrLimit: u32;             // 324
  xcr0: u64;                  // 328
  tscOffset: i64;             // 336 guest TSC = host TSC + tscOffset
}                             // 344

export const VCPU_STATE_BYTES: u32 = 344;
