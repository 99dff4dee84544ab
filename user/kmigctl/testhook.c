// SPDX-License-Identifier: GPL-2.0
/*
 * The selftests' hold points (testhook.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "testhook.h"

#define TESTHOOK_MAX_NS		(120 * NSEC_PER_SEC)

/* The file to hold on for @point, or NULL. */
static const char *testhook_path(const char *point)
{
	const char *spec = getenv("KMIG_TEST_HOLD");
	size_t n = strlen(point);

	if (!strcmp(point, "switchover") && getenv("KMIG_TEST_HOLD_SWITCHOVER"))
		return getenv("KMIG_TEST_HOLD_SWITCHOVER");
	if (spec && !strncmp(spec, point, n) && spec[n] == ':' && spec[n + 1])
		return spec + n + 1;
	return NULL;
}

int testhook_hold(const char *point, bool (*stop)(void *), void *arg)
{
	const char *path = testhook_path(point);
	uint64_t until = now_ns() + TESTHOOK_MAX_NS;
	int fd;

	if (!path)
		return 0;
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0)
		close(fd);
	while (!access(path, F_OK) && now_ns() < until) {
		if (stop && stop(arg))
			return -ECANCELED;
		sleep_ns(50 * NSEC_PER_MSEC);
	}
	return 0;
}

bool testhook_misbehave(const char *what)
{
	const char *v = getenv("KMIG_TEST_MISBEHAVE");

	return v && !strcmp(v, what);
}
