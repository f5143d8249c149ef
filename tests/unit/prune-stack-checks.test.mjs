// scripts/prune-stack-checks.mjs (the core build, after wasm2c): functions
// outside every call cycle lose their stack check, the members of a cycle
// keep it, a chain outside cycles longer than allowed fails the build, and
// a module with indirect calls is left as it was.
//
//   node --test tests/unit/prune-stack-checks.test.mjs

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const script = path.join(root, "scripts/prune-stack-checks.mjs");
const bin = path.join(root, "node_modules/.bin");
let scratch;

before(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), "prune-stack-"));
});

after(() => {
  fs.rmSync(scratch, { recursive: true, force: true });
});

// wasm2c's C for a module given as text, module name "t"; answers the path.
function cOf(name, wat) {
  const text = path.join(scratch, `${name}.wat`), wasm = path.join(scratch, `${name}.wasm`);
  const c = path.join(scratch, `${name}.c`);
  fs.writeFileSync(text, wat);
  execFileSync(path.join(bin, "wat2wasm"), ["--debug-names", text, "-o", wasm]);
  execFileSync(path.join(bin, "wasm2c"), [wasm, "-n", "t", "-o", c]);
  return c;
}

// Whether function `fn` (its definition in `c`) still starts with the check.
function checked(c, fn) {
  const lines = fs.readFileSync(c, "utf8").split("\n");
  const at = lines.findIndex((l) => l.startsWith(`void w2c_t_${fn}(`) && l.endsWith("{"));
  assert.ok(at >= 0, `no definition of ${fn}`);
  return lines[at + 1] === "  FUNC_PROLOGUE;";
}

const CHAIN_AND_CYCLE = `(module
  (func $a (export "a") (call $b))
  (func $b (call $c))
  (func $c (nop))
  (func $r (export "r") (param i32) (if (local.get 0) (then (call $s (local.get 0)))))
  (func $s (param i32) (call $r (i32.sub (local.get 0) (i32.const 1))))
  (func $self (export "self") (call $self)))`;

test("a chain loses its checks; a cycle and a self-call keep theirs", () => {
  const c = cOf("both", CHAIN_AND_CYCLE);
  for (const fn of ["a_0", "b", "c", "r_0", "s", "self_0"]) assert.ok(checked(c, fn), `${fn} checked before`);
  const out = execFileSync("node", [script, c, "t"], { encoding: "utf8" });
  assert.match(out, /3 in call cycles keep the check, longest chain outside cycles 4/);
  for (const fn of ["a_0", "b", "c"]) assert.ok(!checked(c, fn), `${fn} unchecked`);
  for (const fn of ["r_0", "s", "self_0"]) assert.ok(checked(c, fn), `${fn} still checked`);
});

test("a chain outside cycles longer than --max-depth fails and changes nothing", () => {
  const c = cOf("deep", CHAIN_AND_CYCLE);
  const before = fs.readFileSync(c, "utf8");
  const r = spawnSync("node", [script, c, "t", "--max-depth", "3"], { encoding: "utf8" });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /a chain of 4 calls outside cycles, more than 3/);
  assert.equal(fs.readFileSync(c, "utf8"), before);
});

test("a module with indirect calls is left as it was", () => {
  const c = cOf("indirect", `(module
    (type $v (func))
    (table 1 funcref)
    (elem (i32.const 0) $leaf)
    (func $leaf (nop))
    (func $caller (export "caller") (call_indirect (type $v) (i32.const 0))))`);
  const before = fs.readFileSync(c, "utf8");
  const out = execFileSync("node", [script, c, "t"], { encoding: "utf8" });
  assert.match(out, /makes indirect calls; left as it is/);
  assert.equal(fs.readFileSync(c, "utf8"), before);
});
