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
 * --compress: "none", "zstd" or "zstd:LEVEL" (1..@max_level). Sets *@on
 * and *@level (0 for the default level). On error prints why and returns
 * -1.
 */
int opt_compress(const char *cmd, const char *arg, uint32_t max_level,
		 bool *on, uint32_t *level);

/*
 * Reports the option getopt_long() refused; @c is what it returned ('?'
 * or ':'; the optstring must start with ':').
 */
void opt_unknown(const char *cmd, int c, char **argv);

#endif /* KMIGCTL_OPTIONS_H */
