// SPDX-License-Identifier: GPL-2.0
/*
 * The "kmig" generic netlink family: the control plane's read side.
 * Documentation/netlink/specs/kmig.yaml is the reference for its layout.
 *
 * A session belongs to the network namespace it was opened in and shows
 * VMM pids and migration state: a requester sees it only from that
 * namespace, and only as its owner (the opener's euid) or with
 * CAP_NET_ADMIN over the namespace. Cancelling needs the namespace and
 * CAP_NET_ADMIN over it (GENL_UNS_ADMIN_PERM), so a container's admin can
 * cancel its own migrations and no one else's. A postcopy request has the
 * same rules; the module only records it for the dump.
 */
#include <linux/cred.h>
#include <net/genetlink.h>
#include <net/net_namespace.h>
#include <net/sock.h>

#include "kmig.h"

static const struct nla_policy kmig_session_policy[KMIG_A_SESSION_MAX + 1] = {
	[KMIG_A_SESSION_ID] = { .type = NLA_U32 },
};

/* What the session's rounds sent, its fetches read and its loads wrote. */
static int kmig_nl_put_traffic(struct sk_buff *skb, const struct kmig_stats *st)
{
	const struct {
		int attr;
		u64 val;
	} v[] = {
		{ KMIG_A_SESSION_ROUNDS, st->rounds },
		{ KMIG_A_SESSION_SENT_PAGES, st->sent_pages },
		{ KMIG_A_SESSION_ZERO_PAGES, st->zero_pages },
		{ KMIG_A_SESSION_HOLE_PAGES, st->hole_pages },
		{ KMIG_A_SESSION_SENT_BYTES, st->sent_bytes },
		{ KMIG_A_SESSION_COMPRESSED_PAGES, st->compressed_pages },
		{ KMIG_A_SESSION_COMPRESSED_BYTES, st->compressed_bytes },
		{ KMIG_A_SESSION_LOADED_PAGES, st->loaded_pages },
		{ KMIG_A_SESSION_FETCHED_PAGES, st->fetched_pages },
		{ KMIG_A_SESSION_FETCHED_BYTES, st->fetched_bytes },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(v); i++)
		if (nla_put_u64_64bit(skb, v[i].attr, v[i].val,
				      KMIG_A_SESSION_PAD))
			return -EMSGSIZE;
	return 0;
}

/* What the destination's kmigctl last said of its postcopy. */
static int kmig_nl_put_postcopy(struct sk_buff *skb,
				const struct kmig_postcopy_progress *pc)
{
	const struct {
		int attr;
		u64 val;
	} v[] = {
		{ KMIG_A_SESSION_PC_MISSING_PAGES, pc->missing_pages },
		{ KMIG_A_SESSION_PC_FAULTS, pc->faults },
		{ KMIG_A_SESSION_PC_REQUESTED_PAGES, pc->requested_pages },
		{ KMIG_A_SESSION_PC_URGENT_PAGES, pc->urgent_pages },
		{ KMIG_A_SESSION_PC_BACKGROUND_PAGES, pc->background_pages },
		{ KMIG_A_SESSION_PC_BLOCKED_NS, pc->blocked_ns },
		{ KMIG_A_SESSION_PC_NS, pc->postcopy_ns },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(v); i++)
		if (nla_put_u64_64bit(skb, v[i].attr, v[i].val,
				      KMIG_A_SESSION_PAD))
			return -EMSGSIZE;
	if (nla_put_u32(skb, KMIG_A_SESSION_PC_LATENCY_P50_US,
			pc->latency_p50_us) ||
	    nla_put_u32(skb, KMIG_A_SESSION_PC_LATENCY_P99_US,
			pc->latency_p99_us) ||
	    nla_put_u32(skb, KMIG_A_SESSION_PC_LATENCY_MAX_US,
			pc->latency_max_us))
		return -EMSGSIZE;
	return 0;
}

static int kmig_nl_put_session(struct sk_buff *skb, struct kmig_session *s)
{
	/* Acquire pairs with kmig_ioc_attach_vm(); see kmig_session_state(). */
	struct kmig_vm *vm = smp_load_acquire(&s->vm);
	struct kmig_report r;

	kmig_session_report(s, &r);
	if (nla_put_u32(skb, KMIG_A_SESSION_ID, s->id) ||
	    nla_put_u32(skb, KMIG_A_SESSION_STATE, kmig_session_state(s, &r)))
		return -EMSGSIZE;
	if (READ_ONCE(s->postcopy_requested) &&
	    nla_put_u32(skb, KMIG_A_SESSION_POSTCOPY_REQUESTED, 1))
		return -EMSGSIZE;
	if (r.has_pc && kmig_nl_put_postcopy(skb, &r.pc))
		return -EMSGSIZE;
	if (!vm)
		return 0;
	if (nla_put_u32(skb, KMIG_A_SESSION_VM_PID, vm->kvm->userspace_pid) ||
	    nla_put_u32(skb, KMIG_A_SESSION_DIRTY_MODE, r.dirty_mode) ||
	    nla_put_u32(skb, KMIG_A_SESSION_MEMSLOTS, r.nr_slots) ||
	    nla_put_u64_64bit(skb, KMIG_A_SESSION_GENERATION, r.generation,
			      KMIG_A_SESSION_PAD) ||
	    nla_put_u64_64bit(skb, KMIG_A_SESSION_PAGES, r.pages,
			      KMIG_A_SESSION_PAD) ||
	    nla_put_u64_64bit(skb, KMIG_A_SESSION_DIRTY_PAGES, r.dirty_pages,
			      KMIG_A_SESSION_PAD) ||
	    nla_put_u64_64bit(skb, KMIG_A_SESSION_SYNCS, r.stats.syncs,
			      KMIG_A_SESSION_PAD) ||
	    nla_put_u64_64bit(skb, KMIG_A_SESSION_HARVEST_NS,
			      r.stats.harvest_ns, KMIG_A_SESSION_PAD) ||
	    nla_put_u64_64bit(skb, KMIG_A_SESSION_HARVESTED,
			      r.stats.harvested, KMIG_A_SESSION_PAD))
		return -EMSGSIZE;
	return kmig_nl_put_traffic(skb, &r.stats);
}

