// SPDX-License-Identifier: GPL-2.0
/*
 * Memory kmig.ko allocates on a caller's behalf is charged to the caller's
 * memory cgroup: KMIG_SEND_SETUP's rings (up to 16 workers x 4096 entries,
 * 256 MiB) and zstd workspaces. Each case runs its ioctls in a child moved
 * into a fresh cgroup v2 group under /sys/fs/cgroup (the runner's own
 * group holds processes, so it cannot have a memory-controlled child) and
 * reads that group's memory.current, memory.max and memory.events:
 *
 *  - under memory.max = 8 MiB, 16 x 4096-entry rings fail with ENOMEM,
 *    nobody is OOM-killed, and the session still sets up small rings;
 *  - without a limit, memory.current grows by at least the rings' bytes
 *    at KMIG_SEND_SETUP and falls back when the session is closed;
 *  - zstd contexts add about a workspace per worker (~67 KB at level 1
 *    with 4 KiB parameters, ~180 KB with the 32 KiB ones), zstd runs a
 *    buffer of KMIG_ZSTD_RUN_MAX pages more.
 *
 * The child opens its own session and attaches the parent's VM fd, so
 * close() in the child ends the session. It is pinned to one CPU: memcg
 * charges go through a per-CPU stock of up to 64 pages, which is all the
 * slack memory.current can show between two reads.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* sched_setaffinity() */
#endif
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/kvm.h>
#include <linux/magic.h>

#include "kselftest_harness.h"
#include "bare_vm.h"
#include "kmig_util.h"
#include "test_util.h"

#define CGROOT		"/sys/fs/cgroup"
#define MEMSLOT_SIZE	(4UL << 20)
#define LIMIT_BYTES	(8UL << 20)
#define KIB		1024LL
/* What memory.current may differ by with nothing allocated: the stock. */
#define STOCK_SLACK	(64 * 4 * KIB)

/* What a child measured, sent back over a pipe. */
struct result {
	int setup_err;		/* KMIG_SEND_SETUP under test: 0 or -errno */
	int small_err;		/* the small setup after it, when tried */
	int step_err;		/* anything else that failed: -errno */
	char step[64];		/* ... and what */
	__u64 ring_bytes;	/* per ring, as KMIG_SEND_SETUP said */
	long long before;	/* memory.current before the setup */
	long long after;	/* ... after it */
	long long closed;	/* ... after close() */
};

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	n = n < 0 ? -errno : 0;
	close(fd);
	return n;
}

static int read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

/* @cg's memory.current in bytes, or -errno. */
static long long mem_current(const char *cg)
{
	char path[256], buf[64];
	int r;

	snprintf(path, sizeof(path), "%s/memory.current", cg);
	r = read_file(path, buf, sizeof(buf));
	return r ? r : strtoll(buf, NULL, 10);
}

/* A "key value" line of @cg's @file (memory.events), or -errno. */
static long long mem_key(const char *cg, const char *file, const char *key)
{
	char path[256], buf[4096], *p;
	size_t klen = strlen(key);
	int r;

	snprintf(path, sizeof(path), "%s/%s", cg, file);
	r = read_file(path, buf, sizeof(buf));
	if (r)
		return r;
	for (p = buf; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, key, klen) && p[klen] == ' ')
			return strtoll(p + klen + 1, NULL, 10);
	return -ENOENT;
}

FIXTURE(memcg) {
	struct bare_vm vm;	/* one 4 MiB memslot: all KMIG_ATTACH_VM needs */
	char cg[128];		/* our group, once made */
	bool enabled_memory;	/* we added +memory to the root's subtree */
};

/* Skips unless KVM, kmig and cgroup2 with the memory controller are here. */
FIXTURE_SETUP(memcg)
{
	const char *why, *step;
	char buf[256];
	struct statfs sfs;
	int ret;

	self->vm = BARE_VM_INIT;
	if (access("/dev/kvm", R_OK | W_OK))
		SETUP_SKIP("no /dev/kvm: load kvm and kvm-amd or kvm-intel");
	if (!kmig_available(&why))
		SETUP_SKIP("%s", why);
	if (statfs(CGROOT, &sfs) || sfs.f_type != CGROUP2_SUPER_MAGIC)
		SETUP_SKIP("no cgroup2 at %s", CGROOT);
	if (read_file(CGROOT "/cgroup.controllers", buf, sizeof(buf)) ||
	    !strstr(buf, "memory"))
		SETUP_SKIP("no memory controller in %s", CGROOT);

	ASSERT_EQ(0, read_file(CGROOT "/cgroup.subtree_control", buf,
			       sizeof(buf)));
	if (!strstr(buf, "memory")) {
		ASSERT_EQ(0, write_file(CGROOT "/cgroup.subtree_control",
					"+memory"));
		self->enabled_memory = true;
	}
	snprintf(self->cg, sizeof(self->cg), CGROOT "/kmig-memcg-%d",
		 getpid());
	ASSERT_EQ(0, mkdir(self->cg, 0755)) TH_LOG("mkdir %s: %s", self->cg,
						   strerror(errno));

	ret = bare_vm_create(&self->vm, MEMSLOT_SIZE, &step);
	ASSERT_EQ(0, ret) TH_LOG("%s: %s", step, strerror(-ret));
}

