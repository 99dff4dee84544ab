// SPDX-License-Identifier: GPL-2.0
/*
 * Live migrations that must succeed: two kmig-vmm processes (the source
 * running a workload, the destination started with --incoming) and two
 * kmigctl processes, over TCP on 127.0.0.1 and over unix sockets, with 1 to
 * 4 data channels, anonymous and memfd RAM, bitmap and ring dirty logging.
 *
 * Each migration must end with both kmigctls reporting "completed", the
 * source VMM gone, the destination running and its own checker finding
 * the workload's memory consistent (for the counter workload: QEMU's
 * migration-test invariant, every page one step from its neighbour, so a
 * lost or stale page shows). The reports must add up: both sides count
 * the same pages, the bulk round covers all of RAM, every channel carried
 * data. With --compress zstd the destination decompresses in the kernel,
 * and text must arrive in far fewer bytes than it has.
 */
#include "kselftest_harness.h"
#include "test_util.h"
#include "migrate_harness.h"

FIXTURE(migrate) {
	struct mh_mig m;
};

FIXTURE_VARIANT(migrate) {
	const char *workload;
	const char *mem;	/* MiB */
	const char *channels;
	const char *workers;	/* NULL: as many as channels */
	bool unix_socket;
	bool memfd;
	const char *vcpus;
	const char *dirty_ring;	/* entries, or NULL for the bitmap */
	const char *compress;	/* --compress, or NULL */
};

FIXTURE_VARIANT_ADD(migrate, counter_tcp_1ch) {
	.workload = "counter", .mem = "64", .channels = "1", .vcpus = "1",
};

FIXTURE_VARIANT_ADD(migrate, counter_unix_4ch_memfd) {
	.workload = "counter", .mem = "64", .channels = "4", .unix_socket = true,
	.memfd = true, .vcpus = "1",
};

/* More channels than rings: frames go to whichever channel is free. */
FIXTURE_VARIANT_ADD(migrate, counter_tcp_3ch_2workers) {
	.workload = "counter", .mem = "64", .channels = "3", .workers = "2",
	.vcpus = "1",
};

FIXTURE_VARIANT_ADD(migrate, zero_tcp_2ch) {
	.workload = "zero", .mem = "64", .channels = "2", .vcpus = "1",
};

FIXTURE_VARIANT_ADD(migrate, idle_tcp_2ch) {
	.workload = "idle", .mem = "64", .channels = "2", .vcpus = "1",
};

FIXTURE_VARIANT_ADD(migrate, text_unix_2ch_memfd) {
	.workload = "text", .mem = "64", .channels = "2", .unix_socket = true,
	.memfd = true, .vcpus = "1",
};

FIXTURE_VARIANT_ADD(migrate, text_tcp_2ch_zstd) {
	.workload = "text", .mem = "64", .channels = "2", .vcpus = "1",
	.compress = "zstd",
};

FIXTURE_VARIANT_ADD(migrate, random_tcp_4ch) {
	.workload = "random", .mem = "64", .channels = "4", .vcpus = "1",
};

FIXTURE_VARIANT_ADD(migrate, dirty_unix_2ch_2vcpu_ring) {
	.workload = "dirty:4:16", .mem = "64", .channels = "2",
	.unix_socket = true, .vcpus = "2", .dirty_ring = "4096",
};

FIXTURE_SETUP(migrate)
{
	const char *why = mh_unavailable();

	if (why)
		SETUP_SKIP("%s", why);
	ASSERT_EQ(0, mh_setup(&self->m));
}

FIXTURE_TEARDOWN(migrate)
{
	mh_teardown(&self->m);
}

