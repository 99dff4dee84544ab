// SPDX-License-Identifier: GPL-2.0
/*
 * Postcopy migrations: the destination VM starts before all of its RAM has
 * arrived, faults on the pages it lacks through userfaultfd, and the
 * source serves them on the preempt channel while the rest streams in the
 * background. Real kmig-vmm guests, real kmigctls, real userfaultfd.
 *
 * What a user checks: both kmigctls report "completed" and postcopy on,
 * the destination's checker passes (a stale or lost page shows), the
 * guest runs there, every discarded page was placed exactly once and none
 * is missing. Then the failures: a guest that dirties faster than the
 * link, which precopy cannot finish and --postcopy auto does; hostile
 * requests and a hostile discard list, refused; the source killed in
 * postcopy, which leaves the destination VM paused, never run on a
 * partial image.
 */
#include "kselftest_harness.h"
#include "test_util.h"
#include "migrate_harness.h"

FIXTURE(postcopy) {
	struct mh_mig m;
};

FIXTURE_VARIANT(postcopy) {
	const char *workload;
	const char *vcpus;
	bool memfd;
	bool unix_socket;
	const char *after;	/* --postcopy-after N; NULL: --postcopy */
	const char *compress;
	bool faults;		/* the guest must fault on discarded pages */
};

FIXTURE_VARIANT_ADD(postcopy, counter_tcp_bulk) {
	.workload = "counter", .vcpus = "1",
};

FIXTURE_VARIANT_ADD(postcopy, random_unix_memfd_bulk) {
	.workload = "random", .vcpus = "1", .memfd = true, .unix_socket = true,
};

FIXTURE_VARIANT_ADD(postcopy, dirty_tcp_2vcpu_after3) {
	.workload = "dirty:16:16", .vcpus = "2", .after = "3", .faults = true,
};

FIXTURE_VARIANT_ADD(postcopy, dirty_unix_memfd_2vcpu_bulk_zstd) {
	.workload = "dirty:16:16", .vcpus = "2", .memfd = true,
	.unix_socket = true, .compress = "zstd", .faults = true,
};

FIXTURE_SETUP(postcopy)
{
	const char *why = mh_unavailable();

	if (why)
		SETUP_SKIP("%s", why);
	ASSERT_EQ(0, mh_setup(&self->m));
}

FIXTURE_TEARDOWN(postcopy)
{
	mh_teardown(&self->m);
}

static int start_vmms(struct mh_mig *m, const char *workload,
		      const char *vcpus, bool memfd)
{
	const char *src[12] = { "--mem", "64", "--workload", workload,
				"--vcpus", vcpus };
	const char *dst[12] = { "--mem", "64", "--incoming", "--vcpus", vcpus };
	int ret;

	if (memfd) {
		src[6] = "--memfd";
		dst[5] = "--memfd";
	}
	ret = mh_vmm_start(&m->src, m->dir, "src-vmm", src);
	if (!ret)
		ret = mh_vmm_start(&m->dst, m->dir, "dst-vmm", dst);
	mh_sleep_ms(1000);
	return ret;
}

/* What every completed postcopy migration must show. */
static void check_completed(struct __test_metadata *_metadata,
			    struct mh_mig *m, bool runs)
{
	const char *mj = m->mig_json, *ij = m->in_json;
	double discarded, placed;
	char verdict[256], res[256];

	if (m->mig.status || m->in.status)
		mh_dump(m);
	ASSERT_EQ(0, m->mig.status);
	ASSERT_EQ(0, m->in.status);
	EXPECT_STREQ("completed", mh_json_str(mj, "result", res, sizeof(res)));
	EXPECT_STREQ("completed", mh_json_str(ij, "result", res, sizeof(res)));
	EXPECT_EQ(1, mh_json_bool(mj, "postcopy.on"));
	EXPECT_EQ(1, mh_json_bool(ij, "postcopy.on"));
	/* Nothing missing, every stale page placed exactly once. */
	discarded = mh_json_num(ij, "postcopy.discarded_pages");
	placed = mh_json_num(ij, "postcopy.urgent_pages") +
		 mh_json_num(ij, "postcopy.background_pages");
	EXPECT_EQ(mh_json_num(mj, "postcopy.discarded_pages"), discarded);
	EXPECT_EQ(0, mh_json_num(ij, "postcopy.missing_pages"));
	EXPECT_EQ(discarded, placed);
	/*
	 * Each page the destination asked for, for a fault or after one, came
	 * back on the preempt channel.
	 */
	EXPECT_EQ(mh_json_num(ij, "postcopy.requests") +
		  mh_json_num(ij, "postcopy.requested_ahead"),
		  mh_json_num(mj, "postcopy.urgent_pages"));
	/* Every byte sent arrived, preempt channel included. */
	EXPECT_EQ(mh_json_num(mj, "bytes_sent"), mh_json_num(ij, "bytes_received"));

