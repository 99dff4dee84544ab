// SPDX-License-Identifier: GPL-2.0
/*
 * Read the kernel's session list: KMIG_NL_CMD_SESSION_GET dump -> array of
 * struct kmig_session_stats.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netlink/genl/genl.h>

#include "session.h"

/* Attributes of a later module beyond KMIG_A_SESSION_MAX are ignored. */
static struct nla_policy session_policy[KMIG_A_SESSION_MAX + 1] = {
	[KMIG_A_SESSION_ID]		= { .type = NLA_U32 },
	[KMIG_A_SESSION_STATE]		= { .type = NLA_U32 },
	[KMIG_A_SESSION_VM_PID]		= { .type = NLA_U32 },
	[KMIG_A_SESSION_DIRTY_MODE]	= { .type = NLA_U32 },
	[KMIG_A_SESSION_MEMSLOTS]	= { .type = NLA_U32 },
	[KMIG_A_SESSION_GENERATION]	= { .type = NLA_U64 },
	[KMIG_A_SESSION_PAGES]		= { .type = NLA_U64 },
	[KMIG_A_SESSION_DIRTY_PAGES]	= { .type = NLA_U64 },
	[KMIG_A_SESSION_SYNCS]		= { .type = NLA_U64 },
	[KMIG_A_SESSION_HARVEST_NS]	= { .type = NLA_U64 },
	[KMIG_A_SESSION_HARVESTED]	= { .type = NLA_U64 },
	[KMIG_A_SESSION_ROUNDS]		= { .type = NLA_U64 },
	[KMIG_A_SESSION_SENT_PAGES]	= { .type = NLA_U64 },
	[KMIG_A_SESSION_ZERO_PAGES]	= { .type = NLA_U64 },
	[KMIG_A_SESSION_HOLE_PAGES]	= { .type = NLA_U64 },
	[KMIG_A_SESSION_SENT_BYTES]	= { .type = NLA_U64 },
	[KMIG_A_SESSION_COMPRESSED_PAGES] = { .type = NLA_U64 },
	[KMIG_A_SESSION_COMPRESSED_BYTES] = { .type = NLA_U64 },
	[KMIG_A_SESSION_LOADED_PAGES]	= { .type = NLA_U64 },
	[KMIG_A_SESSION_FETCHED_PAGES]	= { .type = NLA_U64 },
	[KMIG_A_SESSION_FETCHED_BYTES]	= { .type = NLA_U64 },
	[KMIG_A_SESSION_POSTCOPY_REQUESTED] = { .type = NLA_U32 },
	[KMIG_A_SESSION_PC_MISSING_PAGES] = { .type = NLA_U64 },
	[KMIG_A_SESSION_PC_FAULTS]	= { .type = NLA_U64 },
	[KMIG_A_SESSION_PC_REQUESTED_PAGES] = { .type = NLA_U64 },
	[KMIG_A_SESSION_PC_URGENT_PAGES] = { .type = NLA_U64 },
	[KMIG_A_SESSION_PC_BACKGROUND_PAGES] = { .type = NLA_U64 },
	[KMIG_A_SESSION_PC_BLOCKED_NS]	= { .type = NLA_U64 },
	[KMIG_A_SESSION_PC_NS]		= { .type = NLA_U64 },
	[KMIG_A_SESSION_PC_LATENCY_P50_US] = { .type = NLA_U32 },
	[KMIG_A_SESSION_PC_LATENCY_P99_US] = { .type = NLA_U32 },
	[KMIG_A_SESSION_PC_LATENCY_MAX_US] = { .type = NLA_U32 },
};

static void get_u32(struct nlattr **tb, int attr, __u32 *dst, __u64 *present)
{
	if (tb[attr]) {
		*dst = nla_get_u32(tb[attr]);
		*present |= 1ULL << attr;
	}
}

