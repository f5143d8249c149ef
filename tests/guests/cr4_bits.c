/* CR4 bits the hypervisor does not virtualise (issue 11, hole 3): PKE
 * (PKRU is not switched between guests), CET, PKS, UINTR, Key Locker and
 * LA57. Setting any of them must raise #GP and leave CR4 as it was;
 * bits the guest does own (here OSXMMEXCPT) still change. */
#include "guest.h"

static void check(const char *what, int ok) { guest_check("cr4", what, ok); }

/* The vector a write of CR4 | bit raises (0xFFFFFFFF: none). */
static uint32_t set_bit(uint32_t bit)
{
	uint32_t value = read_cr4() | bit;
	last_vector = 0xFFFFFFFF;
	__asm__ volatile("movl $1f, recover_eip\n mov %0, %%cr4\n1:" :: "r"(value) : "memory", "eax", "ecx", "edx");
	return last_vector;
}

uint32_t guest_main(uint32_t magic, const struct multiboot_info *info)
{
	guest_setup_traps();
	static const struct { uint32_t bit; const char *name; } refused[] = {
		{ 1u << 22, "setting CR4.PKE raises #GP" },
		{ 1u << 23, "setting CR4.CET raises #GP" },
		{ 1u << 24, "setting CR4.PKS raises #GP" },
		{ 1u << 25, "setting CR4.UINTR raises #GP" },
		{ 1u << 19, "setting CR4.KL raises #GP" },
		{ 1u << 12, "setting CR4.LA57 raises #GP" },
	};
	uint32_t before = read_cr4();
	for (unsigned i = 0; i < sizeof refused / sizeof refused[0]; i++)
		check(refused[i].name, set_bit(refused[i].bit) == 13);
	check("CR4 is as it was after the refused writes", read_cr4() == before);
	check("a bit the guest owns (OSXMMEXCPT) still changes",
	      set_bit(1u << 10) == 0xFFFFFFFF && (read_cr4() & (1u << 10)));
	return 0;
}
