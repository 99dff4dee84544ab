// SPDX-License-Identifier: LGPL-2.1 OR MIT
/*
 * Dirty tracking: start, sync (harvest), read the bitmap, stop; and the
 * VMM's side of it, marking the pages it wrote itself.
 */
#include <stdint.h>
#include <string.h>

#include "libkmig.h"
#include "ioctl.h"

int kmig_dirty_start(int fd, struct kmig_dirty_start *out)
{
	struct kmig_dirty_start arg;
	int ret;

	memset(&arg, 0, sizeof(arg));
	arg.size = sizeof(arg);
	ret = kmig_ioctl(fd, KMIG_DIRTY_START, &arg);
	if (ret >= 0 && out)
		*out = arg;
	return ret;
}

int kmig_dirty_sync(int fd, struct kmig_dirty_sync *out)
{
	struct kmig_dirty_sync arg;
	int ret;

	memset(&arg, 0, sizeof(arg));
	arg.size = sizeof(arg);
	ret = kmig_ioctl(fd, KMIG_DIRTY_SYNC, &arg);
	if (ret >= 0 && out)
		*out = arg;
	return ret;
}

int kmig_dirty_get_bitmap(int fd, __u16 as_id, __u16 slot_id,
			  __u64 first_page, __u64 nr_pages, __u64 *bitmap,
			  __u32 flags, __u64 *dirty)
{
	struct kmig_dirty_bitmap arg;
	int ret;

	memset(&arg, 0, sizeof(arg));
	arg.size = sizeof(arg);
	arg.flags = flags;
	arg.as_id = as_id;
	arg.slot_id = slot_id;
	arg.first_page = first_page;
	arg.nr_pages = nr_pages;
	arg.bitmap_uptr = (__u64)(uintptr_t)bitmap;
	ret = kmig_ioctl(fd, KMIG_DIRTY_GET_BITMAP, &arg);
	if (ret >= 0 && dirty)
		*dirty = arg.dirty;
	return ret;
}

int kmig_dirty_stop(int fd)
{
	struct kmig_dirty_stop arg;

	memset(&arg, 0, sizeof(arg));
	arg.size = sizeof(arg);
	return kmig_ioctl(fd, KMIG_DIRTY_STOP, &arg);
}

int kmig_dirty_mark(int fd, int vm_fd, const struct kmig_dirty_range *ranges,
		    __u32 nr_ranges, __u64 *marked)
{
	struct kmig_dirty_mark arg;
	int ret;

	memset(&arg, 0, sizeof(arg));
	arg.size = sizeof(arg);
	arg.vm_fd = vm_fd;
	arg.nr_ranges = nr_ranges;
	arg.ranges_uptr = (__u64)(uintptr_t)ranges;
	arg.range_size = sizeof(*ranges);
	ret = kmig_ioctl(fd, KMIG_DIRTY_MARK, &arg);
	if (ret >= 0 && marked)
		*marked = arg.marked;
	return ret;
}
