import { FIXTURES, Fixture } from "./fixtures";
import {
  decodeInstruction, decodeStringIo, decodeSystemInstruction, Instruction, INSTRUCTION_BYTES, DecodeResult, Operation, Form, Rep, Segment,
  NO_REGISTER, RIP_REGISTER,
} from "../../../assembly/x86/decoder";
import { sizeMask } from "../../../assembly/x86/flags";
import { putHex, operationName, formName, segmentName, repName } from "./helpers";

const BYTES: usize = memory.data(64, 16);
const OUT: usize = memory.data(INSTRUCTION_BYTES, 16);

function decode(mode: u32, hex: string, count: i32 = -1): u32 {
  memory.fill(BYTES, 0xcc, 64);
  let n = putHex(BYTES, hex);
  return decodeInstruction(BYTES, count < 0 ? n : <u32>count, mode / 8, changetype<Instruction>(OUT));
}

function decodeIo(mode: u32, hex: string): u32 {
  memory.fill(BYTES, 0xcc, 64);
  let n = putHex(BYTES, hex);
  return decodeStringIo(BYTES, n, mode / 8, changetype<Instruction>(OUT));
}

function decodeSystem(mode: u32, hex: string): u32 {
  memory.fill(BYTES, 0xcc, 64);
  let n = putHex(BYTES, hex);
  return decodeSystemInstruction(BYTES, n, mode / 8, changetype<Instruction>(OUT));
}

function out(): Instruction {
  return changetype<Instruction>(OUT);
}

function registerNumber(value: u32): i32 {
  return value == NO_REGISTER ? -1 : <i32>value;
}

// What the decoder says about a fixture that objdump does not: "" when all agree.
function mismatch(f: Fixture): string {
  let result = decode(f.mode, f.bytes);
  let i = out();
  let head = f.text + " [" + f.bytes + "] (" + f.mode.toString() + "-bit):";
  if (result != DecodeResult.Ok) return head + " decode result " + result.toString();
  let wrong = "";
  if (i.length != f.length) wrong += " length " + i.length.toString() + " want " + f.length.toString();
  if (operationName(i.operation) != f.operation) wrong += " operation " + operationName(i.operation);
  if (formName(i.form) != f.form) wrong += " form " + formName(i.form);
  if (i.operandSize != f.operandSize) wrong += " operandSize " + i.operandSize.toString();
  if (i.memorySize != f.memorySize) wrong += " memorySize " + i.memorySize.toString();
  if (i.addressSize != f.addressSize) wrong += " addressSize " + i.addressSize.toString();
  if (segmentName(i.segment) != f.segment) wrong += " segment " + segmentName(i.segment);
  if (registerNumber(i.register) != f.register) wrong += " register " + registerNumber(i.register).toString();
  if (i.highByte != f.highByte) wrong += " highByte";
  if (f.hasImmediate && (i.immediate & sizeMask(i.operandSize)) != f.immediate) {
    wrong += " immediate 0x" + i.immediate.toString(16);
  }
  // objdump shows no registers for the implicit string operands' base.
  if (f.form != "String") {
    if (registerNumber(i.base) != f.base) wrong += " base " + registerNumber(i.base).toString();
    if (registerNumber(i.index) != f.index) wrong += " index " + registerNumber(i.index).toString();
    if (i.index != NO_REGISTER && i.scale != f.scale) wrong += " scale " + i.scale.toString();
    let mask = sizeMask(i.addressSize);
    if ((i.displacement & mask) != (f.displacement & mask)) wrong += " displacement 0x" + i.displacement.toString(16);
  }
  if (repName(i.rep) != f.rep) wrong += " rep " + repName(i.rep);
  if (i.lock != f.lock) wrong += " lock";
  return wrong.length == 0 ? "" : head + wrong;
}

