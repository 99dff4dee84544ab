// SPDX-License-Identifier: GPL-2.0
/*
 * Cancelling a migration in every phase: `kmigctl cancel` during the bulk
 * round, during a dirty round and during the switchover (the source VM
 * paused), SIGINT to `kmigctl migrate`, and cancelling the destination's
 * session. The source VM must run on afterwards, unharmed, and both
 * kmigctls must say what happened.
 */
#include "kselftest_harness.h"
#include "test_util.h"
#include "migrate_harness.h"

FIXTURE(cancel) {
	struct mh_mig m;
};

FIXTURE_SETUP(cancel)
{
	const char *why = mh_unavailable();

	if (why)
		SETUP_SKIP("%s", why);
	ASSERT_EQ(0, mh_setup(&self->m));
	mh_set_addr(&self->m, false);
}

FIXTURE_TEARDOWN(cancel)
{
	mh_teardown(&self->m);
}

static int start(struct mh_mig *m, const char *workload, const char *mem,
		 const char *const mig_args[], char *const env[])
{
	const char *src[] = { "--mem", mem, "--workload", workload, NULL };
	const char *dst[] = { "--mem", mem, "--incoming", NULL };

	if (mh_vmm_start(&m->src, m->dir, "src-vmm", src) ||
	    mh_vmm_start(&m->dst, m->dir, "dst-vmm", dst))
		return -1;
	mh_sleep_ms(1000);
	if (mh_start_incoming(m, NULL) || mh_start_migrate(m, mig_args, env))
		return -1;
	return 0;
}

static bool has(const char *doc, const char *what)
{
	return doc && strstr(doc, what);
}

/*
 * `kmigctl cancel [ID]`; its exit status, or -1 if it exited 0 but its
 * report (an array of {id, cancelled, error}) says no session cancelled.
 */
static int run_cancel(struct mh_mig *m, const char *id)
{
	const char *args[] = { "cancel", "--json", id, NULL };
	char *out = NULL, path[32];
	int ret = mh_kmigctl(m->dir, "cancel", args, &out, 30000);
	int i, n = mh_json_len(out, "");

	if (ret == 0) {
		ret = -1;
		for (i = 0; i < n && ret; i++) {
			snprintf(path, sizeof(path), "%d.cancelled", i);
			if (mh_json_bool(out, path) == 1)
				ret = 0;
		}
	}
	free(out);
	return ret;
}

/* Is there a round of @kind in the report's "round_stats"? */
static bool has_round(const char *doc, const char *kind)
{
	char path[48], k[16];
	int i, n = mh_json_len(doc, "round_stats");

	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "round_stats.%d.kind", i);
		if (!strcmp(mh_json_str(doc, path, k, sizeof(k)), kind))
			return true;
	}
	return false;
}

/* The source cancelled: exit 3, its VM resumed or never paused, whole. */
static void source_cancelled(struct __test_metadata *_metadata,
			     struct mh_mig *m, const char *why)
{
	char res[32], verdict[256];

	mh_wait_both(m, 60000);
	if (m->mig.status != 3)
		mh_dump(m);
	EXPECT_EQ(3, m->mig.status);
	EXPECT_STREQ("cancelled", mh_json_str(m->mig_json, "result", res,
					      sizeof(res)));
	EXPECT_TRUE(mh_json_has(m->mig_json, "error", why)) TH_LOG("%s", m->mig_json);
	EXPECT_EQ(1, m->in.status);
	EXPECT_TRUE(mh_json_has(m->in_json, "error", "the source aborted the migration: cancelled"))
		TH_LOG("%s", m->in_json);

	EXPECT_TRUE(mh_running(&m->src.proc));
	EXPECT_EQ(1, mh_vmm_check(&m->src, verdict, sizeof(verdict)))
		TH_LOG("source checker: %s", verdict);
	EXPECT_EQ(0, mh_wait(&m->dst.proc, 20000));
	EXPECT_TRUE(isnan(mh_session_num(m->dir, "tracking", "id")));
}

/* `kmigctl cancel ID` for the session the source announced. */
static int cancel_source(struct mh_mig *m)
{
	char id[16];

	snprintf(id, sizeof(id), "%u", mh_announced_session(m->mig.err, 30000));
	return run_cancel(m, id);
}

/*
 * At 1 MiB/s even the few MiB the guest has written take seconds. Cancel
 * without an id: kmigctl lists the sessions while the round runs, which
 * must not wait for the round (netlink never takes the session's lock).
 */
TEST_F_TIMEOUT(cancel, in_bulk_round, 240)
{
	const char *args[] = { "--max-bandwidth", "1", NULL };
	char line[256], *err;

	ASSERT_EQ(0, start(&self->m, "random", "64", args, NULL));
	ASSERT_TRUE(mh_wait_line(self->m.mig.err, "round 1 (bulk)", line,
				 sizeof(line), 60000));
	mh_sleep_ms(1000);
	ASSERT_EQ(0, run_cancel(&self->m, NULL));
	source_cancelled(_metadata, &self->m, "cancelled (kmigctl cancel ");
	/* It was the bulk round: no round finished. */
	EXPECT_EQ(1, mh_json_num(self->m.mig_json, "rounds"));
	err = mh_slurp(self->m.mig.err);
	EXPECT_FALSE(has(err, "round 2")) TH_LOG("%s", err);
	free(err);
	EXPECT_LT(mh_json_num(self->m.mig_json, "bytes_sent"), 32 << 20);
}

