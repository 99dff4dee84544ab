// SPDX-License-Identifier: GPL-2.0
/*
 * Migrations that must fail, cleanly: a destination killed mid-stream, a
 * source speaking another stream version, a destination VM of another
 * size, and a stream damaged on the way by a proxy in this test (a
 * record's address moved outside guest RAM, a frame length inflated, a
 * data channel cut mid-frame). Each time both kmigctls must exit non-zero
 * with a message that names the problem, the destination VMM must be told
 * to quit, and the source VM must run on, its memory intact (its own
 * checker says so).
 */
#include <pthread.h>
#include <stdatomic.h>

#include "kselftest_harness.h"
#include "migrate_harness.h"

/* What the proxy does to the first RAM frame it sees on a data channel. */
enum damage {
	DAMAGE_GPA,	/* record 0's gpa far outside guest RAM */
	DAMAGE_LENGTH,	/* the frame's length field to 2 GiB */
	DAMAGE_CUT,	/* half the frame, then both directions closed */
};

struct proxy {
	int lfd;
	char listen[108];	/* where the source connects */
	char target[108];	/* the destination's unix socket */
	enum damage damage;
	atomic_int done;	/* the damage was done */
};

struct pipe_arg {
	struct proxy *px;
	int from, to;
	bool source_side;	/* frames from the source: parse and damage */
};

static bool read_full(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, (char *)buf + got, len - got);

		if (n <= 0)
			return false;
		got += n;
	}
	return true;
}

static bool write_full(int fd, const void *buf, size_t len)
{
	size_t put = 0;

	while (put < len) {
		ssize_t n = send(fd, (const char *)buf + put, len - put,
				 MSG_NOSIGNAL);

		if (n <= 0)
			return false;
		put += n;
	}
	return true;
}

static void *pipe_main(void *arg)
{
	struct pipe_arg *a = arg;
	uint8_t *buf, hdr[8], pre[16];
	bool data_channel = false;
	uint32_t type, len;

	buf = malloc(16 << 20);
	if (buf && !a->source_side) {
		/* Destination to source: copy as it comes. */
		ssize_t n;

		while ((n = read(a->from, buf, 1 << 16)) > 0)
			if (!write_full(a->to, buf, n))
				break;
		goto out_free;
	}
	if (!buf || !read_full(a->from, pre, sizeof(pre)) ||
	    !write_full(a->to, pre, sizeof(pre)))
		goto out_free;
	while (read_full(a->from, hdr, sizeof(hdr))) {
		memcpy(&type, hdr, 4);
		memcpy(&len, hdr + 4, 4);
		if (len > (16 << 20) || !read_full(a->from, buf, len))
			break;
		/* HELLO: channel number at payload offset 8. */
		if (type == 1 && len >= 12)
			data_channel = buf[8] | buf[9] | buf[10] | buf[11];
		if (type == 4 && data_channel && !atomic_exchange(&a->px->done, 1)) {
			if (a->px->damage == DAMAGE_GPA) {
				uint64_t gpa = 0xfff0000000ULL;

				memcpy(buf + 8, &gpa, 8);	/* record 0 */
			} else if (a->px->damage == DAMAGE_LENGTH) {
				uint32_t big = 0x7fffffff;

				memcpy(hdr + 4, &big, 4);
			} else {
				write_full(a->to, hdr, sizeof(hdr));
				write_full(a->to, buf, len / 2);
				break;
			}
		}
		if (!write_full(a->to, hdr, sizeof(hdr)) ||
		    !write_full(a->to, buf, len))
			break;
	}
out_free:
	free(buf);
	/* Either side gone: take the whole connection down. */
	shutdown(a->from, SHUT_RDWR);
	shutdown(a->to, SHUT_RDWR);
	free(a);
	return NULL;
}

/* Retries like kmigctl does while the destination is not listening yet. */
static int unix_connect(const char *path)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	uint64_t end = mh_now_ms() + 30000;

	snprintf(un.sun_path, sizeof(un.sun_path), "%s", path);
	do {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0)
			return -1;
		if (!connect(fd, (struct sockaddr *)&un, sizeof(un)))
			return fd;
		close(fd);
		mh_sleep_ms(50);
	} while (mh_now_ms() < end);
	return -1;
}

