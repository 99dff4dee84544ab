// SPDX-License-Identifier: GPL-2.0
/*
 * When precopy switches over (kmigctl/source/policy.c), the --max-bandwidth token
 * bucket measured against the real clock (ratelimit.c), the progress line
 * (progress.c) and the migration reports in both outputs (report.c).
 */
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "kselftest_harness.h"
#include "clock.h"
#include "policy.h"
#include "progress.h"
#include "ratelimit.h"
#include "report.h"
#include "test_util.h"

#define MIB	(1024 * 1024)

/* The decision as an int: the harness compares with signed constants. */
static int decide(const struct precopy_policy *p,
		  const struct precopy_state *s, double *est)
{
	return precopy_decide(p, s, est);
}

#define EXPECT_NEAR(want, got, eps)	EXPECT_TRUE(fabs((double)(want) - (got)) <= (eps))

static const struct precopy_policy limit_300 = {
	.downtime_limit_ms = 300, .max_rounds = POLICY_NO_LIMIT,
};

TEST(converges_under_the_limit)
{
	struct precopy_state s = { .remaining_bytes = 10 * MIB,
				   .bandwidth = 100.0 * MIB };
	double est;

	EXPECT_EQ(SWITCHOVER_CONVERGED, decide(&limit_300, &s, &est));
	EXPECT_NEAR(100.0, est, 0.001);
	s.remaining_bytes = 40 * MIB;	/* 400 ms */
	EXPECT_EQ(SWITCHOVER_NOT_YET, decide(&limit_300, &s, &est));
	EXPECT_NEAR(400.0, est, 0.001);
	s.remaining_bytes = 30 * MIB;	/* exactly the limit */
	EXPECT_EQ(SWITCHOVER_CONVERGED, decide(&limit_300, &s, &est));
}

TEST(nothing_left_converges_without_a_bandwidth)
{
	struct precopy_state s = { 0 };
	double est = -1;

	EXPECT_EQ(SWITCHOVER_CONVERGED, decide(&limit_300, &s, &est));
	EXPECT_EQ(0.0, est);
	s.remaining_bytes = 4096;
	EXPECT_EQ(SWITCHOVER_NOT_YET, decide(&limit_300, &s, &est));
	EXPECT_TRUE(isinf(est));
}

TEST(max_rounds_and_timeout)
{
	struct precopy_policy p = limit_300;
	struct precopy_state s = { .remaining_bytes = 1000 * MIB,
				   .bandwidth = 1.0 * MIB };
	double est;

	p.max_rounds = 0;	/* right after the bulk round */
	EXPECT_EQ(SWITCHOVER_MAX_ROUNDS, decide(&p, &s, &est));
	p.max_rounds = 3;
	s.dirty_rounds = 2;
	EXPECT_EQ(SWITCHOVER_NOT_YET, decide(&p, &s, &est));
	s.dirty_rounds = 3;
	EXPECT_EQ(SWITCHOVER_MAX_ROUNDS, decide(&p, &s, &est));

	p.max_rounds = POLICY_NO_LIMIT;
	p.timeout_ms = 5000;
	s.elapsed_ms = 4999;
	EXPECT_EQ(SWITCHOVER_NOT_YET, decide(&p, &s, &est));
	s.elapsed_ms = 5000;
	EXPECT_EQ(SWITCHOVER_TIMEOUT, decide(&p, &s, &est));
	/* Convergence is reported as such even when a limit is also hit. */
	s.remaining_bytes = 0;
	EXPECT_EQ(SWITCHOVER_CONVERGED, decide(&p, &s, &est));
	EXPECT_STREQ("timeout", switchover_reason_name(SWITCHOVER_TIMEOUT));
	EXPECT_STREQ("none", switchover_reason_name(SWITCHOVER_NOT_YET));
}

/* postcopy_decide() as an int, with the reason it gives. */
static int pc_decide(const struct precopy_policy *p,
		     const struct precopy_state *s, enum switchover_reason r,
		     char *why)
{
	why[0] = 0;
	return postcopy_decide(p, s, r, why, 200);
}

