// A nested-table walker written from the manuals, independent of
// assembly/mm/nested_paging.ts, so the tests check the tables the hardware
// would read, not the module's own idea of them. Host-physical addresses are
// turned into linear-memory offsets with the base the tests pass to
// setHostLayout.

// Where the tests pretend the supervisor's linear memory is: 64 KiB aligned,
// and far from the guest RAM they map.
export const LINEAR_BASE: u64 = 0x0000_0040_0000_0000; // 256 GiB
export const NOT_PRESENT: u64 = u64.MAX_VALUE;

export const SVM: u32 = 1;
export const VMX: u32 = 2;

export const KiB: u64 = 1 << 10;
export const MiB: u64 = 1 << 20;
export const GiB: u64 = 1 << 30;

const ADDRESS: u64 = 0x000F_FFFF_FFFF_F000;

// Bits meaning "present": NPT P (bit 0); EPT any of R, W, X (bits 0-2).
export function presentMask(vendor: u32): u64 {
  return vendor == SVM ? 1 : 7;
}

export function offsetOf(hostPhysical: u64): usize {
  return <usize>(hostPhysical - LINEAR_BASE);
}

// The entries the last walk read, by level (index 4 = PML4E .. 1 = PTE; 0
// where the walk stopped earlier), and the level of its leaf.
export const walkEntries = new StaticArray<u64>(5);
export let walkLeafLevel: u32 = 0;

// Host-physical address of `gpa` through the tables rooted at host-physical
// `root`, or NOT_PRESENT.
export function walk(vendor: u32, root: u64, gpa: u64): u64 {
  for (let i = 0; i < 5; i++) walkEntries[i] = 0;
  walkLeafLevel = 0;
  let table = root;
  for (let level: u32 = 4; level >= 1; level--) {
    let shift = 12 + 9 * (level - 1);
    let index = (gpa >> shift) & 511;
    let entry = load<u64>(offsetOf(table) + <usize>(index * 8));
    walkEntries[level] = entry;
    if ((entry & presentMask(vendor)) == 0) return NOT_PRESENT;
    let leaf = level == 1 || ((level == 2 || level == 3) && (entry & 0x80) != 0);
    if (leaf) {
      walkLeafLevel = level;
      let size = <u64>1 << shift;
      return (entry & ADDRESS & ~(size - 1)) + (gpa & (size - 1));
    }
    table = entry & ADDRESS;
  }
  return NOT_PRESENT;
}

// Counts of the leaves reachable from `root`: [2 MiB leaves, 4 KiB leaves],
// and the table pages visited (PML4 included).
export let largeLeaves: u32 = 0;
export let smallLeaves: u32 = 0;
export let tablePages: u32 = 0;
// Every present entry, in visiting order, with its level.
export let presentEntries: u64[] = [];
export let presentLevels: u32[] = [];

export function countTables(vendor: u32, root: u64): void {
  largeLeaves = 0;
  smallLeaves = 0;
  tablePages = 0;
  presentEntries = [];
  presentLevels = [];
  visit(vendor, root, 4);
}

function visit(vendor: u32, table: u64, level: u32): void {
  tablePages++;
  for (let index: u32 = 0; index < 512; index++) {
    let entry = load<u64>(offsetOf(table) + <usize>(index * 8));
    if ((entry & presentMask(vendor)) == 0) continue;
    presentEntries.push(entry);
    presentLevels.push(level);
    if (level == 1) smallLeaves++;
    else if (level == 2 && (entry & 0x80) != 0) largeLeaves++;
    else visit(vendor, entry & ADDRESS, level - 1);
  }
}
