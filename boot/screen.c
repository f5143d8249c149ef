/*
 * The console on the screen, for machines without a serial port: what
 * COM1 gets, the screen gets too. EGA text mode (80x25 cells at the
 * address GRUB reports, usually 0xB8000) or a 24/32-bit linear framebuffer
 * (UEFI GOP, VBE) drawn with GRUB's 8x16 ASCII font, which the build takes
 * from the installed grub-common (build/font.h). On a
 * framebuffer the text wraps from the bottom to the top instead of
 * scrolling: moving a whole framebuffer per line is slow in uncached
 * video memory. EGA text scrolls in hardware: the CRTC's start address
 * moves down one row per line through the 32 KiB text window, and only
 * when it reaches the end are the visible rows copied back to the top
 * (once per ~180 lines). Copying the screen on every line read and wrote
 * 4,000 bytes of video memory: 370 us a line under QEMU TCG, more on real
 * hardware, where reads of video memory are uncached.
 */
#include "hv.h"
#include "boot.h"
#include "font.h"

#define FONT_WIDTH 8
#define FONT_HEIGHT 16
#define TEXT_ATTRIBUTE 0x07          /* light grey on black */

/* The colour text window, 0xB8000-0xBFFFF (VGA graphics controller
 * register 6, memory map 3), and the CRTC registers that say where in it
 * the display starts, in cells (IBM VGA technical reference, CRTC
 * registers 0x0C and 0x0D). */
#define TEXT_WINDOW 0xb8000
#define TEXT_WINDOW_BYTES 0x8000
#define CRTC_INDEX 0x3D4
#define CRTC_DATA 0x3D5
#define CRTC_CURSOR_START 0x0A
#define CRTC_START_HIGH 0x0C
#define CRTC_START_LOW 0x0D

static struct framebuffer screen;
static uint32_t columns, rows, column, row;
static bool ready;
/* EGA text: the window row the display starts at, and how many rows the
 * window holds (rows when the start cannot be moved: copy to scroll). */
static uint32_t top, window_rows;

static volatile uint16_t *text_row(uint32_t y)
{
	volatile uint16_t *cells = phys_to_virt(screen.address);
	return cells + (top + y) * (screen.pitch / 2);
}

static char printable(char c)
{
	return c >= 0x20 && c < 0x7f ? c : '?';
}

/* A text cell showing c (printable, or '?'). */
static uint16_t text_value(char c)
{
	return (uint16_t)(TEXT_ATTRIBUTE << 8 | (uint8_t)printable(c));
}

static void set_display_start(void)
{
	uint32_t cell = top * (screen.pitch / 2);
	outb(CRTC_INDEX, CRTC_START_HIGH);
	outb(CRTC_DATA, (uint8_t)(cell >> 8));
	outb(CRTC_INDEX, CRTC_START_LOW);
	outb(CRTC_DATA, (uint8_t)cell);
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

static void clear_row(uint32_t y)
{
	if (screen.text) {      /* one row's cells in one loop: the boot clears 25 */
		volatile uint16_t *cells = text_row(y);
		uint16_t blank = text_value(' ');
		uint32_t x = 0;
		if (((uintptr_t)cells & 7) == 0) {   /* four cells a store */
			volatile uint64_t *quads = (volatile uint64_t *)cells;
			for (; x + 4 <= columns; x += 4)
				quads[x / 4] = blank * 0x0001000100010001ull;
		}
		for (; x < columns; x++)
			cells[x] = blank;
		return;
	}
	for (uint32_t x = 0; x < columns; x++)
		pixel_cell(x, y, ' ');
}

static void new_line(void)
{
	column = 0;
	if (screen.text) {
		if (row + 1 < rows) {
			row++;
			return;
		}
		if (top + rows < window_rows) {
			/* Room below: clear the next window row, show it. */
			top++;
			clear_row(rows - 1);
			set_display_start();
			return;
		}
		/* The end of the window (or no window): the rows but the first
		 * go to the window's start, once. */
		volatile uint16_t *from = text_row(1);
		uint32_t old_top = top;
		top = 0;
		volatile uint16_t *to = text_row(0);
		uint32_t stride = screen.pitch / 2;
		for (uint32_t y = 0; y + 1 < rows; y++)
			for (uint32_t x = 0; x < columns; x++)
				to[y * stride + x] = from[y * stride + x];
		clear_row(rows - 1);
		if (old_top != 0)
			set_display_start();
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
	top = 0;
	window_rows = rows;
	if (screen.text && screen.address == TEXT_WINDOW && screen.pitch == columns * 2)
		window_rows = TEXT_WINDOW_BYTES / screen.pitch;
	for (uint32_t y = 0; y < rows; y++)
		clear_row(y);
	if (screen.text) {
		/* Hide the VGA cursor GRUB left blinking somewhere (cursor
		 * start, bit 5 = off), and start the display at the window's
		 * first cell. */
		outb(CRTC_INDEX, CRTC_CURSOR_START);
		outb(CRTC_DATA, 0x20);
		if (window_rows > rows)
			set_display_start();
	}
	column = row = 0;
	ready = true;
}


void screen_write(const char *s, size_t n)
{
	if (!ready)
		return;
	for (size_t i = 0; i < n;) {
		char c = s[i];
		if (c == '\n' || c == '\r') {
			if (c == '\n')
				new_line();
			i++;
			continue;
		}
		if (column == columns)
			new_line();
		if (!screen.text || (uint8_t)c < 0x20) {
			if (screen.text)
				text_row(row)[column++] = text_value(c);
			else
				pixel_cell(column++, row, printable(c));
			i++;
			continue;
		}
		/* Text: the rest of the row in one loop, its address once, up
		 * to the next control character (each tested once: the boot's
		 * lines cost an emulator that counts instructions, Bochs). */
		volatile uint16_t *cells = text_row(row) + column;
		size_t limit = n - i < columns - column ? n : i + (columns - column);
		size_t start = i;
		for (; i < limit; i++) {
			if ((uint8_t)s[i] < 0x20)
				break;
			*cells++ = text_value(s[i]);
		}
		column += (uint32_t)(i - start);
	}
}