FIXTURE_TEARDOWN(memcg)
{
	bare_vm_destroy(&self->vm);
	/* The child is gone: the group is empty (charges may outlive it). */
	if (self->cg[0] && rmdir(self->cg))
		TH_LOG("rmdir %s: %s", self->cg, strerror(errno));
	if (self->enabled_memory)
		write_file(CGROOT "/cgroup.subtree_control", "-memory");
}

static void set_max(struct __test_metadata *_metadata, const char *cg,
		    const char *max)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/memory.max", cg);
	ASSERT_EQ(0, write_file(path, max));
}

static int send_setup(int fd, __u32 workers, __u32 entries, __u32 flags,
		      __u64 *ring_bytes)
{
	struct kmig_send_setup arg = KMIG_ARG(kmig_send_setup,
		.flags = flags, .nr_workers = workers,
		.ring_entries = entries);
	int r = __kmig_ioctl(fd, KMIG_SEND_SETUP, &arg);

	if (ring_bytes)
		*ring_bytes = arg.ring_bytes;
	return r;
}

/* What a child does in the group, with @fd its session attached. */
enum child_job {
	JOB_BIG_RINGS,		/* 16 x 4096 entries, then 1 x 16 */
	JOB_MEASURE,		/* @workers x @entries [zstd], then close */
};

struct job {
	enum child_job kind;
	__u32 workers, entries, flags;
};

#define FAIL_STEP(r, what) do {						\
	res.step_err = (r);						\
	snprintf(res.step, sizeof(res.step), "%s", what);		\
	goto out;							\
} while (0)

/*
 * Forks a child that joins @cg, opens a session, attaches @vm and does
 * @job; returns its wait status, its measurements in *@res.
 */
static int run_child(const char *cg, const struct bare_vm *vm,
		     const struct job *job, struct result *out)
{
	int pipefd[2], status;
	pid_t pid;

	memset(out, 0, sizeof(*out));
	if (pipe2(pipefd, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		struct result res = { 0 };
		char path[256];
		cpu_set_t cpus;
		int fd, r;

		close(pipefd[0]);
		CPU_ZERO(&cpus);
		CPU_SET(sched_getcpu() < 0 ? 0 : sched_getcpu(), &cpus);
		if (sched_setaffinity(0, sizeof(cpus), &cpus))
			FAIL_STEP(-errno, "sched_setaffinity");
		snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
		r = write_file(path, "0");
		if (r)
			FAIL_STEP(r, "join the cgroup");
		fd = kmig_open();
		if (fd < 0)
			FAIL_STEP(fd, "open /dev/kmig");
		r = __kmig_attach(fd, vm->fd, NULL);
		if (r)
			FAIL_STEP(r, "KMIG_ATTACH_VM");

		res.before = mem_current(cg);
		if (job->kind == JOB_BIG_RINGS) {
			res.setup_err = send_setup(fd, KMIG_MAX_WORKERS,
						   KMIG_MAX_RING_ENTRIES, 0,
						   &res.ring_bytes);
			res.after = mem_current(cg);
			/* Nothing half set up is left to refuse this one. */
			if (res.setup_err)
				res.small_err = send_setup(fd, 1, 16, 0, NULL);
		} else {
			res.setup_err = send_setup(fd, job->workers,
						   job->entries, job->flags,
						   &res.ring_bytes);
			res.after = mem_current(cg);
		}
		close(fd);
		res.closed = mem_current(cg);
out:
		if (write(pipefd[1], &res, sizeof(res)) != sizeof(res))
			_exit(2);
		_exit(0);
	}
	close(pipefd[1]);
	if (read(pipefd[0], out, sizeof(*out)) != sizeof(*out))
		out->step_err = -EPIPE;
	close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return status;
}

#define CHECK_CHILD(status, res) do {					\
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)	\
		TH_LOG("child wait status 0x%x (killed?)", status);	\
	ASSERT_EQ(0, (res).step_err)					\
		TH_LOG("child: %s: %s", (res).step,			\
		       kmig_errname((res).step_err));			\
} while (0)

/* 256 MiB of rings do not fit in 8 MiB: ENOMEM, and no OOM kill. */
TEST_F(memcg, rings_over_limit_fail)
{
	struct job job = { .kind = JOB_BIG_RINGS };
	char max[32];
	struct result res;
	int status;

	snprintf(max, sizeof(max), "%lu", LIMIT_BYTES);
	set_max(_metadata, self->cg, max);
	status = run_child(self->cg, &self->vm, &job, &res);
	CHECK_CHILD(status, res);
	TH_LOG("memory.max %lu: setup %s, memory.current %lld -> %lld",
	       LIMIT_BYTES, kmig_errname(res.setup_err), res.before,
	       res.after);
	EXPECT_EQ(-ENOMEM, res.setup_err)
		TH_LOG("16 x 4096-entry rings set up under memory.max=%lu: "
		       "their memory is not charged to the caller", LIMIT_BYTES);
	EXPECT_EQ(0LL, mem_key(self->cg, "memory.events", "oom_kill"))
		TH_LOG("the failed setup OOM-killed in the group");
	if (!res.setup_err)
		return;
	EXPECT_EQ(0, res.small_err)
		TH_LOG("1 x 16 entries after the failure: %s",
		       kmig_errname(res.small_err));
	EXPECT_LE(res.after, res.before + STOCK_SLACK)
		TH_LOG("a failed setup left %lld bytes charged",
		       res.after - res.before);
}

