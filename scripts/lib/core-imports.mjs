// What every Node host of the core's Wasm needs, the config check and the
// kernel check alike: the abort hook's strings, its error, and the
// console's bytes gathered into lines.

const utf8 = new TextDecoder("utf-8");

// The core's abort() (assembly/lib/abort.ts), thrown out of coreAbort.
export class CoreAbort extends Error {}

// An AssemblyScript string in `memory`: UTF-16, its byte length at pointer - 4.
export function asString(memory, pointer) {
  if (!pointer) return "(null)";
  const length = new Uint32Array(memory.buffer, pointer - 4, 1)[0];
  return String.fromCharCode(...new Uint16Array(memory.buffer, pointer, length >>> 1));
}

// consoleWrite's bytes as whole lines: write(bytes) appends, lines holds
// every line ended so far (without its "\n").
export function consoleLines() {
  const lines = [];
  let pending = "";
  return {
    lines,
    write(bytes) {
      pending += utf8.decode(bytes);
      let newline;
      while ((newline = pending.indexOf("\n")) >= 0) {
        lines.push(pending.slice(0, newline));
        pending = pending.slice(newline + 1);
      }
    },
  };
}
