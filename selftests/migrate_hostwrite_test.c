// SPDX-License-Identifier: GPL-2.0
/*
 * Writes the VMM itself makes into guest RAM, across a live migration.
 * KVM's dirty log sees only the guest's own writes; kmig-vmm's host-write
 * device fills guest pages from userspace, as a virtio device completes
 * requests, and reports them with KMIG_DIRTY_MARK (user/vmm/mark.h).
 *
 * The source runs the hostwrite workload: the guest keeps asking the
 * device to fill the pages of a 32 MiB region in turn, each request
 * completed through a used ring page the device writes as well. It is
 * migrated with dirty tracking over several rounds, and the destination's
 * own checker must find every completed request's page filled and the
 * used ring where the guest's count of completions says.
 *
 * The same migration with the source started with --no-dirty-mark must
 * fail that check: after the bulk round has read them, nothing tells kmig
 * that the ring page and the data pages changed, so the destination runs
 * with stale ones. Deterministic: at 512 requests a second, hundreds are
 * completed between the bulk round and the switchover (three dirty rounds
 * at least, --downtime-limit 0 --max-rounds 3), and the destination's
 * guest, which starts where the source's stopped, refills the stale pages
 * only after a whole sweep of the region (16 s), long after the check.
 */
#include "kselftest_harness.h"
#include "test_util.h"
#include "migrate_harness.h"

/* 2 MiB/s: 512 requests a second over all vCPUs, 32 MiB of region. */
#define HW_WORKLOAD	"hostwrite:2:32"

FIXTURE(hostwrite) {
	struct mh_mig m;
};

FIXTURE_VARIANT(hostwrite) {
	bool dirty_mark;	/* false: the source runs with --no-dirty-mark */
	const char *vcpus;
	const char *dirty_ring;	/* entries, or NULL for the bitmap */
};

FIXTURE_VARIANT_ADD(hostwrite, marked) {
	.dirty_mark = true, .vcpus = "1",
};

FIXTURE_VARIANT_ADD(hostwrite, marked_2vcpu_ring) {
	.dirty_mark = true, .vcpus = "2", .dirty_ring = "4096",
};

FIXTURE_VARIANT_ADD(hostwrite, unmarked) {
	.dirty_mark = false, .vcpus = "1",
};

FIXTURE_SETUP(hostwrite)
{
	const char *why = mh_unavailable();

	if (why)
		SETUP_SKIP("%s", why);
	ASSERT_EQ(0, mh_setup(&self->m));
	mh_set_addr(&self->m, false);
}

FIXTURE_TEARDOWN(hostwrite)
{
	mh_teardown(&self->m);
}

/* What the source VMM said about its marks when it quit (mark.c). */
struct marks {
	unsigned long long reported, calls, taken, unreported;
};

static bool read_marks(const char *err_path, struct marks *mk)
{
	char *log = mh_slurp(err_path);
	const char *p = log ? strstr(log, "kmig-vmm: dirty marks: ") : NULL;
	bool ok;

	ok = p && sscanf(p, "kmig-vmm: dirty marks: %llu pages written by the VMM reported in %llu KMIG_DIRTY_MARK calls, %llu of them taken by a migration; %llu not reported",
			 &mk->reported, &mk->calls, &mk->taken,
			 &mk->unreported) == 4;
	free(log);
	return ok;
}

TEST_F_TIMEOUT(hostwrite, migrate, 120)
{
	const char *src[16] = { "--mem", "64", "--workload", HW_WORKLOAD,
				"--vcpus", variant->vcpus };
	const char *dst[] = { "--mem", "64", "--incoming", "--vcpus",
			      variant->vcpus, NULL };
	const char *mig_args[] = { "--channels", "2", "--downtime-limit", "0",
				   "--max-rounds", "3", "--quiet", NULL };
	struct vmm_status before;
	char verdict[256], res[32];
	struct marks mk;
	int s = 6, check;

	if (!variant->dirty_mark)
		src[s++] = "--no-dirty-mark";
	if (variant->dirty_ring) {
		src[s++] = "--dirty-ring";
		src[s++] = variant->dirty_ring;
	}
	ASSERT_EQ(0, mh_vmm_start(&self->m.src, self->m.dir, "src-vmm", src));
	ASSERT_EQ(0, mh_vmm_start(&self->m.dst, self->m.dir, "dst-vmm", dst));
	/* Some requests completed before the migration, more during it. */
	mh_sleep_ms(1000);
	ASSERT_EQ(0, mh_vmm_status(&self->m.src, &before));
	ASSERT_GT(before.guest_progress, 0ULL)
		TH_LOG("the source guest made no host-write request");
	/* Its own checker passes on the source: the device works. */
	ASSERT_EQ(1, mh_vmm_check(&self->m.src, verdict, sizeof(verdict)))
		TH_LOG("source checker: %s", verdict);

	ASSERT_EQ(0, mh_start_incoming(&self->m, NULL));
	ASSERT_EQ(0, mh_start_migrate(&self->m, mig_args, NULL));
	mh_wait_both(&self->m, 90000);
	if (self->m.mig.status || self->m.in.status)
		mh_dump(&self->m);
	ASSERT_EQ(0, self->m.mig.status);
	ASSERT_EQ(0, self->m.in.status);
	EXPECT_STREQ("completed", mh_json_str(self->m.mig_json, "result", res,
					      sizeof(res)));
	/* bulk, dirty rounds (3 unless one found nothing), final */
	EXPECT_GE(mh_json_num(self->m.mig_json, "rounds"), 3);

	/* The source quit, saying what it marked. */
	ASSERT_EQ(0, mh_wait(&self->m.src.proc, 20000));
	ASSERT_TRUE(read_marks(self->m.src.proc.err, &mk))
		mh_log_tail(self->m.src.proc.err, 800);
	TH_LOG("source VMM: %llu pages reported in %llu calls, %llu taken by the migration, %llu not reported; %.0f rounds, total %.0f ms",
	       mk.reported, mk.calls, mk.taken, mk.unreported,
	       mh_json_num(self->m.mig_json, "rounds"),
	       mh_json_num(self->m.mig_json, "total_ms"));
	if (variant->dirty_mark) {
		EXPECT_EQ(0ULL, mk.unreported);
		/* Data page and ring page for every request, in one call. */
		EXPECT_EQ(2 * mk.calls, mk.reported);
		EXPECT_GT(mk.taken, 0ULL)
			TH_LOG("no mark reached the migration's session");
	} else {
		EXPECT_EQ(0ULL, mk.reported);
		EXPECT_GT(mk.unreported, 0ULL);
	}

	/* The guest runs on at the destination. */
	EXPECT_EQ(1, mh_guest_runs(&self->m.dst))
		TH_LOG("the destination guest does not run");
	check = mh_vmm_check(&self->m.dst, verdict, sizeof(verdict));
	TH_LOG("destination checker: %s", verdict);
	EXPECT_TRUE(!strncmp(verdict, "hostwrite: ", 11));
	if (variant->dirty_mark) {
		EXPECT_EQ(1, check);
	} else {
		/* What the VMM wrote after the bulk round is stale there. */
		EXPECT_EQ(0, check);
		EXPECT_TRUE(strstr(verdict, "used ring") ||
			    strstr(verdict, "does not hold request"));
	}
}

TEST_HARNESS_MAIN