	EXPECT_EQ(0, mh_wait(&m->src.proc, 20000))
		TH_LOG("the source VMM did not quit after DONE");
	if (runs)
		EXPECT_EQ(1, mh_guest_runs(&m->dst))
			TH_LOG("the destination guest does not run");
	EXPECT_EQ(1, mh_vmm_check(&m->dst, verdict, sizeof(verdict)))
		TH_LOG("destination checker: %s", verdict);
	TH_LOG("%s; %.0f discarded: %.0f faults, %.0f requested (+%.0f ahead), %.0f urgent + %.0f background (%.0f duplicates), p50 %.0f us p99 %.0f us max %.0f us, blocked %.1f ms, downtime %.1f ms, postcopy %.0f ms",
	       mh_json_str(mj, "postcopy.why", res, sizeof(res)), discarded,
	       mh_json_num(ij, "postcopy.faults"),
	       mh_json_num(ij, "postcopy.requests"),
	       mh_json_num(ij, "postcopy.requested_ahead"),
	       mh_json_num(ij, "postcopy.urgent_pages"),
	       mh_json_num(ij, "postcopy.background_pages"),
	       mh_json_num(ij, "postcopy.duplicates"),
	       mh_json_num(ij, "postcopy.latency_p50_us"),
	       mh_json_num(ij, "postcopy.latency_p99_us"),
	       mh_json_num(ij, "postcopy.latency_max_us"),
	       mh_json_num(ij, "postcopy.vcpu_blocked_ms"),
	       mh_json_num(mj, "downtime_ms"),
	       mh_json_num(ij, "postcopy.postcopy_ms"));
}

TEST_F_TIMEOUT(postcopy, completes, 240)
{
	const char *args[16] = { "--channels", "2", "--quiet" };
	const char *mj, *ij;
	int a = 3;

	if (variant->after) {
		args[a++] = "--postcopy-after";
		args[a++] = variant->after;
		/* Precopy must not converge first: it would end as precopy. */
		args[a++] = "--downtime-limit";
		args[a++] = "0";
	} else {
		args[a++] = "--postcopy";
	}
	if (variant->compress) {
		args[a++] = "--compress";
		args[a++] = variant->compress;
	}
	ASSERT_EQ(0, start_vmms(&self->m, variant->workload, variant->vcpus,
				variant->memfd));
	mh_set_addr(&self->m, variant->unix_socket);
	ASSERT_EQ(0, mh_start_incoming(&self->m, NULL));
	ASSERT_EQ(0, mh_start_migrate(&self->m, args, NULL));
	mh_wait_both(&self->m, 180000);
	check_completed(_metadata, &self->m,
			strcmp(variant->workload, "random") != 0);
	mj = self->m.mig_json;
	ij = self->m.in_json;
	/* The switch came where it was asked for: bulk, or N dirty rounds. */
	EXPECT_EQ(variant->after ? atoi(variant->after) + 1 : 1,
		  mh_json_num(mj, "rounds") - 1);
	if (variant->faults)
		EXPECT_GT(mh_json_num(ij, "postcopy.requests"), 0)
			TH_LOG("the dirty guest never waited for a page");
}

/* What `kmigctl status` on this host said of postcopy while it ran. */
struct pc_watch {
	unsigned int samples;	/* dumps with a destination in postcopy */
	double max_missing, min_missing;
	double faults;		/* in the last sample */
};

