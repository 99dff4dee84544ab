// SPDX-License-Identifier: GPL-2.0
/*
 * memcpy_bw: the machine's memcpy bandwidth, the scale every kmig benchmark
 * number is read against (the sandbox is 10-50x slower than the host, so
 * only ratios to this mean anything). Prints MiB/s on stdout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BUF_MIB	64

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(void)
{
	size_t len = (size_t)BUF_MIB << 20;
	char *a = malloc(len), *b = malloc(len);
	double t0, best = 0;
	int i;

	if (!a || !b)
		return 1;
	memset(a, 1, len);
	memset(b, 2, len);
	/* Best of five copies: the first ones also fault the buffers in. */
	for (i = 0; i < 5; i++) {
		t0 = now();
		memcpy(i & 1 ? a : b, i & 1 ? b : a, len);
		t0 = now() - t0;
		if (t0 > 0 && BUF_MIB / t0 > best)
			best = BUF_MIB / t0;
	}
	printf("%.0f\n", best);
	free(a);
	free(b);
	return 0;
}
