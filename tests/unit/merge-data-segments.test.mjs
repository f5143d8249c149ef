// scripts/merge-data-segments.mjs (the core build, after wasm-opt): close
// active data segments become one, the module's memory image unchanged;
// a module it cannot rewrite safely is left byte for byte as it was.
//
//   node --test tests/unit/merge-data-segments.test.mjs

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const script = path.join(root, "scripts/merge-data-segments.mjs");
const wat2wasm = path.join(root, "node_modules/.bin/wat2wasm");
let scratch;

before(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), "merge-data-"));
});

after(() => {
  fs.rmSync(scratch, { recursive: true, force: true });
});

// A module from its text, as a file; answers the path.
function module(name, wat) {
  const text = path.join(scratch, `${name}.wat`);
  const wasm = path.join(scratch, `${name}.wasm`);
  fs.writeFileSync(text, wat);
  execFileSync(wat2wasm, [text, "-o", wasm]);
  return wasm;
}

function merge(wasm, ...args) {
  const r = spawnSync(process.execPath, [script, wasm, ...args], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
}

async function image(wasm) {
  const { instance } = await WebAssembly.instantiate(fs.readFileSync(wasm));
  return Buffer.from(instance.exports.memory.buffer);
}

function segments(wasm) {
  return countData(fs.readFileSync(wasm));
}

// The data section's segment count (section 11's first LEB128).
function countData(bytes) {
  let pos = 8;
  const leb = () => {
    let value = 0, shift = 0, b;
    do { b = bytes[pos++]; value |= (b & 0x7f) << shift; shift += 7; } while (b & 0x80);
    return value >>> 0;
  };
  while (pos < bytes.length) {
    const id = bytes[pos++];
    const size = leb();
    if (id === 11) return leb();
    pos += size;
  }
  return 0;
}

test("segments within the gap become one and the memory image stays the same", async () => {
  const wasm = module("close", `(module (memory (export "memory") 1)
    (data (i32.const 100) "abc")
    (data (i32.const 103) "def")
    (data (i32.const 200) "\\01\\02")
    (data (i32.const 40) "first")
    (data (i32.const 9000) "far away"))`);
  const before = await image(wasm);
  merge(wasm);
  assert.equal(segments(wasm), 2);   // 40..201 merged; 9000 is beyond the 256-byte gap
  assert.deepEqual(await image(wasm), before);
  // A wider gap takes the far one in too.
  merge(wasm, "--gap", "10000");
  assert.equal(segments(wasm), 1);
  assert.deepEqual(await image(wasm), before);
});

test("a data count section follows the new number of segments", async () => {
  const wasm = module("count", `(module (memory (export "memory") 1)
    (data (i32.const 0) "ab") (data (i32.const 2) "cd"))`);
  // What wasm-opt emits with bulk memory on: a data count section (12)
  // before the code; wat2wasm leaves it out when nothing needs it.
  const bytes = fs.readFileSync(wasm);
  let pos = 8;
  while (bytes[pos] !== 11) pos += 2 + bytes[pos + 1];   // sizes < 128 here
  fs.writeFileSync(wasm, Buffer.concat([bytes.subarray(0, pos), Buffer.from([12, 1, 2]), bytes.subarray(pos)]));
  assert.ok(WebAssembly.validate(fs.readFileSync(wasm)));
  const before = await image(wasm);
  merge(wasm);
  assert.equal(segments(wasm), 1);
  assert.ok(WebAssembly.validate(fs.readFileSync(wasm)), "the data count says 1");
  assert.deepEqual(await image(wasm), before);
});

test("passive or overlapping segments, or code naming a segment, leave the module untouched", () => {
  for (const [name, wat] of [
    ["passive", `(module (memory 1) (data (i32.const 0) "a") (data "passive"))`],
    ["overlap", `(module (memory 1) (data (i32.const 0) "abcd") (data (i32.const 2) "xy"))`],
    ["drop", `(module (memory 1) (data (i32.const 0) "a") (data (i32.const 1) "b") (func (data.drop 1)))`],
  ]) {
    const wasm = module(name, wat);
    const original = fs.readFileSync(wasm);
    merge(wasm);
    assert.deepEqual(fs.readFileSync(wasm), original, name);
  }
});

test("the core's modules as built have few data segments", () => {
  execFileSync("make", ["-s", "build/supervisor.wasm", "build/guest.wasm"], { cwd: root, stdio: "inherit" });
  for (const name of ["supervisor", "guest"]) {
    const count = countData(fs.readFileSync(path.join(root, `build/${name}.wasm`)));
    assert.ok(count > 0 && count <= 32, `${name}.wasm has ${count} data segments`);
  }
});
