/* SPDX-License-Identifier: GPL-2.0 */
/*
 * `kmigctl migrate`, the source: one struct migration carried through
 * setup (migrate.c), precopy (precopy.c) and the switchover (switchover.c),
 * whose states and failures belong to the commit protocol (commit.c).
 */
#ifndef KMIGCTL_MIGRATE_H
#define KMIGCTL_MIGRATE_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "chan.h"
#include "commit.h"
#include "mainchan.h"
#include "pageserve.h"
#include "policy.h"
#include "progress.h"
#include "ratelimit.h"
#include "report.h"
#include "secure.h"
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
	bool zstd_page;			/* --compress zstd-page: no runs */
	uint32_t zstd_level;		/* 0: the kernel's default */
	bool json, quiet;
	int connect_timeout_ms;
	int stall_ms;			/* a channel making no progress */
	int peer_timeout_ms;		/* --peer-timeout: a silent peer */
	int step_timeout_ms;		/* --step-timeout: READY, ACK, LOADED */
	uint32_t stream_version;	/* KMS_VERSION; tests may change it */
	struct sec_opts sec;		/* --auth-key, --tls-*, --insecure */
	bool resume;			/* --resume: a postcopy that broke off */
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
	bool zstd_run;			/* KMIG_SEND_F_ZSTD_RUN was set */
	struct mig_addr addr;
	struct sec sec;			/* who may be the destination */

	enum src_state state;		/* commit.h: only commit.c moves it */
	struct chan main;
	struct mainchan mc;		/* main's waits and keepalive */
	bool mc_up;
	struct chan *data;		/* o.channels data channels */
	uint32_t nr_data;		/* opened so far */
	struct chan pre;		/* postcopy's preempt channel */
	struct page_server ps;		/* postcopy: serves @pre's requests */
	bool ps_up;
	/* --resume: a page server on each data channel too (the pulls). */
	struct page_server *ps_data;
	uint32_t nr_ps_data;
	struct ratelimit rl;
	struct sender s;
	bool sender_up;
	struct progress prog;

	bool log_rounds;		/* a line per round on stderr */
	bool cancelled;
};

/*
 * After a sender failure: the destination usually said why on the main
 * channel (ABORT) before it closed the data channels. Fails the migration
 * with its reason (-1) if it did, else 0.
 */
int migration_peer_abort(struct migration *m, int wait_ms);

/*
 * The one wait for the destination's next frame on the main channel
 * (mainchan_recv() with this migration's checks: a cancel counts until
 * GO). 0, or -1 with the migration failed.
 */
int migration_recv(struct migration *m, struct kms_frame_hdr *h, uint8_t *buf,
		   size_t cap, const char *what, int timeout_ms);

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
/*
 * The switchover's steps that postcopy shares: the pause and the final
 * sync (the downtime starts at *@t_pause); the device state; the
 * destination's next main-channel frame; READY, GO, ACK and the downtime
 * (the commit).
 */
int switchover_pause(struct migration *m, struct kmig_dirty_sync *sy,
		     uint64_t *t_pause);
int switchover_commit(struct migration *m, uint64_t t_pause);
int switchover_device_state(struct migration *m);
int switchover_recv(struct migration *m, struct kms_frame_hdr *h,
		    uint8_t *buf, size_t cap, const char *what, int order);
/* Postcopy instead of the switchover (postcopy.c). */
int postcopy_run(struct migration *m);
/*
 * --resume (postcopy.c): serve the pages a destination that recovers a
 * broken postcopy still lacks, until its DONE.
 */
int postcopy_resume_run(struct migration *m);

#endif /* KMIGCTL_MIGRATE_H */
