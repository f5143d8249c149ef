/* Debug registers are the guest's own (issue 11, hole 2): DR0-DR3 and DR6
 * are written without an exit, so the hypervisor must switch them between
 * guests. Two guests of this kernel share one host CPU (role=1, role=2):
 * each starts with DR0-DR3 zero and DR6 at its reset value, writes its own
 * pattern (no breakpoint enabled: DR7 stays 0x400), then yields to the
 * other many times and checks after each turn that it still holds its own
 * values and never the other's; the same for TSC_AUX, which RDTSCP reads. */
#include "guest.h"

#define READ_DR(n) ({ uint32_t v_; __asm__ volatile("mov %%db" #n ", %0" : "=r"(v_)); v_; })
#define WRITE_DR(n, v) __asm__ volatile("mov %0, %%db" #n :: "r"((uint32_t)(v)))

static void check(const char *what, int ok) { guest_check("debugregs", what, ok); }

uint32_t guest_main(uint32_t magic, const struct multiboot_info *info)
{
	uint32_t role = guest_option(info, "role=", 1);
	uint32_t base = role == 1 ? 0x11110000 : 0x22220000;
	check("DR0-DR3 start at zero", !READ_DR(0) && !READ_DR(1) && !READ_DR(2) && !READ_DR(3));
	check("DR6 starts at its reset value", (READ_DR(6) & 0xe00f) == 0);
	WRITE_DR(0, base + 0x10);
	WRITE_DR(1, base + 0x20);
	WRITE_DR(2, base + 0x30);
	WRITE_DR(3, base + 0x40);
	/* B0 (role 1) or B1 (role 2): DR6's status bits are the guest's too. */
	WRITE_DR(6, 0xffff0ff0 | (role == 1 ? 1 : 2));
	/* TSC_AUX too: RDTSCP reads it natively, so it must be this guest's. */
	__asm__ volatile("wrmsr" :: "c"(0xc0000103), "a"(role * 0x101), "d"(0));
	int kept = 1, foreign = 0, aux_kept = 1;
	for (int turn = 0; turn < 200; turn++) {
		guest_yield();
		for (volatile int i = 0; i < 2000; i++) {}
		uint32_t d0 = READ_DR(0), d1 = READ_DR(1), d2 = READ_DR(2), d3 = READ_DR(3), d6 = READ_DR(6);
		if (d0 != base + 0x10 || d1 != base + 0x20 || d2 != base + 0x30 || d3 != base + 0x40 ||
		    (d6 & 3) != (role == 1 ? 1u : 2u))
			kept = 0;
		if (((d0 ^ base) & 0xffff0000) != 0 || (d6 & 3) == (role == 1 ? 2u : 1u))
			foreign = 1;
		uint32_t lo, hi, aux;
		__asm__ volatile("rdtscp" : "=a"(lo), "=d"(hi), "=c"(aux));
		if (aux != role * 0x101)
			aux_kept = 0;
	}
	check("RDTSCP reads this guest's TSC_AUX across the other's turns", aux_kept);
	check("DR0-DR3 and DR6 kept across 200 turns of the other guest", kept);
	check("the other guest's debug registers never showed", !foreign);
	WRITE_DR(0, 0);
	return 0;
}
