#!/usr/bin/env node
// Validates a hypervisor config at build time with the very code that runs at
// boot: build/supervisor.wasm, its init(), with the stub's imports
// (assembly/supervisor/host.ts) implemented over files instead of boot
// modules.
//
//   node scripts/check-config.mjs [--modules-out FILE] [--quiet] CONFIG
//
// Module 0 is CONFIG, named exactly as given. A kernel/initrd path the core
// resolves becomes the next module when a file by that name exists (relative
// to the current directory, or absolute). Prints what the core prints,
// without its "[hv] " prefix (--quiet: errors only).
//
// Exit status: 0 valid, 1 errors in the config (or CONFIG unreadable),
// 2 usage, 3 the core aborted or trapped (a bug in the core).
// --modules-out (only on success) writes one line per module:
// "<module name>\t<path on disk>", the config first; scripts/iso turns each
// into a GRUB module2 line so the boot finds the same names.

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const wasmPath = process.env.HV_SUPERVISOR_WASM || path.join(here, "..", "build", "supervisor.wasm");

function usage(message) {
  if (message) process.stderr.write(`check-config: ${message}\n`);
  process.stderr.write("usage: node scripts/check-config.mjs [--modules-out FILE] [--quiet] CONFIG\n");
  process.exit(2);
}

let modulesOut = null;
let quiet = false;
let config = null;
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const arg = args[i];
  if (arg === "--modules-out") {
    if (i + 1 >= args.length) usage("--modules-out needs a file");
    modulesOut = args[++i];
  } else if (arg === "--quiet") {
    quiet = true;
  } else if (arg === "--help" || arg === "-h") {
    usage();
  } else if (arg.startsWith("--")) {
    usage(`unknown option ${arg}`);
  } else if (config === null) {
    config = arg;
  } else {
    usage("one CONFIG only");
  }
}
if (config === null) usage("no CONFIG given");

let configBytes;
try {
  configBytes = fs.readFileSync(config);
} catch (error) {
  const why = error.code === "ENOENT" ? "no such file" : error.code === "EISDIR" ? "is a folder" : error.message;
  process.stderr.write(`check-config: cannot read ${config}: ${why}\n`);
  process.exit(1);
}

let wasm;
try {
  wasm = fs.readFileSync(wasmPath);
} catch {
  process.stderr.write(`check-config: ${wasmPath} is missing (run make build/supervisor.wasm)\n`);
  process.exit(2);
}

// Boot modules: name (what the core asks for) and contents.
const modules = [{ name: config, data: configBytes }];
const utf8 = new TextDecoder("utf-8");
const encoder = new TextEncoder();
let memory = null;

function bytes(pointer, length) {
  return new Uint8Array(memory.buffer, pointer, length);
}

function checkRange(pointer, length) {
  if (pointer + length > memory.buffer.byteLength) throw new Error(`bad pointer ${pointer}+${length}`);
}

// An AssemblyScript string: UTF-16, its byte length at pointer - 4.
function asString(pointer) {
  if (!pointer) return "(null)";
  const length = new Uint32Array(memory.buffer, pointer - 4, 1)[0];
  return String.fromCharCode(...new Uint16Array(memory.buffer, pointer, length >>> 1));
}

class CoreAbort extends Error {}

const lines = [];
let pending = "";
function consoleWrite(pointer, length) {
  checkRange(pointer, length);
  pending += utf8.decode(bytes(pointer, length));
  let newline;
  while ((newline = pending.indexOf("\n")) >= 0) {
    lines.push(pending.slice(0, newline));
    pending = pending.slice(newline + 1);
  }
}

function moduleAt(index) {
  return index >= 0 && index < modules.length ? modules[index] : null;
}

const env = {
  consoleWrite,
  configModule: () => 0,
  findModule(pointer, length) {
    checkRange(pointer, length);
    const name = utf8.decode(bytes(pointer, length));
    const known = modules.findIndex((module) => module.name === name);
    if (known >= 0) return known;
    let data;
    try {
      if (!fs.statSync(name).isFile()) return -1;
      data = fs.readFileSync(name);
    } catch {
      return -1;
    }
    modules.push({ name, data });
    return modules.length - 1;
  },
  moduleName(index, destination, capacity) {
    const module = moduleAt(index);
    if (!module) return 0;
    const name = encoder.encode(module.name);
    const n = Math.min(name.length, capacity);
    checkRange(destination, n);
    bytes(destination, n).set(name.subarray(0, n));
    return name.length;
  },
  moduleSize(index) {
    const module = moduleAt(index);
    return module ? module.data.length : 0;
  },
  moduleRead(index, offset, destination, length) {
    const module = moduleAt(index);
    checkRange(destination, length);
    if (!module || offset >= module.data.length) return 0;
    const n = Math.min(module.data.length - offset, length);
    bytes(destination, n).set(module.data.subarray(offset, offset + n));
    return n;
  },
  coreAbort(message, file, line, column) {
    throw new CoreAbort(`${asString(message)} (${asString(file)}:${line}:${column})`);
  },
};

let guests;
let errors;
try {
  const { instance } = await WebAssembly.instantiate(wasm, { env });
  memory = instance.exports.memory;
  guests = instance.exports.init() >>> 0;
  errors = instance.exports.configErrors() >>> 0;
} catch (error) {
  for (const line of lines) process.stdout.write(`${line.replace(/^\[hv\] /, "")}\n`);
  const what = error instanceof CoreAbort ? `the core aborted: ${error.message}` : `the core trapped: ${error.message}`;
  process.stderr.write(`check-config: ${what}\n`);
  process.exit(3);
}

for (const line of lines) {
  if (quiet && errors === 0) continue;
  process.stdout.write(`${line.replace(/^\[hv\] /, "")}\n`);
}
if (errors > 0) process.exit(1);

if (modulesOut !== null) {
  const list = modules.map((module) => `${module.name}\t${module.name}\n`).join("");
  fs.writeFileSync(modulesOut, list);
}
void guests;
process.exit(0);
