// Every function a guest VMM instance imports from the stub (module "env"),
// on one screen: the whole trust boundary of the sandboxed half of the core.
// The C side is linker/imports.c. Pointers are offsets in this instance's own
// linear memory; the host checks each (pointer, length) against it and traps
// the instance, and only it, on a bad one.

// Writes bytes to the host console (whole lines).
@external("env", "consoleWrite")
export declare function consoleWrite(pointer: usize, length: u32): void;
