/*
 * The host's wall clock: the CMOS RTC read once at boot (MC146818A
 * registers 0-9 and the century at 0x32, BCD or binary per register B,
 * 12- or 24-hour), turned into seconds since 1970-01-01 00:00 UTC, and
 * carried forward with the TSC. Guests get it for their own RTC.
 */
#include "hv.h"
#include "boot.h"

#define CMOS_INDEX 0x70
#define CMOS_DATA  0x71
#define NMI_DISABLE 0x80           /* keep NMIs masked while we index */
#define REG_A_UIP  0x80            /* update in progress */
#define REG_B_24H  0x02
#define REG_B_BINARY 0x04

static uint64_t boot_epoch, boot_tsc;

static uint8_t cmos_read(uint8_t reg)
{
	outb(CMOS_INDEX, NMI_DISABLE | reg);
	return inb(CMOS_DATA);
}

static unsigned from_bcd(uint8_t v, bool binary)
{
	return binary ? v : (v >> 4) * 10 + (v & 0xF);
}

/* Days since 1970-01-01 of a civil date (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

void rtc_init(void)
{
	uint8_t r[10], century, b;
	/* Read twice until two reads agree, outside an update (the classic
	 * way: UIP alone leaves a race). Bounded: a missing RTC reads 0xFF. */
	for (int tries = 0; tries < 1000; tries++) {
		while ((cmos_read(0x0A) & REG_A_UIP) && tries++ < 100000) {}
		uint8_t first[10], again[10];
		for (int i = 0; i < 10; i++)
			first[i] = cmos_read((uint8_t)i);
		for (int i = 0; i < 10; i++)
			again[i] = cmos_read((uint8_t)i);
		if (!memcmp(first, again, sizeof first)) {
			memcpy(r, first, sizeof r);
			break;
		}
		memcpy(r, again, sizeof r);
	}
	century = cmos_read(0x32);
	b = cmos_read(0x0B);
	outb(CMOS_INDEX, 0x0D);            /* leave NMIs unmasked, index harmless */
	bool binary = b & REG_B_BINARY;
	unsigned sec = from_bcd(r[0], binary), min = from_bcd(r[2], binary);
	unsigned hour = from_bcd(r[4] & 0x7F, binary);
	if (!(b & REG_B_24H) && (r[4] & 0x80))
		hour = (hour % 12) + 12;       /* 12-hour clock, PM */
	else if (!(b & REG_B_24H) && hour == 12)
		hour = 0;                      /* 12 AM */
	unsigned day = from_bcd(r[7], binary), month = from_bcd(r[8], binary);
	unsigned year = from_bcd(r[9], binary);
	unsigned cent = from_bcd(century, binary);
	year += (cent >= 19 && cent <= 30 ? cent : 20) * 100;
	boot_tsc = tsc_read();
	if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60) {
		boot_epoch = 0;                /* no sane RTC: 1970 */
		return;
	}
	boot_epoch = (uint64_t)(days_from_civil(year, month, day) * 86400 + hour * 3600 + min * 60 + sec);
}

uint64_t rtc_epoch_seconds(void)
{
	uint64_t hz = tsc_hz();
	return boot_epoch + (hz ? (tsc_read() - boot_tsc) / hz : 0);
}
