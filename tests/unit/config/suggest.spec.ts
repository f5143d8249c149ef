import { closestWord, editDistance } from "../../../assembly/config/suggest";

function distance(a: string, b: string): u32 {
  let bytes = String.UTF8.encode(a);
  return editDistance(changetype<usize>(bytes), <u32>bytes.byteLength, b);
}

const KEYS: StaticArray<string> = ["name", "kernel", "initrd", "cmdline", "memory", "vcpus", "on_crash", "max_restarts"];

function closest(word: string): string {
  let bytes = String.UTF8.encode(word);
  return closestWord(changetype<usize>(bytes), <u32>bytes.byteLength, KEYS);
}

describe("edit distance", () => {
  it("is 0 for the same word", () => {
    expect(distance("memory", "memory")).toBe(0);
  });
  it("counts a swap of neighbours as one edit", () => {
    expect(distance("memroy", "memory")).toBe(1);
    expect(distance("knrel", "kernel")).toBe(2);
  });
  it("counts insertions, deletions and substitutions", () => {
    expect(distance("vcpu", "vcpus")).toBe(1);
    expect(distance("vcpuss", "vcpus")).toBe(1);
    expect(distance("vcpas", "vcpus")).toBe(1);
    expect(distance("", "name")).toBe(4);
    expect(distance("kitten", "sitting")).toBe(3);
  });
  it("ignores ASCII case", () => {
    expect(distance("MEMORY", "memory")).toBe(0);
  });
  it("gives up on words longer than any key", () => {
    expect(distance("a".repeat(33), "name")).toBe(u32.MAX_VALUE);
  });
});

describe("did you mean", () => {
  it("suggests the nearest key within two edits", () => {
    expect(closest("memroy")).toBe("memory");
    expect(closest("cpus")).toBe("vcpus");
    expect(closest("on-crash")).toBe("on_crash");
    expect(closest("max_restart")).toBe("max_restarts");
    expect(closest("cmd_line")).toBe("cmdline");
    expect(closest("Kernel")).toBe("kernel");
  });
  it("suggests nothing when every key is further away", () => {
    expect(closest("ramdisk")).toBe("");
    expect(closest("x")).toBe("");
    expect(closest("a".repeat(1000))).toBe("");
  });
});
