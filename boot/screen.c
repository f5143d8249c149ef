/*
 * The console on the screen, for machines without a serial port: what
 * COM1 gets, the screen gets too. EGA text mode (80x25 cells at the
 * address GRUB reports, usually 0xB8000) or a 24/32-bit linear framebuffer
 * (UEFI GOP, VBE) drawn with GRUB's 8x16 ASCII font, which the build takes
 * from the installed grub-common (build/font.h). On a
 * framebuffer the text wraps from the bottom to the top instead of
 * scrolling: moving a whole framebuffer per line is slow in uncached
 * video memory.
 */
#include "hv.h"
#include "boot.h"
#include "font.h"

#define FONT_WIDTH 8
#define FONT_HEIGHT 16
#define TEXT_ATTRIBUTE 0x07          /* light grey on black */

static struct framebuffer screen;
static uint32_t columns, rows, column, row;
static bool ready;

static void text_cell(uint32_t x, uint32_t y, char c)
{
	volatile uint16_t *cells = phys_to_virt(screen.address);
	cells[y * (screen.pitch / 2) + x] = (uint16_t)(TEXT_ATTRIBUTE << 8 | (uint8_t)c);
}

static void pixel_cell(uint32_t x, uint32_t y, char c)
{
	uint8_t glyph = (uint8_t)c < 128 ? (uint8_t)c : '?';
	const uint8_t *bits = &ascii_bitmaps[glyph * FONT_HEIGHT];
	uint32_t foreground = 0xAAu << screen.red_position | 0xAAu << screen.green_position |
			      0xAAu << screen.blue_position;
	unsigned bytes = screen.bpp / 8;    /* 3 or 4 */
	uint8_t *base = (uint8_t *)phys_to_virt(screen.address) +
			(uint64_t)y * FONT_HEIGHT * screen.pitch + (uint64_t)x * FONT_WIDTH * bytes;
	for (unsigned line = 0; line < FONT_HEIGHT; line++) {
		volatile uint8_t *pixel = base + (uint64_t)line * screen.pitch;
		for (unsigned bit = 0; bit < FONT_WIDTH; bit++, pixel += bytes) {
			uint32_t color = bits[line] & (0x80 >> bit) ? foreground : 0;
			for (unsigned b = 0; b < bytes; b++)
				pixel[b] = (uint8_t)(color >> (8 * b));
		}
	}
}

static void cell(uint32_t x, uint32_t y, char c)
{
	if (screen.text)
		text_cell(x, y, c);
	else
		pixel_cell(x, y, c);
}

static void clear_row(uint32_t y)
{
	for (uint32_t x = 0; x < columns; x++)
		cell(x, y, ' ');
}

static void new_line(void)
{
	column = 0;
	if (screen.text) {
		if (row + 1 < rows) {
			row++;
			return;
		}
		/* EGA text: scroll, it is 4 KiB. */
		volatile uint16_t *cells = phys_to_virt(screen.address);
		uint32_t stride = screen.pitch / 2;
		for (uint32_t y = 1; y < rows; y++)
			for (uint32_t x = 0; x < columns; x++)
				cells[(y - 1) * stride + x] = cells[y * stride + x];
		clear_row(rows - 1);
		return;
	}
	row = row + 1 < rows ? row + 1 : 0;
	clear_row(row);
	/* Keep an empty line below the newest one, so the wrap point shows. */
	clear_row(row + 1 < rows ? row + 1 : 0);
}

void screen_init(const struct framebuffer *f)
{
	if (!f)
		return;
	screen = *f;
	columns = screen.text ? screen.width : screen.width / FONT_WIDTH;
	rows = screen.text ? screen.height : screen.height / FONT_HEIGHT;
	if (!columns || !rows)
		return;
	for (uint32_t y = 0; y < rows; y++)
		clear_row(y);
	if (screen.text) {
		/* Hide the VGA cursor GRUB left blinking somewhere (CRTC register
		 * 0x0A, cursor start, bit 5 = off). */
		outb(0x3D4, 0x0A);
		outb(0x3D5, 0x20);
	}
	column = row = 0;
	ready = true;
}

void screen_putc(char c)
{
	if (!ready)
		return;
	if (c == '\n') {
		new_line();
		return;
	}
	if (c == '\r')
		return;
	if (column == columns)
		new_line();
	cell(column++, row, c >= 0x20 && c < 0x7f ? c : '?');
}
