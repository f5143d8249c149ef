#!/usr/bin/env node
// Drops wasm2c's stack check from the functions of a module that cannot
// recurse, in place:
//
//   node scripts/prune-stack-checks.mjs MODULE.c NAME [--max-depth N]
//
// wasm2c starts every function with FUNC_PROLOGUE and ends it with
// FUNC_EPILOGUE; linker/wasm-rt.h makes the first a compare of the stack
// pointer with this CPU's limit (runaway recursion traps the instance
// instead of overflowing the host stack) and the second a barrier against
// GCC turning tail recursion into a loop. Only a call cycle can run away:
// a function outside every cycle of the call graph (direct calls; a
// module with call_indirect is left as it is) reaches the limit only
// through a cycle member, which still checks, plus a chain of calls that
// cannot repeat. That chain's length (the longest path through functions
// outside cycles) must be at most --max-depth (24) frames, all well inside
// the WASM_RT_STACK_MARGIN an import may use below the limit; the build
// fails otherwise. The exit handler's functions are all outside cycles:
// 2 instructions a call each (make bench P1).

import fs from "node:fs";

const args = process.argv.slice(2);
const [file, name] = args;
let maxDepth = 24;
if (args[2] === "--max-depth" && /^\d+$/.test(args[3] ?? "")) maxDepth = Number(args[3]);
else if (args.length !== 2 || !file || !/^\w+$/.test(name ?? "")) {
  process.stderr.write("usage: node scripts/prune-stack-checks.mjs MODULE.c NAME [--max-depth N]\n");
  process.exit(2);
}

const lines = fs.readFileSync(file, "utf8").split("\n");
if (lines.some((l) => /\bCALL_INDIRECT\(/.test(l) && !l.startsWith("#define"))) {
  console.log(`prune-stack-checks: ${file} makes indirect calls; left as it is`);
  process.exit(0);
}

// Function definitions: a line at column 0 naming w2c_<name>_X(w2c_<name>* ...
// that is not a declaration, its body up to the first "}" at column 0.
const start = new RegExp(`^(static )?\\w+ (w2c_${name}_\\w+)\\(w2c_${name}\\*`);
const call = new RegExp(`\\b(w2c_${name}_\\w+)\\(`, "g");
const funcs = new Map(); // name -> { first, last } line indices of the body
for (let i = 0; i < lines.length; i++) {
  const m = start.exec(lines[i]);
  if (!m || lines[i].trimEnd().endsWith(";")) continue;
  while (!lines[i].trimEnd().endsWith("{")) i++;
  const first = i + 1;
  while (lines[i] !== "}") i++;
  funcs.set(m[2], { first, last: i });
}
const callees = new Map();
for (const [f, { first, last }] of funcs) {
  const out = new Set();
  for (let i = first; i < last; i++) for (const m of lines[i].matchAll(call)) if (funcs.has(m[1])) out.add(m[1]);
  callees.set(f, out);
}

// Tarjan's strongly connected components, iteratively.
const index = new Map(), low = new Map(), onStack = new Set(), stack = [], inCycle = new Set();
let counter = 0;
for (const root of funcs.keys()) {
  if (index.has(root)) continue;
  const work = [[root, [...callees.get(root)], 0]];
  index.set(root, counter); low.set(root, counter++); stack.push(root); onStack.add(root);
  while (work.length) {
    const top = work[work.length - 1];
    const [v, next] = top;
    if (top[2] < next.length) {
      const w = next[top[2]++];
      if (!index.has(w)) {
        index.set(w, counter); low.set(w, counter++); stack.push(w); onStack.add(w);
        work.push([w, [...callees.get(w)], 0]);
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
      continue;
    }
    work.pop();
    if (work.length) {
      const u = work[work.length - 1][0];
      low.set(u, Math.min(low.get(u), low.get(v)));
    }
    if (low.get(v) === index.get(v)) {
      const component = [];
      let w;
      do { w = stack.pop(); onStack.delete(w); component.push(w); } while (w !== v);
      if (component.length > 1 || callees.get(v).has(v)) for (const c of component) inCycle.add(c);
    }
  }
}

// The longest chain of calls through functions outside cycles.
const depth = new Map();
function chain(f) {
  if (depth.has(f)) return depth.get(f);
  let d = 0;
  for (const c of callees.get(f)) if (!inCycle.has(c)) d = Math.max(d, chain(c));
  depth.set(f, d + 1);
  return d + 1;
}
let longest = 0;
for (const f of funcs.keys()) if (!inCycle.has(f)) longest = Math.max(longest, chain(f));
if (longest > maxDepth) {
  process.stderr.write(`prune-stack-checks: ${file}: a chain of ${longest} calls outside cycles, more than ${maxDepth}\n`);
  process.exit(1);
}

let pruned = 0;
for (const [f, { first, last }] of funcs) {
  if (inCycle.has(f)) continue;
  for (let i = first; i < last; i++) {
    if (lines[i] === "  FUNC_PROLOGUE;" || lines[i] === "  FUNC_EPILOGUE;") {
      if (lines[i] === "  FUNC_PROLOGUE;") pruned++;
      lines[i] = "";
    }
  }
}
fs.writeFileSync(file, lines.join("\n"));
console.log(`prune-stack-checks: ${file}: ${pruned} of ${funcs.size} functions unchecked, ` +
            `${inCycle.size} in call cycles keep the check, longest chain outside cycles ${longest}`);
