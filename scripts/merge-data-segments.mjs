#!/usr/bin/env node
// Merges a Wasm module's active data segments that lie close together into
// one, in place:
//
//   node scripts/merge-data-segments.mjs MODULE.wasm [--gap BYTES]
//
// AssemblyScript emits one segment per static object and wasm-opt's memory
// packing splits each again around its zero bytes: the guest VMM had 413
// segments, and wasm2c makes each one a range check and a memcpy call in
// the instance's start, code that runs once per instance and, under QEMU's
// TCG, costs its translation every time (make bench, P4). Segments at most
// --gap bytes apart (256) become one, the gap filled with zeros: the same
// memory image, since linear memory starts zeroed. Passive or overlapping
// segments, an offset that is not an i32.const, or code that may name a
// segment (memory.init, data.drop) leave the module as it is.

import fs from "node:fs";

const args = process.argv.slice(2);
const file = args[0];
let gap = 256;
if (args[1] === "--gap" && /^\d+$/.test(args[2] ?? "")) gap = Number(args[2]);
else if (args.length !== 1 || !file) {
  process.stderr.write("usage: node scripts/merge-data-segments.mjs MODULE.wasm [--gap BYTES]\n");
  process.exit(2);
}

const bytes = fs.readFileSync(file);
let pos = 0;
// LEB128 at pos (SLEB128 with `signed`), advancing pos.
function read(signed = false) {
  let result = 0, shift = 0, b;
  do {
    b = bytes[pos++];
    result |= (b & 0x7f) << shift;
    shift += 7;
  } while (b & 0x80);
  if (signed) return shift < 32 && (b & 0x40) ? result | (-1 << shift) : result | 0;
  return result >>> 0;
}
const u32 = () => read();
const s32 = () => read(true);
function leb(value, signed = false) {
  const out = [];
  for (;;) {
    let b = value & 0x7f;
    value = signed ? value >> 7 : value >>> 7;
    const done = signed ? (value === 0 && !(b & 0x40)) || (value === -1 && (b & 0x40)) : value === 0;
    if (!done) b |= 0x80;
    out.push(b);
    if (done) return Buffer.from(out);
  }
}

if (bytes.readUInt32LE(0) !== 0x6d736100) {
  process.stderr.write(`merge-data-segments: ${file} is not a Wasm module\n`);
  process.exit(1);
}
pos = 8;
const sections = [];   // { id, start, end } of each section's contents
while (pos < bytes.length) {
  const id = bytes[pos++];
  const size = u32();
  sections.push({ id, head: pos, start: pos, end: pos + size });
  pos += size;
}
const data = sections.find((s) => s.id === 11);
if (!data) process.exit(0);
// memory.init and data.drop (0xFC 8, 0xFC 9) name segments by index, which
// merging changes: a code section with those bytes anywhere (an opcode or
// by chance in an immediate) leaves the module alone.
const code = sections.find((s) => s.id === 10);
if (code) {
  for (let i = code.start; i + 1 < code.end; i++) {
    if (bytes[i] === 0xfc && (bytes[i + 1] === 0x08 || bytes[i + 1] === 0x09)) process.exit(0);
  }
}

pos = data.start;
const count = u32();
const segments = [];
for (let i = 0; i < count; i++) {
  const flags = u32();
  // 0: active, memory 0, i32.const offset, end.
  if (flags !== 0 || bytes[pos] !== 0x41) process.exit(0);
  pos++;
  const offset = s32() >>> 0;
  if (bytes[pos++] !== 0x0b) process.exit(0);
  const length = u32();
  segments.push({ offset, data: bytes.subarray(pos, pos + length) });
  pos += length;
}
segments.sort((a, b) => a.offset - b.offset);
const merged = [];
for (const s of segments) {
  const last = merged[merged.length - 1];
  if (last && s.offset >= last.offset && s.offset <= last.end + gap) {
    if (s.offset < last.end) process.exit(0);   // overlapping: leave it alone
    last.parts.push(Buffer.alloc(s.offset - last.end), s.data);
    last.end = s.offset + s.data.length;
  } else {
    merged.push({ offset: s.offset, end: s.offset + s.data.length, parts: [s.data] });
  }
}

const body = [leb(merged.length)];
for (const m of merged) {
  const content = Buffer.concat(m.parts);
  body.push(Buffer.from([0]), Buffer.from([0x41]), leb(m.offset | 0, true), Buffer.from([0x0b]), leb(content.length), content);
}
const newData = Buffer.concat(body);
const out = [bytes.subarray(0, 8)];
for (const s of sections) {
  let contents = bytes.subarray(s.start, s.end);
  if (s.id === 11) contents = newData;
  else if (s.id === 12) contents = leb(merged.length);   // the data count
  out.push(Buffer.from([s.id]), leb(contents.length), contents);
}
fs.writeFileSync(file, Buffer.concat(out));
