/*
 * Windows for Wasm linear memories: each instance's memory is mapped at the
 * start of a 16 GiB window of its own in the kernel's upper half, with
 * nothing mapped after it. wasm2c's generated code then needs no bounds
 * checks (WASM_RT_MEMCHECK_GUARD_PAGES in linker/wasm-rt.h): a 32-bit
 * address plus a 32-bit offset stays below 8 GiB from the window's start,
 * so an access past the memory's end always lands on an unmapped page, and
 * the page fault becomes a trap of that instance (idt.c -> wasm_rt_trap).
 *
 * Windows are 4 KiB-mapped from the identity-mapped memory the allocator
 * hands out; the page-table pages stay once made. The memory is not zeroed
 * up front (the supervisor's 8 MiB took 35 ms of the boot under QEMU TCG,
 * most of make bench's P4): each page starts not present, its backing
 * address kept in the entry (a not-present entry's other bits are ignored,
 * SDM vol. 3A, 4.5), and its first touch zeroes it and maps it
 * (vmem_fault). Everything the hardware reads from a linear memory (nested
 * tables, bitmaps) is written through the window first (the table pool
 * fills each page it hands out), so no page reaches the hardware unzeroed. A window is used by the
 * CPU that maps it (a guest's instance lives on its guest's CPU), and that
 * CPU drops the window's translations when it maps and unmaps it, so no
 * stale translation of an earlier tenant survives (SDM vol. 3A, 4.10.4).
 */
#include "hv.h"
#include "boot.h"
#include "percpu.h"

#define WINDOW_SHIFT 34                         /* 16 GiB */
#define WINDOW_COUNT 512                        /* 8 TiB, PML4[256..271] */
#define VMEM_BASE    0xffff800000000000ull      /* PML4 entry 256 */
#define VMEM_END     (VMEM_BASE + ((uint64_t)WINDOW_COUNT << WINDOW_SHIFT))
#define MAX_WINDOW_BYTES (1ull << 30)           /* one page directory's reach */

#define PTE_P  0x001ull
#define PTE_RW 0x002ull
#define PTE_LAZY (1ull << 9)   /* software bit: not yet zeroed and mapped */
#define PTE_NX (1ull << 63)
#define PTE_ADDRESS 0x000ffffffffff000ull

extern uint64_t boot_pml4[512];

static uint64_t window_used[WINDOW_COUNT / 64];
static uint64_t window_ever_used[WINDOW_COUNT / 64];
static spinlock_t vmem_lock;
static uint64_t table_bytes;

/* The table `entry` points to, made (zeroed) if absent; NULL when out of
 * memory. Directory entries are RW and executable: the leaves decide. */
static uint64_t *next_table(uint64_t *entry)
{
	if (!(*entry & PTE_P)) {
		uint64_t *table = pmm_alloc(1, PAGE_SIZE);
		if (!table)
			return NULL;
		table_bytes += PAGE_SIZE;
		*entry = (uint64_t)(uintptr_t)table | PTE_P | PTE_RW;
	}
	return phys_to_virt(*entry & PTE_ADDRESS);
}

/* The page-table entry of `va`, made with its tables if `make`. */
static uint64_t *pte_of(uint64_t va, bool make)
{
	uint64_t *table = boot_pml4;
	for (int shift = 39; shift > 12; shift -= 9) {
		uint64_t *entry = &table[(va >> shift) & 511];
		if (!make && !(*entry & PTE_P))
			return NULL;
		table = next_table(entry);
		if (!table)
			return NULL;
	}
	return &table[(va >> 12) & 511];
}

static void flush_window(uint64_t va, uint64_t bytes)
{
	for (uint64_t off = 0; off < bytes; off += PAGE_SIZE)
		__asm__ volatile("invlpg (%0)" :: "r"(va + off) : "memory");
}

