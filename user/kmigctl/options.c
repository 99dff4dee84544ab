// SPDX-License-Identifier: GPL-2.0
/*
 * Command-line helpers (options.h).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"

int opt_u64(const char *cmd, const char *name, const char *arg, uint64_t min,
	    uint64_t max, uint64_t *v)
{
	unsigned long long n;
	char *end;

	errno = 0;
	n = strtoull(arg, &end, 10);
	/* strtoull() accepts "-1" as a huge number: digits only. */
	if (!*arg || *arg < '0' || *arg > '9' || *end || errno ||
	    n < min || n > max) {
		fprintf(stderr,
			"kmig: %s: bad %s '%s' (a number from %" PRIu64 " to %" PRIu64 ")\n",
			cmd, name, arg, min, max);
		return -1;
	}
	*v = n;
	return 0;
}

int opt_compress(const char *cmd, const char *arg, uint32_t max_level,
		 bool *on, bool *per_page, uint32_t *level)
{
	const char *lvl;
	uint64_t v;

	*on = false;
	*per_page = false;
	*level = 0;
	if (!strcmp(arg, "none"))
		return 0;
	/* zstd-page[:LEVEL] is zstd[:LEVEL] with one page per frame. */
	*per_page = !strncmp(arg, "zstd-page", 9);
	lvl = *per_page ? arg + 9 : !strncmp(arg, "zstd", 4) ? arg + 4 : NULL;
	if (lvl && !*lvl) {
		*on = true;
		return 0;
	}
	if (!lvl || *lvl != ':') {
		*per_page = false;
		fprintf(stderr, "kmig: %s: bad --compress '%s' (none, zstd or zstd:LEVEL)\n",
			cmd, arg);
		return -1;
	}
	if (opt_u64(cmd, "zstd level", lvl + 1, 1, max_level, &v))
		return -1;
	*on = true;
	*level = v;
	return 0;
}

int opt_deadline(const char *cmd, int c, const char *arg, int *peer_ms,
		 int *step_ms)
{
	bool peer = c == 'P';
	uint64_t v;

	if (opt_u64(cmd, peer ? "--peer-timeout" : "--step-timeout", arg, 1,
		    peer ? 3600 : 24 * 3600, &v))
		return -1;
	*(peer ? peer_ms : step_ms) = v * 1000;
	return 0;
}

void opt_unknown(const char *cmd, int c, char **argv)
{
	/* ':' (optstring starts with it): a known option without its value. */
	if (c == ':')
		fprintf(stderr, "kmig: %s: option '%s' needs a value\n", cmd,
			argv[optind - 1]);
	else if (optopt)
		fprintf(stderr, "kmig: %s: unknown option '-%c'\n", cmd, optopt);
	else
		fprintf(stderr, "kmig: %s: unknown option '%s'\n", cmd,
			argv[optind - 1]);
}
