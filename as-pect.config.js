// as-pect 8.1: the AssemblyScript unit tests (tests/unit/**/*.spec.ts), run by
// `make test-unit` or `npx asp --config as-pect.config.js`. Each spec is
// compiled with as-pect.asconfig.json and run in Node; the runner exits
// non-zero when a test fails, a spec does not compile or a module traps.
//
// The specs test the core's code with a fake in place of the stub: no `env`
// function is provided beyond the memory (see instantiate).
module.exports = {
  // ASP_ENTRIES="tests/unit/devices/pic8259.spec.ts,..." runs only those.
  entries: process.env.ASP_ENTRIES ? process.env.ASP_ENTRIES.split(",") : ["tests/unit/**/*.spec.ts"],
  // Files added to every test compilation (none).
  include: [],
  disclude: [/node_modules/],
  // The guest VMM's Platform calls the stub's imports (guest/host.ts); the
  // specs stand a fake in its place (tests/unit/guest/helpers.ts), so any
  // such import is there only to link, and a call to one is a bug in a spec.
  async instantiate(memory, createImports, instantiate, binary) {
    const imports = createImports({ env: { memory } });
    imports.env = new Proxy(imports.env, {
      get: (target, name) => name in target ? target[name] : () => {
        throw new Error(`a spec reached the stub's import env.${String(name)}: use the FakePlatform`);
      },
    });
    return instantiate(binary, imports);
  },
  outputBinary: false,
};