describe("the decoder, against objdump (tests/unit/x86/fixtures.ts)", () => {
  it("has fixtures for 16-, 32- and 64-bit code", () => {
    let counts = [0, 0, 0];
    for (let n = 0; n < FIXTURES.length; n++) counts[FIXTURES[n].mode == 16 ? 0 : FIXTURES[n].mode == 32 ? 1 : 2]++;
    expect(counts[0]).toBeGreaterThan(80);
    expect(counts[1]).toBeGreaterThan(100);
    expect(counts[2]).toBeGreaterThan(250);
  });

  it("decodes every fixture as objdump does", () => {
    let report = "";
    let failures = 0;
    for (let n = 0; n < FIXTURES.length; n++) {
      let line = mismatch(FIXTURES[n]);
      if (line.length != 0) {
        failures++;
        if (failures <= 20) report += line + "\n";
      }
    }
    expect(report).toBe("");
    expect(failures).toBe(0);
  });

  it("says Truncated for every fixture cut short at any byte", () => {
    let report = "";
    for (let n = 0; n < FIXTURES.length; n++) {
      let f = FIXTURES[n];
      for (let count: i32 = 0; count < <i32>f.length; count++) {
        if (decode(f.mode, f.bytes, count) != DecodeResult.Truncated) {
          report += f.text + " cut to " + count.toString() + " bytes\n";
          break;
        }
      }
    }
    expect(report).toBe("");
  });
});

describe("the decoder's unknowns", () => {
  it("does not guess at opcodes outside its list", () => {
    expect(decode(64, "8c 00")).toBe(DecodeResult.Unknown);        // MOV r/m, Sreg
    expect(decode(64, "8e 00")).toBe(DecodeResult.Unknown);        // MOV Sreg, r/m
    expect(decode(32, "82 00 01")).toBe(DecodeResult.Unknown);     // the 80 alias
    expect(decode(64, "04 01")).toBe(DecodeResult.Unknown);        // ADD AL, imm8: no memory
    expect(decode(64, "90")).toBe(DecodeResult.Unknown);
    expect(decode(64, "0f 0b")).toBe(DecodeResult.Unknown);        // UD2
    expect(decode(64, "0f b8 00")).toBe(DecodeResult.Unknown);
    expect(decode(64, "6c")).toBe(DecodeResult.Unknown);           // INS is decodeStringIo's
    expect(decode(64, "c5 f8 77")).toBe(DecodeResult.Unknown);     // VEX
    expect(decode(64, "ff 00")).toBe(DecodeResult.Unknown);        // INC r/m
  });

  it("knows only /0 of C6, C7, F6, F7 and /4-/7 of 0F BA", () => {
    expect(decode(64, "c6 08 01")).toBe(DecodeResult.Unknown);
    expect(decode(64, "c7 08 01 00 00 00")).toBe(DecodeResult.Unknown);
    expect(decode(64, "f6 08 01")).toBe(DecodeResult.Unknown);     // TEST's undocumented alias
    expect(decode(64, "f7 08 01 00 00 00")).toBe(DecodeResult.Unknown);
    expect(decode(64, "f6 10")).toBe(DecodeResult.Unknown);        // NOT
    expect(decode(64, "f7 18")).toBe(DecodeResult.Unknown);        // NEG
    expect(decode(64, "0f ba 18 01")).toBe(DecodeResult.Unknown);
  });

  it("says Unknown for register forms: they cannot have touched MMIO", () => {
    expect(decode(64, "89 c0")).toBe(DecodeResult.Unknown);
    expect(decode(64, "8b c0")).toBe(DecodeResult.Unknown);
    expect(decode(64, "0f b6 c0")).toBe(DecodeResult.Unknown);
    expect(decode(64, "81 c0 01 00 00 00")).toBe(DecodeResult.Unknown);
    expect(decode(64, "c7 c0 01 00 00 00")).toBe(DecodeResult.Unknown);
    expect(decode(64, "0f a3 c0")).toBe(DecodeResult.Unknown);
  });

  it("reads 63 as ARPL (unknown) outside 64-bit mode, and 66 63 as unknown", () => {
    expect(decode(32, "63 00")).toBe(DecodeResult.Unknown);
    expect(decode(16, "63 00")).toBe(DecodeResult.Unknown);
    expect(decode(64, "66 63 00")).toBe(DecodeResult.Unknown);
    expect(decode(64, "66 48 63 00")).toBe(DecodeResult.Ok);
  });

  it("reads 40-4F as INC/DEC (unknown) outside 64-bit mode", () => {
    expect(decode(32, "40 89 00")).toBe(DecodeResult.Unknown);
    expect(decode(16, "48 89 00")).toBe(DecodeResult.Unknown);
  });

  it("refuses more than 15 bytes, and takes exactly 15", () => {
    expect(decode(64, "66 66 66 66 66 66 66 66 66 66 66 66 66 89 00")).toBe(DecodeResult.Ok);
    expect(out().length).toBe(15);
    expect(decode(64, "66 66 66 66 66 66 66 66 66 66 66 66 66 66 89 00")).toBe(DecodeResult.Unknown);
    expect(decode(64, "66 66 66 66 66 66 66 66 66 66 66 66 66 66 66 66 66 66 66 66 66 66 66 66 66 66 66 66 66 66"))
      .toBe(DecodeResult.Unknown);
    // 15 bytes of prefixes and the opcode past them: the CPU would not run it.
    expect(decode(64, "f3 f3 f3 f3 f3 f3 f3 f3 f3 f3 f3 f3 f3 f3 f3")).toBe(DecodeResult.Unknown);
  });

  it("says Truncated for nothing at all", () => {
    expect(decode(64, "", 0)).toBe(DecodeResult.Truncated);
    expect(decodeStringIo(BYTES, 0, 8, out())).toBe(DecodeResult.Truncated);
  });
});