static struct genl_family kmig_genl_family;

/*
 * @skb is the request. Capabilities are those of the socket's opener and
 * of current, as netlink_ns_capable() checks them; ownership likewise.
 */
static bool kmig_nl_visible(const struct sk_buff *skb,
			    const struct kmig_session *s)
{
	struct sock *sk = NETLINK_CB(skb).sk;
	struct net *net = sock_net(sk);

	if (!net_eq(net, s->net))
		return false;
	if (netlink_ns_capable(skb, net->user_ns, CAP_NET_ADMIN))
		return true;
	return uid_eq(current_euid(), s->cred->euid) && sk->sk_socket &&
	       sk->sk_socket->file &&
	       uid_eq(sk->sk_socket->file->f_cred->euid, s->cred->euid);
}

/* cb->args[0]: the last session id sent, so a dump can resume. */
static int kmig_nl_session_dump(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct nlattr **attrs = genl_dumpit_info(cb)->attrs;
	u32 only = 0, last = cb->args[0];
	struct kmig_session *s;
	int ret = 0;

	if (attrs[KMIG_A_SESSION_ID])
		only = nla_get_u32(attrs[KMIG_A_SESSION_ID]);

	mutex_lock(&kmig_sessions_lock);
	list_for_each_entry(s, &kmig_sessions, node) {
		void *hdr;

		if (s->id <= last || (only && s->id != only) ||
		    !kmig_nl_visible(cb->skb, s))
			continue;
		hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid,
				  cb->nlh->nlmsg_seq, &kmig_genl_family,
				  NLM_F_MULTI, KMIG_NL_CMD_SESSION_GET);
		if (!hdr) {
			ret = -EMSGSIZE;
			break;
		}
		/* No s->lock: a round holds it for seconds. */
		ret = kmig_nl_put_session(skb, s);
		if (ret) {
			genlmsg_cancel(skb, hdr);
			break;
		}
		genlmsg_end(skb, hdr);
		cb->args[0] = s->id;
	}
	mutex_unlock(&kmig_sessions_lock);

	/* A full skb ends this part; the dump goes on from args[0]. */
	if (ret == -EMSGSIZE && skb->len)
		return skb->len;
	return ret ?: skb->len;
}

/* Finds session @id of the requester's netns and applies @act to it. */
static int kmig_nl_session_act(struct genl_info *info,
			       void (*act)(struct kmig_session *s))
{
	struct kmig_session *s;
	int ret = -ENOENT;
	u32 id;

	if (GENL_REQ_ATTR_CHECK(info, KMIG_A_SESSION_ID))
		return -EINVAL;
	id = nla_get_u32(info->attrs[KMIG_A_SESSION_ID]);

	mutex_lock(&kmig_sessions_lock);
	list_for_each_entry(s, &kmig_sessions, node) {
		/* Another namespace's session does not exist here. */
		if (s->id == id && net_eq(genl_info_net(info), s->net)) {
			act(s);
			ret = 0;
			break;
		}
	}
	mutex_unlock(&kmig_sessions_lock);
	if (ret)
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[KMIG_A_SESSION_ID],
				    "no such kmig session");
	return ret;
}

static int kmig_nl_session_cancel(struct sk_buff *skb, struct genl_info *info)
{
	return kmig_nl_session_act(info, kmig_session_cancel);
}

/* Lockless, as kmig_session_cancel(): a round may hold s->lock. */
static void kmig_session_request_postcopy(struct kmig_session *s)
{
	WRITE_ONCE(s->postcopy_requested, true);
}

static int kmig_nl_session_postcopy(struct sk_buff *skb, struct genl_info *info)
{
	return kmig_nl_session_act(info, kmig_session_request_postcopy);
}

static const struct genl_small_ops kmig_genl_ops[] = {
	{
		.cmd = KMIG_NL_CMD_SESSION_GET,
		.dumpit = kmig_nl_session_dump,
	},
	{
		.cmd = KMIG_NL_CMD_SESSION_CANCEL,
		.doit = kmig_nl_session_cancel,
		/* CAP_NET_ADMIN over the session's (and requester's) netns */
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = KMIG_NL_CMD_SESSION_POSTCOPY,
		.doit = kmig_nl_session_postcopy,
		.flags = GENL_UNS_ADMIN_PERM,
	},
};

static struct genl_family kmig_genl_family __ro_after_init = {
	.name = KMIG_GENL_NAME,
	.version = KMIG_GENL_VERSION,
	.maxattr = KMIG_A_SESSION_MAX,
	.policy = kmig_session_policy,
	.module = THIS_MODULE,
	.small_ops = kmig_genl_ops,
	.n_small_ops = ARRAY_SIZE(kmig_genl_ops),
	.resv_start_op = KMIG_NL_CMD_SESSION_GET,
	.netnsok = true,
};

int kmig_netlink_init(void)
{
	return genl_register_family(&kmig_genl_family);
}

void kmig_netlink_exit(void)
{
	genl_unregister_family(&kmig_genl_family);
}
