// A flooding guest beside others: every line it wrote arrives whole and in
// order, and the others' lines arrive too.
import assert from "node:assert/strict";
import { line } from "./lib.mjs";
import { guestLines } from "./guests.mjs";

export function assertFlood(r, count) {
  const lines = guestLines(r, "flood");
  assert.equal(lines.length, count, `${lines.length} of ${count} flood lines arrived`);
  lines.forEach((l, i) => assert.equal(l, `flood: line ${i} the quick brown fox jumps over the lazy dog`));
  // No line of any guest was cut by another's output.
  for (const l of r.lines) {
    if (l.includes("flood: line") && !l.startsWith("[flood] flood: line")) assert.fail(`interleaved: ${l}`);
  }
  assert.equal(guestLines(r, "hello").length, 2);
  assert.deepEqual(guestLines(r, "steady"), ["memtest: 6 MiB checked, ok: 0 bad words"]);
  for (const g of ["flood", "hello", "steady"]) line(r, new RegExp(`^\\[hv\\] guest ${g} stopped: exit code 0$`));
  assert.equal(r.code, 0);
}