describe("the decoder's details", () => {
  it("keeps RIP-relative displacements for the next instruction's address", () => {
    expect(decode(64, "8b 05 f0 ff ff ff")).toBe(DecodeResult.Ok);
    expect(out().base).toBe(RIP_REGISTER);
    expect(out().displacement).toBe(0xfffffffffffffff0);
    expect(out().length).toBe(6);
  });

  it("sign-extends imm8 of 83 and imm32 of REX.W C7 and 81", () => {
    expect(decode(64, "48 83 00 80")).toBe(DecodeResult.Ok);
    expect(out().immediate).toBe(0xffffffffffffff80);
    expect(decode(64, "48 c7 00 00 00 00 80")).toBe(DecodeResult.Ok);
    expect(out().immediate).toBe(0xffffffff80000000);
    expect(decode(32, "66 83 00 ff")).toBe(DecodeResult.Ok);
    expect(out().immediate & 0xffff).toBe(0xffff);
  });

  it("zero-extends the bit offset of 0F BA", () => {
    expect(decode(64, "0f ba 20 ff")).toBe(DecodeResult.Ok);
    expect(out().operation).toBe(Operation.Bt);
    expect(out().immediate).toBe(0xff);
  });

  it("gives moffs the address size's width", () => {
    expect(decode(16, "a1 34 12")).toBe(DecodeResult.Ok);
    expect(out().displacement).toBe(0x1234);
    expect(out().length).toBe(3);
    expect(decode(16, "67 a1 78 56 34 12")).toBe(DecodeResult.Ok);
    expect(out().displacement).toBe(0x12345678);
    expect(decode(64, "a1 88 77 66 55 44 33 22 11")).toBe(DecodeResult.Ok);
    expect(out().displacement).toBe(0x1122334455667788);
  });

  it("uses the last of F2/F3 as the repeat prefix", () => {
    expect(decode(64, "f2 f3 a4")).toBe(DecodeResult.Ok);
    expect(out().rep).toBe(Rep.Rep);
    expect(decode(64, "f3 f2 a4")).toBe(DecodeResult.Ok);
    expect(out().rep).toBe(Rep.RepNe);
  });

  it("says which operand is memory", () => {
    expect(decode(64, "89 00")).toBe(DecodeResult.Ok);
    expect(out().form).toBe(Form.MemoryRegister);
    expect(decode(64, "8b 00")).toBe(DecodeResult.Ok);
    expect(out().form).toBe(Form.RegisterMemory);
    expect(decode(64, "c7 00 01 00 00 00")).toBe(DecodeResult.Ok);
    expect(out().form).toBe(Form.MemoryImmediate);
  });
});