TEST(postcopy_points)
{
	struct precopy_policy p = limit_300;
	struct precopy_state s = { .remaining_bytes = 1000 * MIB,
				   .bandwidth = 10.0 * MIB };
	char why[200];

	/* Off: precopy's decision stands. */
	EXPECT_EQ(SWITCHOVER_NOT_YET, pc_decide(&p, &s, SWITCHOVER_NOT_YET, why));
	EXPECT_EQ(SWITCHOVER_MAX_ROUNDS, pc_decide(&p, &s, SWITCHOVER_MAX_ROUNDS, why));
	/* --postcopy: right after the bulk round, converged or not. */
	p.postcopy = POSTCOPY_AFTER_BULK;
	EXPECT_EQ(SWITCHOVER_POSTCOPY, pc_decide(&p, &s, SWITCHOVER_CONVERGED, why));
	EXPECT_NE(NULL, strstr(why, "bulk"));
	/* --postcopy-after 3: not before 3 dirty rounds; convergence wins. */
	p.postcopy = POSTCOPY_AFTER_N;
	p.postcopy_after = 3;
	s.dirty_rounds = 2;
	EXPECT_EQ(SWITCHOVER_NOT_YET, pc_decide(&p, &s, SWITCHOVER_NOT_YET, why));
	EXPECT_EQ(SWITCHOVER_CONVERGED, pc_decide(&p, &s, SWITCHOVER_CONVERGED, why));
	s.dirty_rounds = 3;
	EXPECT_EQ(SWITCHOVER_POSTCOPY, pc_decide(&p, &s, SWITCHOVER_NOT_YET, why));
	EXPECT_NE(NULL, strstr(why, "after 3 dirty rounds"));
	/* A forced switchover becomes postcopy in every postcopy mode. */
	s.dirty_rounds = 1;
	EXPECT_EQ(SWITCHOVER_POSTCOPY, pc_decide(&p, &s, SWITCHOVER_TIMEOUT, why));
	EXPECT_NE(NULL, strstr(why, "--timeout"));
}

TEST(postcopy_auto_needs_rounds_that_cannot_converge)
{
	struct precopy_policy p = limit_300;
	struct precopy_state s = { .remaining_bytes = 1000 * MIB,
				   .bandwidth = 10.0 * MIB,
				   .dirty_rate = 9.0 * MIB };
	char why[200];

	p.postcopy = POSTCOPY_AUTO;
	s.slow_rounds = POLICY_SLOW_ROUNDS - 1;
	EXPECT_EQ(SWITCHOVER_NOT_YET, pc_decide(&p, &s, SWITCHOVER_NOT_YET, why));
	s.slow_rounds = POLICY_SLOW_ROUNDS;
	EXPECT_EQ(SWITCHOVER_NOT_CONVERGING, pc_decide(&p, &s, SWITCHOVER_NOT_YET, why));
	EXPECT_NE(NULL, strstr(why, "cannot converge")) TH_LOG("%s", why);
	EXPECT_NE(NULL, strstr(why, "9.0 MiB/s")) TH_LOG("%s", why);
	/* Converged anyway: precopy finishes, no postcopy. */
	EXPECT_EQ(SWITCHOVER_CONVERGED, pc_decide(&p, &s, SWITCHOVER_CONVERGED, why));
	EXPECT_STREQ("not-converging", switchover_reason_name(SWITCHOVER_NOT_CONVERGING));
	EXPECT_STREQ("postcopy", switchover_reason_name(SWITCHOVER_POSTCOPY));
}

TEST(postcopy_start_request)
{
	struct precopy_policy p = limit_300;
	struct precopy_state s = { .remaining_bytes = 1000 * MIB,
				   .bandwidth = 10.0 * MIB };
	char why[200];

	/* --postcopy=manual: precopy as if postcopy were off, until asked. */
	p.postcopy = POSTCOPY_MANUAL;
	EXPECT_EQ(SWITCHOVER_NOT_YET, pc_decide(&p, &s, SWITCHOVER_NOT_YET, why));
	s.postcopy_requested = true;
	EXPECT_EQ(SWITCHOVER_POSTCOPY, pc_decide(&p, &s, SWITCHOVER_NOT_YET, why));
	EXPECT_NE(NULL, strstr(why, "postcopy-start")) TH_LOG("%s", why);
	/* Any postcopy mode takes the request; without one there is no channel. */
	p.postcopy = POSTCOPY_AUTO;
	EXPECT_EQ(SWITCHOVER_POSTCOPY, pc_decide(&p, &s, SWITCHOVER_NOT_YET, why));
	p.postcopy = POSTCOPY_OFF;
	EXPECT_EQ(SWITCHOVER_NOT_YET, pc_decide(&p, &s, SWITCHOVER_NOT_YET, why));
}

