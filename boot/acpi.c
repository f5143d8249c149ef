/*
 * Finding ACPI tables: the RSDP (from GRUB, else the BIOS areas), then the
 * XSDT or RSDT. Only reads; the tables stay where the firmware put them
 * (ACPI reclaim/NVS memory, which pmm never hands out). ACPI 6.5, 5.2.
 */
#include "boot.h"

#define FOUR_GIB 0x100000000ull

/* ACPI 6.5 5.2.5.3. */
struct rsdp {
	char signature[8];          /* "RSD PTR " */
	uint8_t checksum;           /* over the first 20 bytes */
	char oem_id[6];
	uint8_t revision;           /* 0: ACPI 1.0 (no XSDT), 2: 2.0+ */
	uint32_t rsdt_address;
	uint32_t length;
	uint64_t xsdt_address;
	uint8_t extended_checksum;
	uint8_t reserved[3];
} __attribute__((packed));

/* ACPI 6.5 5.2.6. */
struct sdt_header {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	uint32_t creator_id;
	uint32_t creator_revision;
} __attribute__((packed));

static bool checksum_ok(const void *p, size_t n)
{
	uint8_t sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += ((const uint8_t *)p)[i];
	return sum == 0;
}

static bool valid_rsdp(const struct rsdp *r)
{
	return !memcmp(r->signature, "RSD PTR ", 8) && checksum_ok(r, 20);
}

/* BIOS machines: on a 16-byte boundary in the first KiB of the EBDA or in
 * 0xE0000..0xFFFFF (ACPI 6.5 5.2.5.1). */
static const struct rsdp *scan(uint64_t base, uint64_t length)
{
	for (uint64_t p = base; p + sizeof(struct rsdp) <= base + length; p += 16)
		if (valid_rsdp(phys_to_virt(p)))
			return phys_to_virt(p);
	return NULL;
}

static const struct rsdp *find_rsdp(void)
{
	const struct rsdp *r = multiboot2_rsdp();
	if (r && valid_rsdp(r))
		return r;
	uint64_t ebda = (uint64_t)*(const uint16_t *)phys_to_virt(0x40e) << 4;  /* BDA 0x40E */
	if (ebda >= 0x80000 && ebda < 0xa0000 && (r = scan(ebda, 1024)))
		return r;
	return scan(0xe0000, 0x20000);
}

/* A table by its physical address, if it is mapped and checks out. */
const void *acpi_table_at(uint64_t address, const char signature[4])
{
	if (!address || address + sizeof(struct sdt_header) > FOUR_GIB)
		return NULL;
	const struct sdt_header *h = phys_to_virt(address);
	if (memcmp(h->signature, signature, 4) || address + h->length > FOUR_GIB ||
	    h->length < sizeof(*h) || !checksum_ok(h, h->length))
		return NULL;
	return h;
}

const void *acpi_find_table(const char signature[4])
{
	const struct rsdp *r = find_rsdp();
	if (!r)
		return NULL;
	/* The XSDT (64-bit entries) when there is one, else the RSDT. */
	const struct sdt_header *root = NULL;
	unsigned entry_bytes = 8;
	if (r->revision >= 2)
		root = acpi_table_at(r->xsdt_address, "XSDT");
	if (!root) {
		root = acpi_table_at(r->rsdt_address, "RSDT");
		entry_bytes = 4;
	}
	if (!root)
		return NULL;
	const uint8_t *entries = (const uint8_t *)(root + 1);
	unsigned count = (root->length - sizeof(*root)) / entry_bytes;
	for (unsigned i = 0; i < count; i++) {
		uint64_t address = 0;
		memcpy(&address, entries + i * entry_bytes, entry_bytes);
		const struct sdt_header *t = acpi_table_at(address, signature);
		if (t)
			return t;
	}
	return NULL;
}
