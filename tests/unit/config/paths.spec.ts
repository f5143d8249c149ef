import { folderLength, normalizePath, resolvePath } from "../../../assembly/config/paths";

const OUT: usize = memory.data(4096);

function normalize(path: string, capacity: u32 = 4096): string {
  let bytes = String.UTF8.encode(path);
  let length = normalizePath(changetype<usize>(bytes), <u32>bytes.byteLength, OUT, capacity);
  return length < 0 ? "(does not fit)" : String.UTF8.decodeUnsafe(OUT, <usize>length);
}

// Resolves `path` as written in the config module named `configName`.
function resolve(configName: string, path: string, capacity: u32 = 4096): string {
  let name = String.UTF8.encode(configName);
  let bytes = String.UTF8.encode(path);
  let folder = folderLength(changetype<usize>(name), <u32>name.byteLength);
  let length = resolvePath(changetype<usize>(name), folder, changetype<usize>(bytes), <u32>bytes.byteLength, OUT, capacity);
  return length < 0 ? "(does not fit)" : String.UTF8.decodeUnsafe(OUT, <usize>length);
}

describe("the config's folder", () => {
  it("is everything up to and including the last slash", () => {
    let name = String.UTF8.encode("tests/configs/hv.toml");
    expect(folderLength(changetype<usize>(name), <u32>name.byteLength)).toBe(14);
  });
  it("is empty for a name without a slash", () => {
    let name = String.UTF8.encode("hv.toml");
    expect(folderLength(changetype<usize>(name), <u32>name.byteLength)).toBe(0);
  });
  it("is / for a config at the root", () => {
    let name = String.UTF8.encode("/hv.toml");
    expect(folderLength(changetype<usize>(name), <u32>name.byteLength)).toBe(1);
  });
});

describe("normalizing a path", () => {
  it("leaves a clean path alone", () => {
    expect(normalize("guests/web.elf")).toBe("guests/web.elf");
    expect(normalize("/boot/guests/web.elf")).toBe("/boot/guests/web.elf");
  });
  it("collapses ./ segments", () => {
    expect(normalize("./guests/./web.elf")).toBe("guests/web.elf");
  });
  it("collapses duplicate slashes and a trailing slash", () => {
    expect(normalize("guests//web.elf")).toBe("guests/web.elf");
    expect(normalize("//boot///x/")).toBe("/boot/x");
  });
  it("folds name/.. away", () => {
    expect(normalize("a/b/../c")).toBe("a/c");
    expect(normalize("a/b/../../c")).toBe("c");
    expect(normalize("a/../b/./../c/d/..")).toBe("c");
  });
  it("keeps .. that climbs above a relative start", () => {
    expect(normalize("../x")).toBe("../x");
    expect(normalize("a/../../x")).toBe("../x");
    expect(normalize("../../x/../y")).toBe("../../y");
  });
  it("drops .. above the root of an absolute path", () => {
    expect(normalize("/../x")).toBe("/x");
    expect(normalize("/a/../../b")).toBe("/b");
  });
  it("answers . for a path that folds to nothing, / for the root", () => {
    expect(normalize("")).toBe(".");
    expect(normalize("./")).toBe(".");
    expect(normalize("a/..")).toBe(".");
    expect(normalize("/")).toBe("/");
    expect(normalize("/..")).toBe("/");
  });
  it("keeps names that only start with dots", () => {
    expect(normalize(".hidden/..x/...")).toBe(".hidden/..x/...");
  });
  it("answers -1 when the result does not fit", () => {
    expect(normalize("abcdef", 5)).toBe("(does not fit)");
    expect(normalize("abcdef", 6)).toBe("abcdef");
    expect(normalize("a/b", 2)).toBe("(does not fit)");
  });
});

describe("resolving a kernel path against the config's folder", () => {
  it("prefixes the folder of the config module", () => {
    expect(resolve("tests/configs/demo.toml", "guests/hello.elf")).toBe("tests/configs/guests/hello.elf");
  });
  it("uses the path as it is when the config has no folder", () => {
    expect(resolve("hv.toml", "guests/hello.elf")).toBe("guests/hello.elf");
  });
  it("normalizes after joining", () => {
    expect(resolve("tests/configs/demo.toml", "../../build/guests/hello.elf")).toBe("build/guests/hello.elf");
    expect(resolve("./a/b/hv.toml", "./c/../d.elf")).toBe("a/b/d.elf");
    expect(resolve("a/hv.toml", "../../x.elf")).toBe("../x.elf");
  });
  it("keeps an absolute path (normalized)", () => {
    expect(resolve("tests/configs/demo.toml", "/boot//hello.elf")).toBe("/boot/hello.elf");
  });
  it("resolves against an absolute folder", () => {
    expect(resolve("/boot/hv.toml", "guests/../hello.elf")).toBe("/boot/hello.elf");
  });
  it("answers -1 when the result does not fit", () => {
    expect(resolve("abc/hv.toml", "def", 6)).toBe("(does not fit)");
    expect(resolve("abc/hv.toml", "def", 7)).toBe("abc/def");
  });
});
