/* The guests' DR0-DR3 and DR6, switched between vCPUs: boot/debug_regs.c. */
#ifndef DEBUG_REGS_H
#define DEBUG_REGS_H

#include <stdint.h>

struct guest_debug {
	uint64_t dr[4];
	uint64_t dr6;
};

void debug_regs_init(struct guest_debug *d);
void debug_regs_switch_to(struct guest_debug *next);
void debug_regs_disown(struct guest_debug *d);
void debug_regs_deliver_dr6(uint64_t exit_bits);

#endif
