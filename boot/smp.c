/*
 * Host SMP: find the CPUs in the ACPI MADT, start each with INIT-SIPI-SIPI
 * through the trampoline (boot/ap_trampoline.S), give each its GDT, TSS,
 * stack and per-CPU data, and let them wait until the run loop hands them
 * work. ACPI 6.5, 5.2.12 (MADT); Intel SDM vol. 3A 9.4 (MP initialization).
 */
#include "hv.h"
#include "boot.h"
#include "percpu.h"
#include "layout.h"
#include "wasm-rt.h"

#define AP_BASE 0x8000                 /* below 1 MiB, page-aligned: SIPI vector 8 */
#define AP_STACK_PAGES (BOOT_STACK_SIZE / PAGE_SIZE)

struct cpu cpus[MAX_CPUS];
unsigned cpu_count = 1;

extern const char ap_trampoline_start[], ap_trampoline_end[];
extern const char ap_data_cr3[], ap_data_stack[], ap_data_entry[], ap_data_cpu[], ap_data_efer[];
extern char boot_pml4[];

static void (*volatile smp_work)(unsigned cpu);
static volatile uint32_t smp_generation, smp_finished;

extern uint8_t boot_stack_top[];

void percpu_init(unsigned index)
{
	struct cpu *c = &cpus[index];
	c->self = c;
	c->index = index;
	c->fpu_owner = NULL;
	if (index == 0)
		c->stack_top = boot_stack_top;
	/* Every CPU's stack is BOOT_STACK_SIZE (AP_STACK_PAGES). */
	c->wasm_stack_limit = (uintptr_t)c->stack_top - BOOT_STACK_SIZE + WASM_RT_STACK_MARGIN;
	wrmsr(MSR_GS_BASE, (uint64_t)c);
}

/* MADT entries (ACPI 6.5, 5.2.12.2): type 0 is a processor's local APIC. */
struct madt_header {
	char signature[4];
	uint32_t length;
	uint8_t revision, checksum;
	char oem[6], oem_table[8];
	uint32_t oem_revision, creator, creator_revision;
	uint32_t lapic_address, flags;
} __attribute__((packed));

struct madt_lapic {
	uint8_t type, length, processor_id, apic_id;
	uint32_t flags;                     /* bit 0 enabled, bit 1 online capable */
} __attribute__((packed));

static void trampoline_set(const char *field, uint64_t value)
{
	uint64_t *p = phys_to_virt(AP_BASE + (uint64_t)(field - ap_trampoline_start));
	*p = value;
}

static void ap_main(uint64_t index) __attribute__((noreturn));
static void ap_main(uint64_t index)
{
	/* GDT first: loading the null selector into GS may clear its base
	 * (AMD's NullSelectorClearsBase), so GS is pointed afterwards. */
	gdt_init((unsigned)index);
	percpu_init((unsigned)index);
	idt_load();
	__atomic_store_n(&cpus[index].online, 1, __ATOMIC_RELEASE);
	uint32_t seen = 0;
	for (;;) {
		while (__atomic_load_n(&smp_generation, __ATOMIC_ACQUIRE) == seen)
			__asm__ volatile("pause");
		seen = smp_generation;
		smp_work((unsigned)index);
		__atomic_fetch_add(&smp_finished, 1, __ATOMIC_ACQ_REL);
	}
}

static bool start_cpu(uint32_t apic_id)
{
	unsigned index = cpu_count;
	uint8_t *stack = pmm_alloc(AP_STACK_PAGES, PAGE_SIZE);
	if (!stack)
		return false;
	cpus[index].apic_id = apic_id;
	cpus[index].stack_top = stack + AP_STACK_PAGES * PAGE_SIZE;
	trampoline_set(ap_data_stack, (uint64_t)cpus[index].stack_top);
	trampoline_set(ap_data_cpu, index);
	lapic_start_cpu(apic_id, AP_BASE >> 12);
	/* Up to 200 ms for it to report in. */
	uint64_t t0 = tsc_read();
	while (!__atomic_load_n(&cpus[index].online, __ATOMIC_ACQUIRE)) {
		if (tsc_read() - t0 > tsc_hz() / 5) {
			kprintf("[hv] cpu: CPU with APIC ID %u did not start\n", apic_id);
			pmm_free(stack, AP_STACK_PAGES);
			return false;
		}
		__asm__ volatile("pause");
	}
	cpu_count++;
	return true;
}

unsigned smp_start(void)
{
	cpus[0].apic_id = lapic_id();
	cpus[0].online = 1;
	const struct madt_header *madt = acpi_find_table("APIC");
	if (!madt) {
		kprintf("[hv] cpu: no ACPI MADT: using the boot CPU only\n");
		return cpu_count;
	}
	/* The trampoline's page must be free: nothing of the boot loader's
	 * may sit there. */
	for (unsigned i = 0; i < multiboot2_reserved_count(); i++) {
		uint64_t base, end;
		multiboot2_reserved(i, &base, &end);
		if (base < AP_BASE + PAGE_SIZE && end > AP_BASE) {
			kprintf("[hv] cpu: boot data at %#llx: using the boot CPU only\n", (unsigned long long)base);
			return cpu_count;
		}
	}
	/* ... and it must be RAM the firmware gave away (on UEFI machines low
	 * memory can be reserved). The trampoline is linked for AP_BASE. */
	bool usable = false;
	for (unsigned i = 0; i < multiboot2_memory_count(); i++) {
		const struct memory_range *r = multiboot2_memory(i);
		if (r->type == MB2_MEMORY_AVAILABLE && r->base <= AP_BASE && r->base + r->length >= AP_BASE + PAGE_SIZE)
			usable = true;
	}
	if (!usable) {
		kprintf("[hv] cpu: the AP start page %#x is not free RAM: using the boot CPU only\n", AP_BASE);
		return cpu_count;
	}
	memcpy(phys_to_virt(AP_BASE), ap_trampoline_start, (size_t)(ap_trampoline_end - ap_trampoline_start));
	trampoline_set(ap_data_cr3, (uint64_t)(boot_pml4 - KERNEL_VMA));
	trampoline_set(ap_data_efer, rdmsr(0xC0000080) & ((1ull << 8) | (1ull << 11)));  /* LME, NXE */
	trampoline_set(ap_data_entry, (uint64_t)ap_main);

	const uint8_t *p = (const uint8_t *)(madt + 1), *end = (const uint8_t *)madt + madt->length;
	unsigned listed = 0;
	while (p + 2 <= end && p[1] >= 2 && p + p[1] <= end) {
		if (p[0] == 0 && p[1] >= sizeof(struct madt_lapic)) {
			const struct madt_lapic *e = (const void *)p;
			if ((e->flags & 1) && e->apic_id != cpus[0].apic_id) {
				listed++;
				if (cpu_count < MAX_CPUS)
					start_cpu(e->apic_id);
			}
		}
		p += p[1];
	}
	if (listed + 1 > MAX_CPUS)
		kprintf("[hv] cpu: %u CPUs listed, using the first %u\n", listed + 1, MAX_CPUS);
	return cpu_count;
}

void smp_run_everywhere(void (*work)(unsigned cpu))
{
	smp_work = work;
	__atomic_store_n(&smp_finished, 0, __ATOMIC_RELEASE);
	__atomic_fetch_add(&smp_generation, 1, __ATOMIC_ACQ_REL);
	work(0);
	while (__atomic_load_n(&smp_finished, __ATOMIC_ACQUIRE) < cpu_count - 1)
		__asm__ volatile("pause");
}