TEST(bandwidth_needs_a_real_measurement)
{
	/* 64 MiB in 0.5 s. */
	EXPECT_NEAR(128.0 * MIB, bandwidth_update(0, 64 * MIB, NSEC_PER_SEC / 2), 1);
	/* A round of a few pages says nothing about the link. */
	EXPECT_EQ(7.0, bandwidth_update(7.0, 8192, 1000));
	EXPECT_EQ(7.0, bandwidth_update(7.0, 64 * MIB, 0));
}

/* Two threads share 8 MiB/s: 24 MiB between them take about 3 s. */
struct taker {
	struct ratelimit *rl;
	int frames;
};

static void *take_frames(void *arg)
{
	struct taker *t = arg;

	for (int i = 0; i < t->frames; i++)
		ratelimit_take(t->rl, MIB, NULL);
	return NULL;
}

TEST(ratelimit_holds_over_threads)
{
	struct ratelimit rl;
	struct taker t;
	pthread_t a, b;
	uint64_t t0;
	double s;

	ratelimit_init(&rl, 8 * MIB);
	t = (struct taker){ .rl = &rl, .frames = 12 };
	t0 = now_ns();
	ASSERT_EQ(0, pthread_create(&a, NULL, take_frames, &t));
	ASSERT_EQ(0, pthread_create(&b, NULL, take_frames, &t));
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	s = (now_ns() - t0) / 1e9;
	ratelimit_destroy(&rl);
	/* The bucket starts empty; the last frame's debt is paid too. */
	EXPECT_GE(s, 2.9);
	EXPECT_LE(s, 4.0);
}

TEST(ratelimit_unlimited_and_stop)
{
	struct ratelimit rl;
	atomic_int stop = 1;
	uint64_t t0 = now_ns();

	ratelimit_init(&rl, 0);
	ratelimit_take(&rl, 1ULL << 40, NULL);
	ratelimit_destroy(&rl);
	ratelimit_init(&rl, 1);	/* a terabyte at 1 B/s: stop ends the wait */
	ratelimit_take(&rl, 1ULL << 40, &stop);
	ratelimit_destroy(&rl);
	EXPECT_LT(now_ns() - t0, NSEC_PER_SEC / 2);
}

/* A charge goes at once; the next take pays its debt (8 MiB at 8 MiB/s). */
TEST(ratelimit_charge_never_waits_and_the_next_take_pays)
{
	struct ratelimit rl;
	uint64_t t0, t1;

	ratelimit_init(&rl, 8 * MIB);
	t0 = now_ns();
	ratelimit_charge(&rl, 8 * MIB);
	t1 = now_ns();
	ratelimit_take(&rl, 1, NULL);
	ratelimit_destroy(&rl);
	EXPECT_LT(t1 - t0, NSEC_PER_SEC / 20);
	EXPECT_GE(now_ns() - t0, NSEC_PER_SEC * 9 / 10);
	EXPECT_LE(now_ns() - t0, NSEC_PER_SEC * 2);
}

TEST(progress_line)
{
	char line[160];

	progress_format(line, sizeof(line), PHASE_BULK, 1, 8192, 32768,
			52.5 * MIB, 3.25);
	EXPECT_STREQ("round 1 (bulk)   25%  52.5 MiB/s  96.0 MiB left  3.2 s", line);
	progress_format(line, sizeof(line), PHASE_DIRTY, 4, 10, 5, 0, 9);
	EXPECT_STREQ("round 4 (dirty)  100%  0.0 MiB/s  0.0 MiB left  9.0 s", line);
	progress_format(line, sizeof(line), PHASE_SETUP, 0, 0, 0, 0, 1.5);
	EXPECT_STREQ("setup  1.5 s", line);
}

static struct round_stat sample_rounds[2] = {
	{ .round = 1, .bulk = true, .pages = 32768, .normal = 30000,
	  .zero = 2000, .hole = 768, .bytes = 123456789, .ns = 2500000000ULL,
	  .dirty_rate = 3.0 * MIB },
	{ .round = 2, .final = true, .pages = 100, .normal = 100,
	  .bytes = 409600, .ns = 10000000, .dirty_rate = NAN },
};

