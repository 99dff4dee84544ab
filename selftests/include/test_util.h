/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Small helpers shared by the kmig selftests: fatal errors for library code
 * that runs outside a TEST body (where ASSERT_* cannot be used), and bitmaps
 * of pages in the u64-word layout that KVM and kmig both use.
 */
#ifndef KMIG_SELFTEST_TEST_UTIL_H
#define KMIG_SELFTEST_TEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>
#include <linux/types.h>

#ifndef ARRAY_SIZE /* kselftest.h has one too */
#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))
#endif
#define DIV_ROUND_UP(n, d)	(((n) + (d) - 1) / (d))
#define BITMAP_WORDS(bits)	DIV_ROUND_UP((bits), 64)

/*
 * The library aborts on failures a test did not ask about (a KVM ioctl that
 * must work): the harness runs every test in its own process and reports
 * the abort as that test's failure, with our message just above it.
 */
void __die(const char *file, int line, bool show_errno, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 4, 5)));
#define die(fmt, ...)		__die(__FILE__, __LINE__, false, fmt, ##__VA_ARGS__)
#define die_errno(fmt, ...)	__die(__FILE__, __LINE__, true, fmt, ##__VA_ARGS__)
#define CHECK(cond, fmt, ...) do {					\
	if (!(cond))							\
		die("%s: " fmt, #cond, ##__VA_ARGS__);			\
} while (0)
/* For syscalls that return -1 and set errno. */
#define CHECK_SYS(expr) ({						\
	long __r = (long)(expr);					\
	if (__r < 0)							\
		die_errno("%s", #expr);					\
	__r;								\
})

/*
 * SKIP for FIXTURE_SETUP (and helpers it calls): the 6.1 harness runs the
 * test body even after the setup called SKIP(), so end the test's process
 * the way the harness ends a skipped test, with exit status 255. Works in
 * TEST bodies too, before anything needs cleaning up.
 */
#define SETUP_SKIP(fmt, ...)	SKIP(_exit(255), fmt, ##__VA_ARGS__)

static inline bool test_bit64(const __u64 *map, __u64 bit)
{
	return map[bit / 64] & (1ULL << (bit % 64));
}

static inline void set_bit64(__u64 *map, __u64 bit)
{
	map[bit / 64] |= 1ULL << (bit % 64);
}

static inline __u64 bitmap_weight64(const __u64 *map, __u64 nbits)
{
	__u64 n = 0, i;

	for (i = 0; i < nbits; i++)
		n += test_bit64(map, i);
	return n;
}

/*
 * Compares two page bitmaps; returns the number of differing bits and
 * describes the first few in @buf ("missing 5 12; extra 7") so a failing
 * assertion says which pages were lost or over-reported.
 */
__u64 bitmap_diff64(const __u64 *expected, const __u64 *seen, __u64 nbits,
		    char *buf, size_t len);

__u64 now_ns(void);

#endif /* KMIG_SELFTEST_TEST_UTIL_H */
