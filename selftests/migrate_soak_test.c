// SPDX-License-Identifier: GPL-2.0
/*
 * The soak: one guest running the counter workload, migrated back and
 * forth KMIG_SOAK_HOPS times (default 10, about 40 s in the sandbox;
 * `make soak` runs 100) between two "hosts", A and B: hop 1 goes A->B,
 * hop 2 B->A, and so on, each hop to a fresh kmig-vmm --incoming, so the
 * destination of one hop is the source of the next. Hops alternate TCP on
 * 127.0.0.1 and unix sockets, two data channels each.
 *
 * After every hop, what a user would look at: both kmigctls exit 0 and
 * report "completed"; the source's report says its VM quit and the source
 * VMM did exit 0 (the commit protocol: after the ACK the source never runs
 * the guest again); on the destination the guest runs (its counter moves
 * on), it carries on from where the source left it (the counter did not
 * start over) and its own memory checker passes. Nothing piles up: the
 * test holds as many files as before the first hop, and its only child
 * is the VMM that runs the guest now; kmig.ko's object counters (its
 * debugfs objects file, when the module has one) are back to zero once
 * the hop's kmigctls exited.
 *
 * Each hop's timings go out as TAP diagnostics, and a last line sums up:
 * "# soak: N hops, total T s, ...".
 */
#include "kselftest_harness.h"
#include "test_util.h"
#include "migrate_harness.h"

#define SOAK_MEM		"32"	/* MiB */
#define SOAK_DEFAULT_HOPS	10
#define SOAK_MAX_HOPS		10000

FIXTURE(soak) {
	struct mh_mig m;	/* src: the VMM running the guest now */
	struct mh_vmm old;	/* a hop's source, until it is gone */
};

FIXTURE_SETUP(soak)
{
	const char *why = mh_unavailable();

	if (why)
		SETUP_SKIP("%s", why);
	ASSERT_EQ(0, mh_setup(&self->m));
}

FIXTURE_TEARDOWN(soak)
{
	mh_vmm_stop(&self->old);
	mh_teardown(&self->m);
}

static int soak_hops(void)
{
	const char *s = getenv("KMIG_SOAK_HOPS");
	char *end;
	long n;

	if (!s || !*s)
		return SOAK_DEFAULT_HOPS;
	n = strtol(s, &end, 10);
	return *end || n < 1 || n > SOAK_MAX_HOPS ? -1 : (int)n;
}

/* min, sum and max of one per-hop quantity. */
struct soak_stat {
	double min, sum, max;
	int n;
};

static void soak_add(struct soak_stat *s, double v)
{
	if (isnan(v))
		return;
	if (!s->n || v < s->min)
		s->min = v;
	if (!s->n || v > s->max)
		s->max = v;
	s->sum += v;
	s->n++;
}

static double soak_avg(const struct soak_stat *s)
{
	return s->n ? s->sum / s->n : NAN;
}

/*
 * Both kmigctls to their end, and their reports; a destination that waits
 * for a source that already gave up gets 5 s, not the whole bound.
 */
static void soak_wait(struct mh_mig *m)
{
	mh_wait(&m->mig, 180000);
	mh_wait(&m->in, m->mig.status ? 5000 : 60000);
	mh_kill(&m->in);
	free(m->mig_json);
	free(m->in_json);
	m->mig_json = mh_slurp(m->mig.out);
	m->in_json = mh_slurp(m->in.out);
}

/* The guest's progress counter, or -1 when its VMM does not answer. */
static double soak_progress(struct mh_vmm *v)
{
	struct vmm_status st;

	return mh_vmm_status(v, &st) ? -1 : (double)st.guest_progress;
}

