/*
 * The multiboot2 boot information GRUB hands over (Multiboot2 spec 3.6):
 * memory map, modules, our command line, the ACPI RSDP. Everything the rest
 * of the stub needs is copied into static storage here, before pmm hands out
 * any memory; the information block and the modules themselves are also
 * reported as reserved so pmm never hands them out (modules stay in place,
 * boot_module_get() points at them).
 */
#include "boot.h"

#define MB2_BOOTLOADER_MAGIC 0x36d76289

/* Tag types: Multiboot2 spec 3.6.1 .. 3.6.14. */
#define TAG_END          0
#define TAG_CMDLINE      1
#define TAG_MODULE       3
#define TAG_MEMORY_MAP   6
#define TAG_FRAMEBUFFER  8
#define TAG_ACPI_OLD     14   /* copy of the ACPI 1.0 RSDP */
#define TAG_ACPI_NEW     15   /* copy of the ACPI 2.0+ RSDP */

#define MAX_MEMORY_RANGES 128
#define MAX_MODULES       64
#define STRING_POOL_BYTES 8192
#define RSDP_MAX_BYTES    36   /* ACPI 6.5 5.2.5.3: RSDP length with XSDT */

struct tag {
	uint32_t type, size;
};

struct tag_string {             /* cmdline (3.6.3) */
	struct tag tag;
	char string[];
};

struct tag_framebuffer {        /* 3.6.12 */
	struct tag tag;
	uint64_t address;
	uint32_t pitch, width, height;
	uint8_t bpp, type;
	uint16_t reserved;
	/* RGB (type 1): field positions and sizes */
	uint8_t red_position, red_size, green_position, green_size, blue_position, blue_size;
} __attribute__((packed));

static struct framebuffer framebuffer;

/* Only what screen.c can draw: EGA text, or 24/32-bit RGB below 4 GiB (the
 * part of physical memory the stub maps). */
static void parse_framebuffer(const struct tag_framebuffer *t)
{
	if (t->tag.size < 30 || t->address + (uint64_t)t->pitch * t->height > 0x100000000ull)
		return;
	struct framebuffer f = {
		.address = t->address, .pitch = t->pitch, .width = t->width, .height = t->height,
		.bpp = t->bpp, .text = t->type == 2,
	};
	if (t->type == 1 && t->tag.size >= 36) {
		if (t->bpp != 32 && t->bpp != 24)
			return;
		f.red_position = t->red_position;
		f.green_position = t->green_position;
		f.blue_position = t->blue_position;
	} else if (t->type != 2) {
		return;
	}
	framebuffer = f;
}

const struct framebuffer *multiboot2_framebuffer(void)
{
	return framebuffer.address ? &framebuffer : NULL;
}

struct tag_module {             /* 3.6.6 */
	struct tag tag;
	uint32_t start, end;
	char string[];
};

struct tag_memory_map {         /* 3.6.8 */
	struct tag tag;
	uint32_t entry_size, entry_version;
};

struct memory_map_entry {
	uint64_t base, length;
	uint32_t type, reserved;
};

static struct memory_range memory[MAX_MEMORY_RANGES];
static unsigned memory_count;
static struct boot_module modules[MAX_MODULES];
static unsigned module_count;
static char strings[STRING_POOL_BYTES];
static size_t strings_used;
static const char *cmdline = "";
static uint8_t rsdp[RSDP_MAX_BYTES];
static bool have_rsdp, have_new_rsdp;
static uint64_t info_start, info_end;

static const char *copy_string(const char *s, uint32_t max)
{
	size_t n = 0;
	while (n < max && s[n])
		n++;
	if (strings_used + n + 1 > sizeof(strings))
		panic("multiboot2: command lines and module names exceed %u bytes",
		      STRING_POOL_BYTES);
	char *copy = strings + strings_used;
	memcpy(copy, s, n);
	copy[n] = 0;
	strings_used += n + 1;
	return copy;
}

