// as-pect 8.1: the AssemblyScript unit tests (tests/unit/**/*.spec.ts), run by
// `make test-unit` or `npx asp --config as-pect.config.js`. Each spec is
// compiled with as-pect.asconfig.json and run in Node; the runner exits
// non-zero when a test fails, a spec does not compile or a module traps.
//
// The specs test the core's pure code (config/, lib/): none of it imports
// the stub, so no `env` functions are provided beyond the memory.
module.exports = {
  // ASP_ENTRIES="tests/unit/devices/pic8259.spec.ts,..." runs only those.
  entries: process.env.ASP_ENTRIES ? process.env.ASP_ENTRIES.split(",") : ["tests/unit/**/*.spec.ts"],
  // Files added to every test compilation (none).
  include: [],
  disclude: [/node_modules/],
  async instantiate(memory, createImports, instantiate, binary) {
    return instantiate(binary, createImports({ env: { memory } }));
  },
  outputBinary: false,
};
