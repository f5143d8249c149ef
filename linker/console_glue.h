/*
 * Console input's calls into the core (linker/console_glue.c), for
 * boot/console_input.c. Each enters a Wasm module inside a trap frame.
 */
#ifndef CONSOLE_GLUE_H
#define CONSOLE_GLUE_H

#include <stdint.h>

/* The supervisor: where a byte typed on the host console goes. A guest
 * index, with *released_ctrl_a (0..2) held-back Ctrl-A bytes to queue for
 * it before the byte; or -1 when the hypervisor took it (Ctrl-A counting,
 * the prompt). */
int core_console_input(uint8_t byte, unsigned *released_ctrl_a);
/* The guest with the input focus, or -1 for the hypervisor's prompt. */
int core_console_focus(void);
/* Guest `guest`'s VMM instance: 1 its UART took the byte, 0 it is full
 * (offer it again later), -1 the instance is not there or trapped (the
 * trap was printed). */
int core_console_receive(unsigned guest, uint8_t byte);

#endif
