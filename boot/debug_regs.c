/*
 * The guests' debug registers. DR7 (and on AMD-V DR6) is in the VMCB/VMCS
 * and switched by VM entry and exit; DR0-DR3 (and on VT-x DR6) are not,
 * and a guest writes them without an exit. So they are switched here, as
 * the FPU is: a CPU's DR0-DR3 and DR6 belong to the last vCPU it ran, and
 * are saved and loaded only when the next vCPU is another one. A new vCPU
 * starts with DR0-DR3 zero and DR6 at its reset value (SDM vol. 3A,
 * 18.2; APM vol. 2, 13.1.1), whatever ran before it on the CPU.
 * The host itself sets no breakpoint: VM exit gives it DR7 = 0x400.
 */
#include "hv.h"
#include "boot.h"
#include "percpu.h"
#include "debug_regs.h"

#define DR6_RESET    0xffff0ff0ull
#define DR6_TRAPS    0x0000e00full   /* B0-B3, BD, BS, BT */
#define DR6_RTM      (1ull << 16)    /* active low */

#define READ_DR(n) ({ uint64_t v_; __asm__ volatile("mov %%db" #n ", %0" : "=r"(v_)); v_; })
#define WRITE_DR(n, v) __asm__ volatile("mov %0, %%db" #n :: "r"((uint64_t)(v)))

void debug_regs_init(struct guest_debug *d)
{
	d->dr[0] = d->dr[1] = d->dr[2] = d->dr[3] = 0;
	d->dr6 = DR6_RESET;
}

EXIT_PATH void debug_regs_switch_to(struct guest_debug *next)
{
	struct cpu *cpu = this_cpu();
	struct guest_debug *last = cpu->debug_owner;
	if (last == next)
		return;
	if (last) {
		last->dr[0] = READ_DR(0);
		last->dr[1] = READ_DR(1);
		last->dr[2] = READ_DR(2);
		last->dr[3] = READ_DR(3);
		last->dr6 = READ_DR(6);
	}
	WRITE_DR(0, next->dr[0]);
	WRITE_DR(1, next->dr[1]);
	WRITE_DR(2, next->dr[2]);
	WRITE_DR(3, next->dr[3]);
	WRITE_DR(6, next->dr6);
	cpu->debug_owner = next;
}

void debug_regs_disown(struct guest_debug *d)
{
	if (this_cpu()->debug_owner == d)
		this_cpu()->debug_owner = NULL;
}

/* A #DB that exited before delivery (VT-x): its bits as delivering it
 * would have set them (SDM vol. 3A, 18.2.3), in the running vCPU's DR6. */
void debug_regs_deliver_dr6(uint64_t bits)
{
	uint64_t dr6 = (READ_DR(6) & ~DR6_TRAPS) | DR6_RESET;
	dr6 |= bits & (DR6_TRAPS | DR6_RTM);
	dr6 ^= bits & DR6_RTM;
	WRITE_DR(6, dr6);
}
