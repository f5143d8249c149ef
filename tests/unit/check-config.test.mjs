// scripts/check-config.mjs: the build-time validator that runs the very
// supervisor Wasm the hypervisor boots with. Runs it on tests/configs/*.toml
// and checks exact output and exit codes.
//
//   node --test tests/unit/check-config.test.mjs
//
// Builds build/supervisor.wasm first if it is missing or stale (make).

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
  execFileSync("make", ["-s", "build/supervisor.wasm"], { cwd: root, stdio: "inherit" });
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), "check-config-"));
});

after(() => {
  fs.rmSync(scratch, { recursive: true, force: true });
});

function check(args, options = {}) {
  const result = spawnSync(process.execPath, [script, ...args], {
    cwd: options.cwd ?? root,
    encoding: "utf8",
    env: { ...process.env, ...(options.env ?? {}) },
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function lines(...text) {
  return text.map((line) => line + "\n").join("");
}

// --- valid configs -------------------------------------------------------------

test("a minimal config: one guest with defaults, exit 0", () => {
  const r = check(["tests/configs/good-minimal.toml"]);
  assert.equal(r.stdout, lines(
    "config tests/configs/good-minimal.toml: 1 guest",
    "guest tiny: 32 MiB, 1 vCPU, kernel tests/configs/images/tiny.elf",
  ));
  assert.equal(r.stderr, "");
  assert.equal(r.status, 0);
});

test("a config that uses every key", () => {
  const r = check(["tests/configs/good-full.toml"]);
  assert.equal(r.stdout, lines(
    "config tests/configs/good-full.toml: 2 guests",
    'guest web: 256 MiB, 2 vCPUs, kernel tests/configs/images/tiny.elf, initrd tests/configs/images/tiny.cpio, cmdline "console=ttyS0 msg=\\"hi\\"\\tquiet", on_crash restart (max 1000), cpus [1, 3]',
    "guest db-2: 1028 KiB, 1 vCPU, kernel tests/configs/images/tiny.elf",
  ));
  assert.equal(r.status, 0);
});

test("a config with \\r\\n line ends", () => {
  const r = check(["tests/configs/good-crlf.toml"]);
  assert.equal(r.stdout, lines(
    "config tests/configs/good-crlf.toml: 1 guest",
    'guest crlf: 32 MiB, 1 vCPU, kernel tests/configs/images/tiny.elf, cmdline "edited on Windows"',
  ));
  assert.equal(r.status, 0);
});

test("a config without guests is valid", () => {
  const r = check(["tests/configs/good-no-guests.toml"]);
  assert.equal(r.stdout, lines("config tests/configs/good-no-guests.toml: no guests"));
  assert.equal(r.status, 0);
});

test("--quiet prints nothing for a valid config", () => {
  const r = check(["--quiet", "tests/configs/good-full.toml"]);
  assert.equal(r.stdout, "");
  assert.equal(r.status, 0);
});

test("the config keeps its name as typed; kernels resolve against its folder", () => {
  const r = check(["./tests/configs/../configs/good-minimal.toml"]);
  assert.equal(r.stdout, lines(
    "config ./tests/configs/../configs/good-minimal.toml: 1 guest",
    "guest tiny: 32 MiB, 1 vCPU, kernel tests/configs/images/tiny.elf",
  ));
  assert.equal(r.status, 0);
});

test("a config named by an absolute path resolves kernels to absolute paths", () => {
  const config = path.join(root, "tests/configs/good-minimal.toml");
  const r = check([config], { cwd: scratch });
  assert.equal(r.stdout, lines(
    `config ${config}: 1 guest`,
    `guest tiny: 32 MiB, 1 vCPU, kernel ${path.join(root, "tests/configs/images/tiny.elf")}`,
  ));
  assert.equal(r.status, 0);
});

test("--modules-out lists the config and each kernel/initrd once, by module name", () => {
  const out = path.join(scratch, "modules.tsv");
  const r = check(["--quiet", "--modules-out", out, "tests/configs/good-full.toml"]);
  assert.equal(r.status, 0);
  assert.equal(fs.readFileSync(out, "utf8"), lines(
    "tests/configs/good-full.toml\ttests/configs/good-full.toml",
    "tests/configs/images/tiny.elf\ttests/configs/images/tiny.elf",
    "tests/configs/images/tiny.cpio\ttests/configs/images/tiny.cpio",
  ));
});

// --- broken configs ----------------------------------------------------------------

test("syntax errors: one per line, with exact positions, exit 1", () => {
  const f = "tests/configs/bad-syntax.toml";
  const r = check([f]);
  assert.equal(r.stdout, lines(
    `${f}:2:12: hypervisor: expected "]" after the table name, found the end of the line`,
    `${f}:4:8: name: unterminated string: the line ends before the closing " (strings cannot span lines)`,
    `${f}:5:8: kernel: expected "=" after the key, found '"'`,
    `${f}:6:13: cmdline: invalid escape "\\q" (use \\", \\\\, \\n, \\t, \\r or \\uXXXX)`,
    `${f}:7:8: vcpus: missing value after "="`,
    `${f}:8:16: memory: unexpected "e" after the value`,
    `${f}:9:16: max_restarts: floating-point numbers are not supported`,
    `${f}:10:12: on_crash: expected a value, found "restart" (strings need quotes)`,
    `${f}:11:1: quoted keys are not supported (a key is made of letters, digits, "_" and "-")`,
    `${f}:12:14: initrd: nested arrays are not supported`,
  ));
  assert.equal(r.status, 1);
});

test("bad values: each at its value, naming the key", () => {
  const f = "tests/configs/bad-values.toml";
  const r = check([f]);
  assert.equal(r.stdout, lines(
    `${f}:2:16: timeslice_ms: 0 is out of range (1 to 1000)`,
    `${f}:5:8: name: "Web" may contain only a-z, 0-9 and "-"`,
    `${f}:7:10: memory: "12Q" is not a size (use K, M or G)`,
    `${f}:8:9: vcpus: expected an integer, found a string`,
    `${f}:9:12: on_crash: "reboot" is not one of "stop", "restart"`,
    `${f}:10:16: max_restarts: 1001 is out of range (0 to 1000)`,
    `${f}:15:10: memory: "512K" is out of range (1M to 64G)`,
    `${f}:16:9: vcpus: 65 is out of range (1 to 8)`,
    `${f}:19:8: name: "db" is already used by the guest at line 12`,
    `${f}:20:10: kernel: must not be empty (a path to a boot module)`,
    `${f}:21:11: cmdline: expected a string, found an integer`,
  ));
  assert.equal(r.status, 1);
});

test("bad keys and tables: unknown, misplaced, duplicate; did you mean", () => {
  const f = "tests/configs/bad-keys.toml";
  const r = check([f]);
  assert.equal(r.stdout, lines(
    `${f}:1:1: timeslice_ms: keys must follow a table header (it belongs in [hypervisor])`,
    `${f}:4:1: timeslice: unknown key in [hypervisor] (known keys: timeslice_ms)`,
    `${f}:9:1: memroy: unknown key in [[guest]] (did you mean "memory"?)`,
    `${f}:11:1: vcpus: duplicate key, already set at line 10`,
    `${f}:12:1: timeslice_ms: unknown key in [[guest]] (it belongs in [hypervisor])`,
    `${f}:14:2: guest: is an array of tables: write [[guest]], one per guest`,
    `${f}:17:2: network: unknown table (the tables are [hypervisor] and [[guest]])`,
  ));
  assert.equal(r.status, 1);
});

test("missing required keys are reported at the [[guest]] header", () => {
  const f = "tests/configs/bad-required.toml";
  const r = check([f]);
  assert.equal(r.stdout, lines(
    `${f}:1:1: kernel: missing in [[guest]] "web"`,
    `${f}:4:1: name: missing in [[guest]]`,
    `${f}:4:1: kernel: missing in [[guest]]`,
  ));
  assert.equal(r.status, 1);
});

test("kernels and initrds that are not files are reported with their resolved names", () => {
  const f = "tests/configs/bad-missing.toml";
  const out = path.join(scratch, "not-written.tsv");
  const r = check(["--modules-out", out, f]);
  assert.equal(r.stdout, lines(
    `${f}:4:10: kernel: "tests/configs/guests/missing.elf" was not found (no boot module or file by that name)`,
    `${f}:5:10: initrd: "/no/such/initrd.cpio" was not found (no boot module or file by that name)`,
  ));
  assert.equal(r.status, 1);
  assert.equal(fs.existsSync(out), false, "--modules-out is written only for a valid config");
});

test("control characters and bytes that are not UTF-8", () => {
  const f = "tests/configs/bad-encoding.toml";
  const r = check([f]);
  assert.equal(r.stdout, lines(
    `${f}:1:24: control character U+001B is not allowed`,
    `${f}:3:10: control character U+0000 is not allowed`,
    `${f}:4:14: invalid UTF-8 (byte 0xFF)`,
  ));
  assert.equal(r.status, 1);
});

test("after 20 errors, a count of the rest", () => {
  const f = "tests/configs/bad-many.toml";
  const r = check([f]);
  const out = r.stdout.split("\n");
  assert.equal(out.length, 22); // 20 errors, the count, and the final newline
  assert.equal(out[0], `${f}:4:1: unknown_0: unknown key in [[guest]] (known keys: name, kernel, initrd, cmdline, memory, vcpus, cpus, on_crash, max_restarts, stop_after_ms, console_bytes_per_second)`);
  assert.equal(out[19], `${f}:23:1: unknown_19: unknown key in [[guest]] (known keys: name, kernel, initrd, cmdline, memory, vcpus, cpus, on_crash, max_restarts, stop_after_ms, console_bytes_per_second)`);
  assert.equal(out[20], "and 10 more errors");
  assert.equal(r.status, 1);
});

test("--quiet still prints the errors", () => {
  const r = check(["--quiet", "tests/configs/bad-required.toml"]);
  assert.equal(r.stdout.split("\n").length, 4);
  assert.equal(r.status, 1);
});

// --- the tool itself -------------------------------------------------------------------

test("a missing config file is a clear error, exit 1", () => {
  const r = check(["tests/configs/no-such.toml"]);
  assert.equal(r.stdout, "");
  assert.equal(r.stderr, "check-config: cannot read tests/configs/no-such.toml: no such file\n");
  assert.equal(r.status, 1);
});

test("a folder given as the config is a clear error, exit 1", () => {
  const r = check(["tests/configs"]);
  assert.equal(r.stderr, "check-config: cannot read tests/configs: is a folder\n");
  assert.equal(r.status, 1);
});

test("no config or an unknown option is a usage error, exit 2", () => {
  let r = check([]);
  assert.match(r.stderr, /^check-config: no CONFIG given\nusage: /);
  assert.equal(r.status, 2);
  r = check(["--frobnicate", "tests/configs/good-minimal.toml"]);
  assert.match(r.stderr, /^check-config: unknown option --frobnicate\n/);
  assert.equal(r.status, 2);
});

test("a core abort is reported with its message and exits 3", () => {
  // A stand-in supervisor whose init() aborts with the message "boom" (an
  // AssemblyScript string: UTF-16 with its byte length at pointer - 4).
  const wat = `(module
    (import "env" "coreAbort" (func $abort (param i32 i32 i32 i32)))
    (memory (export "memory") 1)
    (data (i32.const 12) "\\08\\00\\00\\00b\\00o\\00o\\00m\\00")
    (data (i32.const 32) "\\0c\\00\\00\\00a\\00.\\00t\\00s\\00!\\00!\\00")
    (func (export "init") (result i32) (call $abort (i32.const 16) (i32.const 36) (i32.const 7) (i32.const 3)) (i32.const 0))
    (func (export "configErrors") (result i32) (i32.const 0)))`;
  const watFile = path.join(scratch, "abort.wat");
  const wasmFile = path.join(scratch, "abort.wasm");
  fs.writeFileSync(watFile, wat);
  execFileSync(path.join(root, "node_modules/.bin/wat2wasm"), [watFile, "-o", wasmFile]);
  const r = check(["tests/configs/good-minimal.toml"], { env: { HV_SUPERVISOR_WASM: wasmFile } });
  assert.equal(r.stderr, "check-config: the core aborted: boom (a.ts!!:7:3)\n");
  assert.equal(r.status, 3);
});
