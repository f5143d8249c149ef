// scripts/check-config.mjs --load (what scripts/iso runs): every guest's
// kernel is loaded at build time by the guest VMM's own loader
// (build/guest.wasm), and a kernel the boot would refuse is refused with
// the config, the guest, the kernel's path and the loader's reason.
//
//   node --test tests/unit/check-kernels.test.mjs

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync, execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const script = path.join(root, "scripts/check-config.mjs");
let scratch;

before(() => {
  execFileSync("make", ["-s", "build/supervisor.wasm", "build/guest.wasm"], { cwd: root, stdio: "inherit" });
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), "check-kernels-"));
});

after(() => {
  fs.rmSync(scratch, { recursive: true, force: true });
});

function file(name, data) {
  fs.writeFileSync(path.join(scratch, name), data);
}

// One guest per [name, kernel, memory, initrd?]; checks the config with --load.
function check(guests) {
  const toml = guests.map(([name, kernel, memory, initrd]) =>
    `[[guest]]\nname = "${name}"\nkernel = "${kernel}"\nmemory = "${memory}"\n` +
    (initrd ? `initrd = "${initrd}"\n` : "")).join("\n");
  file("hv.toml", toml);
  const r = spawnSync(process.execPath, [script, "--quiet", "--load", "hv.toml"], { cwd: scratch, encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

// A bzImage setup header (Linux boot protocol, "The real-mode kernel
// header"): `version` of the protocol, 64-bit entry in xloadflags.
function bzImage(version, { size = 0x10000 } = {}) {
  const image = Buffer.alloc(size);
  image[0x1f1] = 4;                          // setup_sects
  image.writeUInt16LE(0xaa55, 0x1fe);
  image[0x200] = 0xeb;                       // jmp over the header:
  image[0x201] = 0x66;                       // it ends at 0x268
  image.write("HdrS", 0x202, "latin1");
  image.writeUInt16LE(version, 0x206);
  image[0x211] = 1;                          // loadflags: LOADED_HIGH
  image.writeUInt32LE(0x7fffffff, 0x22c);    // initrd_addr_max
  image.writeUInt32LE(0x200000, 0x230);      // kernel_alignment
  image[0x234] = 1;                          // relocatable_kernel
  image.writeUInt16LE(1, 0x236);             // xloadflags: XLF_KERNEL_64
  image.writeUInt32LE(2047, 0x238);          // cmdline_size
  image.writeBigUInt64LE(0x1000000n, 0x258); // pref_address
  image.writeUInt32LE(0x800000, 0x260);      // init_size
  return image;
}

test("a flat binary that fits is accepted; the same file refused where it does not fit", () => {
  file("flat.bin", Buffer.from([0xf4, 0xeb, 0xfd]));
  file("big.bin", Buffer.alloc(3 << 20, 0x90));
  const good = check([["small", "flat.bin", "4M"]]);
  assert.equal(good.stderr, "");
  assert.equal(good.status, 0);
  const bad = check([["small", "flat.bin", "4M"], ["tight", "big.bin", "2M"]]);
  assert.equal(bad.stderr,
    "hv.toml: guest tight: kernel big.bin: cannot load kernel: the flat binary [0x100000, 0x400000) lies outside guest RAM (0x200000 bytes)\n");
  assert.equal(bad.status, 1);
});

test("files that are no kernel are refused, each saying what it is", () => {
  file("notes.txt", "a placeholder, not a kernel\n");
  file("kernel.gz", Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0]));
  file("initrd.cpio", "070701000000000000");
  file("vmlinux", Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]), Buffer.alloc(64)]));
  const r = check([["a", "notes.txt", "8M"], ["b", "kernel.gz", "8M"], ["c", "initrd.cpio", "8M"], ["d", "vmlinux", "8M"]]);
  assert.equal(r.stderr, [
    "hv.toml: guest a: kernel notes.txt: cannot load kernel: the kernel image is text, not a kernel",
    "hv.toml: guest b: kernel kernel.gz: cannot load kernel: the kernel image is a gzip-compressed file, not a kernel (decompress it, or give the bzImage)",
    "hv.toml: guest c: kernel initrd.cpio: cannot load kernel: the kernel image is a cpio archive (an initrd?), not a kernel",
    "hv.toml: guest d: kernel vmlinux: cannot load kernel: ELF without a multiboot header (64-bit ELF; a Linux vmlinux needs the bzImage loader)",
    "",
  ].join("\n"));
  assert.equal(r.status, 1);
});

test("a bzImage is checked as the boot checks it: protocol, and room for the kernel and initrd", () => {
  file("old.bzimage", bzImage(0x020a));
  file("new.bzimage", bzImage(0x020f));
  file("initrd.img", Buffer.alloc(1 << 20, 1));
  const old = check([["old", "old.bzimage", "64M"]]);
  assert.match(old.stderr, /^hv\.toml: guest old: kernel old\.bzimage: cannot load kernel: .*protocol 2\.10.*\n$/);
  assert.equal(old.status, 1);
  const fits = check([["linux", "new.bzimage", "64M", "initrd.img"]]);
  assert.equal(fits.stderr, "");
  assert.equal(fits.status, 0);
  // init_size (8 MiB) fits nowhere in 6 MiB of RAM.
  const tight = check([["linux", "new.bzimage", "6M", "initrd.img"]]);
  assert.match(tight.stderr, /^hv\.toml: guest linux: kernel new\.bzimage, initrd initrd\.img: cannot load kernel: .+\n$/);
  assert.equal(tight.status, 1);
});

test("guests alike are loaded once and each is reported", () => {
  file("notes.txt", "not a kernel\n");
  const r = check([["one", "notes.txt", "8M"], ["two", "notes.txt", "8M"]]);
  assert.equal(r.stderr.split("\n").filter(Boolean).length, 2, r.stderr);
  assert.match(r.stderr, /guest one: .*\n.*guest two: /);
  assert.equal(r.status, 1);
});

test("the config's own errors come first, without loading anything", () => {
  file("hv.toml", "[[guest]]\nname = \"x\"\n");
  const r = spawnSync(process.execPath, [script, "--quiet", "--load", "hv.toml"], { cwd: scratch, encoding: "utf8" });
  assert.equal(r.status, 1);
  assert.doesNotMatch(r.stderr, /cannot load kernel/);
});