/*
 * Until the destination's kmigctl ends: `kmigctl status --json` every
 * 200 ms, as an operator on the destination would watch it, and the
 * "postcopy" object of the session that has one (the destination's).
 */
static void watch_postcopy_status(struct mh_mig *m, struct pc_watch *w)
{
	const char *args[] = { "status", "--json", NULL };
	char path[64], *out;
	unsigned int i;
	double v;

	memset(w, 0, sizeof(*w));
	while (mh_running(&m->in)) {
		out = NULL;
		if (!mh_kmigctl(m->dir, "status", args, &out, 10000) && out) {
			for (i = 0; i < 8; i++) {
				snprintf(path, sizeof(path),
					 "%u.postcopy.missing_pages", i);
				v = mh_json_num(out, path);
				if (v != v)	/* NaN: no such object */
					continue;
				if (!w->samples || v > w->max_missing)
					w->max_missing = v;
				if (!w->samples || v < w->min_missing)
					w->min_missing = v;
				snprintf(path, sizeof(path), "%u.postcopy.faults", i);
				w->faults = mh_json_num(out, path);
				w->samples++;
			}
		}
		free(out);
		mh_sleep_ms(200);
	}
}

/* One migration pair at a time, without the variants above. */
FIXTURE(postcopy_auto) {
	struct mh_mig m;
};

FIXTURE_SETUP(postcopy_auto)
{
	const char *why = mh_unavailable();

	if (why)
		SETUP_SKIP("%s", why);
	ASSERT_EQ(0, mh_setup(&self->m));
}

FIXTURE_TEARDOWN(postcopy_auto)
{
	mh_teardown(&self->m);
}

/*
 * A guest that dirties faster than --max-bandwidth lets precopy send: it
 * does not converge (precopy alone ends at --max-rounds with a downtime
 * estimate over the limit), and --postcopy auto switches, says why, and
 * finishes it with a short pause.
 */
TEST_F_TIMEOUT(postcopy_auto, finishes_what_precopy_cannot, 300)
{
	const char *pre[] = { "--channels", "1", "--quiet", "--max-bandwidth",
			      "8", "--max-rounds", "4", "--downtime-limit",
			      "300", NULL };
	const char *pc[] = { "--channels", "1", "--quiet", "--max-bandwidth",
			     "8", "--postcopy", "auto", "--downtime-limit",
			     "300", NULL };
	struct pc_watch w;
	char res[256];
	const char *mj;

	/* Precopy alone: forced out by --max-rounds, not converged. */
	ASSERT_EQ(0, start_vmms(&self->m, "dirty:32:32", "1", false));
	mh_set_addr(&self->m, false);
	ASSERT_EQ(0, mh_start_incoming(&self->m, NULL));
	ASSERT_EQ(0, mh_start_migrate(&self->m, pre, NULL));
	mh_wait_both(&self->m, 200000);
	mj = self->m.mig_json;
	if (self->m.mig.status)
		mh_dump(&self->m);
	ASSERT_EQ(0, self->m.mig.status);
	EXPECT_STREQ("max-rounds", mh_json_str(mj, "switchover", res, sizeof(res)));
	EXPECT_GT(mh_json_num(mj, "estimated_downtime_ms"), 300);
	TH_LOG("precopy alone: estimated downtime %.0f ms at the switchover, actual %.0f ms",
	       mh_json_num(mj, "estimated_downtime_ms"),
	       mh_json_num(mj, "downtime_ms"));
	mh_teardown(&self->m);

	ASSERT_EQ(0, mh_setup(&self->m));
	ASSERT_EQ(0, start_vmms(&self->m, "dirty:32:32", "1", false));
	mh_set_addr(&self->m, false);
	ASSERT_EQ(0, mh_start_incoming(&self->m, NULL));
	ASSERT_EQ(0, mh_start_migrate(&self->m, pc, NULL));
	watch_postcopy_status(&self->m, &w);
	mh_wait_both(&self->m, 200000);
	check_completed(_metadata, &self->m, true);
	mj = self->m.mig_json;
	/* The destination's host saw postcopy progress: pages coming in. */
	EXPECT_LT(0U, w.samples) TH_LOG("kmigctl status never showed postcopy");
	EXPECT_LT(w.min_missing, w.max_missing)
		TH_LOG("pages missing stayed at %.0f", w.max_missing);
	TH_LOG("kmigctl status during postcopy: %u samples, %.0f down to %.0f pages missing, %.0f faults",
	       w.samples, w.max_missing, w.min_missing, w.faults);
	EXPECT_STREQ("not-converging", mh_json_str(mj, "switchover", res, sizeof(res)));
	EXPECT_TRUE(mh_json_has(mj, "postcopy.why", "cannot converge"));
	EXPECT_LT(mh_json_num(mj, "downtime_ms"), 300);
}

