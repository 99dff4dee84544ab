// SPDX-License-Identifier: GPL-2.0
/*
 * libkmig against the real kernel without the module: every call reports
 * failure as a negative errno, from the right syscall, with nothing leaked.
 */
#define _GNU_SOURCE	/* pipe2() */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "libkmig.h"

/* A pipe is an fd whose ioctl() knows none of kmig's numbers. */
FIXTURE(not_kmig) {
	int fds[2];
};

FIXTURE_SETUP(not_kmig)
{
	ASSERT_EQ(0, pipe2(self->fds, O_CLOEXEC));
}

FIXTURE_TEARDOWN(not_kmig)
{
	close(self->fds[0]);
	close(self->fds[1]);
}

TEST_F(not_kmig, every_call_is_enotty)
{
	struct kmig_memslot *slots = (struct kmig_memslot *)&self->fds;
	struct kmig_attach_vm attach = { .nr_memslots = 77 };
	struct kmig_info info = { .session_id = 77 };
	unsigned int nr = 77;
	__u64 bitmap = 0, dirty = 77;
	int fd = self->fds[0];

	EXPECT_EQ(-ENOTTY, kmig_get_info(fd, &info));
	EXPECT_EQ(-ENOTTY, kmig_attach_vm(fd, self->fds[1], &attach));
	EXPECT_EQ(-ENOTTY, kmig_get_memslots(fd, &slots, &nr, NULL));
	EXPECT_EQ(-ENOTTY, kmig_dirty_start(fd, NULL));
	EXPECT_EQ(-ENOTTY, kmig_dirty_sync(fd, NULL));
	EXPECT_EQ(-ENOTTY, kmig_dirty_get_bitmap(fd, 0, 0, 0, 64, &bitmap,
						 KMIG_BITMAP_CLEAR, &dirty));
	EXPECT_EQ(-ENOTTY, kmig_dirty_stop(fd));

	/* Failed calls leave the caller's outputs alone. */
	EXPECT_EQ(77U, info.session_id);
	EXPECT_EQ(77U, attach.nr_memslots);
	EXPECT_EQ(77U, nr);
	EXPECT_EQ(77ULL, dirty);
	EXPECT_EQ((struct kmig_memslot *)&self->fds, slots);
}

TEST(closed_fd_is_ebadf)
{
	EXPECT_EQ(-EBADF, kmig_get_info(-1, NULL));
	EXPECT_EQ(-EBADF, kmig_dirty_sync(-1, NULL));
	EXPECT_EQ(-EBADF, kmig_dirty_stop(-1));
}

TEST(missing_device_is_enoent)
{
	if (access(KMIG_DEVICE_PATH, F_OK) == 0)
		SKIP(return, "%s exists on this machine", KMIG_DEVICE_PATH);
	EXPECT_EQ(-ENOENT, kmig_open());
}

TEST(get_memslots_needs_outputs)
{
	struct kmig_memslot *slots;
	unsigned int nr;

	EXPECT_EQ(-EINVAL, kmig_get_memslots(-1, NULL, &nr, NULL));
	EXPECT_EQ(-EINVAL, kmig_get_memslots(-1, &slots, NULL, NULL));
}

TEST(strerror_explains_kmig_errnos)
{
	EXPECT_STREQ("the session has no VM attached", kmig_strerror(-ENOTCONN));
	EXPECT_STREQ("the session has no VM attached", kmig_strerror(ENOTCONN));
	EXPECT_NE(NULL, strstr(kmig_strerror(-ENODATA), "KVM_MEM_LOG_DIRTY_PAGES"));
	/* Anything kmig gives no meaning of its own is plain strerror(). */
	EXPECT_STREQ(strerror(ENOMEM), kmig_strerror(-ENOMEM));
}

TEST(enum_names)
{
	EXPECT_STREQ("idle", kmig_session_state_name(KMIG_SESSION_IDLE));
	EXPECT_STREQ("attached", kmig_session_state_name(KMIG_SESSION_ATTACHED));
	EXPECT_STREQ("tracking", kmig_session_state_name(KMIG_SESSION_TRACKING));
	EXPECT_STREQ("vm-gone", kmig_session_state_name(KMIG_SESSION_VM_GONE));
	EXPECT_STREQ("unknown", kmig_session_state_name(0));
	EXPECT_STREQ("none", kmig_dirty_mode_name(0));
	EXPECT_STREQ("bitmap", kmig_dirty_mode_name(KMIG_DIRTY_MODE_BITMAP));
	EXPECT_STREQ("manual", kmig_dirty_mode_name(KMIG_DIRTY_MODE_MANUAL));
	EXPECT_STREQ("ring", kmig_dirty_mode_name(KMIG_DIRTY_MODE_RING));
	EXPECT_STREQ("unknown", kmig_dirty_mode_name(4));
}

TEST_HARNESS_MAIN