TEST_F_TIMEOUT(cancel, in_dirty_round, 240)
{
	const char *args[] = { "--max-bandwidth", "8", "--downtime-limit", "0",
			       NULL };
	char line[256];

	ASSERT_EQ(0, start(&self->m, "counter", "16", args, NULL));
	ASSERT_TRUE(mh_wait_line(self->m.mig.err, "round 3 (dirty)", line,
				 sizeof(line), 120000));
	ASSERT_EQ(0, cancel_source(&self->m));
	source_cancelled(_metadata, &self->m, "cancelled (kmigctl cancel ");
	EXPECT_EQ(3, mh_json_num(self->m.mig_json, "rounds"));
	EXPECT_TRUE(has_round(self->m.mig_json, "dirty"))
		TH_LOG("%s", self->m.mig_json);
}

/*
 * The test hook holds the switchover with the VM paused; cancel it there,
 * without an id: every migrating session (no round runs now).
 */
TEST_F_TIMEOUT(cancel, in_switchover, 240)
{
	const char *args[] = { "--quiet", NULL };
	char hold[128], env0[160], res[32];
	char *env[] = { env0, NULL };
	uint64_t end = mh_now_ms() + 120000;

	snprintf(hold, sizeof(hold), "%s/hold", self->m.dir);
	snprintf(env0, sizeof(env0), "KMIG_TEST_HOLD_SWITCHOVER=%s", hold);
	ASSERT_EQ(0, start(&self->m, "counter", "16", args, env));
	while (access(hold, F_OK) && mh_now_ms() < end)
		mh_sleep_ms(100);
	ASSERT_EQ(0, access(hold, F_OK)) TH_LOG("the switchover never came");
	ASSERT_EQ(0, run_cancel(&self->m, NULL));
	source_cancelled(_metadata, &self->m, "cancelled (kmigctl cancel ");
	/* It had been paused: now resumed, and no downtime was reached. */
	EXPECT_STREQ("resumed", mh_json_str(self->m.mig_json, "source_vm", res,
					    sizeof(res)));
	EXPECT_EQ(JSON_NULL, mh_json_type(self->m.mig_json, "downtime_ms"))
		TH_LOG("%s", self->m.mig_json);
}

TEST_F_TIMEOUT(cancel, sigint, 240)
{
	const char *args[] = { "--max-bandwidth", "1", NULL };
	char line[256];

	ASSERT_EQ(0, start(&self->m, "random", "64", args, NULL));
	ASSERT_TRUE(mh_wait_line(self->m.mig.err, "round 1 (bulk)", line,
				 sizeof(line), 60000));
	mh_sleep_ms(1000);
	kill(self->m.mig.pid, SIGINT);
	source_cancelled(_metadata, &self->m, "cancelled by signal 2");
}

/* Cancelling the destination's session ends the migration from there. */
TEST_F_TIMEOUT(cancel, destination_session, 240)
{
	const char *args[] = { "--max-bandwidth", "1", NULL };
	char id[16], line[256], verdict[256];

	ASSERT_EQ(0, start(&self->m, "random", "64", args, NULL));
	ASSERT_TRUE(mh_wait_line(self->m.mig.err, "round 1 (bulk)", line,
				 sizeof(line), 60000));
	snprintf(id, sizeof(id), "%u", mh_announced_session(self->m.in.err, 1000));
	mh_sleep_ms(1000);
	ASSERT_EQ(0, run_cancel(&self->m, id));
	mh_wait_both(&self->m, 60000);
	if (self->m.in.status != 3)
		mh_dump(&self->m);
	EXPECT_EQ(3, self->m.in.status);
	EXPECT_TRUE(mh_json_has(self->m.in_json, "error", "cancelled (kmigctl cancel ")) TH_LOG("%s", self->m.in_json);
	EXPECT_EQ(1, self->m.mig.status);
	EXPECT_TRUE(mh_json_has(self->m.mig_json, "error", "the destination aborted the migration: cancelled"))
		TH_LOG("%s", self->m.mig_json);
	EXPECT_TRUE(mh_running(&self->m.src.proc));
	EXPECT_EQ(1, mh_vmm_check(&self->m.src, verdict, sizeof(verdict)))
		TH_LOG("source checker: %s", verdict);
}

/* Nothing to cancel: a clear error, not a silent success. */
TEST_F_TIMEOUT(cancel, nothing_to_cancel, 60)
{
	const char *none[] = { "cancel", NULL };
	const char *bogus[] = { "cancel", "--json", "4000000000", NULL };
	char *err = NULL, res[64];

	EXPECT_EQ(1, mh_kmigctl(self->m.dir, "cancel-none", none, NULL, 30000));
	EXPECT_EQ(1, mh_kmigctl(self->m.dir, "cancel-bogus", bogus, &err, 30000));
	EXPECT_STREQ("no such session",
		     mh_json_str(err, "0.error", res, sizeof(res)))
		TH_LOG("%s", err);
	free(err);
}

TEST_HARNESS_MAIN
