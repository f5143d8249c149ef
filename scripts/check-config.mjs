#!/usr/bin/env node
// Validates a hypervisor config at build time with the very code that runs at
// boot: build/supervisor.wasm, its init(), with the stub's imports
// (assembly/supervisor/host.ts) implemented over files instead of boot
// modules.
//
//   node scripts/check-config.mjs [--modules-out FILE] [--quiet] [--load] CONFIG
//
// Module 0 is CONFIG, named exactly as given. A kernel/initrd path the core
// resolves becomes the next module when a file by that name exists (relative
// to the current directory, or absolute). Prints what the core prints,
// without its "[hv] " prefix (--quiet: errors only).
//
// --load then loads each guest's kernel and initrd with the guest VMM's own
// loader (build/guest.wasm, scripts/lib/kernel-check.mjs) into a guest RAM
// of the configured size, so a kernel the boot would refuse (no format the
// loader knows, a bad setup header, a kernel or initrd past the guest's
// RAM) is refused here, with its path and the reason.
//
// Exit status: 0 valid, 1 errors in the config or a kernel that does not
// load (or CONFIG unreadable),
// 2 usage, 3 the core aborted or trapped (a bug in the core).
// --modules-out (only on success) writes one line per module:
// "<module name>\t<path on disk>", the config first; scripts/iso turns each
// into a GRUB module2 line so the boot finds the same names.

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadGuestKernel, guestModule } from "./lib/kernel-check.mjs";
import { CoreAbort, asString, consoleLines } from "./lib/core-imports.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const wasmPath = process.env.HV_SUPERVISOR_WASM || path.join(here, "..", "build", "supervisor.wasm");
const guestWasmPath = process.env.HV_GUEST_WASM || path.join(here, "..", "build", "guest.wasm");

function usage(message) {
  if (message) process.stderr.write(`check-config: ${message}\n`);
  process.stderr.write("usage: node scripts/check-config.mjs [--modules-out FILE] [--quiet] [--load] CONFIG\n");
  process.exit(2);
}

let modulesOut = null;
let quiet = false;
let loadKernels = false;
let config = null;
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const arg = args[i];
  if (arg === "--modules-out") {
    if (i + 1 >= args.length) usage("--modules-out needs a file");
    modulesOut = args[++i];
  } else if (arg === "--quiet") {
    quiet = true;
  } else if (arg === "--load") {
    loadKernels = true;
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

const console_ = consoleLines();
const lines = console_.lines;
function consoleWrite(pointer, length) {
  checkRange(pointer, length);
  console_.write(bytes(pointer, length));
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
    throw new CoreAbort(`${asString(memory, message)} (${asString(memory, file)}:${line}:${column})`);
  },
};

let guests;
let errors;
let supervisor;
try {
  const { instance } = await WebAssembly.instantiate(wasm, { env });
  supervisor = instance.exports;
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

if (loadKernels && !checkKernels()) process.exit(1);

if (modulesOut !== null) {
  const list = modules.map((module) => `${module.name}\t${module.name}\n`).join("");
  fs.writeFileSync(modulesOut, list);
}
process.exit(0);

// Loads every guest's kernel as the boot would (--load); false, having
// said why, when one does not load. Guests alike in kernel, initrd, RAM,
// vCPUs and command line are loaded once.
function checkKernels() {
  let module;
  try {
    module = guestModule(guestWasmPath);
  } catch {
    process.stderr.write(`check-config: ${guestWasmPath} is missing (run make core)\n`);
    process.exit(2);
  }
  const seen = new Map();
  let ok = true;
  for (let i = 0; i < guests; i++) {
    const guest = {
      name: utf8.decode(bytes(supervisor.guestNamePointer(i) >>> 0, supervisor.guestNameLength(i) >>> 0)),
      cmdline: bytes(supervisor.guestCmdlinePointer(i) >>> 0, supervisor.guestCmdlineLength(i) >>> 0).slice(),
      memoryBytes: BigInt.asUintN(64, supervisor.guestMemoryBytes(i)),
      vcpus: supervisor.guestVcpus(i) >>> 0,
      kernel: moduleAt(supervisor.guestKernelModule(i)),
      initrd: moduleAt(supervisor.guestInitrdModule(i)),
    };
    if (!guest.kernel) continue;   // the config check has said so
    const files = `kernel ${guest.kernel.name}` + (guest.initrd ? `, initrd ${guest.initrd.name}` : "");
    const key = [guest.kernel.name, guest.initrd?.name, guest.memoryBytes, guest.vcpus, guest.cmdline.join()].join("|");
    let result = seen.get(key);
    if (!result) {
      try {
        result = loadGuestKernel(module, guest);
      } catch (error) {
        const what = error instanceof CoreAbort ? "aborted" : "trapped";
        process.stderr.write(`check-config: the guest VMM ${what} loading guest ${guest.name} (${files}): ${error.message}\n`);
        process.exit(3);
      }
      seen.set(key, result);
    }
    if (!result.ok) {
      process.stderr.write(`${config}: guest ${guest.name}: ${files}: ${result.why}\n`);
      ok = false;
    }
  }
  return ok;
}
