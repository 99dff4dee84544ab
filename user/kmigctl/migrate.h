/* SPDX-License-Identifier: GPL-2.0 */
/*
 * `kmigctl migrate`, the source: one struct migration carried through
 * setup (migrate.c), precopy (precopy.c) and the switchover (switchover.c).
 */
#ifndef KMIGCTL_MIGRATE_H
#define KMIGCTL_MIGRATE_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "chan.h"
#include "policy.h"
#include "progress.h"
#include "ratelimit.h"
#include "report.h"
#include "sender.h"
#include "stream.h"
#include "vmm_client.h"

struct migrate_opts {
	const char *vmm;		/* --vmm: the source VMM's socket */
	const char *to;			/* --to */
	uint32_t channels;		/* --channels */
	uint32_t workers;		/* --workers */
	uint32_t ring_entries;
	struct precopy_policy policy;	/* --downtime-limit, --max-rounds, --timeout */
	uint64_t max_bandwidth;		/* --max-bandwidth, bytes/s; 0 none */
	bool zstd;			/* --compress zstd[:LEVEL] */
	uint32_t zstd_level;		/* 0: the kernel's default */
	bool json, quiet;
	int connect_timeout_ms;
	int stall_ms;
	uint32_t stream_version;	/* KMS_VERSION; tests may change it */
	const char *hold_switchover;	/* test hook, see switchover.c */
};

struct migration {
	struct migrate_opts o;
	struct migrate_report rep;
	uint64_t start_ns;

	struct vmm_client vmm;
	struct vmm_info info;
	int kfd;			/* the kmig session */
	struct kmig_ring *rings;
	uint64_t nr_pages;
	struct kms_hello hello;
	struct mig_addr addr;

	struct chan main;
	struct chan *data;		/* o.channels data channels */
	uint32_t nr_data;		/* opened so far */
	struct ratelimit rl;
	struct sender s;
	bool sender_up;
	struct progress prog;

	bool log_rounds;		/* a line per round on stderr */
	bool paused;			/* the source VM is paused by us */
	bool committed;			/* GO sent: no going back */
	bool cancelled;
};

/* Sets the outcome (the first error wins) and returns -1. */
int migration_fail(struct migration *m, const char *result, const char *fmt,
		   ...) __attribute__((format(printf, 3, 4)));

/*
 * Has someone cancelled us: a signal, `kmigctl cancel` (the kernel then
 * answers -ECANCELED; this asks it without side effects)?
 */
bool migration_cancelled(struct migration *m);
/* Fails the migration as cancelled, with the reason. */
int migration_fail_cancelled(struct migration *m);

/*
 * After a sender failure: the destination usually said why on the main
 * channel (ABORT) before it closed the data channels. Returns 1 and fills
 * @reason if it did.
 */
int migration_peer_abort(struct migration *m, char *reason, size_t n,
			 int wait_ms);

/* Adds a round's line to the report; returns it. */
struct round_stat *migration_add_round(struct migration *m);

/* KMIG_DIRTY_SYNC, failing the migration on errors. 0 or -1. */
int migration_sync(struct migration *m, struct kmig_dirty_sync *sy);

/*
 * One round of @pages dirty pages, recorded in the report (*@out). 0, or
 * -1 with the migration failed (or cancelled).
 */
int migration_round(struct migration *m, enum progress_phase phase,
		    uint64_t pages, struct round_stat **out);

int precopy_run(struct migration *m, enum switchover_reason *why);
int switchover_run(struct migration *m);

#endif /* KMIGCTL_MIGRATE_H */