describe("decodeStringIo", () => {
  it("decodes INS and OUTS of every size", () => {
    expect(decodeIo(32, "6c")).toBe(DecodeResult.Ok);
    expect(out().operation).toBe(Operation.Ins);
    expect(out().operandSize).toBe(1);
    expect(out().segment).toBe(Segment.ES);
    expect(decodeIo(32, "6d")).toBe(DecodeResult.Ok);
    expect(out().operandSize).toBe(4);
    expect(decodeIo(32, "66 6d")).toBe(DecodeResult.Ok);
    expect(out().operandSize).toBe(2);
    expect(decodeIo(16, "6f")).toBe(DecodeResult.Ok);
    expect(out().operation).toBe(Operation.Outs);
    expect(out().operandSize).toBe(2);
    expect(out().segment).toBe(Segment.DS);
    expect(decodeIo(64, "48 6f")).toBe(DecodeResult.Ok); // REX.W: still 32 bits
    expect(out().operandSize).toBe(4);
  });

  it("takes the address size from 67", () => {
    expect(decodeIo(16, "67 f3 6e")).toBe(DecodeResult.Ok);
    expect(out().addressSize).toBe(4);
    expect(out().rep).toBe(Rep.Rep);
    expect(out().length).toBe(3);
    expect(decodeIo(32, "67 6c")).toBe(DecodeResult.Ok);
    expect(out().addressSize).toBe(2);
    expect(decodeIo(64, "67 6c")).toBe(DecodeResult.Ok);
    expect(out().addressSize).toBe(4);
    expect(decodeIo(64, "6c")).toBe(DecodeResult.Ok);
    expect(out().addressSize).toBe(8);
  });

  it("lets OUTS take a segment override and INS none", () => {
    expect(decodeIo(32, "2e 6e")).toBe(DecodeResult.Ok);
    expect(out().segment).toBe(Segment.CS);
    expect(decodeIo(32, "2e 6c")).toBe(DecodeResult.Ok);
    expect(out().segment).toBe(Segment.ES);
    expect(decodeIo(64, "2e 6e")).toBe(DecodeResult.Ok); // ignored in 64-bit mode
    expect(out().segment).toBe(Segment.DS);
    expect(decodeIo(64, "65 6e")).toBe(DecodeResult.Ok);
    expect(out().segment).toBe(Segment.GS);
  });

  it("says Unknown for anything else", () => {
    expect(decodeIo(32, "ec")).toBe(DecodeResult.Unknown); // IN AL, DX
    expect(decodeIo(32, "a4")).toBe(DecodeResult.Unknown);
  });
});

describe("the Instruction", () => {
  it("fits its reserved bytes", () => {
    expect(<u32>offsetof<Instruction>()).toBeLessThanOrEqual(INSTRUCTION_BYTES);
  });
});

describe("system instructions (the exits without a length or decode assist)", () => {
  it("decodes WBINVD and WBNOINVD with their prefixes", () => {
    expect(decodeSystem(32, "0f09")).toBe(DecodeResult.Ok);
    expect(out().opcode).toBe(0x0f09);
    expect(out().length).toBe(2);
    expect(decodeSystem(64, "f30f09")).toBe(DecodeResult.Ok);
    expect(out().length).toBe(3);
  });

  it("decodes MOV to a control register: the GPR with REX.B, the CR with REX.R", () => {
    expect(decodeSystem(32, "0f22e0")).toBe(DecodeResult.Ok);   // mov cr4, eax
    expect(out().opcode).toBe(0x0f22);
    expect(out().immediate).toBe(4);
    expect(out().register).toBe(0);
    expect(out().length).toBe(3);
    expect(decodeSystem(64, "410f22e3")).toBe(DecodeResult.Ok); // mov cr4, r11
    expect(out().register).toBe(11);
    expect(out().immediate).toBe(4);
    expect(out().length).toBe(4);
    expect(decodeSystem(64, "440f22c0")).toBe(DecodeResult.Ok); // mov cr8, rax
    expect(out().immediate).toBe(8);
  });

  it("answers Unknown for anything else, and Truncated when bytes are missing", () => {
    expect(decodeSystem(32, "0f20e0")).toBe(DecodeResult.Unknown);  // MOV from CR
    expect(decodeSystem(32, "90")).toBe(DecodeResult.Unknown);
    expect(decodeSystem(32, "0f22")).toBe(DecodeResult.Truncated);
  });
});
