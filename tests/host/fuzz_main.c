/*
 * hvhost's main: `fuzz-replay` here, everything else to harness.c's main
 * (built as hvhost_harness_main, tests/host/Makefile), so the replay mode
 * lives with the fuzzer and harness.c is left as it is.
 */
#include <string.h>
#include "hv.h"
#include "core.h"

int hvhost_harness_main(int argc, char **argv);
int fuzz_replay(const char *target, int n, char **paths);

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "fuzz-replay")) {
		wasm_rt_init();
		return fuzz_replay(argv[2], argc - 3, argv + 3);
	}
	return hvhost_harness_main(argc, argv);
}
