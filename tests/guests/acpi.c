/* The ACPI tables as an OS finds them: the RSDP by the scan of
 * 0xE0000-0xFFFFF, both its checksums, the RSDT and XSDT and every table
 * they list, each checksum; the MADT's local APIC, I/O APIC and IRQ 0
 * override; the FADT's PM timer counted against the TSC; the DSDT's \_S5,
 * used at the end to power off through the FADT's PM1a_CNT. */
#include "guest.h"

struct header { char signature[4]; uint32_t length; uint8_t revision, checksum; char oem[6], table[8];
		uint32_t oem_revision, creator, creator_revision; } __attribute__((packed));

static void check(const char *what, int ok) { guest_check("acpi", what, ok); }

static uint8_t sum(const void *p, uint32_t n)
{
	uint8_t s = 0;
	for (uint32_t i = 0; i < n; i++)
		s += ((const uint8_t *)p)[i];
	return s;
}

static int is(const char *a, const char *b, int n)
{
	for (int i = 0; i < n; i++)
		if (a[i] != b[i])
			return 0;
	return 1;
}

static const struct header *fadt, *madt, *dsdt;

/* The PM timer's count, and in *tsc the TSC at which it was read: the
 * middle of an RDTSC pair at most 200 us apart (at most 50 tries). */
static uint32_t pm_sample(uint16_t port, uint64_t *tsc)
{
	uint64_t limit = (uint64_t)tsc_khz() / 5;
	for (int i = 0;; i++) {
		uint64_t a = rdtsc();
		uint32_t p = inl(port);
		uint64_t b = rdtsc();
		if (b - a <= limit || i == 50) {
			*tsc = a + (b - a) / 2;
			return p;
		}
	}
}

static void visit(const struct header *h)
{
	puts("acpi: table ");
	for (int i = 0; i < 4; i++)
		putc(h->signature[i]);
	puts(" length ");
	putdec(h->length);
	puts(sum(h, h->length) == 0 ? " checksum ok\n" : " checksum BAD\n");
	guest_check("acpi", "a table's checksum", sum(h, h->length) == 0);
	if (is(h->signature, "FACP", 4)) fadt = h;
	if (is(h->signature, "APIC", 4)) madt = h;
}

uint32_t guest_main(uint32_t magic, struct multiboot_info *info)
{
	const uint8_t *rsdp = 0;
	for (uint32_t a = 0xE0000; a < 0x100000; a += 16)
		if (is((const char *)a, "RSD PTR ", 8)) {
			rsdp = (const uint8_t *)a;
			break;
		}
	check("the scan finds the RSDP", rsdp != 0);
	if (!rsdp)
		return guest_failures;
	check("the RSDP's 20-byte checksum", sum(rsdp, 20) == 0);
	check("the RSDP is revision 2", rsdp[15] == 2);
	check("the RSDP's extended checksum", sum(rsdp, *(const uint32_t *)(rsdp + 20)) == 0);
	const struct header *rsdt = (const struct header *)*(const uint32_t *)(rsdp + 16);
	const struct header *xsdt = (const struct header *)*(const uint32_t *)(rsdp + 24);
	check("RSDT and XSDT carry their signatures", is(rsdt->signature, "RSDT", 4) && is(xsdt->signature, "XSDT", 4));
	visit(rsdt);
	visit(xsdt);
	uint32_t entries = (rsdt->length - sizeof *rsdt) / 4;
	for (uint32_t i = 0; i < entries; i++)
		visit((const struct header *)((const uint32_t *)(rsdt + 1))[i]);
	check("the XSDT lists the same tables", (xsdt->length - sizeof *xsdt) / 8 == entries);

	check("a MADT", madt != 0);
	check("a FADT", fadt != 0);
	if (!madt || !fadt)
		return guest_failures;
	const uint8_t *m = (const uint8_t *)madt;
	check("the MADT puts the local APIC at 0xFEE00000", *(const uint32_t *)(m + 36) == 0xFEE00000);
	unsigned lapics = 0, ioapics = 0, irq0 = 0;
	for (uint32_t at = 44; at + 2 <= madt->length && m[at + 1] >= 2; at += m[at + 1]) {
		if (m[at] == 0 && (m[at + 4] & 1)) lapics++;
		if (m[at] == 1 && *(const uint32_t *)(m + at + 4) == 0xFEC00000) ioapics++;
		if (m[at] == 2 && m[at + 3] == 0 && *(const uint32_t *)(m + at + 4) == 2) irq0 = 1;
	}
	check("one enabled local APIC (one vCPU)", lapics == 1);
	check("the I/O APIC at 0xFEC00000", ioapics == 1);
	check("IRQ 0 is overridden to GSI 2", irq0);

	const uint8_t *f = (const uint8_t *)fadt;
	dsdt = (const struct header *)*(const uint32_t *)(f + 40);
	visit(dsdt);
	uint32_t pm1a_cnt = *(const uint32_t *)(f + 64), pm_tmr = *(const uint32_t *)(f + 76);
	check("the FADT's SCI is IRQ 9", *(const uint16_t *)(f + 46) == 9);
	check("the FADT's PM timer block is 4 bytes", f[91] == 4);
	check("the FADT says the PM timer has 32 bits", *(const uint32_t *)(f + 112) & (1u << 8));

	/* The PM timer at 3.579545 MHz against ~100 ms of TSC. Each reading
	 * is bracketed by two RDTSCs and taken again when the emulator was
	 * descheduled in between, so host load does not skew the figure. */
	uint64_t t0, t1, wait = (uint64_t)tsc_khz() * 100;
	uint32_t p0 = pm_sample((uint16_t)pm_tmr, &t0), p1;
	while (rdtsc() - t0 < wait) {}
	p1 = pm_sample((uint16_t)pm_tmr, &t1);
	guest_check_within("acpi", "the PM timer counted (us at 3.579545 MHz)", guest_udiv64((uint64_t)(p1 - p0) * 1000000, 3579545),
			   guest_tsc_us(t1 - t0), 5);

	/* \_S5_: NameOp, an optional root prefix, "_S5_", PackageOp, its
	 * length, its count, then the first value (BytePrefix + byte, or
	 * ZeroOp/OneOp). */
	const uint8_t *d = (const uint8_t *)dsdt;
	int s5 = -1;
	for (uint32_t i = sizeof *dsdt; i + 10 < dsdt->length; i++) {
		uint32_t at = i + 1 + (d[i + 1] == '\\');
		if (d[i] == 0x08 && is((const char *)d + at, "_S5_", 4) && d[at + 4] == 0x12) {
			uint8_t v = d[at + 7];
			s5 = v == 0x0A ? d[at + 8] : v == 0x00 ? 0 : v == 0x01 ? 1 : -1;
			break;
		}
	}
	check("the DSDT names \\_S5", s5 >= 0);
	puts("acpi: powering off through PM1a_CNT with SLP_TYP ");
	putdec((uint32_t)s5);
	puts("\n");
	if (guest_failures)
		return guest_failures;
	__asm__ volatile("outw %0, %1" :: "a"((uint16_t)(s5 << 10 | 1u << 13)), "Nd"((uint16_t)pm1a_cnt));
	puts("acpi: FAIL still running after S5\n");
	return 1;
}