void *vmem_map(void *memory, uint64_t bytes)
{
	if (bytes == 0 || bytes > MAX_WINDOW_BYTES || ((uintptr_t)memory & (PAGE_SIZE - 1)))
		return NULL;
	bytes = (bytes + PAGE_SIZE - 1) & ~(uint64_t)(PAGE_SIZE - 1);
	spin_lock(&vmem_lock);
	int window = -1;
	for (int w = 0; w < WINDOW_COUNT && window < 0; w++)
		if (!(window_used[w / 64] >> (w % 64) & 1))
			window = w;
	uint64_t va = VMEM_BASE + ((uint64_t)window << WINDOW_SHIFT);
	bool ok = window >= 0;
	/* One walk per page table (512 pages): the supervisor's 8 MiB walked
	 * the four levels 2,048 times. */
	uint64_t entry = (uint64_t)(uintptr_t)memory | PTE_LAZY;
	for (uint64_t off = 0; ok && off < bytes;) {
		uint64_t *pte = pte_of(va + off, true);
		if (!pte) {
			ok = false;
			break;
		}
		/* The rest of this page table, or of the memory. */
		uint64_t n = (0x200000 - ((va + off) & 0x1fffff)) / PAGE_SIZE;
		if (n > (bytes - off) / PAGE_SIZE)
			n = (bytes - off) / PAGE_SIZE;
		uint64_t i = 0;
		for (; i + 4 <= n; i += 4, entry += 4 * PAGE_SIZE) {   /* Bochs counts each instruction */
			pte[i] = entry;
			pte[i + 1] = entry + PAGE_SIZE;
			pte[i + 2] = entry + 2 * PAGE_SIZE;
			pte[i + 3] = entry + 3 * PAGE_SIZE;
		}
		for (; i < n; i++, entry += PAGE_SIZE)
			pte[i] = entry;
		off += n * PAGE_SIZE;
	}
	bool fresh = ok && !(window_ever_used[window / 64] >> (window % 64) & 1);
	if (ok) {
		window_used[window / 64] |= 1ull << (window % 64);
		window_ever_used[window / 64] |= 1ull << (window % 64);
	}
	spin_unlock(&vmem_lock);
	if (!ok) {
		if (window >= 0)
			vmem_unmap((void *)va, bytes);
		return NULL;
	}
	/* A window never mapped since boot has no translations to drop: its
	 * entries were never present. */
	if (!fresh)
		flush_window(va, bytes);
	return (void *)va;
}

void vmem_unmap(void *window_start, uint64_t bytes)
{
	uint64_t va = (uint64_t)(uintptr_t)window_start;
	if (va < VMEM_BASE || va >= VMEM_END)
		return;
	bytes = (bytes + PAGE_SIZE - 1) & ~(uint64_t)(PAGE_SIZE - 1);
	spin_lock(&vmem_lock);
	for (uint64_t off = 0; off < bytes; off += PAGE_SIZE) {
		uint64_t *pte = pte_of(va + off, false);
		if (pte)
			*pte = 0;
	}
	unsigned window = (unsigned)((va - VMEM_BASE) >> WINDOW_SHIFT);
	window_used[window / 64] &= ~(1ull << (window % 64));
	spin_unlock(&vmem_lock);
	flush_window(va, bytes);
}

/* A page fault at `address`: true if it was a window page's first touch,
 * now zeroed and mapped (the access runs again). Not-present entries are
 * never cached (SDM vol. 3A, 4.10.2.3), so no CPU needs a flush. Any CPU
 * may fault on the supervisor's memory (its lock-free stop requests), so
 * the zeroing is done under the lock, once. */
bool vmem_fault(uint64_t address)
{
	if (!vmem_contains(address))
		return false;
	bool mapped = false;
	spin_lock(&vmem_lock);
	uint64_t *pte = pte_of(address & ~(uint64_t)(PAGE_SIZE - 1), false);
	if (pte && (*pte & PTE_P)) {
		mapped = true;   /* another CPU was first */
	} else if (pte && (*pte & PTE_LAZY)) {
		uint64_t page = *pte & PTE_ADDRESS;
		memset(phys_to_virt(page), 0, PAGE_SIZE);
		__atomic_store_n(pte, page | PTE_P | PTE_RW | PTE_NX, __ATOMIC_RELEASE);
		mapped = true;
	}
	spin_unlock(&vmem_lock);
	return mapped;
}

uint64_t vmem_table_bytes(void)
{
	return table_bytes;
}

bool vmem_contains(uint64_t address)
{
	return address >= VMEM_BASE && address < VMEM_END;
}
