/* SPDX-License-Identifier: LGPL-2.1 OR MIT */
/*
 * Internal to libkmig: one place that turns ioctl(2)'s "-1 and errno"
 * into the library's "-errno" convention.
 */
#ifndef LIBKMIG_IOCTL_H
#define LIBKMIG_IOCTL_H

#include <errno.h>
#include <sys/ioctl.h>

static inline int kmig_ioctl(int fd, unsigned long request, void *arg)
{
	int ret = ioctl(fd, request, arg);

	/* errno is never 0 after a failed ioctl, but never return 0 for one. */
	if (ret < 0)
		return errno ? -errno : -EIO;
	return ret;
}

#endif /* LIBKMIG_IOCTL_H */