static void *proxy_main(void *arg)
{
	struct proxy *px = arg;
	pthread_t t;

	for (;;) {
		int c = accept(px->lfd, NULL, NULL), d;
		struct pipe_arg *up, *down;

		if (c < 0)
			return NULL;
		d = unix_connect(px->target);
		up = malloc(sizeof(*up));
		down = malloc(sizeof(*down));
		if (d < 0 || !up || !down) {
			close(c);
			free(up);
			free(down);
			continue;
		}
		*up = (struct pipe_arg){ px, c, d, true };
		*down = (struct pipe_arg){ px, d, c, false };
		pthread_create(&t, NULL, pipe_main, up);
		pthread_detach(t);
		pthread_create(&t, NULL, pipe_main, down);
		pthread_detach(t);
	}
}

static int proxy_start(struct proxy *px, const char *dir, enum damage d)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	pthread_t t;

	memset(px, 0, sizeof(*px));
	px->damage = d;
	snprintf(px->listen, sizeof(px->listen), "%s/proxy.sock", dir);
	snprintf(px->target, sizeof(px->target), "%s/mig.sock", dir);
	snprintf(un.sun_path, sizeof(un.sun_path), "%s", px->listen);
	px->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (px->lfd < 0 || bind(px->lfd, (struct sockaddr *)&un, sizeof(un)) ||
	    listen(px->lfd, 32))
		return -1;
	if (pthread_create(&t, NULL, proxy_main, px))
		return -1;
	pthread_detach(t);
	return 0;
}

FIXTURE(fail) {
	struct mh_mig m;
	struct proxy px;
};

FIXTURE_SETUP(fail)
{
	const char *why = mh_unavailable();

	if (why)
		SKIP(return, "%s", why);
	ASSERT_EQ(0, mh_setup(&self->m));
}

FIXTURE_TEARDOWN(fail)
{
	mh_teardown(&self->m);
}

static int start_vmms(struct mh_mig *m, const char *workload,
		      const char *src_mem, const char *dst_mem)
{
	const char *src[] = { "--mem", src_mem, "--workload", workload, NULL };
	const char *dst[] = { "--mem", dst_mem, "--incoming", NULL };

	if (mh_vmm_start(&m->src, m->dir, "src-vmm", src) ||
	    mh_vmm_start(&m->dst, m->dir, "dst-vmm", dst))
		return -1;
	mh_sleep_ms(1000);
	return 0;
}

/*
 * After a failed migration: the source VMM runs, its memory intact; the
 * destination VMM was told to quit; no kmig session is left migrating.
 */
static void source_survives(struct __test_metadata *_metadata,
			    struct mh_mig *m)
{
	char verdict[256];

	EXPECT_TRUE(mh_running(&m->src.proc));
	EXPECT_EQ(1, mh_vmm_check(&m->src, verdict, sizeof(verdict)))
		TH_LOG("source checker: %s", verdict);
	EXPECT_EQ(0, mh_wait(&m->dst.proc, 20000))
		TH_LOG("the destination VMM was not told to quit");
	EXPECT_TRUE(isnan(mh_session_num(m->dir, "tracking", "id")));
}

static bool has(const char *doc, const char *what)
{
	return doc && strstr(doc, what);
}

