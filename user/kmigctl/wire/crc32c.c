// SPDX-License-Identifier: GPL-2.0
/*
 * CRC-32C (crc32c.h): the SSE4.2 crc32 instruction, or slicing-by-8
 * tables. The first call times both on 64 KiB and keeps the faster, as
 * the kernel's RAID6 and xor code pick their routines by measuring: under
 * emulation (the sandbox's TCG) the instruction exists but runs at a
 * quarter of the tables' speed, on hardware it is five times faster.
 */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "crc32c.h"

#define CRC32C_POLY	0x82f63b78U	/* reflected */

static uint32_t crc_table[8][256];
static uint32_t (*crc_fn)(uint32_t, const uint8_t *, size_t);
static const char *crc_name;
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static uint32_t crc32c_tables(uint32_t c, const uint8_t *p, size_t n)
{
	while (n && ((uintptr_t)p & 7)) {
		c = (c >> 8) ^ crc_table[0][(c ^ *p++) & 0xff];
		n--;
	}
	for (; n >= 8; p += 8, n -= 8) {
		uint64_t v;

		memcpy(&v, p, 8);
		v ^= c;
		c = crc_table[7][v & 0xff] ^ crc_table[6][(v >> 8) & 0xff] ^
		    crc_table[5][(v >> 16) & 0xff] ^
		    crc_table[4][(v >> 24) & 0xff] ^
		    crc_table[3][(v >> 32) & 0xff] ^
		    crc_table[2][(v >> 40) & 0xff] ^
		    crc_table[1][(v >> 48) & 0xff] ^ crc_table[0][v >> 56];
	}
	while (n--)
		c = (c >> 8) ^ crc_table[0][(c ^ *p++) & 0xff];
	return c;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2")))
static uint32_t crc32c_sse42(uint32_t c, const uint8_t *p, size_t n)
{
	uint64_t c64 = c;

	while (n && ((uintptr_t)p & 7)) {
		c64 = __builtin_ia32_crc32qi(c64, *p++);
		n--;
	}
	for (; n >= 8; p += 8, n -= 8) {
		uint64_t v;

		memcpy(&v, p, 8);
		c64 = __builtin_ia32_crc32di(c64, v);
	}
	while (n--)
		c64 = __builtin_ia32_crc32qi(c64, *p++);
	return c64;
}
#endif

static uint64_t crc_clock_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000ULL + t.tv_nsec;
}

/* Nanoseconds for four passes over @buf; the best of three tries. */
static uint64_t crc_time(uint32_t (*fn)(uint32_t, const uint8_t *, size_t),
			 const uint8_t *buf, size_t len)
{
	uint64_t best = UINT64_MAX;
	volatile uint32_t sink;

	for (int t = 0; t < 3; t++) {
		uint64_t t0 = crc_clock_ns(), dt;
		uint32_t c = 0;

		for (int i = 0; i < 4; i++)
			c = fn(c, buf, len);
		sink = c;
		dt = crc_clock_ns() - t0;
		if (dt < best)
			best = dt;
	}
	(void)sink;
	return best;
}

static void crc32c_setup(void)
{
	static uint8_t buf[64 << 10];

	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ CRC32C_POLY : c >> 1;
		crc_table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int s = 1; s < 8; s++)
			crc_table[s][i] = (crc_table[s - 1][i] >> 8) ^
					  crc_table[0][crc_table[s - 1][i] & 0xff];
	crc_fn = crc32c_tables;
	crc_name = "table";
#if defined(__x86_64__)
	if (__builtin_cpu_supports("sse4.2")) {
		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = i * 131 + (i >> 9);
		if (crc_time(crc32c_sse42, buf, sizeof(buf)) <
		    crc_time(crc32c_tables, buf, sizeof(buf))) {
			crc_fn = crc32c_sse42;
			crc_name = "sse4.2";
		}
	}
#endif
}

uint32_t crc32c(uint32_t crc, const void *p, size_t len)
{
	pthread_once(&crc_once, crc32c_setup);
	return ~crc_fn(~crc, p, len);
}

const char *crc32c_impl(void)
{
	pthread_once(&crc_once, crc32c_setup);
	return crc_name;
}
