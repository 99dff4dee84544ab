/* SPDX-License-Identifier: GPL-2.0 */
/*
 * `kmigctl incoming`, the destination: one struct incoming carried
 * through the handshake and precopy (incoming.c) and postcopy
 * (incoming_postcopy.c, which also recovers a postcopy that broke off:
 * `kmigctl postcopy-recover`). Its states are the commit protocol's
 * (commit.h, enum dst_state).
 */
#ifndef KMIGCTL_INCOMING_H
#define KMIGCTL_INCOMING_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "commit.h"
#include "mainchan.h"
#include "postcopy.h"
#include "receiver.h"
#include "report.h"
#include "secure.h"
#include "vmm_client.h"

struct incoming_opts {
	const char *vmm;
	const char *listen;
	bool json, quiet;
	uint64_t timeout_ms;	/* 0: wait for ever */
	int stall_ms;		/* a channel making no progress */
	int peer_timeout_ms;	/* --peer-timeout: a silent source */
	int step_timeout_ms;	/* --step-timeout: handshakes, GO */
	struct sec_opts sec;	/* --auth-key, --tls-*, --insecure */
	bool recover;		/* postcopy-recover: a postcopy broke off */
};

struct incoming {
	struct incoming_opts o;
	struct incoming_report rep;
	uint64_t begin_ns;		/* the command started: --timeout */
	uint64_t start_ns;		/* the source connected: the report */

	struct vmm_client vmm;
	struct vmm_info info;
	int kfd;
	struct kms_layout layout;	/* this VM's RAM */
	uint64_t hva[KMS_MAX_REGIONS];	/* each region's address in the VMM */
	uint64_t kfeatures;		/* KMIG_GET_INFO: KMIG_FEATURE_* */
	struct kms_hello hello;		/* the source's, from the main channel */
	struct mig_addr addr;
	struct sec sec;			/* who may be the source */
	int lfd;

	enum dst_state state;		/* commit.h */
	struct chan main;
	struct mainchan mc;		/* main's waits, keepalive, write lock */
	bool mc_up;
	struct chan *data;
	uint32_t nr_data;
	struct receiver r;
	bool receiver_up;

	/* Postcopy: the source's DISCARDs, then the running VM's pages. */
	struct chan pre;		/* the preempt channel */
	struct kms_discard *discards;
	uint32_t nr_discards, cap_discards;
	uint64_t discard_pages, discard_next;
	bool postcopy;			/* POSTCOPY came instead of END */
	uint32_t pc_round;		/* its background round */
	int uffd;
	struct dst_postcopy pc;
	bool pc_up;
	bool pc_complete;		/* every page is here */
	uint64_t t_postcopy;
	uint64_t t_published;		/* the last KMIG_POSTCOPY_PROGRESS */
	bool no_progress;		/* the module lacks it: stop trying */

	void *state_blob;		/* the device state */
	uint32_t state_len;
	bool cancelled;
};

/* Records the first failure for the report; returns -1. */
int incoming_fail(struct incoming *in, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* A signal, --timeout, a cancel or a data channel failed: -1 (recorded). */
int incoming_check(struct incoming *in);

/* Postcopy (incoming_postcopy.c). A DISCARD frame, checked and kept. */
int incoming_discard(struct incoming *in, const uint8_t *buf, uint32_t len);
/* POSTCOPY instead of END: the precopy rounds must all be loaded. */
int incoming_postcopy_frame(struct incoming *in, const uint8_t *buf,
			    uint32_t len);
/* Before READY: the userfaultfd, the discards, the fault threads. */
int incoming_postcopy_prepare(struct incoming *in);
/* After the ACK: until every page is here, then DONE. */
int incoming_postcopy_wait(struct incoming *in);
void incoming_postcopy_report(struct incoming *in);
/*
 * `kmigctl postcopy-recover`, once a resuming source's channels are up:
 * the same userfaultfd again, the pages the VMM still lacks as pending,
 * the fault threads and the pullers, the VM resumed, then as after ACK.
 */
int incoming_recover(struct incoming *in);

#endif /* KMIGCTL_INCOMING_H */
