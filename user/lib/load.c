// SPDX-License-Identifier: LGPL-2.1 OR MIT
/*
 * Destination side: hand received records to KMIG_LOAD.
 */
#include <stdint.h>
#include <string.h>

#include "libkmig.h"
#include "ioctl.h"

int kmig_load(int fd, const struct kmig_rec *recs, __u32 nr,
	      const void *data, __u64 data_len, struct kmig_load *out)
{
	struct kmig_load arg;
	int ret;

	memset(&arg, 0, sizeof(arg));
	arg.size = sizeof(arg);
	arg.nr_recs = nr;
	arg.rec_size = sizeof(*recs);
	arg.recs_uptr = (__u64)(uintptr_t)recs;
	arg.data_uptr = (__u64)(uintptr_t)data;
	arg.data_len = data_len;
	ret = kmig_ioctl(fd, KMIG_LOAD, &arg);
	/* done/pages/zeroed say how far a failed load got. */
	if (out)
		*out = arg;
	return ret;
}
