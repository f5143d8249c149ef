/*
 * The C library the stub, the wasm2c runtime and the generated core need:
 * memory and string basics. The one definition of each in the image.
 * memcpy/memset move 64 bytes a step with plain MOVs (in asm, so GCC
 * cannot turn the loop back into a call to itself), the tail with string
 * instructions. Not REP MOVSQ/STOSQ for the bulk: QEMU 7.2's TCG runs each
 * iteration of a REP string instruction on its own, and zeroing a 2 MiB
 * block of guest RAM took 17M TSC cycles with REP STOSQ against 1.2M with
 * this loop (Bochs: 262k against 360k; on hardware both run at the
 * store bandwidth). memcpy also copies each kernel and initrd in.
 */
#include "hv.h"

void *memcpy(void *d, const void *s, size_t n)
{
	void *ret = d;
	for (; n >= 64; n -= 64, d = (char *)d + 64, s = (const char *)s + 64) {
		uint64_t a, b;
		__asm__ volatile(
			"movq (%2), %0\n\tmovq 8(%2), %1\n\tmovq %0, (%3)\n\tmovq %1, 8(%3)\n\t"
			"movq 16(%2), %0\n\tmovq 24(%2), %1\n\tmovq %0, 16(%3)\n\tmovq %1, 24(%3)\n\t"
			"movq 32(%2), %0\n\tmovq 40(%2), %1\n\tmovq %0, 32(%3)\n\tmovq %1, 40(%3)\n\t"
			"movq 48(%2), %0\n\tmovq 56(%2), %1\n\tmovq %0, 48(%3)\n\tmovq %1, 56(%3)"
			: "=&r"(a), "=&r"(b) : "r"(s), "r"(d) : "memory");
	}
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
	for (; n >= 64; n -= 64, d = (char *)d + 64)
		__asm__ volatile(
			"movq %1, (%0)\n\tmovq %1, 8(%0)\n\tmovq %1, 16(%0)\n\tmovq %1, 24(%0)\n\t"
			"movq %1, 32(%0)\n\tmovq %1, 40(%0)\n\tmovq %1, 48(%0)\n\tmovq %1, 56(%0)"
			:: "r"(d), "r"(pattern) : "memory");
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