TEST_F_TIMEOUT(fail, destination_killed_mid_stream, 240)
{
	const char *args[] = { "--channels", "2", "--max-bandwidth", "2", NULL };
	char res[32], line[256];

	ASSERT_EQ(0, start_vmms(&self->m, "random", "64", "64"));
	mh_set_addr(&self->m, false);
	ASSERT_EQ(0, mh_start_incoming(&self->m, NULL));
	ASSERT_EQ(0, mh_start_migrate(&self->m, args, NULL));
	/* In the bulk round, with data flowing. */
	ASSERT_TRUE(mh_wait_line(self->m.mig.err, "round 1 (bulk)", line,
				 sizeof(line), 60000));
	mh_sleep_ms(1500);
	kill(self->m.in.pid, SIGKILL);
	mh_wait_both(&self->m, 60000);
	if (self->m.mig.status != 1)
		mh_dump(&self->m);
	EXPECT_EQ(1, self->m.mig.status);
	EXPECT_EQ(128 + SIGKILL, self->m.in.status);
	EXPECT_STREQ("failed", mh_json_str(self->m.mig_json, "result", res,
					   sizeof(res)));
	EXPECT_TRUE(has(self->m.mig_json, "channel"))
		TH_LOG("error does not name the channel: %s", self->m.mig_json);
	/* Nobody told the destination VMM to quit: its kmigctl died. */
	mh_vmm_stop(&self->m.dst);
	source_survives(_metadata, &self->m);
}

TEST_F_TIMEOUT(fail, wrong_stream_version, 240)
{
	char *env[] = { "KMIG_TEST_STREAM_VERSION=2", NULL };
	const char *args[] = { "--quiet", NULL };
	const char *msg = "stream version 2 is not supported (this kmigctl speaks version 1)";

	ASSERT_EQ(0, start_vmms(&self->m, "counter", "32", "32"));
	mh_set_addr(&self->m, true);
	ASSERT_EQ(0, mh_start_incoming(&self->m, NULL));
	ASSERT_EQ(0, mh_start_migrate(&self->m, args, env));
	mh_wait_both(&self->m, 60000);
	EXPECT_EQ(1, self->m.mig.status);
	EXPECT_EQ(1, self->m.in.status);
	EXPECT_TRUE(has(self->m.mig_json, "the destination rejected the migration: "))
		TH_LOG("%s", self->m.mig_json);
	EXPECT_TRUE(has(self->m.mig_json, msg));
	EXPECT_TRUE(has(self->m.in_json, msg)) TH_LOG("%s", self->m.in_json);
	source_survives(_metadata, &self->m);
}

TEST_F_TIMEOUT(fail, different_ram_size, 240)
{
	const char *args[] = { "--quiet", NULL };

	ASSERT_EQ(0, start_vmms(&self->m, "counter", "64", "32"));
	mh_set_addr(&self->m, false);
	ASSERT_EQ(0, mh_start_incoming(&self->m, NULL));
	ASSERT_EQ(0, mh_start_migrate(&self->m, args, NULL));
	mh_wait_both(&self->m, 60000);
	EXPECT_EQ(1, self->m.mig.status);
	EXPECT_EQ(1, self->m.in.status);
	EXPECT_TRUE(has(self->m.mig_json,
			"guest RAM layouts differ: source 0x0+64M, destination 0x0+32M"))
		TH_LOG("%s", self->m.mig_json);
	source_survives(_metadata, &self->m);
}

/* The migration through the damaging proxy; returns after both ended. */
static void run_damaged(struct __test_metadata *_metadata, FIXTURE_DATA(fail) *self,
			enum damage d)
{
	const char *args[] = { "--channels", "2", "--quiet", NULL };
	char to[160];

	char line[256];

	ASSERT_EQ(0, start_vmms(&self->m, "random", "32", "32"));
	mh_set_addr(&self->m, true);		/* the destination: mig.sock */
	ASSERT_EQ(0, mh_start_incoming(&self->m, NULL));
	ASSERT_TRUE(mh_wait_line(self->m.in.err, "listening on", line,
				 sizeof(line), 30000));
	ASSERT_EQ(0, proxy_start(&self->px, self->m.dir, d));
	/* The source goes through the proxy. */
	snprintf(to, sizeof(to), "unix:%s", self->px.listen);
	memcpy(self->m.addr, to, sizeof(to));
	ASSERT_EQ(0, mh_start_migrate(&self->m, args, NULL));
	mh_wait_both(&self->m, 60000);
	EXPECT_TRUE(atomic_load(&self->px.done));
	if (self->m.mig.status != 1 || self->m.in.status != 1)
		mh_dump(&self->m);
	EXPECT_EQ(1, self->m.mig.status);
	EXPECT_EQ(1, self->m.in.status);
}

