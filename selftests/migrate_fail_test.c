// SPDX-License-Identifier: GPL-2.0
/*
 * Migrations that must fail, cleanly: a destination killed mid-stream, a
 * source speaking another stream version, a destination VM of another
 * size, and a stream damaged on the way by fault_proxy
 * (selftests/fault_proxy.c: a record's address moved outside guest RAM, a
 * frame length inflated, a data channel cut mid-frame). Each time both
 * kmigctls must exit non-zero with a message that names the problem (a
 * destination that refuses a source in the handshake logs it and waits on
 * for the real one, until its --timeout), the destination VMM must be
 * told to quit, and the source VM must run on (its memory counter moves),
 * its memory intact (its own checker says so).
 */
#include "kselftest_harness.h"
#include "migrate_harness.h"
#include "test_util.h"

FIXTURE(fail) {
	struct mh_mig m;
	struct mh_proc proxy;
};

FIXTURE_SETUP(fail)
{
	const char *why = mh_unavailable();

	if (why)
		SETUP_SKIP("%s", why);
	ASSERT_EQ(0, mh_setup(&self->m));
}

FIXTURE_TEARDOWN(fail)
{
	char sock[PATH_MAX];

	mh_kill(&self->proxy);
	/*
	 * A killed proxy leaves its socket; the teardown's copy of the logs
	 * onto the sandbox's 9p share would try to recreate it there.
	 */
	if (self->m.dir[0]) {
		snprintf(sock, sizeof(sock), "%s/proxy.sock", self->m.dir);
		unlink(sock);
	}
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

	/* Runs: the counter in its memory moves (a paused one would not). */
	EXPECT_EQ(1, mh_guest_runs(&m->src))
		TH_LOG("the source guest does not run");
	EXPECT_EQ(1, mh_vmm_check(&m->src, verdict, sizeof(verdict)))
		TH_LOG("source checker: %s", verdict);
	EXPECT_EQ(0, mh_wait(&m->dst.proc, 20000))
		TH_LOG("the destination VMM was not told to quit");
	EXPECT_TRUE(isnan(mh_session_num(m->dir, "tracking", "id")));
}

/* A destination that refuses a source keeps waiting, up to --timeout. */
static const char *const in_timeout[] = { "--timeout", "8", NULL };

static void refused_then_gave_up(struct __test_metadata *_metadata,
				 struct mh_mig *m, const char *why)
{
	EXPECT_EQ(1, m->in.status);
	EXPECT_EQ(1, mh_json_num(m->in_json, "refused")) TH_LOG("%s", m->in_json);
	EXPECT_TRUE(mh_json_has(m->in_json, "refused_last", why))
		TH_LOG("%s", m->in_json);
	EXPECT_TRUE(mh_json_has(m->in_json, "error",
				"no complete migration within 8 s (--timeout)"))
		TH_LOG("%s", m->in_json);
}

TEST_F_TIMEOUT(fail, destination_killed_mid_stream, 240)
{
	const char *args[] = { "--channels", "2", "--max-bandwidth", "2", NULL };
	char res[32], line[256];

	ASSERT_EQ(0, start_vmms(&self->m, "counter", "64", "64"));
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
	EXPECT_TRUE(mh_json_has(self->m.mig_json, "error", "channel"))
		TH_LOG("the error does not name the channel: %s", self->m.mig_json);
	/* Nobody told the destination VMM to quit: its kmigctl died. */
	mh_vmm_stop(&self->m.dst);
	source_survives(_metadata, &self->m);
}

TEST_F_TIMEOUT(fail, wrong_stream_version, 240)
{
	char *env[] = { "KMIG_TEST_STREAM_VERSION=1", NULL };
	const char *args[] = { "--quiet", NULL };
	const char *msg = "stream version 1 is not supported (this kmigctl speaks version 3)";

	ASSERT_EQ(0, start_vmms(&self->m, "counter", "32", "32"));
	mh_set_addr(&self->m, true);
	ASSERT_EQ(0, mh_start_incoming(&self->m, in_timeout));
	ASSERT_EQ(0, mh_start_migrate(&self->m, args, env));
	mh_wait_both(&self->m, 60000);
	EXPECT_EQ(1, self->m.mig.status);
	EXPECT_TRUE(mh_json_has(self->m.mig_json, "error", "the destination rejected the migration: "))
		TH_LOG("%s", self->m.mig_json);
	EXPECT_TRUE(mh_json_has(self->m.mig_json, "error", msg));
	refused_then_gave_up(_metadata, &self->m, msg);
	source_survives(_metadata, &self->m);
}

