// SPDX-License-Identifier: GPL-2.0
/*
 * `kmigctl version`: what this binary speaks and what the running module is.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "libkmig.h"
#include "kmigctl.h"

#ifndef KMIG_VERSION
#error "KMIG_VERSION must be defined by the Makefile"
#endif

int cmd_version(int argc, char **argv)
{
	struct kmig_info info;
	int fd, err;

	(void)argv;
	if (argc > 1) {
		fprintf(stderr, "Usage: kmigctl version\n");
		return KMIGCTL_EXIT_USAGE;
	}

	printf("kmigctl %s (kmig API %d)\n", KMIG_VERSION, KMIG_API_VERSION);

	/* The module is optional here: a version query must work without it. */
	fd = kmig_open();
	if (fd == -ENOENT) {
		printf("kmig.ko: not loaded (no %s)\n", KMIG_DEVICE_PATH);
		return KMIGCTL_EXIT_OK;
	}
	if (fd < 0) {
		printf("kmig.ko: %s: %s\n", KMIG_DEVICE_PATH, strerror(-fd));
		return KMIGCTL_EXIT_OK;
	}
	err = kmig_get_info(fd, &info);
	close(fd);
	if (err < 0) {
		printf("kmig.ko: KMIG_GET_INFO: %s\n", kmig_strerror(err));
		return KMIGCTL_EXIT_OK;
	}
	printf("kmig.ko: API %u, features:%s%s%s%s%s\n", info.api_version,
	       info.features & KMIG_FEATURE_DIRTY_BITMAP ? " dirty-bitmap" : "",
	       info.features & KMIG_FEATURE_DIRTY_MANUAL ? " dirty-manual" : "",
	       info.features & KMIG_FEATURE_DIRTY_RING ? " dirty-ring" : "",
	       info.features & KMIG_FEATURE_ZSTD ? " zstd" : "",
	       info.features & KMIG_FEATURE_ZSTD_RUN ? " zstd-run" : "");
	return KMIGCTL_EXIT_OK;
}