/* `kmigctl postcopy-start`, one migration pair, without variants. */
FIXTURE(postcopy_manual) {
	struct mh_mig m;
};

FIXTURE_SETUP(postcopy_manual)
{
	const char *why = mh_unavailable();

	if (why)
		SETUP_SKIP("%s", why);
	ASSERT_EQ(0, mh_setup(&self->m));
}

FIXTURE_TEARDOWN(postcopy_manual)
{
	mh_teardown(&self->m);
}

/*
 * A dirty:16:16 guest migrated with @args, precopy for @precopy_ms, then
 * `kmigctl postcopy-start` for the session the source announced: true
 * when that command succeeded and said the request was recorded.
 */
static bool migrate_then_request(struct __test_metadata *_metadata,
				 struct mh_mig *m, const char *const args[],
				 unsigned int precopy_ms)
{
	char id[16], *out = NULL;
	const char *start[] = { "postcopy-start", "--json", id, NULL };
	unsigned int n;
	bool ok;

	if (start_vmms(m, "dirty:16:16", "1", false))
		return false;
	mh_set_addr(m, false);
	if (mh_start_incoming(m, NULL) || mh_start_migrate(m, args, NULL))
		return false;
	n = mh_announced_session(m->mig.err, 30000);
	if (!n) {
		TH_LOG("the source announced no kmig session");
		return false;
	}
	mh_sleep_ms(precopy_ms);
	if (!mh_running(&m->mig)) {
		TH_LOG("the source ended early");
		return false;
	}
	snprintf(id, sizeof(id), "%u", n);
	ok = !mh_kmigctl(m->dir, "postcopy-start", start, &out, 30000) &&
	     mh_json_bool(out, "requested") == 1;
	if (!ok)
		TH_LOG("kmigctl postcopy-start %s: %s", id, out ? out : "");
	free(out);
	return ok;
}

/*
 * --postcopy=manual is precopy until `kmigctl postcopy-start N` for the
 * session the source announced; then the source switches to postcopy at
 * the end of its round, says why, and the migration completes whole. A
 * zero --downtime-limit keeps precopy from converging first.
 */
TEST_F_TIMEOUT(postcopy_manual, switches_on_postcopy_start, 300)
{
	const char *args[] = { "--channels", "1", "--max-bandwidth", "4",
			       "--postcopy=manual", "--downtime-limit", "0",
			       NULL };
	char res[256];

	/* Precopy for a while first: manual means not before asked. */
	ASSERT_TRUE(migrate_then_request(_metadata, &self->m, args, 3000));
	mh_wait_both(&self->m, 200000);
	check_completed(_metadata, &self->m, true);
	EXPECT_STREQ("postcopy", mh_json_str(self->m.mig_json, "switchover",
					     res, sizeof(res)));
	EXPECT_TRUE(mh_json_has(self->m.mig_json, "postcopy.why",
				"postcopy-start"))
		TH_LOG("postcopy.why: %s", mh_json_str(self->m.mig_json,
						       "postcopy.why", res,
						       sizeof(res)));
}

/*
 * postcopy-start for a migration without --postcopy: it has no preempt
 * channel and the destination no userfaultfd, so it cannot switch; the
 * source says so and the migration ends as precopy, whole.
 */
