// SPDX-License-Identifier: GPL-2.0
/* Thin kmig ioctl wrappers; see include/kmig_util.h. */
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "kmig_util.h"
#include "test_util.h"

bool kmig_available(const char **why)
{
	int fd = kmig_open();

	if (fd < 0) {
		*why = fd == -ENOENT ? "no " KMIG_DEVICE_PATH " (kmig.ko not loaded)"
				     : "cannot open " KMIG_DEVICE_PATH;
		return false;
	}
	close(fd);
	return true;
}

int __kmig_attach(int fd, int vm_fd, struct kmig_attach_vm *out)
{
	struct kmig_attach_vm a = KMIG_ARG(kmig_attach_vm, .vm_fd = vm_fd);
	int r = __kmig_ioctl(fd, KMIG_ATTACH_VM, &a);

	if (out)
		*out = a;
	return r;
}

int __kmig_start(int fd, struct kmig_dirty_start *out)
{
	struct kmig_dirty_start s = KMIG_ARG(kmig_dirty_start);
	int r = __kmig_ioctl(fd, KMIG_DIRTY_START, &s);

	if (out)
		*out = s;
	return r;
}

int __kmig_sync(int fd, struct kmig_dirty_sync *out)
{
	struct kmig_dirty_sync s = KMIG_ARG(kmig_dirty_sync);
	int r = __kmig_ioctl(fd, KMIG_DIRTY_SYNC, &s);

	if (out)
		*out = s;
	return r;
}

int __kmig_stop(int fd)
{
	struct kmig_dirty_stop s = KMIG_ARG(kmig_dirty_stop);

	return __kmig_ioctl(fd, KMIG_DIRTY_STOP, &s);
}

int __kmig_get_bitmap(int fd, __u16 as_id, __u16 slot, __u64 first, __u64 n,
		      __u32 flags, __u64 *bitmap, __u64 *dirty)
{
	struct kmig_dirty_bitmap b = KMIG_ARG(kmig_dirty_bitmap,
		.flags = flags, .as_id = as_id, .slot_id = slot,
		.first_page = first, .nr_pages = n,
		.bitmap_uptr = (__u64)(unsigned long)bitmap);
	int r = __kmig_ioctl(fd, KMIG_DIRTY_GET_BITMAP, &b);

	if (dirty)
		*dirty = b.dirty;
	return r;
}

int __kmig_get_memslots(int fd, struct kmig_memslot *slots, __u32 *nr,
			__u64 *generation)
{
	struct kmig_get_memslots g = KMIG_ARG(kmig_get_memslots,
		.nr_slots = *nr, .slots_uptr = (__u64)(unsigned long)slots);
	int r = __kmig_ioctl(fd, KMIG_GET_MEMSLOTS, &g);

	*nr = g.nr_slots;
	if (generation)
		*generation = g.generation;
	return r;
}

int __kmig_ioctl_sized(int fd, unsigned long cmd, void *arg, size_t ksize,
		       __u32 usize, __u8 tail, bool *tail_changed)
{
	size_t len = ksize > usize ? ksize : usize, i;
	/* 8-byte aligned, as the structs are */
	__u64 *buf = calloc(DIV_ROUND_UP(len, 8) + 1, 8);
	char *bytes = (char *)buf;
	int r;

	CHECK(buf, "out of memory");
	memcpy(buf, arg, ksize);
	memset(bytes + ksize, tail, len - ksize);
	*(__u32 *)buf = usize;
	r = __kmig_ioctl(fd, cmd, buf);
	memcpy(arg, buf, ksize < usize ? ksize : usize);
	*tail_changed = false;
	for (i = ksize; i < len; i++)
		*tail_changed |= bytes[i] != (char)tail;
	free(buf);
	return r;
}
