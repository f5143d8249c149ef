/*
 * The bench's bypass build (make bench, P2; HV_BENCH_BYPASS): the stub
 * answers the two exits the exit-loop guest makes (tests/guests/
 * exit_loop.c) itself, without entering the core: CPUID leaf 0 by the
 * host's CPUID, the byte written to the UART's scratch register by
 * dropping it. Everything else (the guest's other leaves, such as the
 * TSC rate it times itself by) goes to the core as usual.
 * The exit round trip it measures is the floor the full path is compared
 * against: VMRUN/VMLAUNCH, the stub's own work around it, nothing else.
 * Never in a hypervisor that runs real guests: it skips every policy.
 */
#include "hv.h"
#include "boot.h"
#include "exit_record.h"
#include "bench_bypass.h"

#ifdef HV_BENCH_BYPASS
bool bench_bypass(struct exit_record *e)
{
	if (e->reason == EXIT_CPUID && (uint32_t)e->gpr[RAX] == 0) {
		uint32_t a, b, c, d;
		cpuid((uint32_t)e->gpr[RAX], (uint32_t)e->gpr[RCX], &a, &b, &c, &d);
		e->gpr[RAX] = a;
		e->gpr[RBX] = b;
		e->gpr[RCX] = c;
		e->gpr[RDX] = d;
		e->advance = e->instruction_length ? e->instruction_length : 2;
	} else if (e->reason == EXIT_IO && e->port == 0x3ff && !(e->io_flags & (EXIT_IO_IN | EXIT_IO_STRING))) {
		e->advance = e->instruction_length ? e->instruction_length : 1;
	} else {
		return false;
	}
	e->action = ACTION_RESUME;
	e->inject = 0;
	e->dirty = 0;
	e->request = 0;
	return true;
}
#endif
