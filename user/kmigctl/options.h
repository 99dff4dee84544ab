/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Command-line helpers shared by the commands: numbers with bounds, and
 * the "unknown option" message.
 */
#ifndef KMIGCTL_OPTIONS_H
#define KMIGCTL_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Parses @arg as a decimal number in [@min, @max] into *@v. On error
 * prints "kmig: CMD: bad NAME 'ARG' (...)" and returns -1.
 */
int opt_u64(const char *cmd, const char *name, const char *arg, uint64_t min,
	    uint64_t max, uint64_t *v);

/*
 * --peer-timeout and --step-timeout, the same for migrate and incoming:
 * whole seconds (1 s .. an hour, and a day) into *@peer_ms or *@step_ms
 * by @c, the option's short letter ('P' or 'S'). -1 with a message.
 */
int opt_deadline(const char *cmd, int c, const char *arg, int *peer_ms,
		 int *step_ms);

/*
 * --compress: "none", "zstd", "zstd:LEVEL" (1..@max_level), or the same
 * as "zstd-page[:LEVEL]" (one page per frame). Sets *@on, *@per_page and
 * *@level (0 for the default level). On error prints why and returns -1.
 */
int opt_compress(const char *cmd, const char *arg, uint32_t max_level,
		 bool *on, bool *per_page, uint32_t *level);

/*
 * Reports the option getopt_long() refused; @c is what it returned ('?'
 * or ':'; the optstring must start with ':').
 */
void opt_unknown(const char *cmd, int c, char **argv);

#endif /* KMIGCTL_OPTIONS_H */