TEST_F_TIMEOUT(postcopy_manual, without_postcopy_goes_on_with_precopy, 300)
{
	const char *args[] = { "--channels", "1", "--max-bandwidth", "4",
			       "--downtime-limit", "0", "--max-rounds", "4",
			       NULL };
	char res[256], verdict[256], *err;

	ASSERT_TRUE(migrate_then_request(_metadata, &self->m, args, 2000));
	mh_wait_both(&self->m, 200000);
	if (self->m.mig.status || self->m.in.status)
		mh_dump(&self->m);
	ASSERT_EQ(0, self->m.mig.status);
	ASSERT_EQ(0, self->m.in.status);
	EXPECT_STREQ("completed", mh_json_str(self->m.mig_json, "result", res,
					      sizeof(res)));
	EXPECT_EQ(0, mh_json_bool(self->m.mig_json, "postcopy.on"));
	EXPECT_EQ(0, mh_json_bool(self->m.in_json, "postcopy.on"));
	/* The operator is told why the request changed nothing. */
	err = mh_slurp(self->m.mig.err);
	ASSERT_NE(NULL, err);
	EXPECT_NE(NULL, strstr(err, "postcopy-start requested"))
		TH_LOG("source stderr: %s", err);
	free(err);
	EXPECT_EQ(1, mh_guest_runs(&self->m.dst))
		TH_LOG("the destination guest does not run");
	EXPECT_EQ(1, mh_vmm_check(&self->m.dst, verdict, sizeof(verdict)))
		TH_LOG("destination checker: %s", verdict);
}

FIXTURE(postcopy_fail) {
	struct mh_mig m;
	char hold[128];
};

FIXTURE_SETUP(postcopy_fail)
{
	const char *why = mh_unavailable();

	if (why)
		SETUP_SKIP("%s", why);
	ASSERT_EQ(0, mh_setup(&self->m));
	snprintf(self->hold, sizeof(self->hold), "%s/hold", self->m.dir);
}

FIXTURE_TEARDOWN(postcopy_fail)
{
	mh_teardown(&self->m);
}

/* Runs a postcopy migration with @env for the side @on ("src", "dst"). */
static int run_misbehaving(struct mh_mig *m, const char *on, const char *what)
{
	static char env[96];
	char *envp[] = { env, NULL };
	const char *args[] = { "--channels", "1", "--quiet", "--postcopy", NULL };
	int ret;

	snprintf(env, sizeof(env), "KMIG_TEST_MISBEHAVE=%s", what);
	ret = start_vmms(m, "dirty:16:16", "1", false);
	mh_set_addr(m, false);
	if (!ret)
		ret = mh_start_incoming_env(m, NULL, strcmp(on, "dst") ? NULL : envp);
	if (!ret)
		ret = mh_start_migrate(m, args, strcmp(on, "src") ? NULL : envp);
	mh_wait_both(m, 120000);
	return ret;
}

/* The VMM runs, but its guest is paused: not gone, not running. */
static void check_paused(struct __test_metadata *_metadata, struct mh_vmm *v,
			 const char *who)
{
	struct vmm_status st;

	ASSERT_TRUE(mh_running(&v->proc)) TH_LOG("the %s VMM is gone", who);
	ASSERT_EQ(0, mh_vmm_status(v, &st));
	EXPECT_TRUE(!!(st.flags & VMM_ST_PAUSED))
		TH_LOG("the %s guest is not paused (flags 0x%x)", who, st.flags);
	EXPECT_EQ(0, mh_guest_runs(v)) TH_LOG("the %s guest runs", who);
}

/*
 * Requests for a page outside guest RAM, or for one page twice (a flood):
 * the source serves neither. It is past the point of no return, so its
 * VM stays paused with its pages (exit 5), and the destination, cut off,
 * pauses the VM it cannot complete.
 */
static void hostile_request(struct __test_metadata *_metadata,
			    struct mh_mig *m, const char *what,
			    const char *source_says)
{
	char res[64];

	ASSERT_EQ(0, run_misbehaving(m, "dst", what));
	if (m->mig.status != 5)
		mh_dump(m);
	EXPECT_EQ(5, m->mig.status);
	EXPECT_STREQ("interrupted", mh_json_str(m->mig_json, "result", res, sizeof(res)));
	EXPECT_TRUE(mh_json_has(m->mig_json, "error", source_says))
		TH_LOG("source error: %s",
		       mh_json_str(m->mig_json, "error", res, sizeof(res)));
	EXPECT_EQ(1, m->in.status);
	EXPECT_TRUE(mh_json_has(m->in_json, "vm", "incomplete"));
	check_paused(_metadata, &m->src, "source");
	check_paused(_metadata, &m->dst, "destination");
}

