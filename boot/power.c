/*
 * Powering off, in the order that works on each machine we run on:
 *  1. QEMU: isa-debug-exit on port 0xf4 (scripts/run adds the device);
 *     the status survives as QEMU's exit code (value << 1 | 1: 33 or 35).
 *     Elsewhere nothing listens on 0xf4 and the write is lost.
 *  2. Bochs: the magic breakpoint `xchg %bx, %bx` (magic_break: enabled=1)
 *     stops in the debugger, whose rc file then says `quit`. Bochs has no
 *     exit status to carry, so the last console line carries it:
 *     "[hv] power off: success" or "[hv] power off: failure"
 *     (scripts/run reads it). Elsewhere the instruction does nothing.
 *  3. ACPI S5 (soft off), real hardware and any other machine: SLP_TYP from
 *     the DSDT's \_S5 package, written with SLP_EN to PM1a/PM1b_CNT.
 *  4. Otherwise halt forever. (A keyboard-controller reset is not an
 *     option: it reboots, it does not power off.)
 */
#include "boot.h"

#define QEMU_DEBUG_EXIT_PORT 0xf4
#define QEMU_EXIT_SUCCESS    0x10   /* QEMU exits with 33 */
#define QEMU_EXIT_FAILURE    0x11   /* QEMU exits with 35 */

/* PM1 control register: ACPI 6.5 4.8.4.2.1, table 4.13. */
#define PM1_SCI_EN      (1u << 0)
#define PM1_SLP_TYP_SHIFT 10
#define PM1_SLP_EN      (1u << 13)

#define AML_NAME_OP     0x08
#define AML_ROOT_CHAR   0x5c    /* '\' */
#define AML_PACKAGE_OP  0x12
#define AML_ZERO_OP     0x00
#define AML_ONE_OP      0x01
#define AML_BYTE_PREFIX 0x0a

#define ACPI_ENABLE_POLLS 1000000

/* The FADT fields used here: ACPI 6.5 5.2.9, table 5.9. */
struct generic_address {
	uint8_t space_id;           /* 1: system I/O */
	uint8_t bit_width, bit_offset, access_size;
	uint64_t address;
} __attribute__((packed));

struct fadt {
	uint8_t header[36];
	uint32_t firmware_ctrl;
	uint32_t dsdt;              /* offset 40 */
	uint8_t reserved0, preferred_pm_profile;
	uint16_t sci_int;
	uint32_t smi_cmd;           /* offset 48 */
	uint8_t acpi_enable, acpi_disable, s4bios_req, pstate_cnt;
	uint32_t pm1a_evt_blk, pm1b_evt_blk;
	uint32_t pm1a_cnt_blk;      /* offset 64 */
	uint32_t pm1b_cnt_blk;      /* offset 68 */
	uint8_t unused[140 - 72];
	uint64_t x_dsdt;            /* offset 140 */
	struct generic_address x_pm1a_evt_blk, x_pm1b_evt_blk;
	struct generic_address x_pm1a_cnt_blk;   /* offset 172 */
	struct generic_address x_pm1b_cnt_blk;   /* offset 184 */
} __attribute__((packed));

#define SYSTEM_IO 1

static uint32_t fadt_length(const struct fadt *f)
{
	uint32_t length;
	memcpy(&length, f->header + 4, 4);
	return length;
}

/* An integer element of a package: ACPI 6.5 20.2.3 (ComputationalData). */
static const uint8_t *aml_integer(const uint8_t *p, const uint8_t *end, uint8_t *value)
{
	if (p >= end)
		return NULL;
	if (*p == AML_BYTE_PREFIX && p + 1 < end) {
		*value = p[1];
		return p + 2;
	}
	if (*p == AML_ZERO_OP || *p == AML_ONE_OP) {
		*value = *p;
		return p + 1;
	}
	return NULL;
}

/* SLP_TYPa/b for S5 from the DSDT: Name (\_S5, Package () { a, b, ... }). */
static bool s5_sleep_types(const uint8_t *dsdt, uint32_t length, uint8_t *a, uint8_t *b)
{
	const uint8_t *end = dsdt + length;
	for (const uint8_t *p = dsdt + 36 + 2; p + 5 < end; p++) {
		if (memcmp(p, "_S5_", 4) || p[4] != AML_PACKAGE_OP)
			continue;
		if (p[-1] != AML_NAME_OP && !(p[-1] == AML_ROOT_CHAR && p[-2] == AML_NAME_OP))
			continue;
		const uint8_t *q = p + 5;
		q += 1 + (*q >> 6);          /* PkgLength: 1..4 bytes (20.2.4) */
		q += 1;                      /* NumElements */
		q = aml_integer(q, end, a);
		if (!q)
			return false;
		if (!aml_integer(q, end, b))
			*b = 0;
		return true;
	}
	return false;
}

static void acpi_soft_off(void)
{
	const struct fadt *f = acpi_find_table("FACP");
	if (!f)
		return;
	uint32_t length = fadt_length(f);
	uint64_t pm1a = f->pm1a_cnt_blk, pm1b = f->pm1b_cnt_blk;
	if (!pm1a && length >= 196 && f->x_pm1a_cnt_blk.space_id == SYSTEM_IO) {
		pm1a = f->x_pm1a_cnt_blk.address;
		if (f->x_pm1b_cnt_blk.space_id == SYSTEM_IO)
			pm1b = f->x_pm1b_cnt_blk.address;
	}
	uint64_t dsdt_address = length >= 148 && f->x_dsdt ? f->x_dsdt : f->dsdt;
	const uint8_t *dsdt = acpi_table_at(dsdt_address, "DSDT");
	uint8_t slp_typ_a, slp_typ_b;
	if (!pm1a || pm1a > 0xffff || pm1b > 0xffff || !dsdt)
		return;
	uint32_t dsdt_length;
	memcpy(&dsdt_length, dsdt + 4, 4);
	if (!s5_sleep_types(dsdt, dsdt_length, &slp_typ_a, &slp_typ_b))
		return;

	/* The firmware may still own the hardware (legacy mode): ask it to
	 * switch to ACPI mode first (ACPI 6.5 16.3.1). */
	if (f->smi_cmd && f->acpi_enable && !(inw(pm1a) & PM1_SCI_EN)) {
		outb(f->smi_cmd, f->acpi_enable);
		for (unsigned i = 0; i < ACPI_ENABLE_POLLS && !(inw(pm1a) & PM1_SCI_EN); i++)
			;
	}
	outw(pm1a, (uint16_t)((slp_typ_a & 7) << PM1_SLP_TYP_SHIFT | PM1_SLP_EN));
	if (pm1b)
		outw(pm1b, (uint16_t)((slp_typ_b & 7) << PM1_SLP_TYP_SHIFT | PM1_SLP_EN));
	for (unsigned i = 0; i < ACPI_ENABLE_POLLS; i++)   /* give it time to act */
		__asm__ volatile("pause");
}

void power_off(bool success)
{
	kprintf("[hv] power off: %s\n", success ? "success" : "failure");
	console_flush();
	outb(QEMU_DEBUG_EXIT_PORT, success ? QEMU_EXIT_SUCCESS : QEMU_EXIT_FAILURE);
	__asm__ volatile("xchg %%bx, %%bx" ::: "memory");
	acpi_soft_off();
	kprintf("[hv] power off did not work: halting\n");
	console_flush();
	for (;;)
		__asm__ volatile("cli; hlt");
}
