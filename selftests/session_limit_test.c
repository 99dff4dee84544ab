// SPDX-License-Identifier: GPL-2.0
/*
 * The bound on /dev/kmig sessions: the max_sessions module parameter
 * (default 256, writable by root at /sys/module/kmig/parameters/) caps the
 * sessions open at once over the whole system, and open() beyond it fails
 * with ENFILE, the errno of a full system-wide table. Closing one makes
 * room again. The parameter is lowered for the test and restored after.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kmig_util.h"
#include "test_util.h"

#define PARAM		"/sys/module/kmig/parameters/max_sessions"
#define DEFAULT_MAX	256
#define LOW_MAX		8

static int read_param(unsigned int *v)
{
	char buf[32] = "";
	int fd = open(PARAM, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return n < 0 ? -errno : -EIO;
	*v = strtoul(buf, NULL, 10);
	return 0;
}

static int write_param(unsigned int v)
{
	char buf[32];
	int fd = open(PARAM, O_WRONLY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	snprintf(buf, sizeof(buf), "%u\n", v);
	if (write(fd, buf, strlen(buf)) < 0)
		r = -errno;
	close(fd);
	return r;
}

FIXTURE(limit) {
	unsigned int saved;	/* max_sessions before the test, or 0 */
	int fds[LOW_MAX + 1];
	int nr;
};

FIXTURE_SETUP(limit)
{
	const char *why;
	int r;

	if (!kmig_available(&why))
		SETUP_SKIP("%s", why);
	/* A module without the parameter has no bound: that fails here. */
	r = read_param(&self->saved);
	ASSERT_EQ(0, r) TH_LOG("%s: %s: sessions are unbounded", PARAM,
			       kmig_errname(r));
}

FIXTURE_TEARDOWN(limit)
{
	while (self->nr > 0)
		close(self->fds[--self->nr]);
	if (self->saved && write_param(self->saved))
		TH_LOG("could not restore %s to %u", PARAM, self->saved);
}

TEST_F(limit, default_is_documented)
{
	EXPECT_EQ((unsigned int)DEFAULT_MAX, self->saved)
		TH_LOG("max_sessions %u, documented %d", self->saved,
		       DEFAULT_MAX);
}

/* Sessions open elsewhere count too: open until refused, at most LOW_MAX. */
TEST_F(limit, open_beyond_max_fails_enfile)
{
	int fd, err = 0;

	ASSERT_EQ(0, write_param(LOW_MAX));
	while (self->nr <= LOW_MAX) {
		fd = kmig_open();
		if (fd < 0) {
			err = fd;
			break;
		}
		self->fds[self->nr++] = fd;
	}
	TH_LOG("%d sessions opened under max_sessions=%d", self->nr, LOW_MAX);
	ASSERT_EQ(-ENFILE, err) TH_LOG("open %d: %s", self->nr + 1,
				       kmig_errname(err));
	ASSERT_LE(self->nr, LOW_MAX);
	ASSERT_LT(0, self->nr) TH_LOG("another %d sessions are open elsewhere",
				      LOW_MAX);

	/* Still refused; one closed makes room for exactly one. */
	EXPECT_EQ(-ENFILE, kmig_open());
	close(self->fds[--self->nr]);
	fd = kmig_open();
	ASSERT_LE(0, fd) TH_LOG("open after a close: %s", kmig_errname(fd));
	self->fds[self->nr++] = fd;
	EXPECT_EQ(-ENFILE, kmig_open());

	/* Raised again, the limit lets the next one in at once. */
	ASSERT_EQ(0, write_param(self->saved));
	fd = kmig_open();
	ASSERT_LE(0, fd) TH_LOG("open after restoring max_sessions: %s",
				kmig_errname(fd));
	self->fds[self->nr++] = fd;
}

TEST_HARNESS_MAIN
