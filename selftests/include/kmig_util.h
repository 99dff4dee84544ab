/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kmig ioctl helpers in the style of iommufd's selftests:
 *
 *   __kmig_ioctl(fd, cmd, arg)       raw: 0 or -errno
 *   kmig_ioctl(fd, cmd, arg)         ASSERTs success, naming cmd and errno
 *   kmig_ioctl_err(err, fd, cmd, arg) ASSERTs failure with errno @err
 *   KMIG_ARG(type, fields...)        an argument with .size filled in
 *
 * The macros use the harness's ASSERT_*, so they work in TEST, TEST_F and
 * FIXTURE_SETUP bodies. The __kmig_*() helpers below return 0 or -errno
 * and work anywhere (e.g. in a vCPU thread's ring-full handler).
 */
#ifndef KMIG_SELFTEST_KMIG_UTIL_H
#define KMIG_SELFTEST_KMIG_UTIL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/kmig.h>

#define KMIG_ARG(type, ...) \
	((struct type){ .size = sizeof(struct type), ##__VA_ARGS__ })

static inline int __kmig_ioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) ? -errno : 0;
}

static inline const char *kmig_errname(int err)
{
	const char *name = strerrorname_np(err < 0 ? -err : err);

	return err ? (name ?: "unknown errno") : "success";
}

#define kmig_ioctl(fd, cmd, arg) do {					\
	int __r = __kmig_ioctl(fd, cmd, arg);				\
	ASSERT_EQ(0, __r)						\
		TH_LOG("%s failed: %s", #cmd, kmig_errname(__r));	\
} while (0)

#define kmig_ioctl_err(err, fd, cmd, arg) do {				\
	int __r = __kmig_ioctl(fd, cmd, arg);				\
	ASSERT_EQ(-(err), __r)						\
		TH_LOG("%s: expected %s, got %s", #cmd,			\
		       kmig_errname(err), kmig_errname(__r));		\
} while (0)

/* kmig_open(): libkmig's (fd or -errno), so tests share the VMM's path. */
#include <libkmig.h>
/* Whether /dev/kmig exists; on false, @why says why. */
bool kmig_available(const char **why);

int __kmig_attach(int fd, int vm_fd, struct kmig_attach_vm *out);
int __kmig_start(int fd, struct kmig_dirty_start *out);
int __kmig_sync(int fd, struct kmig_dirty_sync *out);
int __kmig_stop(int fd);
/* Pages [first, first + n) of a memslot into @bitmap; *dirty = bits set. */
int __kmig_get_bitmap(int fd, __u16 as_id, __u16 slot, __u64 first, __u64 n,
		      __u32 flags, __u64 *bitmap, __u64 *dirty);
/* Fills up to *nr entries of @slots; *nr = the VM's memslot count. */
int __kmig_get_memslots(int fd, struct kmig_memslot *slots, __u32 *nr,
			__u64 *generation);

/*
 * For the ABI tests: calls @cmd with a copy of the @ksize bytes at @arg
 * placed in a buffer of @usize bytes (also written to its size field) whose
 * bytes past @ksize are @tail. Copies the first min(@ksize, @usize) bytes
 * back to @arg; *tail_changed says whether the kernel wrote past @ksize.
 */
int __kmig_ioctl_sized(int fd, unsigned long cmd, void *arg, size_t ksize,
		       __u32 usize, __u8 tail, bool *tail_changed);

#endif /* KMIG_SELFTEST_KMIG_UTIL_H */
