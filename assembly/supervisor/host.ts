// Every function the supervisor imports from the stub (module "env"), on one
// screen: this is the supervisor's whole trust boundary. The C side is
// linker/imports.c; scripts/check-config.mjs implements the same functions in
// Node so `make iso` validates a config with this very module.
//
// Pointers are offsets in this module's linear memory; the host checks every
// (pointer, length) against it and traps the instance on a bad one.

// Writes bytes to the host console. The core writes whole lines that start
// with "[hv] " and end with "\n".
@external("env", "consoleWrite")
export declare function consoleWrite(pointer: usize, length: u32): void;

// Boot modules (multiboot2 modules; in Node, files). Indices are >= 0;
// -1 means "none".
// The config module: at boot, the first module whose name ends in ".toml".
@external("env", "configModule")
export declare function configModule(): i32;
// The module whose name equals the given path exactly (the config resolves
// a kernel/initrd path against its own folder first). -1 if there is none.
@external("env", "findModule")
export declare function findModule(path: usize, length: u32): i32;
// Copies up to `capacity` bytes of the module's name to `destination`;
// returns the name's full length.
@external("env", "moduleName")
export declare function moduleName(index: i32, destination: usize, capacity: u32): u32;
@external("env", "moduleSize")
export declare function moduleSize(index: i32): u32;
// Copies bytes [offset, offset+length) of the module (clipped to its size) to
// `destination`; returns how many bytes were copied.
@external("env", "moduleRead")
export declare function moduleRead(index: i32, offset: u32, destination: usize, length: u32): u32;
