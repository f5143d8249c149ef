/* Hostile guest: page tables pointing everywhere (issue 11). 32-bit paging
 * (4 KiB pages, the first 4 MiB identity-mapped), then PTEs mapping
 * guest-physical addresses beyond RAM, the I/O APIC and local APIC pages,
 * the bus's last page and the page tables themselves, and PDEs whose page
 * table is beyond RAM or in the I/O APIC page (the CPU's walk itself then
 * reads no RAM); reads and writes through each. `case=N` picks what ends
 * the guest (each instance that must be stopped stops at its own case):
 *   0  the accesses through PTEs above, then exit 0
 *   1  CR3 beyond RAM: the first fetch with paging on walks no RAM
 *   2  a jump to a page mapped beyond RAM: no code to run there
 *   3  a read through a PDE whose page table is at 0x40000000 (no RAM)
 *   4  a read through a PDE whose page table is the I/O APIC page (the
 *      PTE the CPU reads would be a chip register)
 *   5  a write through a PDE whose page table is the local APIC page, at
 *      the index whose PTE is the EOI register (0xfee000b0)
 *   6  PAE paging turned on with CR3 beyond RAM: VT-x loads the PDPTEs
 *      at that MOV to CR0 (SDM vol. 3A, 4.4.1), AMD-V walks them
 * What must happen, as outside.c defines it for RAM's absence: a write that
 * reaches no RAM and no device is dropped, a read gives all ones; a device
 * page mapped anywhere is that device; the guest that points its walk or
 * its RIP at no RAM is stopped alone, with the address named (a walk into
 * a device page is never emulated as the instruction's own access).
 * tests/boot/hostile.mjs asserts each value this prints. */
#include "guest.h"
#pragma GCC diagnostic ignored "-Warray-bounds"   /* reads at page 0, mapped to the APIC */

#define VIRT 0x00400000u                 /* the second 4 MiB: PT1 maps it */
static uint32_t pd[1024] __attribute__((aligned(4096)));
static uint32_t pt0[1024] __attribute__((aligned(4096)));
static uint32_t pt1[1024] __attribute__((aligned(4096)));

static void invlpg(uint32_t va) { __asm__ volatile("invlpg (%0)" :: "r"(va) : "memory"); }
static uint32_t rd(uint32_t va) { return *(volatile uint32_t *)va; }
static void wr(uint32_t va, uint32_t v) { *(volatile uint32_t *)va = v; }

static void report(const char *what, uint32_t value)
{
	puts("pagetables: ");
	puts(what);
	puts(" ");
	puthex(value);
	puts("\n");
}

/* VIRT + 4 KiB * slot maps guest-physical `gpa`. */
static uint32_t map(uint32_t slot, uint32_t gpa)
{
	pt1[slot] = (gpa & ~0xfffu) | 3;
	invlpg(VIRT + slot * 4096);
	return VIRT + slot * 4096;
}

uint32_t guest_main(uint32_t magic, const struct multiboot_info *info)
{
	uint32_t which = guest_option(info, "case=", 0);
	for (uint32_t i = 0; i < 1024; i++)
		pt0[i] = i * 4096 | 3;
	pd[0] = (uint32_t)pt0 | 3;
	pd[1] = (uint32_t)pt1 | 3;
	if (which == 1) {
		puts("pagetables: CR3 at guest-physical 0x40000000, paging on\n");
		__asm__ volatile("mov %0, %%cr3\n mov %%cr0, %%eax\n or $0x80000000, %%eax\n mov %%eax, %%cr0\n nop"
				 :: "r"(0x40000000u) : "eax", "memory");
		puts("pagetables: FAIL still running\n");
		return 1;
	}
	if (which == 6) {
		puts("pagetables: PAE, CR3 at guest-physical 0x40000000, paging on\n");
		guest_setup_traps();
		write_cr4(read_cr4() | 0x20);
		__asm__ volatile("mov %0, %%cr3" :: "r"(0x40000000u) : "memory");
		uint32_t vector = TRAP_OF("mov %%cr0, %%eax\n or $0x80000000, %%eax\n mov %%eax, %%cr0\n nop");
		puts("pagetables: FAIL still running, vector ");
		puthex(vector);
		puts("\n");
		return 1;
	}
	__asm__ volatile("mov %0, %%cr3" :: "r"(pd) : "memory");
	write_cr0(read_cr0() | 0x80000000u);
	puts("pagetables: paging on\n");
	if (which >= 3 && which <= 5) {
		/* PDEs whose page table is no RAM: the CPU's walk itself reads
		 * beyond RAM or a device's registers. The hypervisor must stop
		 * the guest, naming the table entry's address. */
		static const uint32_t tables[] = { 0x40000000, 0xfec00000, 0xfee00000 };
		pd[2] = tables[which - 3] | 3;
		invlpg(0x00800000 + 44 * 4096);
		invlpg(0x00800000);
		puts("pagetables: a PDE to a page table at ");
		puthex(tables[which - 3]);
		puts("\n");
		if (which == 5)
			wr(0x00800000 + 44 * 4096, 0);   /* PTE 44: offset 0xb0, the EOI register */
		else
			report("read through it", rd(0x00800010));
		puts("pagetables: FAIL a walk through no RAM went on\n");
		return 1;
	}
	if (which == 2) {
		uint32_t va = map(0, 0x40000000);
		puts("pagetables: jumping to a page mapped to guest-physical 0x40000000\n");
		((void (*)(void))va)();
		puts("pagetables: FAIL code ran outside RAM\n");
		return 1;
	}

	/* Beyond RAM, and the bus's last page: ones, writes dropped. */
	uint32_t va = map(0, 0x40000000);
	wr(va + 0x10, 0x12345678);
	report("PTE to 0x40000000 reads", rd(va + 0x10));
	va = map(1, 0xfffff000);
	wr(va + 0xffc, 0x12345678);
	report("PTE to 0xfffff000 reads", rd(va + 0xffc));
	/* The local APIC through a mapping: its version register, as read
	 * through the identity mapping of its page. */
	pt0[0] = 0xfee00000 | 3;             /* page 0 (nothing there) -> APIC */
	invlpg(0);
	uint32_t version = rd(0x30);
	va = map(2, 0xfee00000);
	guest_check("pagetables", "a PTE to the local APIC page reads its version register", rd(va + 0x30) == version);
	report("local APIC version", version);
	/* The I/O APIC: IOREGSEL = 1 (version), then IOWIN, through a mapping. */
	va = map(3, 0xfec00000);
	wr(va, 1);
	report("I/O APIC version through a PTE", rd(va + 0x10));
	/* The page table itself, mapped: a write through it is a PTE write. */
	va = map(4, (uint32_t)pt1);
	/* (the CPU sets A and D in the PTEs it uses: masked) */
	guest_check("pagetables", "a PTE mapping its own table reads the PTEs", (rd(va + 4 * 4) & ~0x60u) == ((uint32_t)pt1 | 3));
	wr(va + 5 * 4, 0x40000000 | 3);       /* slot 5 -> beyond RAM, written through the alias */
	invlpg(VIRT + 5 * 4096);
	report("a PTE written through its table's alias maps; it reads", rd(VIRT + 5 * 4096));
	guest_check("pagetables", "the alias write reached the table", (pt1[5] & ~0x60u) == (0x40000000 | 3));

	write_cr0(read_cr0() & ~0x80000000u);
	puts("pagetables: paging off, done\n");
	return guest_failures;
}