TEST_F_TIMEOUT(postcopy_fail, request_outside_ram_refused, 200)
{
	hostile_request(_metadata, &self->m, "request-outside",
			"not a page of guest RAM");
}

TEST_F_TIMEOUT(postcopy_fail, repeated_request_refused, 200)
{
	hostile_request(_metadata, &self->m, "request-repeat", "again");
}

/*
 * A discard list past guest RAM: the destination refuses it before it
 * touches anything, the VM never left the source (no GO), and runs on.
 */
TEST_F_TIMEOUT(postcopy_fail, discard_outside_ram_refused, 200)
{
	char res[256];

	ASSERT_EQ(0, run_misbehaving(&self->m, "src", "discard-outside"));
	EXPECT_EQ(1, self->m.in.status);
	EXPECT_TRUE(mh_json_has(self->m.in_json, "error", "not inside guest RAM"))
		TH_LOG("destination error: %s",
		       mh_json_str(self->m.in_json, "error", res, sizeof(res)));
	EXPECT_EQ(1, self->m.mig.status);
	EXPECT_EQ(1, mh_guest_runs(&self->m.src))
		TH_LOG("the source guest does not run on");
	EXPECT_EQ(0, mh_wait(&self->m.dst.proc, 20000))
		TH_LOG("the empty destination VMM did not quit");
}

/*
 * The source dies for good in postcopy (kmigctl and VMM killed): the
 * destination says the VM cannot complete and keeps it paused; its VMM
 * refuses to resume a guest whose memory is incomplete.
 */
TEST_F_TIMEOUT(postcopy_fail, source_killed_destination_stays_paused, 200)
{
	const char *args[] = { "--channels", "1", "--quiet", "--postcopy", NULL };
	char env[192], res[256];
	char *envp[] = { env, NULL };
	struct vmm_status st;
	char msg[256];

	snprintf(env, sizeof(env), "KMIG_TEST_HOLD=postcopy:%s", self->hold);
	ASSERT_EQ(0, start_vmms(&self->m, "dirty:16:16", "1", false));
	mh_set_addr(&self->m, false);
	ASSERT_EQ(0, mh_start_incoming(&self->m, NULL));
	ASSERT_EQ(0, mh_start_migrate(&self->m, args, envp));
	for (int i = 0; i < 2400 && access(self->hold, F_OK); i++)
		mh_sleep_ms(50);
	if (access(self->hold, F_OK))
		mh_dump(&self->m);
	ASSERT_EQ(0, access(self->hold, F_OK)) TH_LOG("postcopy never began");
	kill(self->m.mig.pid, SIGKILL);
	kill(self->m.src.proc.pid, SIGKILL);
	mh_wait(&self->m.in, 60000);
	self->m.in_json = mh_slurp(self->m.in.out);
	EXPECT_EQ(1, self->m.in.status);
	EXPECT_TRUE(mh_json_has(self->m.in_json, "vm", "incomplete"))
		TH_LOG("vm: %s", mh_json_str(self->m.in_json, "vm", res, sizeof(res)));
	check_paused(_metadata, &self->m.dst, "destination");
	ASSERT_EQ(0, mh_vmm_status(&self->m.dst, &st));
	EXPECT_TRUE(!!(st.flags & VMM_ST_POSTCOPY));
	EXPECT_EQ(-EPERM, mh_vmm_request(self->m.dst.sock, VMM_RESUME, NULL, 0,
					 msg, sizeof(msg)))
		TH_LOG("VMM_RESUME of an incomplete guest: %s", msg);
	EXPECT_EQ(0, mh_guest_runs(&self->m.dst));
}