TEST_F_TIMEOUT(fail, different_ram_size, 240)
{
	const char *args[] = { "--quiet", NULL };

	const char *msg = "guest RAM layouts differ: source 0x0+64M, destination 0x0+32M";

	ASSERT_EQ(0, start_vmms(&self->m, "counter", "64", "32"));
	mh_set_addr(&self->m, false);
	ASSERT_EQ(0, mh_start_incoming(&self->m, in_timeout));
	ASSERT_EQ(0, mh_start_migrate(&self->m, args, NULL));
	mh_wait_both(&self->m, 60000);
	EXPECT_EQ(1, self->m.mig.status);
	EXPECT_TRUE(mh_json_has(self->m.mig_json, "error", msg)) TH_LOG("%s", self->m.mig_json);
	refused_then_gave_up(_metadata, &self->m, msg);
	source_survives(_metadata, &self->m);
}

/*
 * The migration through fault_proxy injecting @fault (on the first RAM
 * frame of any data channel); returns after both kmigctls ended.
 */
static void run_damaged(struct __test_metadata *_metadata, FIXTURE_DATA(fail) *self,
			const char *fault)
{
	const char *args[] = { "--channels", "2", "--quiet", NULL };
	char listen[160], line[256];

	ASSERT_EQ(0, start_vmms(&self->m, "counter", "32", "32"));
	mh_set_addr(&self->m, true);		/* the destination: mig.sock */
	ASSERT_EQ(0, mh_start_incoming(&self->m, NULL));
	ASSERT_TRUE(mh_wait_line(self->m.in.err, "listening on", line,
				 sizeof(line), 30000));
	snprintf(listen, sizeof(listen), "unix:%s/proxy.sock", self->m.dir);
	ASSERT_EQ(0, mh_start_proxy(&self->proxy, self->m.dir, listen,
				    self->m.addr, fault));
	/* The source goes through the proxy. */
	memcpy(self->m.addr, listen, sizeof(listen));
	ASSERT_EQ(0, mh_start_migrate(&self->m, args, NULL));
	mh_wait_both(&self->m, 60000);
	EXPECT_TRUE(mh_wait_line(self->proxy.out, "fault_proxy: fired ", line,
				 sizeof(line), 1000))
		TH_LOG("the proxy's fault %s never fired", fault);
	if (self->m.mig.status != 1 || self->m.in.status != 1)
		mh_dump(&self->m);
	EXPECT_EQ(1, self->m.mig.status);
	EXPECT_EQ(1, self->m.in.status);
}

TEST_F_TIMEOUT(fail, corrupt_address, 240)
{
	const char *msg = "bad RAM frame: record 0: gpa 0xfff0000000 + ";

	run_damaged(_metadata, self, "corrupt-gpa@RAM");
	EXPECT_TRUE(mh_json_has(self->m.in_json, "error", msg)) TH_LOG("%s", self->m.in_json);
	EXPECT_TRUE(mh_json_has(self->m.in_json, "error", "pages is outside guest RAM"));
	/* The destination's reason reaches the source. */
	EXPECT_TRUE(mh_json_has(self->m.mig_json, "error", "the destination aborted the migration: "))
		TH_LOG("%s", self->m.mig_json);
	EXPECT_TRUE(mh_json_has(self->m.mig_json, "error", msg));
	source_survives(_metadata, &self->m);
}

TEST_F_TIMEOUT(fail, corrupt_length, 240)
{
	run_damaged(_metadata, self, "corrupt-length@RAM");
	EXPECT_TRUE(mh_json_has(self->m.in_json, "error", "RAM frame of 2147483647 bytes (allowed"))
		TH_LOG("%s", self->m.in_json);
	source_survives(_metadata, &self->m);
}

TEST_F_TIMEOUT(fail, truncated_stream, 240)
{
	run_damaged(_metadata, self, "truncate@RAM");
	EXPECT_TRUE(mh_json_has(self->m.in_json, "error", "the peer closed the connection mid-frame (truncated stream)"))
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
				   "tcp:127.0.0.1:1", "--json", "--quiet",
				   "--insecure", NULL };
	char addr[160], *out = NULL;

	ASSERT_EQ(0, mh_vmm_start(&self->m.src, self->m.dir, "src-vmm", src));
	ASSERT_EQ(0, mh_vmm_start(&self->m.dst, self->m.dir, "dst-vmm", dst));
	snprintf(addr, sizeof(addr), "unix:%s/x.sock", self->m.dir);
	in_args[2] = self->m.src.sock;		/* a running VM */
	in_args[4] = addr;
	EXPECT_EQ(1, mh_kmigctl(self->m.dir, "in", in_args, &out, 60000));
	EXPECT_TRUE(mh_json_has(out, "error", "was not started with --incoming")) TH_LOG("%s", out);
	free(out);
	mig_args[2] = self->m.dst.sock;		/* an empty one */
	EXPECT_EQ(1, mh_kmigctl(self->m.dir, "mig", mig_args, &out, 60000));
	EXPECT_TRUE(mh_json_has(out, "error",
				"waits for an incoming migration: it cannot be a source"))
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
	EXPECT_TRUE(mh_json_has(self->m.in_json, "error", "no complete migration within 2 s (--timeout)"))
		TH_LOG("%s", self->m.in_json);
	EXPECT_EQ(0, mh_wait(&self->m.dst.proc, 20000));
}

TEST_HARNESS_MAIN