static void print_sample(struct printer *p)
{
	struct migrate_report r = {
		.result = "completed", .session_id = 0xabc, .kmig_session = 3,
		.to = "tcp:127.0.0.1:4444", .channels = 2, .workers = 2,
		.ram_bytes = 128 << 20, .total_ns = 3000000000ULL,
		.setup_ns = 100000000, .have_downtime = true,
		.downtime_ns = 42500000, .downtime_limit_ms = 300,
		.switchover = "converged", .est_downtime_ms = 12.5,
		.bytes_sent = 123866389, .normal = 30100, .zero = 2000,
		.hole = 768, .nr_rounds = 2, .rounds = sample_rounds,
		.channel_bytes = { 61933194, 61933195 },
	};

	migrate_report_print(p, &r);
}

static char *render(bool json, void (*fn)(struct printer *p))
{
	struct capture c;
	struct printer p;

	if (!capture_begin(&c))
		return NULL;
	print_init(&p, c.fp, json);
	fn(&p);
	return capture_end(&c);
}

TEST(migrate_report_json)
{
	char *out = render(true, print_sample);

	ASSERT_NE(NULL, out);
	EXPECT_NE(NULL, strstr(out, "\"role\":\"source\",\"result\":\"completed\""));
	EXPECT_NE(NULL, strstr(out, "\"session_id\":\"0000000000000abc\""));
	EXPECT_NE(NULL, strstr(out, "\"downtime_ms\":42.500"));
	EXPECT_NE(NULL, strstr(out, "\"pages\":{\"normal\":30100,\"zero\":2000,\"hole\":768}"));
	EXPECT_NE(NULL, strstr(out, "\"channel_bytes\":[61933194,61933195]"));
	EXPECT_NE(NULL, strstr(out, "\"round\":1,\"kind\":\"bulk\",\"pages\":32768"));
	EXPECT_NE(NULL, strstr(out, "\"dirty_rate_mib_s\":3.000"));
	/* The final round has no dirty rate: null, not NaN. */
	EXPECT_NE(NULL, strstr(out, "\"kind\":\"final\""));
	EXPECT_NE(NULL, strstr(out, "\"dirty_rate_mib_s\":null"));
	EXPECT_EQ(NULL, strstr(out, "\"error\""));
	if (have_python3())
		EXPECT_EQ(1, json_is_valid(out));
	free(out);
}

TEST(migrate_report_text)
{
	char *out = render(false, print_sample);

	ASSERT_NE(NULL, out);
	EXPECT_NE(NULL, strstr(out, "migration completed after 3000.000 ms\n"));
	EXPECT_NE(NULL, strstr(out, "  downtime:       42.500 ms (limit 300 ms, estimated 12.500 ms, switchover: converged)\n"));
	EXPECT_NE(NULL, strstr(out, "  pages:          30100 normal, 2000 zero, 768 hole\n"));
	EXPECT_NE(NULL, strstr(out, "      1 bulk         32768   2500.000      47.1        3.0\n"));
	EXPECT_NE(NULL, strstr(out, "      2 final          100     10.000      39.1          -\n"));
	free(out);
}

static void print_failed_incoming(struct printer *p)
{
	struct incoming_report r = {
		.result = "failed", .listen = "unix:/tmp/x",
		.total_ns = 1000000,
	};

	snprintf(r.error, sizeof(r.error), "%s",
		 "data channel 1: bad RAM frame: record 0: gpa 0x8000000 + 1 pages is outside guest RAM");
	incoming_report_print(p, &r);
}

TEST(incoming_report_failed)
{
	char *json = render(true, print_failed_incoming);
	char *text = render(false, print_failed_incoming);

	ASSERT_NE(NULL, json);
	ASSERT_NE(NULL, text);
	EXPECT_NE(NULL, strstr(json, "\"role\":\"destination\",\"result\":\"failed\",\"error\":\"data channel 1: bad RAM frame"));
	EXPECT_NE(NULL, strstr(text, "incoming migration failed after 1.000 ms\n  error:          data channel 1:"));
	if (have_python3())
		EXPECT_EQ(1, json_is_valid(json));
	free(json);
	free(text);
}

TEST_HARNESS_MAIN
