// SPDX-License-Identifier: GPL-2.0
/*
 * The knobs of `kmigctl migrate` that bound a migration, each with its
 * documented outcome: --max-bandwidth holds the rate over all channels,
 * --max-rounds and --timeout force the switchover of a migration that
 * would not converge (a guest dirtying memory nonstop, --downtime-limit 0),
 * and the VM still arrives whole.
 */
#include "kselftest_harness.h"
#include "test_util.h"
#include "migrate_harness.h"

FIXTURE(limits) {
	struct mh_mig m;
};

FIXTURE_SETUP(limits)
{
	const char *why = mh_unavailable();

	if (why)
		SETUP_SKIP("%s", why);
	ASSERT_EQ(0, mh_setup(&self->m));
	mh_set_addr(&self->m, false);
}

FIXTURE_TEARDOWN(limits)
{
	mh_teardown(&self->m);
}

/* Runs a migration of a source with @workload and @mem MiB; 0 or -1. */
static int run(struct mh_mig *m, const char *workload, const char *mem,
	       const char *const mig_args[])
{
	const char *src[] = { "--mem", mem, "--workload", workload, NULL };
	const char *dst[] = { "--mem", mem, "--incoming", NULL };

	if (mh_vmm_start(&m->src, m->dir, "src-vmm", src) ||
	    mh_vmm_start(&m->dst, m->dir, "dst-vmm", dst))
		return -1;
	mh_sleep_ms(1000);
	if (mh_start_incoming(m, NULL) || mh_start_migrate(m, mig_args, NULL))
		return -1;
	mh_wait_both(m, 200000);
	if (m->mig.status || m->in.status)
		mh_dump(m);
	return 0;
}

static int dst_ok(struct mh_mig *m, char *verdict, size_t n)
{
	mh_sleep_ms(500);
	return mh_vmm_check(&m->dst, verdict, n);
}

/* 32 MiB of random data at 8 MiB/s over 4 channels: about 4 s, not less. */
TEST_F_TIMEOUT(limits, max_bandwidth, 240)
{
	const char *args[] = { "--channels", "4", "--max-bandwidth", "8",
			       "--quiet", NULL };
	double total_s, mib, rate;
	char verdict[256], res[32];

	ASSERT_EQ(0, run(&self->m, "random", "32", args));
	ASSERT_EQ(0, self->m.mig.status);
	ASSERT_EQ(0, self->m.in.status);
	EXPECT_STREQ("completed", mh_json_str(self->m.mig_json, "result", res,
					      sizeof(res)));
	total_s = (mh_json_num(self->m.mig_json, "total_ms") -
		   mh_json_num(self->m.mig_json, "setup_ms")) / 1000;
	mib = mh_json_num(self->m.mig_json, "bytes_sent") / (1 << 20);
	rate = mib / total_s;
	TH_LOG("%.1f MiB in %.2f s: %.2f MiB/s", mib, total_s, rate);
	/* The random pages alone are most of the 32 MiB. */
	EXPECT_GT(mib, 16);
	/* A token bucket's promise: rate x time plus one burst (0.8 MiB). */
	EXPECT_GE(total_s, (mib - 0.8) / 8);
	EXPECT_LE(rate, 8 * 1.05);
	EXPECT_EQ(1, dst_ok(&self->m, verdict, sizeof(verdict)))
		TH_LOG("destination checker: %s", verdict);
}

/*
 * A migration that never converges: the counter guest rewrites all of its
 * 16 MiB every few seconds, and at 8 MiB/s every round lasts long enough
 * to find new dirty pages, which --downtime-limit 0 never accepts. (A
 * paced guest can leave a short round with nothing dirty: that converges.)
 * --max-rounds 2 stops after 2 dirty rounds.
 */
TEST_F_TIMEOUT(limits, max_rounds, 240)
{
	const char *args[] = { "--channels", "2", "--downtime-limit", "0",
			       "--max-bandwidth", "8", "--max-rounds", "2",
			       "--quiet", NULL };
	char verdict[256], sw[32];

	ASSERT_EQ(0, run(&self->m, "counter", "16", args));
	ASSERT_EQ(0, self->m.mig.status);
	ASSERT_EQ(0, self->m.in.status);
	EXPECT_STREQ("max-rounds", mh_json_str(self->m.mig_json, "switchover",
					       sw, sizeof(sw)));
	/* bulk + 2 dirty rounds + the final round */
	EXPECT_EQ(4, mh_json_num(self->m.mig_json, "rounds"));
	EXPECT_EQ(4, mh_json_num(self->m.in_json, "rounds"));
	EXPECT_EQ(1, dst_ok(&self->m, verdict, sizeof(verdict)))
		TH_LOG("destination checker: %s", verdict);
}

/* --max-rounds 0: the switchover follows the bulk round at once. */
TEST_F_TIMEOUT(limits, max_rounds_zero, 240)
{
	const char *args[] = { "--downtime-limit", "0", "--max-bandwidth", "8",
			       "--max-rounds", "0", "--quiet", NULL };
	char verdict[256], sw[32];

	ASSERT_EQ(0, run(&self->m, "counter", "16", args));
	ASSERT_EQ(0, self->m.mig.status);
	EXPECT_STREQ("max-rounds", mh_json_str(self->m.mig_json, "switchover",
					       sw, sizeof(sw)));
	EXPECT_EQ(2, mh_json_num(self->m.mig_json, "rounds"));
	EXPECT_EQ(1, dst_ok(&self->m, verdict, sizeof(verdict)))
		TH_LOG("destination checker: %s", verdict);
}

/*
 * --timeout 3 on a migration that never converges: the switchover comes at
 * the end of the round during which 3 s passed, and the VM arrives whole.
 */
TEST_F_TIMEOUT(limits, timeout_forces_switchover, 240)
{
	const char *args[] = { "--downtime-limit", "0", "--max-bandwidth", "8",
			       "--timeout", "3", "--quiet", NULL };
	char verdict[256], sw[32];

	ASSERT_EQ(0, run(&self->m, "counter", "16", args));
	ASSERT_EQ(0, self->m.mig.status);
	ASSERT_EQ(0, self->m.in.status);
	EXPECT_STREQ("timeout", mh_json_str(self->m.mig_json, "switchover",
					    sw, sizeof(sw)));
	EXPECT_GE(mh_json_num(self->m.mig_json, "total_ms"), 3000);
	EXPECT_GE(mh_json_num(self->m.mig_json, "rounds"), 2);
	EXPECT_EQ(1, dst_ok(&self->m, verdict, sizeof(verdict)))
		TH_LOG("destination checker: %s", verdict);
}

TEST_HARNESS_MAIN