/* Without a limit, memory.current counts the rings while they exist. */
TEST_F(memcg, rings_charged_then_uncharged)
{
	struct job job = {
		.kind = JOB_MEASURE, .workers = 4,
		.entries = KMIG_MAX_RING_ENTRIES,
	};
	struct result res;
	long long rings;
	int status;

	set_max(_metadata, self->cg, "max");
	status = run_child(self->cg, &self->vm, &job, &res);
	CHECK_CHILD(status, res);
	ASSERT_EQ(0, res.setup_err) TH_LOG("KMIG_SEND_SETUP: %s",
					   kmig_errname(res.setup_err));
	rings = (long long)res.ring_bytes * job.workers;
	TH_LOG("rings %lld bytes; memory.current %lld -> %lld -> %lld (closed)",
	       rings, res.before, res.after, res.closed);
	/* Charges the stock had prepaid before the first read don't show. */
	EXPECT_GE(res.after - res.before, rings - STOCK_SLACK)
		TH_LOG("memory.current grew by %lld for %lld bytes of rings",
		       res.after - res.before, rings);
	EXPECT_LE(res.closed, res.before + STOCK_SLACK)
		TH_LOG("%lld bytes still charged after close",
		       res.closed - res.before);
}

/*
 * A zstd context per worker: the same setup with KMIG_SEND_F_ZSTD costs
 * each worker a workspace more (~67 KB at level 1; counted here as at
 * least 32 KiB, above the stock's slack over 16 workers).
 */
TEST_F(memcg, zstd_workspaces_charged)
{
	struct job plain = {
		.kind = JOB_MEASURE, .workers = KMIG_MAX_WORKERS, .entries = 16,
	};
	struct job zstd = plain;
	struct result a, b;
	long long grew_plain, grew_zstd;
	int status;

	zstd.flags = KMIG_SEND_F_ZSTD;
	set_max(_metadata, self->cg, "max");
	status = run_child(self->cg, &self->vm, &plain, &a);
	CHECK_CHILD(status, a);
	ASSERT_EQ(0, a.setup_err);
	status = run_child(self->cg, &self->vm, &zstd, &b);
	CHECK_CHILD(status, b);
	ASSERT_EQ(0, b.setup_err) TH_LOG("zstd setup: %s",
					 kmig_errname(b.setup_err));

	grew_plain = a.after - a.before;
	grew_zstd = b.after - b.before;
	TH_LOG("16 workers: memory.current +%lld plain, +%lld with zstd",
	       grew_plain, grew_zstd);
	EXPECT_GE(grew_zstd - grew_plain, 16 * 32 * KIB)
		TH_LOG("zstd workspaces are not charged to the caller");
	EXPECT_LE(b.closed, b.before + STOCK_SLACK)
		TH_LOG("%lld bytes still charged after close",
		       b.closed - b.before);
}

/*
 * KMIG_SEND_F_ZSTD_RUN: each worker also holds a buffer of
 * KMIG_ZSTD_RUN_MAX pages (16 KiB), charged like the rest.
 */
TEST_F(memcg, zstd_run_buffers_charged)
{
	struct job zstd = {
		.kind = JOB_MEASURE, .workers = KMIG_MAX_WORKERS, .entries = 16,
		.flags = KMIG_SEND_F_ZSTD,
	};
	struct job zrun = zstd;
	struct result b, c;
	long long grew_zstd, grew_zrun;
	int status;

	zrun.flags |= KMIG_SEND_F_ZSTD_RUN;
	set_max(_metadata, self->cg, "max");
	status = run_child(self->cg, &self->vm, &zstd, &b);
	CHECK_CHILD(status, b);
	ASSERT_EQ(0, b.setup_err);
	status = run_child(self->cg, &self->vm, &zrun, &c);
	CHECK_CHILD(status, c);
	if (c.setup_err == -EOPNOTSUPP)
		SKIP(return, "kmig module without KMIG_FEATURE_ZSTD_RUN");
	ASSERT_EQ(0, c.setup_err) TH_LOG("zstd run setup: %s",
					 kmig_errname(c.setup_err));

	grew_zstd = b.after - b.before;
	grew_zrun = c.after - c.before;
	TH_LOG("16 workers: memory.current +%lld with zstd, +%lld with runs",
	       grew_zstd, grew_zrun);
	EXPECT_GE(grew_zrun - grew_zstd, 16 * 12 * KIB)
		TH_LOG("run buffers are not charged to the caller");
	EXPECT_LE(c.closed, c.before + STOCK_SLACK)
		TH_LOG("%lld bytes still charged after close",
		       c.closed - c.before);
}

TEST_HARNESS_MAIN
