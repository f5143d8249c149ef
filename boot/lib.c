/*
 * The C library the stub, the wasm2c runtime and the generated core need:
 * memory and string basics. The one definition of each in the image.
 * memcpy/memset/memmove are string instructions, and GCC cannot turn them
 * back into calls to themselves. Eight bytes a step where the size allows:
 * QEMU 7.2's TCG runs each iteration of a REP string instruction on its
 * own, so REP STOSB zeroing a guest's RAM took 8x the steps of REP STOSQ
 * (a 32 MiB guest: ~150 ms of the boot under TCG).
 */
#include "hv.h"

void *memcpy(void *d, const void *s, size_t n)
{
	void *ret = d;
	size_t quads = n / 8, rest = n % 8;
	__asm__ volatile("rep movsq" : "+D"(d), "+S"(s), "+c"(quads) :: "memory");
	__asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(rest) :: "memory");
	return ret;
}

void *memmove(void *d, const void *s, size_t n)
{
	if ((uintptr_t)d - (uintptr_t)s >= n)   /* no overlap, or d before s */
		return memcpy(d, s, n);
	/* d overlaps the tail of s: copy backwards (DF=1), then restore DF. */
	void *ret = d;
	d = (char *)d + n - 1;
	s = (const char *)s + n - 1;
	__asm__ volatile("std; rep movsb; cld" : "+D"(d), "+S"(s), "+c"(n) :: "memory");
	return ret;
}

void *memset(void *d, int c, size_t n)
{
	void *ret = d;
	uint64_t pattern = (uint8_t)c * 0x0101010101010101ull;
	size_t quads = n / 8, rest = n % 8;
	__asm__ volatile("rep stosq" : "+D"(d), "+c"(quads) : "a"(pattern) : "memory");
	__asm__ volatile("rep stosb" : "+D"(d), "+c"(rest) : "a"(pattern) : "memory");
	return ret;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;
	for (size_t i = 0; i < n; i++)
		if (x[i] != y[i])
			return x[i] - y[i];
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

int strcmp(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return (unsigned char)*a - (unsigned char)*b;
}

int strncmp(const char *a, const char *b, size_t n)
{
	for (; n; n--, a++, b++) {
		if (*a != *b || !*a)
			return (unsigned char)*a - (unsigned char)*b;
	}
	return 0;
}