static void get_u64(struct nlattr **tb, int attr, __u64 *dst, __u64 *present)
{
	if (tb[attr]) {
		*dst = nla_get_u64(tb[attr]);
		*present |= 1ULL << attr;
	}
}

/* One bit of kmig_session_stats.present per attribute. */
_Static_assert(KMIG_A_SESSION_MAX < 64, "the presence mask is 64 bits");

int session_parse(struct nlmsghdr *nlh, struct kmig_session_stats *s)
{
	struct nlattr *tb[KMIG_A_SESSION_MAX + 1];

	memset(s, 0, sizeof(*s));
	if (genlmsg_parse(nlh, 0, tb, KMIG_A_SESSION_MAX, session_policy) < 0)
		return -EINVAL;

	get_u32(tb, KMIG_A_SESSION_ID, &s->id, &s->present);
	get_u32(tb, KMIG_A_SESSION_STATE, &s->state, &s->present);
	get_u32(tb, KMIG_A_SESSION_VM_PID, &s->vm_pid, &s->present);
	get_u32(tb, KMIG_A_SESSION_DIRTY_MODE, &s->dirty_mode, &s->present);
	get_u32(tb, KMIG_A_SESSION_MEMSLOTS, &s->memslots, &s->present);
	get_u64(tb, KMIG_A_SESSION_GENERATION, &s->generation, &s->present);
	get_u64(tb, KMIG_A_SESSION_PAGES, &s->pages, &s->present);
	get_u64(tb, KMIG_A_SESSION_DIRTY_PAGES, &s->dirty_pages, &s->present);
	get_u64(tb, KMIG_A_SESSION_SYNCS, &s->syncs, &s->present);
	get_u64(tb, KMIG_A_SESSION_HARVEST_NS, &s->harvest_ns, &s->present);
	get_u64(tb, KMIG_A_SESSION_HARVESTED, &s->harvested, &s->present);
	get_u64(tb, KMIG_A_SESSION_ROUNDS, &s->rounds, &s->present);
	get_u64(tb, KMIG_A_SESSION_SENT_PAGES, &s->sent_pages, &s->present);
	get_u64(tb, KMIG_A_SESSION_ZERO_PAGES, &s->zero_pages, &s->present);
	get_u64(tb, KMIG_A_SESSION_HOLE_PAGES, &s->hole_pages, &s->present);
	get_u64(tb, KMIG_A_SESSION_SENT_BYTES, &s->sent_bytes, &s->present);
	get_u64(tb, KMIG_A_SESSION_COMPRESSED_PAGES, &s->compressed_pages,
		&s->present);
	get_u64(tb, KMIG_A_SESSION_COMPRESSED_BYTES, &s->compressed_bytes,
		&s->present);
	get_u64(tb, KMIG_A_SESSION_LOADED_PAGES, &s->loaded_pages,
		&s->present);
	get_u64(tb, KMIG_A_SESSION_FETCHED_PAGES, &s->fetched_pages,
		&s->present);
	get_u64(tb, KMIG_A_SESSION_FETCHED_BYTES, &s->fetched_bytes,
		&s->present);
	get_u32(tb, KMIG_A_SESSION_POSTCOPY_REQUESTED, &s->postcopy_requested,
		&s->present);
	get_u64(tb, KMIG_A_SESSION_PC_MISSING_PAGES, &s->pc_missing_pages,
		&s->present);
	get_u64(tb, KMIG_A_SESSION_PC_FAULTS, &s->pc_faults, &s->present);
	get_u64(tb, KMIG_A_SESSION_PC_REQUESTED_PAGES, &s->pc_requested_pages,
		&s->present);
	get_u64(tb, KMIG_A_SESSION_PC_URGENT_PAGES, &s->pc_urgent_pages,
		&s->present);
	get_u64(tb, KMIG_A_SESSION_PC_BACKGROUND_PAGES,
		&s->pc_background_pages, &s->present);
	get_u64(tb, KMIG_A_SESSION_PC_BLOCKED_NS, &s->pc_blocked_ns,
		&s->present);
	get_u64(tb, KMIG_A_SESSION_PC_NS, &s->pc_ns, &s->present);
	get_u32(tb, KMIG_A_SESSION_PC_LATENCY_P50_US, &s->pc_p50_us,
		&s->present);
	get_u32(tb, KMIG_A_SESSION_PC_LATENCY_P99_US, &s->pc_p99_us,
		&s->present);
	get_u32(tb, KMIG_A_SESSION_PC_LATENCY_MAX_US, &s->pc_max_us,
		&s->present);

	/* Without its id a session cannot be told apart from the others. */
	return SESSION_HAS(s, KMIG_A_SESSION_ID) ? 0 : -EINVAL;
}