static void parse_memory_map(const struct tag_memory_map *t)
{
	if (t->entry_size < sizeof(struct memory_map_entry))
		panic("multiboot2: memory map entries of %u bytes", t->entry_size);
	const uint8_t *p = (const uint8_t *)(t + 1);
	const uint8_t *end = (const uint8_t *)t + t->tag.size;
	for (; p + t->entry_size <= end; p += t->entry_size) {
		const struct memory_map_entry *e = (const void *)p;
		if (memory_count == MAX_MEMORY_RANGES)
			panic("multiboot2: more than %u memory ranges", MAX_MEMORY_RANGES);
		memory[memory_count++] = (struct memory_range){ e->base, e->length, e->type };
	}
}

static void parse_module(const struct tag_module *t)
{
	if (module_count == MAX_MODULES)
		panic("multiboot2: more than %u modules", MAX_MODULES);
	if (t->end < t->start)
		panic("multiboot2: module ends before it starts");
	struct boot_module *m = &modules[module_count++];
	m->name = copy_string(t->string, t->tag.size - sizeof(*t));
	m->data = (const uint8_t *)(uintptr_t)t->start;
	m->size = t->end - t->start;
}

static void keep_rsdp(const struct tag *t, bool is_new)
{
	/* Prefer the 2.0+ RSDP (it has the XSDT) whatever the tag order. */
	if (have_new_rsdp && !is_new)
		return;
	size_t n = t->size - sizeof(*t);
	if (n > sizeof(rsdp))
		n = sizeof(rsdp);
	memcpy(rsdp, t + 1, n);
	have_rsdp = true;
	have_new_rsdp = is_new;
}

void multiboot2_parse(uint32_t magic, uint64_t info_phys)
{
	if (magic != MB2_BOOTLOADER_MAGIC)
		panic("not started by a multiboot2 boot loader (magic 0x%x)", magic);
	/* The fixed part: total_size, reserved (3.6.1); tags start 8-aligned. */
	const uint8_t *info = (const uint8_t *)(uintptr_t)info_phys;
	uint32_t total_size = *(const uint32_t *)info;
	info_start = info_phys;
	info_end = info_phys + total_size;

	const uint8_t *p = info + 8;
	const uint8_t *end = info + total_size;
	while (p + sizeof(struct tag) <= end) {
		const struct tag *t = (const void *)p;
		if (t->type == TAG_END)
			break;
		if (t->size < sizeof(struct tag) || p + t->size > end)
			panic("multiboot2: malformed tag %u at %p", t->type, (const void *)p);
		switch (t->type) {
		case TAG_CMDLINE:
			cmdline = copy_string(((const struct tag_string *)t)->string,
					      t->size - sizeof(*t));
			break;
		case TAG_MODULE:
			parse_module((const struct tag_module *)t);
			break;
		case TAG_MEMORY_MAP:
			parse_memory_map((const struct tag_memory_map *)t);
			break;
		case TAG_ACPI_OLD:
		case TAG_ACPI_NEW:
			keep_rsdp(t, t->type == TAG_ACPI_NEW);
			break;
		case TAG_FRAMEBUFFER:
			parse_framebuffer((const struct tag_framebuffer *)t);
			break;
		default:            /* EFI tables, ...: not needed */
			break;
		}
		p += (t->size + 7) & ~7u;
	}
	if (!memory_count)
		panic("multiboot2: no memory map from the boot loader");
}

unsigned multiboot2_memory_count(void)
{
	return memory_count;
}

const struct memory_range *multiboot2_memory(unsigned index)
{
	return index < memory_count ? &memory[index] : NULL;
}

const void *multiboot2_rsdp(void)
{
	return have_rsdp ? rsdp : NULL;
}

/* Index 0 is the boot information itself, then one range per module. */
unsigned multiboot2_reserved_count(void)
{
	return 1 + module_count;
}

void multiboot2_reserved(unsigned index, uint64_t *base, uint64_t *end)
{
	if (index == 0) {
		*base = info_start;
		*end = info_end;
	} else {
		const struct boot_module *m = &modules[index - 1];
		*base = (uintptr_t)m->data;
		*end = (uintptr_t)m->data + m->size;
	}
}

unsigned boot_module_count(void)
{
	return module_count;
}

const struct boot_module *boot_module_get(unsigned index)
{
	return index < module_count ? &modules[index] : NULL;
}

const char *boot_cmdline(void)
{
	return cmdline;
}
