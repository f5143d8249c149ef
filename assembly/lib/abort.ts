// The core's abort: AssemblyScript calls it on a failed assertion or an
// out-of-bounds access in its standard library. It reports through the host
// and then traps, so the instance that hit it stops (and only that one).
@external("env", "coreAbort")
declare function hostAbort(message: usize, file: usize, line: u32, column: u32): void;

export function coreAbort(message: string | null, fileName: string | null, line: u32, column: u32): void {
  hostAbort(changetype<usize>(message), changetype<usize>(fileName), line, column);
  unreachable();
}
