#ifndef HV_STDLIB_H
#define HV_STDLIB_H
#include <stddef.h>
/* wasm2c includes this; the kernel has no malloc and the core needs none. */
void abort(void) __attribute__((noreturn));
#endif
