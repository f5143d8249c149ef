/*
 * hvhost: the core, compiled through wasm2c exactly as in the kernel, as a
 * Linux program.
 *   hvhost instances N            create, exercise, trap and drop N guest VMMs
 *   hvhost config FILE [MODULE]…  run the supervisor's init on a config
 *                                 (modules are named as given)
 * Exit status: 0 on success, 1 on failure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hv.h"
#include "core.h"

void host_add_module(const char *name, const uint8_t *data, uint32_t size);

static void add_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "hvhost: cannot open %s\n", path);
		exit(2);
	}
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *data = malloc(n ? n : 1);
	if (fread(data, 1, n, f) != (size_t)n)
		exit(2);
	fclose(f);
	host_add_module(path, data, (uint32_t)n);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && !strcmp(argv[1], "instances"))
		return core_selftest_instances((unsigned)atoi(argv[2])) ? 0 : 1;
	if (argc >= 3 && !strcmp(argv[1], "config")) {
		for (int i = 2; i < argc; i++)
			add_file(argv[i]);
		unsigned guests = core_init();
		printf("hvhost: init returned %u\n", guests);
		return 0;
	}
	fprintf(stderr, "usage: hvhost instances N | hvhost config FILE [MODULE]...\n");
	return 2;
}
