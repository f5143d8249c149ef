/* The demo guest: says hello with what the loader gave it, then exits 0. */
#include "guest.h"


uint32_t guest_main(uint32_t magic, const struct multiboot_info *info)
{
	puts("hello from a multiboot guest\n");
	puts("magic ");
	puthex(magic);
	if (magic == 0x2BADB002 && (info->flags & 1)) {
		puts(", memory ");
		putdec(info->mem_lower);
		puts(" KiB low, ");
		putdec(info->mem_upper);
		puts(" KiB high");
	}
	if (magic == 0x2BADB002 && (info->flags & 4) && info->cmdline) {
		puts(", cmdline \"");
		puts((const char *)info->cmdline);
		puts("\"");
	}
	puts("\n");
	return 0;
}