/*
 * Recovery. The network breaks in postcopy (fault_proxy cuts every
 * connection at the destination's third page request): the source keeps
 * its VM paused with the pages (exit 5), the destination pauses the VM it
 * cannot complete (exit 1). `kmigctl postcopy-recover` and `kmigctl
 * migrate --resume` reconnect, with the same --auth-key, and the
 * destination asks for every page it still lacks. The first recovery runs
 * through a proxy that cuts again; the second completes, and the guest
 * passes its checker and runs on.
 */
FIXTURE(postcopy_recover) {
	struct mh_mig m;
	struct mh_proc proxy[2], rec[2], res[2];
};

/* Where the network breaks first, and what the source then says. */
FIXTURE_VARIANT(postcopy_recover) {
	const char *fault;
	const char *channel;
	int source_exit;
};

/* While the guest's faults are being served: "interrupted". */
FIXTURE_VARIANT_ADD(postcopy_recover, at_requests) {
	.fault = "cut-all@REQUEST#3", .channel = "data", .source_exit = 5,
};

/*
 * The ACK of postcopy's GO lost: the source cannot know whether the
 * destination runs the VM ("outcome unknown"); it does, and the same
 * recovery carries on.
 */
FIXTURE_VARIANT_ADD(postcopy_recover, at_ack) {
	.fault = "cut-all@ACK#1", .channel = "main", .source_exit = 4,
};

FIXTURE_SETUP(postcopy_recover)
{
	const char *why = mh_unavailable();

	if (why)
		SETUP_SKIP("%s", why);
	ASSERT_EQ(0, mh_setup(&self->m));
}

FIXTURE_TEARDOWN(postcopy_recover)
{
	for (int i = 0; i < 2; i++) {
		mh_kill(&self->proxy[i]);
		mh_kill(&self->rec[i]);
		mh_kill(&self->res[i]);
	}
	mh_teardown(&self->m);
}

static int start_proxy(struct mh_proc *p, const char *dir, const char *name,
		       const char *listen, const char *to, const char *fault,
		       const char *channel)
{
	char log[PATH_MAX], line[256];
	char *argv[] = { MH_PROXY, "--listen", (char *)listen, "--to",
			 (char *)to, "--fault", (char *)fault, "--channel",
			 (char *)channel, "--log", log, NULL };
	int ret;

	snprintf(log, sizeof(log), "%s/%s.log", dir, name);
	ret = mh_spawn(p, dir, name, argv, NULL);
	if (!ret && !mh_wait_line(p->out, "fault_proxy: listening on ", line,
				  sizeof(line), 10000))
		ret = -ETIMEDOUT;
	return ret;
}

/* One recovery: postcopy-recover at @listen, migrate --resume to @to. */
static int recover(struct mh_mig *m, struct mh_proc *rec, struct mh_proc *res,
		   int i, const char *listen, const char *to)
{
	char rname[16], sname[16];
	char *rargv[] = { MH_KMIGCTL, "postcopy-recover", "--vmm", m->dst.sock,
			  "--listen", (char *)listen, "--json", "--auth-key",
			  m->key, NULL };
	char *sargv[] = { MH_KMIGCTL, "migrate", "--resume", "--vmm",
			  m->src.sock, "--to", (char *)to, "--channels", "2",
			  "--json", "--quiet", "--auth-key", m->key, NULL };
	int ret;

	snprintf(rname, sizeof(rname), "recover%d", i);
	snprintf(sname, sizeof(sname), "resume%d", i);
	ret = mh_spawn(rec, m->dir, rname, rargv, NULL);
	if (!ret)
		ret = mh_spawn(res, m->dir, sname, sargv, NULL);
	if (ret)
		return ret;
	mh_wait(res, 150000);
	mh_wait(rec, 30000);
	return 0;
}

