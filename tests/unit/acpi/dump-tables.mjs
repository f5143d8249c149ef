// Development check of the ACPI tables against a real AML interpreter's
// tools: builds them for a guest (node tests/unit/acpi/dump-tables.mjs
// [vcpus] [memory MiB] [directory]), writes each table as <SIG>.dat in the
// directory, and, when iasl (Debian's acpica-tools) is installed, runs
// `iasl -d` on each so the disassembly (.dsl) can be read; iasl's own
// complaints are printed. Not part of `make test`.
import asc from "assemblyscript/asc";
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync, readFileSync, existsSync } from "node:fs";
import { join } from "node:path";

const [vcpus = "4", memoryMiB = "512", directory = "build/acpi"] = process.argv.slice(2);
const here = new URL(".", import.meta.url).pathname;
const { error, stderr, binary } = await compile(join(here, "dump_tables.ts"));
if (error) {
  console.error(stderr.toString());
  process.exit(1);
}
const { instance } = await WebAssembly.instantiate(binary, { env: { abort() { throw new Error("abort"); } } });
const ram = instance.exports.build(Number(vcpus), Number(memoryMiB));
if (ram === 0) {
  console.error("buildAcpiTables refused");
  process.exit(1);
}
const bytes = new Uint8Array(instance.exports.memory.buffer, ram, 0x100000);
const u32 = (gpa) => bytes[gpa] | (bytes[gpa + 1] << 8) | (bytes[gpa + 2] << 16) | (bytes[gpa + 3] << 24) >>> 0;
const signature = (gpa) => String.fromCharCode(...bytes.slice(gpa, gpa + 4));

mkdirSync(directory, { recursive: true });
const rsdp = 0xf0000;
const rsdt = u32(rsdp + 16);
const tables = [rsdt];
for (let i = 0; i < (u32(rsdt + 4) - 36) / 4; i++) tables.push(u32(rsdt + 36 + 4 * i));
const fadt = tables.find((t) => signature(t) === "FACP");
tables.push(u32(fadt + 40), u32(fadt + 36), Number(new DataView(bytes.buffer, ram + rsdp + 24, 8).getBigUint64(0, true)));
writeFileSync(join(directory, "RSDP.dat"), bytes.slice(rsdp, rsdp + 36));
for (const t of tables) {
  const length = signature(t) === "FACS" ? 64 : u32(t + 4);
  const file = join(directory, signature(t) + ".dat");
  writeFileSync(file, bytes.slice(t, t + length));
  console.log(`${signature(t)} at 0x${t.toString(16)}, ${length} bytes -> ${file}`);
}
if (!hasIasl()) {
  console.log("iasl not found (apt-get install acpica-tools): not disassembled");
  process.exit(0);
}
let failed = false;
// (iasl -d does not take an RSDP file; the specs check its checksums.)
for (const t of tables.map(signature)) {
  let out;
  try {
    out = execFileSync("iasl", ["-d", `${t}.dat`], { cwd: directory, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    out = `${e.stdout}${e.stderr}`;
    failed = true;
  }
  const complaints = out.split("\n").filter((l) => /error|warning|remark|invalid|checksum|not/i.test(l));
  console.log(`iasl -d ${t}.dat: ${complaints.length ? complaints.join("; ") : "clean"}`);
}
// ACPICA's interpreter (acpiexec) loads the DSDT, evaluates \_S5 and
// decodes every _CRS. Its round trip of a resource template writes the End
// Tag checksum as 0 (ACPICA's convention; 6.4.2.9 allows 0 or the real sum),
// so a "mismatch" of that one byte is expected and not reported.
const devices = ["\\_SB_.PCI0", "\\_SB_.PCI0.RTC_", "\\_SB_.PCI0.KBD_", "\\_SB_.PCI0.COM1"];
const commands = ["evaluate \\_S5_", ...devices.map((d) => `resources ${d}`)].join("; ");
let run;
try {
  run = execFileSync("acpiexec", ["-b", commands, "DSDT.dat"], { cwd: directory, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
} catch (e) {
  run = `${e.stdout}${e.stderr}\nacpiexec failed`;
  failed = true;
}
const lines = run.split("\n");
const problems = lines.filter((l, i) => /error|failed|AE_|mismatch/i.test(l) &&
  !/_SRS|AcpiSetCurrentResources/.test(l) &&
  !(/Data mismatch in descriptor \[\d+\] type 78/.test(l)) &&
  !(/Mismatch at byte offset 01/.test(l) && /type 78/.test(lines[i - 1] ?? "")));
const s5 = /\[Package\] Contains 4 Elements/.test(run);
console.log(`acpiexec: \\_S5_ ${s5 ? "is a 4-element package" : "NOT evaluated"}; ${problems.length ? problems.join("; ") : "no errors"}`);
if (!s5 || problems.length) failed = true;
process.exit(failed ? 1 : 0);

async function compile(entry) {
  let binary = null;
  const stderr = { chunks: [], write(s) { this.chunks.push(s); }, toString() { return this.chunks.join(""); } };
  const { error } = await asc.main([entry, "--runtime", "stub", "-O1", "--outFile", "dump.wasm"], {
    stderr,
    writeFile(name, contents) { if (name.endsWith(".wasm")) binary = contents; },
  });
  return { error, stderr, binary };
}

function hasIasl() {
  try {
    execFileSync("iasl", ["-v"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
