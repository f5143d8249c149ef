// Kernel and initrd paths in hv.toml are relative to the config's own folder
// (as GRUB names the config module), so a config and its guests can move
// together. Resolution joins and normalizes without touching any file system:
// the answer is a module name, looked up by exact match.

// Joined paths before normalization: a config folder and a written path.
const JOIN_CAPACITY: u32 = 8192;
const JOIN_BYTES: usize = memory.data(<i32>JOIN_CAPACITY, 16);

const SLASH: u32 = 0x2f;
const DOT: u32 = 0x2e;

// Length of the folder part of a module name: up to and including its last
// "/", or 0 when it has none.
export function folderLength(pointer: usize, length: u32): u32 {
  for (let i = length; i > 0; i--) {
    if (<u32>load<u8>(pointer + <usize>(i - 1)) == SLASH) return i;
  }
  return 0;
}

// Resolves `path` against `folder` (unless the path is absolute) and
// normalizes it into destination. Answers the length, or -1 if it does not
// fit in `capacity` bytes.
export function resolvePath(
  folder: usize, folderBytes: u32,
  path: usize, pathBytes: u32,
  destination: usize, capacity: u32,
): i32 {
  let absolute = pathBytes > 0 && <u32>load<u8>(path) == SLASH;
  let joined: u32 = 0;
  if (!absolute && folderBytes > 0) {
    if (<u64>folderBytes + 1 + <u64>pathBytes > <u64>JOIN_CAPACITY) return -1;
    memory.copy(JOIN_BYTES, folder, <usize>folderBytes);
    joined = folderBytes;
    store<u8>(JOIN_BYTES + <usize>joined, <u8>SLASH);
    joined++;
  } else if (pathBytes > JOIN_CAPACITY) {
    return -1;
  }
  memory.copy(JOIN_BYTES + <usize>joined, path, <usize>pathBytes);
  joined += pathBytes;
  return normalizePath(JOIN_BYTES, joined, destination, capacity);
}

// Drops empty and "." segments and folds "name/.." away; ".." above the
// start stays in a relative path and is dropped in an absolute one.
// "" and "./" become ".". Source and destination must not overlap. Answers
// the length, or -1 if the result does not fit in `capacity` bytes.
export function normalizePath(source: usize, length: u32, destination: usize, capacity: u32): i32 {
  let absolute = length > 0 && <u32>load<u8>(source) == SLASH;
  let out: u32 = 0;
  if (absolute) {
    if (capacity < 1) return -1;
    store<u8>(destination, <u8>SLASH);
    out = 1;
  }
  let base = out; // where the first segment goes
  let i: u32 = 0;
  while (i < length) {
    while (i < length && <u32>load<u8>(source + <usize>i) == SLASH) i++;
    let segment = i;
    while (i < length && <u32>load<u8>(source + <usize>i) != SLASH) i++;
    let segmentBytes = i - segment;
    if (segmentBytes == 0) break;
    let first = <u32>load<u8>(source + <usize>segment);
    if (segmentBytes == 1 && first == DOT) continue;
    if (segmentBytes == 2 && first == DOT && <u32>load<u8>(source + <usize>segment + 1) == DOT) {
      if (out > base) {
        let lastStart = lastSegmentStart(destination, base, out);
        let last = destination + <usize>lastStart;
        let lastIsParent = out - lastStart == 2 && <u32>load<u8>(last) == DOT && <u32>load<u8>(last + 1) == DOT;
        if (!lastIsParent) {
          // Remove the last segment and the "/" before it.
          out = lastStart > base ? lastStart - 1 : base;
          continue;
        }
      } else if (absolute) {
        continue; // "/.." is "/"
      }
    }
    let separator: u32 = out > base ? 1 : 0;
    if (<u64>out + <u64>separator + <u64>segmentBytes > <u64>capacity) return -1;
    if (separator) {
      store<u8>(destination + <usize>out, <u8>SLASH);
      out++;
    }
    memory.copy(destination + <usize>out, source + <usize>segment, <usize>segmentBytes);
    out += segmentBytes;
  }
  if (out == 0) {
    if (capacity < 1) return -1;
    store<u8>(destination, <u8>DOT);
    out = 1;
  }
  return <i32>out;
}

function lastSegmentStart(pointer: usize, base: u32, end: u32): u32 {
  for (let i = end; i > base; i--) {
    if (<u32>load<u8>(pointer + <usize>(i - 1)) == SLASH) return i;
  }
  return base;
}