/* Timings and the page counts of the slowest hop are what a soak shows. */
TEST_F_TIMEOUT(soak, back_and_forth, 7200)
{
	const char *const vmm_src[] = { "--mem", SOAK_MEM, "--workload",
					"counter", NULL };
	const char *const vmm_dst[] = { "--mem", SOAK_MEM, "--incoming", NULL };
	const char *const mig_args[] = { "--channels", "2", "--quiet", NULL };
	struct soak_stat wall = {}, total = {}, down = {}, rounds = {};
	int hops = soak_hops(), fds, hop, kids;
	uint64_t soak_start;
	char verdict[256], res[32], left[512], name[32];
	pid_t kid[4] = {};
	int objects;

	ASSERT_LT(0, hops) TH_LOG("KMIG_SOAK_HOPS must be 1..%d", SOAK_MAX_HOPS);
	fds = mh_count_fds();
	ASSERT_LE(0, fds);
	ASSERT_EQ(0, mh_children(kid, 4)) TH_LOG("children before the soak");

	/* Host A boots the guest. */
	ASSERT_EQ(0, mh_vmm_start(&self->m.src, self->m.dir, "vmm-0", vmm_src));
	ASSERT_EQ(1, mh_guest_runs(&self->m.src))
		TH_LOG("the guest does not run on A");
	soak_start = mh_now_ms();

	for (hop = 1; hop <= hops; hop++) {
		const char *from = hop % 2 ? "A" : "B", *to = hop % 2 ? "B" : "A";
		bool unix_socket = !(hop % 2);
		double before, after;
		uint64_t t0 = mh_now_ms(), t_mig;
		const char *mj, *ij;
		int ret;

		snprintf(name, sizeof(name), "vmm-%d", hop);
		ASSERT_EQ(0, mh_vmm_start(&self->m.dst, self->m.dir, name, vmm_dst))
			TH_LOG("hop %d: the destination VMM did not start", hop);
		mh_set_addr(&self->m, unix_socket);
		before = soak_progress(&self->m.src);
		ASSERT_LE(0, before) TH_LOG("hop %d: no VMM_STATUS from %s", hop, from);
		ASSERT_EQ(0, mh_start_incoming(&self->m, NULL));
		ASSERT_EQ(0, mh_start_migrate(&self->m, mig_args, NULL));
		soak_wait(&self->m);
		t_mig = mh_now_ms();
		mj = self->m.mig_json;
		ij = self->m.in_json;
		if (self->m.mig.status || self->m.in.status)
			mh_dump(&self->m);
		ASSERT_EQ(0, self->m.mig.status)
			TH_LOG("hop %d %s->%s: kmigctl migrate", hop, from, to);
		ASSERT_EQ(0, self->m.in.status)
			TH_LOG("hop %d %s->%s: kmigctl incoming", hop, from, to);
		ASSERT_STREQ("completed", mh_json_str(mj, "result", res, sizeof(res)))
			TH_LOG("hop %d: migrate's report", hop);
		ASSERT_STREQ("completed", mh_json_str(ij, "result", res, sizeof(res)))
			TH_LOG("hop %d: incoming's report", hop);
		ASSERT_STREQ("quit", mh_json_str(mj, "source_vm", res, sizeof(res)))
			TH_LOG("hop %d: the source VM after the migration", hop);

		/* The old source is gone; the destination is the guest's host. */
		self->old = self->m.src;
		self->m.src = self->m.dst;
		memset(&self->m.dst, 0, sizeof(self->m.dst));
		ret = mh_wait(&self->old.proc, 20000);
		ASSERT_EQ(0, ret)
			TH_LOG("hop %d: the source VMM on %s %s", hop, from,
			       ret == -ETIMEDOUT ? "still runs" : "did not exit 0");
		memset(&self->old, 0, sizeof(self->old));

		after = soak_progress(&self->m.src);
		ASSERT_EQ(1, mh_guest_runs(&self->m.src))
			TH_LOG("hop %d: the guest does not run on %s", hop, to);
		/* A guest that carries on, not one that started over. */
		ASSERT_LE(before, after)
			TH_LOG("hop %d: the guest's counter went back from %.0f to %.0f",
			       hop, before, after);
		ret = mh_vmm_check(&self->m.src, verdict, sizeof(verdict));
		ASSERT_EQ(1, ret)
			TH_LOG("hop %d: the checker on %s: %s", hop, to, verdict);

		/* Nothing left over from this hop. */
		ASSERT_EQ(fds, mh_count_fds())
			TH_LOG("hop %d: the test's open files grew", hop);
		kids = mh_children(kid, 4);
		ASSERT_EQ(1, kids)
			TH_LOG("hop %d: %d children, not only the VMM %d (first %d)",
			       hop, kids, self->m.src.proc.pid, kid[0]);
		ASSERT_EQ(self->m.src.proc.pid, kid[0]);
		ret = mh_objects_zero(left, sizeof(left), 10000);
		ASSERT_NE(1, ret)
			TH_LOG("hop %d: kmig.ko objects left: %s", hop, left);

		soak_add(&wall, (t_mig - t0) / 1000.0);
		soak_add(&total, mh_json_num(mj, "total_ms"));
		soak_add(&down, mh_json_num(mj, "downtime_ms"));
		soak_add(&rounds, mh_json_num(mj, "rounds"));
		fprintf(stderr,
			"# hop %d/%d %s->%s %s: %.2f s (VMM start to both kmigctls done), migrate total %.0f ms, downtime %.1f ms, %.0f rounds, guest at %.0f pages, %s\n",
			hop, hops, from, to, unix_socket ? "unix" : "tcp",
			(t_mig - t0) / 1000.0, mh_json_num(mj, "total_ms"),
			mh_json_num(mj, "downtime_ms"), mh_json_num(mj, "rounds"),
			after, verdict);
	}

	/* The last kmigctl exited a hop ago: every kmig object is gone. */
	objects = mh_objects_zero(left, sizeof(left), 10000);
	ASSERT_NE(1, objects)
		TH_LOG("kmig.ko objects left after the soak: %s", left);
	mh_vmm_stop(&self->m.src);
	ASSERT_EQ(0, self->m.src.proc.status) TH_LOG("the last VMM's exit");
	ASSERT_EQ(fds, mh_count_fds());
	ASSERT_EQ(0, mh_children(kid, 4)) TH_LOG("children after the soak");

	fprintf(stderr,
		"# soak: %d hops, total %.1f s, hop %.2f/%.2f/%.2f s, migrate total %.0f/%.0f/%.0f ms, downtime %.1f/%.1f/%.1f ms, rounds %.0f/%.1f/%.0f (min/avg/max), %d open files before and after, no children left, kmig objects %s\n",
		hops, (mh_now_ms() - soak_start) / 1000.0,
		wall.min, soak_avg(&wall), wall.max,
		total.min, soak_avg(&total), total.max,
		down.min, soak_avg(&down), down.max,
		rounds.min, soak_avg(&rounds), rounds.max, fds,
		objects ? "not checked (no objects file)" : "all zero");
}

TEST_HARNESS_MAIN
