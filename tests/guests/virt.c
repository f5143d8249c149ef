/* Every virtualization instruction raises #UD in a guest: no nesting. */
#include "guest.h"

static int failures;
static void expect_ud(const char *name, uint32_t vector)
{
	puts(vector == 6 ? "virt: ok   " : "virt: FAIL ");
	puts(name);
	puts(vector == 6 ? " raises #UD\n" : " did not raise #UD\n");
	failures += vector != 6;
}

uint32_t guest_main(void)
{
	guest_setup_traps();
	expect_ud("VMRUN", TRAP_OF("xor %%eax, %%eax\n .byte 0x0f, 0x01, 0xd8"));
	expect_ud("VMMCALL", TRAP_OF(".byte 0x0f, 0x01, 0xd9"));
	expect_ud("VMLOAD", TRAP_OF("xor %%eax, %%eax\n .byte 0x0f, 0x01, 0xda"));
	expect_ud("VMSAVE", TRAP_OF("xor %%eax, %%eax\n .byte 0x0f, 0x01, 0xdb"));
	expect_ud("STGI", TRAP_OF(".byte 0x0f, 0x01, 0xdc"));
	expect_ud("CLGI", TRAP_OF(".byte 0x0f, 0x01, 0xdd"));
	expect_ud("SKINIT", TRAP_OF("xor %%eax, %%eax\n .byte 0x0f, 0x01, 0xde"));
	expect_ud("INVLPGA", TRAP_OF("xor %%eax, %%eax\n xor %%ecx, %%ecx\n .byte 0x0f, 0x01, 0xdf"));
	expect_ud("VMCALL", TRAP_OF(".byte 0x0f, 0x01, 0xc1"));
	expect_ud("VMXON", TRAP_OF("xor %%eax, %%eax\n .byte 0xf3, 0x0f, 0xc7, 0x30"));
	expect_ud("VMXOFF", TRAP_OF(".byte 0x0f, 0x01, 0xc4"));
	return failures;
}
