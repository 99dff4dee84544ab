// SPDX-License-Identifier: GPL-2.0
/* Fatal errors, bitmap comparison and clocks for the kmig selftests. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "test_util.h"

void __die(const char *file, int line, bool show_errno, const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	fprintf(stderr, "# %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (show_errno)
		fprintf(stderr, ": %s (%s)", strerrorname_np(err) ?: "?",
			strerror(err));
	fputc('\n', stderr);
	fflush(stderr);
	abort();
}

static void describe(char *buf, size_t len, size_t *pos, const char *what,
		     const __u64 *want, const __u64 *have, __u64 nbits)
{
	int shown = 0;
	__u64 i;

	for (i = 0; i < nbits && shown < 8; i++) {
		if (!test_bit64(want, i) || test_bit64(have, i))
			continue;
		if (*pos < len)
			*pos += snprintf(buf + *pos, len - *pos, "%s%s %llu",
					 shown ? "" : what, shown ? "," : "",
					 (unsigned long long)i);
		shown++;
	}
}

__u64 bitmap_diff64(const __u64 *expected, const __u64 *seen, __u64 nbits,
		    char *buf, size_t len)
{
	size_t pos = 0;
	__u64 diff = 0, i;

	for (i = 0; i < nbits; i++)
		diff += test_bit64(expected, i) != test_bit64(seen, i);
	if (len)
		buf[0] = '\0';
	/* Pages kmig lost, then pages it reported without a guest write. */
	describe(buf, len, &pos, "missing", expected, seen, nbits);
	describe(buf, len, &pos, " extra", seen, expected, nbits);
	return diff;
}

__u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}
