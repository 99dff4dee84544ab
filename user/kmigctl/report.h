/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The reports `kmigctl migrate` and `kmigctl incoming` print at the end,
 * in text or JSON through the one printer (print.h). Printed for every
 * outcome, so a script always gets a "result" to read.
 */
#ifndef KMIGCTL_REPORT_H
#define KMIGCTL_REPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "print.h"
#include "stream.h"

/* Exit statuses of migrate and incoming, beyond kmigctl.h's. */
#define KMIGCTL_EXIT_CANCELLED	3	/* cancelled; the source VM runs */

/*
 * Page compression, the same on both sides: of the @normal pages (those
 * sent with data) @compressed went as zstd frames, and all their data took
 * @data_bytes instead of normal * 4096.
 */
struct compress_stat {
	bool on;		/* negotiated (--compress) */
	uint32_t level;		/* source only; 0: not known here */
	uint64_t compressed;
	uint64_t data_bytes;
};

struct round_stat {
	uint32_t round;		/* the kernel's round number */
	bool bulk;		/* the first round: every page */
	bool final;		/* the switchover's round, VM paused */
	bool postcopy;		/* postcopy's background round */
	uint64_t pages, normal, zero, hole;
	uint64_t compressed;	/* of @normal: sent as zstd frames */
	uint64_t page_bytes;	/* the @normal pages' data as sent */
	uint64_t bytes;		/* bytes written to the data channels */
	uint64_t ns;		/* round time */
	uint64_t scan_ns;	/* of @ns: KMIG_SEND_ROUND (the workers' scan) */
	double dirty_rate;	/* bytes/s the guest dirtied meanwhile; NaN: unknown */
};

struct migrate_report {
	/* "completed", "failed", "cancelled", "unknown" (GO sent, no ACK) */
	const char *result;
	char error[512];	/* why, when not completed */
	/* The source VM at the end: running, resumed, paused or quit. */
	const char *source_vm;
	uint64_t session_id;	/* the stream's */
	uint32_t kmig_session;	/* the kernel's session id */
	const char *to;
	char security[64];	/* the main channel's: "auth-key", "tls ..." */
	uint32_t channels, workers;
	uint64_t ram_bytes;
	uint64_t total_ns, setup_ns;
	bool have_downtime;
	uint64_t downtime_ns;
	uint64_t downtime_limit_ms;
	/* Where the downtime went, in order (ns). */
	struct {
		uint64_t pause;		/* VMM_PAUSE */
		uint64_t sync;		/* the final KMIG_DIRTY_SYNC */
		uint64_t round;		/* the final round */
		uint64_t state;		/* VMM_GET_STATE, DEVICE_STATE, ENDs */
		uint64_t load;		/* then until the destination's READY */
		uint64_t start;		/* GO -> ACK */
	} parts;
	/* Where the whole migration went, in order (ns): phases_ms. */
	struct {
		uint64_t vmm;		/* VMM control socket, hello, hold */
		uint64_t attach;	/* KMIG_ATTACH_VM .. KMIG_DIRTY_START */
		uint64_t connect;	/* every channel connected and authenticated */
		uint64_t threads;	/* sender threads started */
		uint64_t syncs;		/* precopy's KMIG_DIRTY_SYNCs */
		uint64_t rounds;	/* precopy's rounds, each to its LOADED */
		uint64_t switchover;	/* pause -> ACK (downtime_parts_ms) */
		uint64_t teardown;	/* after total: threads, channels, VMM */
		uint32_t nr_syncs;
	} phases;
	const char *switchover;	/* switchover_reason_name() */
	double est_downtime_ms;	/* the estimate when precopy ended */
	uint64_t bytes_sent;
	uint64_t normal, zero, hole;
	struct compress_stat zstd;
	uint32_t nr_rounds;
	struct round_stat *rounds;	/* nr_rounds of them, malloc'ed */
	uint64_t channel_bytes[KMS_MAX_CHANNELS];
	/* Postcopy, when precopy handed over to it. */
	struct {
		bool on;
		char why[200];		/* what made it switch */
		uint64_t discarded;	/* stale pages the destination dropped */
		uint64_t requests;	/* REQUEST frames served */
		uint64_t urgent_pages;	/* sent on the preempt channel */
		uint64_t urgent_bytes;
		uint64_t taken;		/* of them, not yet sent by the round */
		uint64_t bg_pages;	/* --resume: pages the destination pulled */
		uint64_t fetch_ns;	/* time in KMIG_FETCH */
		uint64_t serve_ns;	/* REQUEST read -> its pages sent */
		uint64_t precopy_ns;	/* start -> the postcopy switch */
		uint64_t postcopy_ns;	/* postcopy's ACK -> DONE */
	} postcopy;
};

struct incoming_report {
	const char *result;
	char error[512];
	/* The VM here at the end: "running" (it migrated) or "not started". */
	const char *vm;
	char warning[256];	/* started, but something went wrong after */
	uint32_t refused;	/* connections refused (strays, bad handshakes) */
	char refused_last[256];	/* who and why, for the last one */
	uint64_t session_id;
	uint32_t kmig_session;
	const char *listen;
	char security[64];	/* the main channel's */
	uint32_t channels;
	uint64_t ram_bytes;
	uint64_t total_ns, setup_ns;
	uint64_t start_ns;	/* GO received -> the VM running */
	uint32_t rounds;
	uint64_t bytes_received;
	uint64_t normal, zero, hole;
	struct compress_stat zstd;
	uint64_t loaded, zeroed;
	uint64_t state_bytes;
	/* Postcopy: what the running VM waited for, and how long. */
	struct {
		bool on;
		uint64_t discarded, faults, requests, ahead, pulled;
		uint64_t urgent_pages, urgent_bytes, bg_pages, bg_bytes;
		uint64_t duplicates, local_zero, missing;
		uint64_t blocked_ns;
		uint32_t p50_us, p99_us, max_us;
		uint64_t hist[32];	/* faults per latency bucket [2^i, 2^(i+1)) µs */
		/* The breakdown of a requested page's wait (place.h). */
		uint64_t request_ns, request_frames, place_ns, place_frames;
		uint64_t urgent_lat_ns, urgent_lat_n;
		uint64_t precopy_ns, postcopy_ns;
	} postcopy;
};

void migrate_report_print(struct printer *p, const struct migrate_report *r);
void report_print_fault_latency(struct printer *p, const char *label,
				uint32_t p50_us, uint32_t p99_us,
				uint32_t max_us, uint64_t blocked_ns);
void incoming_report_print(struct printer *p, const struct incoming_report *r);

#endif /* KMIGCTL_REPORT_H */
