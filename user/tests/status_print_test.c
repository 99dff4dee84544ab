// SPDX-License-Identifier: GPL-2.0
/*
 * `kmigctl status` without a kernel: build the KMIG_NL_CMD_SESSION_GET
 * messages the module sends, parse them as kmigctl does and check the text
 * and JSON it prints.
 */
#include <errno.h>
#include <string.h>

#include <netlink/genl/genl.h>

#include "kselftest_harness.h"
#include "status.h"
#include "test_util.h"

/* Any family id: kmigctl's parser does not look at it. */
#define FAKE_FAMILY	0x20

static struct nl_msg *session_msg_begin(void)
{
	struct nl_msg *msg = nlmsg_alloc();

	if (msg && !genlmsg_put(msg, 0, 0, FAKE_FAMILY, 0, NLM_F_MULTI,
				KMIG_NL_CMD_SESSION_GET, KMIG_GENL_VERSION)) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

/* What the module sends for a session that tracks a VM, padding included. */
static struct nl_msg *tracking_session_msg(void)
{
	struct nl_msg *msg = session_msg_begin();

	if (!msg)
		return NULL;
	if (nla_put_u32(msg, KMIG_A_SESSION_ID, 3) ||
	    nla_put_u32(msg, KMIG_A_SESSION_STATE, KMIG_SESSION_TRACKING) ||
	    nla_put_u32(msg, KMIG_A_SESSION_VM_PID, 4242) ||
	    nla_put_u32(msg, KMIG_A_SESSION_DIRTY_MODE, KMIG_DIRTY_MODE_BITMAP) ||
	    nla_put_u32(msg, KMIG_A_SESSION_MEMSLOTS, 1) ||
	    nla_put(msg, KMIG_A_SESSION_PAD, 0, NULL) ||
	    nla_put_u64(msg, KMIG_A_SESSION_GENERATION, 9) ||
	    nla_put_u64(msg, KMIG_A_SESSION_PAGES, 1024) ||
	    nla_put_u64(msg, KMIG_A_SESSION_DIRTY_PAGES, 1000) ||
	    nla_put_u64(msg, KMIG_A_SESSION_SYNCS, 2) ||
	    nla_put_u64(msg, KMIG_A_SESSION_HARVEST_NS, 2000000) ||
	    nla_put_u64(msg, KMIG_A_SESSION_HARVESTED, 3000)) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

static char *render(bool json, const struct kmig_session_stats *s, size_t nr)
{
	struct capture c;
	struct printer p;

	if (!capture_begin(&c))
		return NULL;
	print_init(&p, c.fp, json);
	status_print(&p, s, nr);
	return capture_end(&c);
}

FIXTURE(sessions) {
	struct kmig_session_stats s[2];
};

FIXTURE_SETUP(sessions)
{
	struct nl_msg *msg = tracking_session_msg();

	ASSERT_NE(NULL, msg);
	ASSERT_EQ(0, session_parse(nlmsg_hdr(msg), &self->s[0]));
	nlmsg_free(msg);

	/* An idle session: the module has nothing else to say about it. */
	msg = session_msg_begin();
	ASSERT_NE(NULL, msg);
	ASSERT_EQ(0, nla_put_u32(msg, KMIG_A_SESSION_ID, 4));
	ASSERT_EQ(0, nla_put_u32(msg, KMIG_A_SESSION_STATE, KMIG_SESSION_IDLE));
	ASSERT_EQ(0, session_parse(nlmsg_hdr(msg), &self->s[1]));
	nlmsg_free(msg);
}

FIXTURE_TEARDOWN(sessions)
{
}

TEST_F(sessions, parse)
{
	const struct kmig_session_stats *s = &self->s[0];

	EXPECT_EQ(3U, s->id);
	EXPECT_EQ((__u32)KMIG_SESSION_TRACKING, s->state);
	EXPECT_EQ(4242U, s->vm_pid);
	EXPECT_EQ((__u32)KMIG_DIRTY_MODE_BITMAP, s->dirty_mode);
	EXPECT_EQ(1U, s->memslots);
	EXPECT_EQ(9ULL, s->generation);
	EXPECT_EQ(1024ULL, s->pages);
	EXPECT_EQ(1000ULL, s->dirty_pages);
	EXPECT_EQ(2ULL, s->syncs);
	EXPECT_EQ(2000000ULL, s->harvest_ns);
	EXPECT_EQ(3000ULL, s->harvested);
	EXPECT_FALSE(SESSION_HAS(s, KMIG_A_SESSION_PAD));
	EXPECT_TRUE(SESSION_HAS(s, KMIG_A_SESSION_HARVESTED));
	EXPECT_FALSE(SESSION_HAS(&self->s[1], KMIG_A_SESSION_PAGES));
}

TEST_F(sessions, text)
{
	char *out = render(false, self->s, 2);

	ASSERT_NE(NULL, out);
	EXPECT_STREQ("session 3:\n"
		     "\tstate:        tracking\n"
		     "\tvm pid:       4242\n"
		     "\tdirty mode:   bitmap\n"
		     "\tmemslots:     1\n"
		     "\tgeneration:   9\n"
		     "\tpages:        1024\n"
		     "\tdirty pages:  1000\n"
		     "\tsyncs:        2\n"
		     "\tharvest time: 2.000 ms\n"
		     "\tharvested:    3000 pages\n"
		     "\tharvest rate: 1500.0 pages/ms\n"
		     "\n"
		     "session 4:\n"
		     "\tstate:        idle\n", out);
	free(out);
}

TEST_F(sessions, json)
{
	char *out = render(true, self->s, 2);

	ASSERT_NE(NULL, out);
	EXPECT_STREQ("[{\"id\":3,\"state\":\"tracking\",\"vm_pid\":4242,"
		     "\"dirty_mode\":\"bitmap\",\"memslots\":1,\"generation\":9,"
		     "\"pages\":1024,\"dirty_pages\":1000,\"syncs\":2,"
		     "\"harvest_ns\":2000000,\"harvest_ms\":2.000,"
		     "\"harvested\":3000,\"harvest_pages_per_ms\":1500.000},"
		     "{\"id\":4,\"state\":\"idle\"}]\n", out);
	if (have_python3())
		EXPECT_EQ(1, json_is_valid(out));
	free(out);
}

/* No rate before the first sync: it would be 0/0. */
TEST_F(sessions, no_rate_without_syncs)
{
	char *out;

	self->s[0].syncs = 0;
	self->s[0].harvest_ns = 0;
	self->s[0].harvested = 0;
	out = render(true, self->s, 1);
	ASSERT_NE(NULL, out);
	EXPECT_EQ(NULL, strstr(out, "harvest_pages_per_ms"));
	EXPECT_NE(NULL, strstr(out, "\"syncs\":0,"));
	free(out);
}

/* A session after a round and a load: the traffic totals (kmig 1.1). */
TEST(traffic)
{
	struct nl_msg *msg = session_msg_begin();
	struct kmig_session_stats s;
	char *text, *json;

	ASSERT_NE(NULL, msg);
	ASSERT_EQ(0, nla_put_u32(msg, KMIG_A_SESSION_ID, 5));
	ASSERT_EQ(0, nla_put_u64(msg, KMIG_A_SESSION_ROUNDS, 3));
	ASSERT_EQ(0, nla_put_u64(msg, KMIG_A_SESSION_SENT_PAGES, 100));
	ASSERT_EQ(0, nla_put_u64(msg, KMIG_A_SESSION_ZERO_PAGES, 10));
	ASSERT_EQ(0, nla_put_u64(msg, KMIG_A_SESSION_HOLE_PAGES, 20));
	ASSERT_EQ(0, nla_put_u64(msg, KMIG_A_SESSION_SENT_BYTES, 81920));
	ASSERT_EQ(0, nla_put_u64(msg, KMIG_A_SESSION_COMPRESSED_PAGES, 40));
	ASSERT_EQ(0, nla_put_u64(msg, KMIG_A_SESSION_COMPRESSED_BYTES, 32768));
	ASSERT_EQ(0, nla_put_u64(msg, KMIG_A_SESSION_LOADED_PAGES, 7));
	ASSERT_EQ(0, session_parse(nlmsg_hdr(msg), &s));
	nlmsg_free(msg);
	EXPECT_EQ(3ULL, s.rounds);
	EXPECT_EQ(7ULL, s.loaded_pages);

	text = render(false, &s, 1);
	json = render(true, &s, 1);
	ASSERT_NE(NULL, text);
	ASSERT_NE(NULL, json);
	EXPECT_STREQ("session 5:\n"
		     "\trounds:       3\n"
		     "\tsent:         100 pages\n"
		     "\t  zero:       10 pages\n"
		     "\t  unpopulated: 20 pages\n"
		     "\t  data:       81920 bytes\n"
		     "\tcompressed:   40 pages\n"
		     "\t  into:       32768 bytes\n"
		     "\t  ratio:      5.00\n"
		     "\tloaded:       7 pages\n", text);
	EXPECT_STREQ("[{\"id\":5,\"rounds\":3,\"sent_pages\":100,"
		     "\"zero_pages\":10,\"hole_pages\":20,"
		     "\"sent_bytes\":81920,\"compressed_pages\":40,"
		     "\"compressed_bytes\":32768,\"compression_ratio\":5.000,"
		     "\"loaded_pages\":7}]\n", json);
	if (have_python3())
		EXPECT_EQ(1, json_is_valid(json));
	free(text);
	free(json);
}

TEST(unknown_enum_values_are_named_unknown)
{
	struct kmig_session_stats s = {
		.present = 1U << KMIG_A_SESSION_ID | 1U << KMIG_A_SESSION_STATE |
			   1U << KMIG_A_SESSION_DIRTY_MODE,
		.id = 1, .state = 99, .dirty_mode = 99,
	};
	char *out = render(true, &s, 1);

	ASSERT_NE(NULL, out);
	EXPECT_STREQ("[{\"id\":1,\"state\":\"unknown\",\"dirty_mode\":\"unknown\"}]\n",
		     out);
	free(out);
}

TEST(no_sessions)
{
	char *json = render(true, NULL, 0);
	char *text = render(false, NULL, 0);

	ASSERT_NE(NULL, json);
	ASSERT_NE(NULL, text);
	EXPECT_STREQ("[]\n", json);
	EXPECT_STREQ("", text);
	free(json);
	free(text);
}

/* A message without the session id cannot be shown. */
TEST(parse_rejects_missing_id)
{
	struct kmig_session_stats s;
	struct nl_msg *msg = session_msg_begin();

	ASSERT_NE(NULL, msg);
	ASSERT_EQ(0, nla_put_u32(msg, KMIG_A_SESSION_STATE, KMIG_SESSION_IDLE));
	EXPECT_EQ(-EINVAL, session_parse(nlmsg_hdr(msg), &s));
	nlmsg_free(msg);
}

/* The policy rejects a u32 attribute that is too short to hold one. */
TEST(parse_rejects_short_attribute)
{
	struct kmig_session_stats s;
	struct nl_msg *msg = session_msg_begin();
	__u16 half = 1;

	ASSERT_NE(NULL, msg);
	ASSERT_EQ(0, nla_put(msg, KMIG_A_SESSION_ID, sizeof(half), &half));
	EXPECT_EQ(-EINVAL, session_parse(nlmsg_hdr(msg), &s));
	nlmsg_free(msg);
}

/* A later module may add attributes: an older kmigctl skips them. */
TEST(parse_ignores_newer_attributes)
{
	struct kmig_session_stats s;
	struct nl_msg *msg = session_msg_begin();

	ASSERT_NE(NULL, msg);
	ASSERT_EQ(0, nla_put_u32(msg, KMIG_A_SESSION_ID, 5));
	ASSERT_EQ(0, nla_put_u64(msg, KMIG_A_SESSION_MAX + 1, 77));
	ASSERT_EQ(0, session_parse(nlmsg_hdr(msg), &s));
	EXPECT_EQ(5U, s.id);
	EXPECT_EQ(1U << KMIG_A_SESSION_ID, s.present);
	nlmsg_free(msg);
}

TEST_HARNESS_MAIN
