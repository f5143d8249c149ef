// Loads each guest's kernel (and initrd) at build time with the loader the
// hypervisor runs at boot: build/guest.wasm's create() and load(), the
// same format detection (bzImage, multiboot, flat; ELF without multiboot
// refused) and the same checks of placement against the guest's RAM,
// over a sparse guest RAM in Node. A kernel the boot would refuse is
// refused here, with the config, the guest, the kernel's path and the
// reason the core gave. Used by scripts/check-config.mjs --load.
//
// The imports are assembly/guest/host.ts's, as linker/imports.c gives
// them: guest-physical ranges must lie inside the guest's RAM, module
// reads clip at the module's end.

import fs from "node:fs";
import { CoreAbort, asString, consoleLines } from "./core-imports.mjs";

const CHUNK = 1 << 16;   // sparse RAM: 64 KiB pieces, made on first write
const NO_MODULE = 0xffffffff;

// RAM of `bytes` bytes, zero until written.
class SparseRam {
  constructor(bytes) {
    this.bytes = bytes;
    this.chunks = new Map();
  }
  inside(gpa, length) {
    return gpa >= 0n && gpa + BigInt(length) <= this.bytes;
  }
  // Calls visit(chunk or null, offset in it, offset in the range, n) per piece.
  each(gpa, length, create, visit) {
    let address = Number(gpa);
    for (let done = 0; done < length;) {
      const index = Math.floor(address / CHUNK);
      const offset = address % CHUNK;
      const n = Math.min(CHUNK - offset, length - done);
      let chunk = this.chunks.get(index) ?? null;
      if (!chunk && create) this.chunks.set(index, (chunk = new Uint8Array(CHUNK)));
      visit(chunk, offset, done, n);
      done += n;
      address += n;
    }
  }
  read(gpa, target) {
    target.fill(0);
    this.each(gpa, target.length, false, (chunk, offset, at, n) => {
      if (chunk) target.set(chunk.subarray(offset, offset + n), at);
    });
  }
  write(gpa, source) {
    this.each(gpa, source.length, true, (chunk, offset, at, n) => chunk.set(source.subarray(at, at + n), offset));
  }
}

// One guest: { name, memoryBytes (bigint), vcpus, cmdline (bytes),
// kernel: { path, data }, initrd: { path, data } | null }. Answers
// { ok: true } or { ok: false, why } (the core's reason), or throws when
// the core aborts or traps (a bug in the core).
export function loadGuestKernel(module, guest) {
  let memory = null;
  const ram = new SparseRam(guest.memoryBytes);
  const modules = [guest.kernel.data, guest.initrd ? guest.initrd.data : null];
  const console_ = consoleLines();
  const lines = console_.lines;
  const view = (pointer, length) => {
    if (pointer + length > memory.buffer.byteLength) throw new Error(`bad pointer ${pointer}+${length}`);
    return new Uint8Array(memory.buffer, pointer, length);
  };
  let tsc = 0n;
  const env = {
    consoleWrite(pointer, length) {
      console_.write(view(pointer, length));
    },
    guestRead(gpa, destination, length) {
      if (!ram.inside(gpa, length)) return 0;
      ram.read(gpa, view(destination, length));
      return length;
    },
    guestLoad(gpa, bytes) {
      if ((bytes !== 4 && bytes !== 8) || !ram.inside(gpa, bytes)) return 0n;
      const b = new Uint8Array(bytes);
      ram.read(gpa, b);
      let value = 0n;
      for (let i = bytes - 1; i >= 0; i--) value = (value << 8n) | BigInt(b[i]);
      return value;
    },
    guestWrite(gpa, source, length) {
      if (!ram.inside(gpa, length)) return 0;
      ram.write(gpa, view(source, length));
      return length;
    },
    guestModuleSize(which) {
      const data = modules[which];
      return data ? data.length : NO_MODULE;
    },
    guestModuleRead(which, offset, destination, length) {
      const data = modules[which];
      const target = view(destination, length);
      if (!data || offset >= data.length) return 0;
      const n = Math.min(data.length - offset, length);
      target.set(data.subarray(offset, offset + n));
      return n;
    },
    guestModuleToRam(which, offset, gpa, length) {
      const data = modules[which];
      if (!data || offset + length > data.length || !ram.inside(gpa, length)) return 0;
      ram.write(gpa, data.subarray(offset, offset + length));
      return length;
    },
    // No CPU to ask: the loaders do not look at CPUID; the clock needs a rate.
    hostCpuid(leaf, subleaf, destination) {
      view(destination, 16).fill(0);
    },
    readTsc: () => (tsc += 1000n),
    tscHz: () => 1_000_000_000n,
    wallClockSeconds: () => BigInt(Math.floor(Date.now() / 1000)),
    coreAbort(message, file, line, column) {
      throw new CoreAbort(`${asString(memory, message)} (${asString(memory, file)}:${line}:${column})`);
    },
  };
  const instance = new WebAssembly.Instance(module, { env });
  const exports = instance.exports;
  memory = exports.memory;
  const name = new TextEncoder().encode(guest.name);
  const area = exports.setupArea() >>> 0;
  if (name.length + guest.cmdline.length > exports.setupAreaBytes() >>> 0) {
    return { ok: false, why: "its name and command line do not fit the guest VMM's setup area" };
  }
  view(area, name.length).set(name);
  view(area + name.length, guest.cmdline.length).set(guest.cmdline);
  const created = exports.create(0, guest.memoryBytes, guest.vcpus, name.length, guest.cmdline.length) >>> 0;
  if (created !== 0) return { ok: false, why: `the guest VMM refused it (create: ${created})` };
  if ((exports.load() >>> 0) === 0) return { ok: true };
  // "[hv] guest <name> stopped: cannot load kernel: <why>"
  const stop = lines.find((l) => l.includes(" stopped: ")) ?? lines.join(" ");
  return { ok: false, why: stop.replace(/^.* stopped: /, "") };
}

// The guest VMM's compiled module, from `wasmPath`.
export function guestModule(wasmPath) {
  return new WebAssembly.Module(fs.readFileSync(wasmPath));
}