TEST_F_TIMEOUT(fail, corrupt_address, 240)
{
	const char *msg = "bad RAM frame: record 0: gpa 0xfff0000000 + ";

	run_damaged(_metadata, self, DAMAGE_GPA);
	EXPECT_TRUE(has(self->m.in_json, msg)) TH_LOG("%s", self->m.in_json);
	EXPECT_TRUE(has(self->m.in_json, "pages is outside guest RAM"));
	/* The destination's reason reaches the source. */
	EXPECT_TRUE(has(self->m.mig_json, "the destination aborted the migration: "))
		TH_LOG("%s", self->m.mig_json);
	EXPECT_TRUE(has(self->m.mig_json, msg));
	source_survives(_metadata, &self->m);
}

TEST_F_TIMEOUT(fail, corrupt_length, 240)
{
	run_damaged(_metadata, self, DAMAGE_LENGTH);
	EXPECT_TRUE(has(self->m.in_json, "RAM frame of 2147483647 bytes (allowed"))
		TH_LOG("%s", self->m.in_json);
	source_survives(_metadata, &self->m);
}

TEST_F_TIMEOUT(fail, truncated_stream, 240)
{
	run_damaged(_metadata, self, DAMAGE_CUT);
	EXPECT_TRUE(has(self->m.in_json, "the peer closed the connection mid-frame (truncated stream)"))
		TH_LOG("%s", self->m.in_json);
	source_survives(_metadata, &self->m);
}

/* Each command checks its VMM is on the right side of the migration. */
TEST_F_TIMEOUT(fail, wrong_roles, 120)
{
	const char *src[] = { "--mem", "16", NULL };
	const char *dst[] = { "--mem", "16", "--incoming", NULL };
	const char *in_args[] = { "incoming", "--vmm", NULL, "--listen",
				  NULL, "--json", NULL };
	const char *mig_args[] = { "migrate", "--vmm", NULL, "--to",
				   "tcp:127.0.0.1:1", "--json", "--quiet", NULL };
	char addr[160], *out = NULL;

	ASSERT_EQ(0, mh_vmm_start(&self->m.src, self->m.dir, "src-vmm", src));
	ASSERT_EQ(0, mh_vmm_start(&self->m.dst, self->m.dir, "dst-vmm", dst));
	snprintf(addr, sizeof(addr), "unix:%s/x.sock", self->m.dir);
	in_args[2] = self->m.src.sock;		/* a running VM */
	in_args[4] = addr;
	EXPECT_EQ(1, mh_kmigctl(self->m.dir, "in", in_args, &out, 60000));
	EXPECT_TRUE(has(out, "was not started with --incoming")) TH_LOG("%s", out);
	free(out);
	mig_args[2] = self->m.dst.sock;		/* an empty one */
	EXPECT_EQ(1, mh_kmigctl(self->m.dir, "mig", mig_args, &out, 60000));
	EXPECT_TRUE(has(out, "waits for an incoming migration: it cannot be a source"))
		TH_LOG("%s", out);
	free(out);
}

/* incoming --timeout: nobody comes, it gives up and its VMM quits. */
TEST_F_TIMEOUT(fail, incoming_timeout, 120)
{
	const char *dst[] = { "--mem", "16", "--incoming", NULL };
	const char *extra[] = { "--timeout", "2", NULL };

	ASSERT_EQ(0, mh_vmm_start(&self->m.dst, self->m.dir, "dst-vmm", dst));
	mh_set_addr(&self->m, false);
	ASSERT_EQ(0, mh_start_incoming(&self->m, extra));
	EXPECT_EQ(1, mh_wait(&self->m.in, 60000));
	free(self->m.in_json);
	self->m.in_json = mh_slurp(self->m.in.out);
	EXPECT_TRUE(has(self->m.in_json, "no complete migration within 2 s (--timeout)"))
		TH_LOG("%s", self->m.in_json);
	EXPECT_EQ(0, mh_wait(&self->m.dst.proc, 20000));
}

TEST_HARNESS_MAIN
