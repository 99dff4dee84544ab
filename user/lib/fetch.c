// SPDX-License-Identifier: LGPL-2.1 OR MIT
/*
 * Postcopy: on the source, read the pages the destination faulted on
 * now, beside a running round (KMIG_FETCH); on the destination, publish
 * how far postcopy is for netlink (KMIG_POSTCOPY_PROGRESS).
 */
#include <stdint.h>
#include <string.h>

#include "libkmig.h"
#include "ioctl.h"

int kmig_fetch(int fd, const struct kmig_dirty_range *ranges, __u32 nr,
	       struct kmig_rec *recs, void *data, __u64 data_len,
	       struct kmig_fetch *out)
{
	struct kmig_fetch arg;
	int ret;

	memset(&arg, 0, sizeof(arg));
	arg.size = sizeof(arg);
	arg.nr_ranges = nr;
	arg.range_size = sizeof(*ranges);
	arg.ranges_uptr = (__u64)(uintptr_t)ranges;
	arg.recs_uptr = (__u64)(uintptr_t)recs;
	arg.rec_size = sizeof(*recs);
	arg.data_uptr = (__u64)(uintptr_t)data;
	arg.data_len = data_len;
	ret = kmig_ioctl(fd, KMIG_FETCH, &arg);
	/* The kernel writes its outputs only on success. */
	if (ret >= 0 && out)
		*out = arg;
	return ret;
}

int kmig_postcopy_progress(int fd, const struct kmig_postcopy_progress *p)
{
	struct kmig_postcopy_progress arg = *p;

	arg.size = sizeof(arg);
	arg.flags = 0;
	arg.__reserved = 0;
	return kmig_ioctl(fd, KMIG_POSTCOPY_PROGRESS, &arg);
}