TEST_F_TIMEOUT(postcopy_recover, network_cut_twice, 500)
{
	const char *args[] = { "--channels", "2", "--quiet", "--postcopy", NULL };
	char a[6][64], verdict[256], res[512];
	char *rj, *sj;
	int port = 20000 + getpid() % 20000;

	for (int i = 0; i < 6; i++)
		snprintf(a[i], sizeof(a[i]), "tcp:127.0.0.1:%d", port + i);
	ASSERT_EQ(0, start_vmms(&self->m, "dirty:16:32", "1", false));

	/* The migration, through a proxy that cuts the network in postcopy. */
	ASSERT_EQ(0, start_proxy(&self->proxy[0], self->m.dir, "proxy0", a[1],
				 a[0], variant->fault, variant->channel));
	snprintf(self->m.addr, sizeof(self->m.addr), "%s", a[0]);
	ASSERT_EQ(0, mh_start_incoming(&self->m, NULL));
	snprintf(self->m.addr, sizeof(self->m.addr), "%s", a[1]);
	ASSERT_EQ(0, mh_start_migrate(&self->m, args, NULL));
	mh_wait_both(&self->m, 150000);
	if (self->m.mig.status != variant->source_exit || self->m.in.status != 1)
		mh_dump(&self->m);
	ASSERT_EQ(variant->source_exit, self->m.mig.status);
	EXPECT_TRUE(mh_json_has(self->m.mig_json, "error", "--resume"))
		TH_LOG("the source does not say how to carry on");
	ASSERT_EQ(1, self->m.in.status);
	EXPECT_TRUE(mh_json_has(self->m.in_json, "vm", "incomplete"));
	EXPECT_EQ(0, mh_guest_runs(&self->m.dst));

	/* Recovery 1, through a proxy that cuts again. */
	ASSERT_EQ(0, start_proxy(&self->proxy[1], self->m.dir, "proxy1", a[3],
				 a[2], "cut-all@REQUEST#3", "data"));
	ASSERT_EQ(0, recover(&self->m, &self->rec[0], &self->res[0], 0, a[2], a[3]));
	if (self->res[0].status != 5 || self->rec[0].status != 1) {
		mh_log_tail(self->res[0].err, 1500);
		mh_log_tail(self->res[0].out, 1500);
		mh_log_tail(self->rec[0].err, 1500);
		mh_log_tail(self->rec[0].out, 1500);
	}
	EXPECT_EQ(5, self->res[0].status);
	EXPECT_EQ(1, self->rec[0].status);

	/* Recovery 2, straight: it completes. */
	ASSERT_EQ(0, recover(&self->m, &self->rec[1], &self->res[1], 1, a[4], a[4]));
	sj = mh_slurp(self->res[1].out);
	rj = mh_slurp(self->rec[1].out);
	if (self->res[1].status || self->rec[1].status) {
		mh_log_tail(self->res[1].err, 1500);
		mh_log_tail(self->res[1].out, 1500);
		mh_log_tail(self->rec[1].err, 1500);
		mh_log_tail(self->rec[1].out, 1500);
		mh_log_tail(self->m.dst.proc.err, 800);
	}
	ASSERT_EQ(0, self->res[1].status);
	ASSERT_EQ(0, self->rec[1].status);
	EXPECT_STREQ("completed", mh_json_str(sj, "result", res, sizeof(res)));
	EXPECT_STREQ("completed", mh_json_str(rj, "result", res, sizeof(res)));
	EXPECT_EQ(0, mh_json_num(rj, "postcopy.missing_pages"));
	EXPECT_GT(mh_json_num(rj, "postcopy.pulled"), 0);
	EXPECT_EQ(0, mh_wait(&self->m.src.proc, 20000))
		TH_LOG("the source VMM did not quit after DONE");
	EXPECT_EQ(1, mh_guest_runs(&self->m.dst))
		TH_LOG("the destination guest does not run");
	EXPECT_EQ(1, mh_vmm_check(&self->m.dst, verdict, sizeof(verdict)))
		TH_LOG("destination checker: %s", verdict);
	TH_LOG("recovered: %.0f pages were missing, %.0f pulled, %.0f faults, %.0f placed urgently; %s",
	       mh_json_num(rj, "postcopy.discarded_pages"),
	       mh_json_num(rj, "postcopy.pulled"),
	       mh_json_num(rj, "postcopy.faults"),
	       mh_json_num(rj, "postcopy.urgent_pages"), verdict);
	free(sj);
	free(rj);
}

TEST_HARNESS_MAIN