struct session_list {
	struct kmig_session_stats *v;
	size_t nr, cap;
	int err;		/* first -errno a callback hit */
};

static int session_dump_cb(struct nl_msg *msg, void *arg)
{
	struct session_list *l = arg;
	struct kmig_session_stats s;
	int err;

	err = session_parse(nlmsg_hdr(msg), &s);
	if (err < 0) {
		l->err = err;
		return NL_STOP;
	}
	if (l->nr == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct kmig_session_stats *v = realloc(l->v, cap * sizeof(*v));

		if (!v) {
			l->err = -ENOMEM;
			return NL_STOP;
		}
		l->v = v;
		l->cap = cap;
	}
	l->v[l->nr++] = s;
	return NL_OK;
}

/* Sessions come and go under a dump; a few restarts always get through. */
#define SESSION_DUMP_TRIES	5

int session_dump_all(struct kmig_genl *g, struct kmig_session_stats **out,
		     size_t *nr)
{
	struct session_list l = { 0 };
	int tries, err;

	for (tries = 0; tries < SESSION_DUMP_TRIES; tries++) {
		l.nr = 0;
		l.err = 0;
		err = kmig_genl_dump(g, KMIG_NL_CMD_SESSION_GET,
				     session_dump_cb, &l);
		if (err != -NLE_DUMP_INTR)
			break;
	}
	if (l.err < 0) {
		fprintf(stderr, "kmig: reading the session list: %s\n",
			strerror(-l.err));
		goto err_free;
	}
	if (err < 0) {
		fprintf(stderr, "kmig: listing sessions: %s\n", nl_geterror(err));
		goto err_free;
	}
	*out = l.v;
	*nr = l.nr;
	return 0;

err_free:
	free(l.v);
	return -1;
}

struct session_one {
	struct kmig_session_stats *s;
	int found;		/* 1 listed, -EINVAL malformed */
};

static int session_one_cb(struct nl_msg *msg, void *arg)
{
	struct session_one *o = arg;

	o->found = session_parse(nlmsg_hdr(msg), o->s) ? -EINVAL : 1;
	return NL_OK;
}

int session_dump_one(struct kmig_genl *g, __u32 id,
		     struct kmig_session_stats *s)
{
	struct session_one o = { .s = s };
	struct nl_msg *msg;
	int err;

	msg = nlmsg_alloc();
	if (!msg)
		return -NLE_NOMEM;
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, g->family, 0,
			 NLM_F_DUMP, KMIG_NL_CMD_SESSION_GET,
			 KMIG_GENL_VERSION) ||
	    nla_put_u32(msg, KMIG_A_SESSION_ID, id) < 0) {
		nlmsg_free(msg);
		return -NLE_NOMEM;
	}
	err = nl_socket_modify_cb(g->sk, NL_CB_VALID, NL_CB_CUSTOM,
				  session_one_cb, &o);
	if (err >= 0)
		err = nl_send_auto(g->sk, msg);
	nlmsg_free(msg);
	if (err >= 0)
		err = nl_recvmsgs_default(g->sk);
	if (err < 0)
		return err;
	if (o.found < 0)
		return -NLE_PARSE_ERR;
	return o.found;
}
