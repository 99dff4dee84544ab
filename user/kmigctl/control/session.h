/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A kmig session as the KMIG_NL_CMD_SESSION_GET dump describes it.
 */
#ifndef KMIGCTL_SESSION_H
#define KMIGCTL_SESSION_H

#include <stddef.h>

#include <netlink/msg.h>
#include <linux/kmig.h>

#include "genl.h"

struct kmig_session_stats {
	/*
	 * Bit KMIG_A_SESSION_x is set when the kernel sent that attribute:
	 * kmigctl shows only what the module reported, so an older or newer
	 * module never makes it print a made-up zero.
	 */
	__u64 present;
	__u32 id;
	__u32 state;		/* enum kmig_session_state */
	__u32 vm_pid;
	__u32 dirty_mode;	/* enum kmig_dirty_mode */
	__u32 memslots;
	__u64 generation;
	__u64 pages;
	__u64 dirty_pages;
	__u64 syncs;
	__u64 harvest_ns;
	__u64 harvested;
	__u64 rounds;
	__u64 sent_pages;	/* taken by rounds: with data, zero, holes */
	__u64 zero_pages;
	__u64 hole_pages;
	__u64 sent_bytes;
	__u64 compressed_pages;
	__u64 compressed_bytes;
	__u64 loaded_pages;
	__u64 fetched_pages;	/* postcopy: read at once for the destination */
	__u64 fetched_bytes;
	__u32 postcopy_requested; /* 1: `kmigctl postcopy-start` asked */
	/* Destination, postcopy: what its kmigctl last published. */
	__u64 pc_missing_pages, pc_faults, pc_requested_pages;
	__u64 pc_urgent_pages, pc_background_pages, pc_blocked_ns, pc_ns;
	__u32 pc_p50_us, pc_p99_us, pc_max_us;
};

#define SESSION_HAS(s, attr)	(((s)->present & (1ULL << (attr))) != 0)

/* Parses one dump message. Returns 0, or -EINVAL for a malformed message. */
int session_parse(struct nlmsghdr *nlh, struct kmig_session_stats *s);

/*
 * Dumps every session into *@out (free() it), *@nr entries, in the order
 * the kernel lists them. Returns 0, or -1 after printing why on stderr.
 */
int session_dump_all(struct kmig_genl *g, struct kmig_session_stats **out,
		     size_t *nr);

/*
 * Dumps session @id alone (the kernel filters) into *@s, quietly: for a
 * migration that polls its own session after every round. Returns 1 if
 * listed, 0 if not (gone, or not visible to us), or a negative libnl error.
 */
int session_dump_one(struct kmig_genl *g, __u32 id,
		     struct kmig_session_stats *s);

#endif /* KMIGCTL_SESSION_H */
