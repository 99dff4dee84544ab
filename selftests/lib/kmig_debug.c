// SPDX-License-Identifier: GPL-2.0
/* kmig's debugfs counters and the kernel log; see include/kmig_debug.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/klog.h>

#include "kmig_debug.h"
#include "kvm_guest.h"
#include "test_util.h"

#define SYSLOG_ACTION_READ_ALL		3
#define SYSLOG_ACTION_SIZE_BUFFER	10

/* One read of the file: the number of non-zero counters, or -errno. */
static int objects_read(char *why, size_t len)
{
	char name[64];
	size_t pos = 0;
	long count;
	int bad = 0;
	FILE *f = fopen(KMIG_DEBUGFS_OBJECTS, "re");

	if (!f)
		return -errno;
	if (len)
		why[0] = '\0';
	while (fscanf(f, "%63s %ld", name, &count) == 2) {
		if (!count)
			continue;
		if (pos < len)
			pos += snprintf(why + pos, len - pos, "%s%s %ld",
					bad ? ", " : "", name, count);
		bad++;
	}
	fclose(f);
	return bad;
}

int kmig_objects_wait_zero(int ms, char *why, size_t len)
{
	int r, waited = 0;

	/* Mounts debugfs if needed; KVM's directory is there with kvm.ko. */
	guest_debugfs_ready();
	for (;;) {
		r = objects_read(why, len);
		if (r <= 0 || waited >= ms)
			return r == -ENOENT ? -ENOENT : r;
		/* A session's last reference may still be on its way out. */
		usleep(20 * 1000);
		waited += 20;
	}
}

__u64 kernel_log_count(const char *needle)
{
	int size = klogctl(SYSLOG_ACTION_SIZE_BUFFER, NULL, 0);
	__u64 n = 0;
	char *buf, *p, *end;
	int got;

	CHECK(size > 0, "klogctl(SIZE_BUFFER): %s", strerror(errno));
	buf = malloc(size + 1);
	CHECK(buf, "out of memory");
	got = klogctl(SYSLOG_ACTION_READ_ALL, buf, size);
	CHECK(got >= 0, "klogctl(READ_ALL): %s", strerror(errno));
	buf[got] = '\0';
	for (p = buf; p < buf + got; p = end + 1) {
		end = strchrnul(p, '\n');
		*end = '\0';
		n += strstr(p, needle) != NULL;
	}
	free(buf);
	return n;
}