/* Both VMMs, the source with the variant's workload, settled for a moment. */
static int start_vmms(struct mh_mig *m, const FIXTURE_VARIANT(migrate) *v)
{
	const char *src[16] = { "--mem", v->mem, "--workload", v->workload,
				"--vcpus", v->vcpus };
	const char *dst[16] = { "--mem", v->mem, "--incoming", "--vcpus",
				v->vcpus };
	int s = 6, d = 5, ret;

	if (v->memfd) {
		src[s++] = "--memfd";
		dst[d++] = "--memfd";
	}
	if (v->dirty_ring) {
		src[s++] = "--dirty-ring";
		src[s++] = v->dirty_ring;
	}
	ret = mh_vmm_start(&m->src, m->dir, "src-vmm", src);
	if (!ret)
		ret = mh_vmm_start(&m->dst, m->dir, "dst-vmm", dst);
	/* Let the workload write something worth migrating. */
	mh_sleep_ms(1000);
	return ret;
}

TEST_F_TIMEOUT(migrate, completes, 240)
{
	const char *mig_args[16] = { "--channels", variant->channels, "--quiet" };
	double ram_pages = atoi(variant->mem) * 256.0, nch;
	char verdict[256], res[32];
	const char *mj, *ij;
	int i, a = 3;

	if (variant->workers) {
		mig_args[a++] = "--workers";
		mig_args[a++] = variant->workers;
	}
	if (variant->compress) {
		mig_args[a++] = "--compress";
		mig_args[a++] = variant->compress;
	}

	ASSERT_EQ(0, start_vmms(&self->m, variant));
	mh_set_addr(&self->m, variant->unix_socket);
	ASSERT_EQ(0, mh_start_incoming(&self->m, NULL));
	ASSERT_EQ(0, mh_start_migrate(&self->m, mig_args, NULL));
	mh_wait_both(&self->m, 180000);
	mj = self->m.mig_json;
	ij = self->m.in_json;
	if (self->m.mig.status || self->m.in.status)
		mh_dump(&self->m);
	ASSERT_EQ(0, self->m.mig.status);
	ASSERT_EQ(0, self->m.in.status);

	/* The source's report. */
	EXPECT_STREQ("completed", mh_json_str(mj, "result", res, sizeof(res)));
	EXPECT_GE(mh_json_num(mj, "rounds"), 2);
	EXPECT_GT(mh_json_num(mj, "downtime_ms"), 0);
	EXPECT_GE(mh_json_num(mj, "total_ms"), mh_json_num(mj, "setup_ms"));
	EXPECT_GT(mh_json_num(mj, "throughput_mib_s"), 0);
	EXPECT_EQ(ram_pages, mh_json_num(mj, "ram_bytes") / 4096);
	/* The bulk round takes every page; later rounds fewer. */
	EXPECT_EQ(ram_pages, mh_json_num(mj, "round_stats.0.pages"));
	EXPECT_GE(mh_json_num(mj, "pages.normal") + mh_json_num(mj, "pages.zero") +
		  mh_json_num(mj, "pages.hole"), ram_pages);
	/* Fair channel selection: every data channel carried frames. */
	nch = atoi(variant->channels);
	EXPECT_EQ(nch, mh_json_num(mj, "channels"));
	EXPECT_EQ(nch, mh_json_len(mj, "channel_bytes"));
	for (i = 0; i < nch; i++) {
		char key[32];

		snprintf(key, sizeof(key), "channel_bytes.%d", i);
		EXPECT_GT(mh_json_num(mj, key), 0)
			TH_LOG("channel %d carried nothing", i + 1);
	}

	/* The destination received exactly what the source sent. */
	EXPECT_STREQ("completed", mh_json_str(ij, "result", res, sizeof(res)));
	EXPECT_EQ(mh_json_num(mj, "pages.normal"), mh_json_num(ij, "pages.normal"));
	EXPECT_EQ(mh_json_num(mj, "pages.zero"), mh_json_num(ij, "pages.zero"));
	EXPECT_EQ(mh_json_num(mj, "pages.hole"), mh_json_num(ij, "pages.hole"));
	EXPECT_EQ(mh_json_num(mj, "pages.normal"), mh_json_num(ij, "pages_loaded"));
	EXPECT_EQ(mh_json_num(mj, "rounds"), mh_json_num(ij, "rounds"));
	/* Every byte the source wrote arrived, main channel included. */
	EXPECT_EQ(mh_json_num(mj, "bytes_sent"), mh_json_num(ij, "bytes_received"));

	/* Workload-specific: what the pages were. */
	if (!strcmp(variant->workload, "zero"))
		EXPECT_LT(mh_json_num(mj, "pages.normal"), ram_pages / 4);
	if (!strcmp(variant->workload, "random"))
		EXPECT_GT(mh_json_num(mj, "pages.normal"), 0);

	/* Both sides count the same page data, before and after zstd. */
	EXPECT_EQ(mh_json_num(mj, "compression.pages_compressed"),
		  mh_json_num(ij, "compression.pages_compressed"));
	EXPECT_EQ(mh_json_num(mj, "compression.bytes_after"),
		  mh_json_num(ij, "compression.bytes_after"));
	EXPECT_EQ(mh_json_num(mj, "pages.normal") * 4096,
		  mh_json_num(mj, "compression.bytes_before"));
	if (variant->compress) {
		double before = mh_json_num(mj, "compression.bytes_before");
		double after = mh_json_num(mj, "compression.bytes_after");

		EXPECT_STREQ("zstd", mh_json_str(mj, "compression.algorithm", res,
						    sizeof(res)));
		EXPECT_GT(mh_json_num(mj, "compression.pages_compressed"), 0);
		/* Pages, not records, also when a frame holds a run. */
		EXPECT_LE(mh_json_num(mj, "compression.pages_compressed"),
			  mh_json_num(mj, "pages.normal"));
		/* Text: well under half of its size on the wire. */
		EXPECT_LT(after * 2, before);
		EXPECT_LT(mh_json_num(mj, "bytes_sent"), before / 2);
		TH_LOG("zstd: %.0f of %.0f pages compressed, %.0f -> %.0f bytes (ratio %.2f), %.0f bytes sent",
		       mh_json_num(mj, "compression.pages_compressed"),
		       mh_json_num(mj, "pages.normal"), before, after,
		       mh_json_num(mj, "compression.ratio"),
		       mh_json_num(mj, "bytes_sent"));
	} else {
		EXPECT_EQ(0, mh_json_num(mj, "compression.pages_compressed"));
		EXPECT_EQ(mh_json_num(mj, "compression.bytes_before"),
			  mh_json_num(mj, "compression.bytes_after"));
	}

	/* The source quit; the destination runs the guest, and it is whole. */
	EXPECT_EQ(0, mh_wait(&self->m.src.proc, 20000));
	/* Workloads that never end: their counter moves on there. */
	if (!strcmp(variant->workload, "counter") ||
	    !strncmp(variant->workload, "dirty", 5))
		EXPECT_EQ(1, mh_guest_runs(&self->m.dst))
			TH_LOG("the destination guest does not run");
	mh_sleep_ms(500);
	EXPECT_EQ(1, mh_vmm_check(&self->m.dst, verdict, sizeof(verdict)))
		TH_LOG("destination checker: %s", verdict);
	TH_LOG("%s: total %.0f ms, downtime %.1f ms (pause %.1f, sync %.1f, final round %.1f, state %.1f, load %.1f, GO->ACK %.1f), %.0f rounds, %s",
	       variant->workload, mh_json_num(mj, "total_ms"),
	       mh_json_num(mj, "downtime_ms"),
	       mh_json_num(mj, "downtime_parts_ms.pause"),
	       mh_json_num(mj, "downtime_parts_ms.sync"),
	       mh_json_num(mj, "downtime_parts_ms.final_round"),
	       mh_json_num(mj, "downtime_parts_ms.device_state"),
	       mh_json_num(mj, "downtime_parts_ms.destination_load"),
	       mh_json_num(mj, "downtime_parts_ms.go_ack"),
	       mh_json_num(mj, "rounds"), verdict);
}

TEST_HARNESS_MAIN
