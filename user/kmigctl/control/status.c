// SPDX-License-Identifier: GPL-2.0
/*
 * `kmigctl status [--json]`: list the module's sessions over generic netlink.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "libkmig.h"
#include "kmigctl.h"
#include "report.h"
#include "status.h"

#define NS_PER_MS	1000000.0

/* @val under @key, if the module sent attribute @attr. */
static void print_counter(struct printer *p,
			  const struct kmig_session_stats *s, int attr,
			  const char *key, const char *fmt, __u64 val)
{
	if (SESSION_HAS(s, attr))
		print_u64(p, PRINT_ANY, key, fmt, val);
}

/* What the rounds sent and the loads wrote (modules since kmig 1.1). */
static void status_print_traffic(struct printer *p,
				 const struct kmig_session_stats *s)
{
	print_counter(p, s, KMIG_A_SESSION_ROUNDS, "rounds",
		      "\trounds:       %llu\n", s->rounds);
	print_counter(p, s, KMIG_A_SESSION_SENT_PAGES, "sent_pages",
		      "\tsent:         %llu pages\n", s->sent_pages);
	print_counter(p, s, KMIG_A_SESSION_ZERO_PAGES, "zero_pages",
		      "\t  zero:       %llu pages\n", s->zero_pages);
	print_counter(p, s, KMIG_A_SESSION_HOLE_PAGES, "hole_pages",
		      "\t  unpopulated: %llu pages\n", s->hole_pages);
	print_counter(p, s, KMIG_A_SESSION_SENT_BYTES, "sent_bytes",
		      "\t  data:       %llu bytes\n", s->sent_bytes);
	print_counter(p, s, KMIG_A_SESSION_COMPRESSED_PAGES, "compressed_pages",
		      "\tcompressed:   %llu pages\n", s->compressed_pages);
	print_counter(p, s, KMIG_A_SESSION_COMPRESSED_BYTES, "compressed_bytes",
		      "\t  into:       %llu bytes\n", s->compressed_bytes);
	/* The ratio only where there is one to show. */
	if (SESSION_HAS(s, KMIG_A_SESSION_COMPRESSED_BYTES) &&
	    s->compressed_bytes)
		print_float(p, PRINT_ANY, "compression_ratio",
			    "\t  ratio:      %.2f\n",
			    s->compressed_pages * 4096.0 / s->compressed_bytes);
	print_counter(p, s, KMIG_A_SESSION_LOADED_PAGES, "loaded_pages",
		      "\tloaded:       %llu pages\n", s->loaded_pages);
	print_counter(p, s, KMIG_A_SESSION_FETCHED_PAGES, "fetched_pages",
		      "\tfetched:      %llu pages (postcopy requests)\n",
		      s->fetched_pages);
	print_counter(p, s, KMIG_A_SESSION_FETCHED_BYTES, "fetched_bytes",
		      "\t  data:       %llu bytes\n", s->fetched_bytes);
}

/*
 * A destination in postcopy: what its kmigctl last published, under
 * "postcopy" in JSON as in the incoming report.
 */
static void status_print_postcopy(struct printer *p,
				  const struct kmig_session_stats *s)
{
	if (!SESSION_HAS(s, KMIG_A_SESSION_PC_MISSING_PAGES))
		return;
	print_open_object(p, "postcopy");
	print_u64(p, PRINT_ANY, "missing_pages",
		  "	postcopy:     %llu pages still missing", s->pc_missing_pages);
	print_float(p, PRINT_ANY, "postcopy_ms", " after %.0f ms\n",
		    s->pc_ns / NS_PER_MS);
	print_u64(p, PRINT_ANY, "faults", "	  faults:     %llu", s->pc_faults);
	print_u64(p, PRINT_ANY, "requests", ", %llu requested\n",
		  s->pc_requested_pages);
	print_u64(p, PRINT_ANY, "urgent_pages", "	  placed:     %llu urgent",
		  s->pc_urgent_pages);
	print_u64(p, PRINT_ANY, "background_pages", ", %llu background\n",
		  s->pc_background_pages);
	report_print_fault_latency(p, "	  latency:   ", s->pc_p50_us,
				   s->pc_p99_us, s->pc_max_us, s->pc_blocked_ns);
	print_close_object(p);
}

static void status_print_one(struct printer *p,
			     const struct kmig_session_stats *s)
{
	print_open_object(p, NULL);
	print_uint(p, PRINT_ANY, "id", "session %u:\n", s->id);
	if (SESSION_HAS(s, KMIG_A_SESSION_STATE))
		print_string(p, PRINT_ANY, "state", "\tstate:        %s\n",
			     kmig_session_state_name(s->state));
	if (SESSION_HAS(s, KMIG_A_SESSION_VM_PID))
		print_uint(p, PRINT_ANY, "vm_pid", "\tvm pid:       %u\n",
			   s->vm_pid);
	if (SESSION_HAS(s, KMIG_A_SESSION_DIRTY_MODE))
		print_string(p, PRINT_ANY, "dirty_mode", "\tdirty mode:   %s\n",
			     kmig_dirty_mode_name(s->dirty_mode));
	if (SESSION_HAS(s, KMIG_A_SESSION_MEMSLOTS))
		print_uint(p, PRINT_ANY, "memslots", "\tmemslots:     %u\n",
			   s->memslots);
	if (SESSION_HAS(s, KMIG_A_SESSION_GENERATION))
		print_u64(p, PRINT_ANY, "generation", "\tgeneration:   %llu\n",
			  s->generation);
	if (SESSION_HAS(s, KMIG_A_SESSION_PAGES))
		print_u64(p, PRINT_ANY, "pages", "\tpages:        %llu\n",
			  s->pages);
	if (SESSION_HAS(s, KMIG_A_SESSION_DIRTY_PAGES))
		print_u64(p, PRINT_ANY, "dirty_pages", "\tdirty pages:  %llu\n",
			  s->dirty_pages);
	if (SESSION_HAS(s, KMIG_A_SESSION_SYNCS))
		print_u64(p, PRINT_ANY, "syncs", "\tsyncs:        %llu\n",
			  s->syncs);
	if (SESSION_HAS(s, KMIG_A_SESSION_HARVEST_NS)) {
		/* Exact in JSON; milliseconds are what a person reads. */
		print_u64(p, PRINT_JSON, "harvest_ns", NULL, s->harvest_ns);
		print_float(p, PRINT_ANY, "harvest_ms", "\tharvest time: %.3f ms\n",
			    s->harvest_ns / NS_PER_MS);
	}
	if (SESSION_HAS(s, KMIG_A_SESSION_HARVESTED))
		print_u64(p, PRINT_ANY, "harvested", "\tharvested:    %llu pages\n",
			  s->harvested);
	/* A rate needs a sync that took measurable time. */
	if (SESSION_HAS(s, KMIG_A_SESSION_HARVESTED) &&
	    SESSION_HAS(s, KMIG_A_SESSION_HARVEST_NS) &&
	    SESSION_HAS(s, KMIG_A_SESSION_SYNCS) &&
	    s->syncs > 0 && s->harvest_ns > 0)
		print_float(p, PRINT_ANY, "harvest_pages_per_ms",
			    "\tharvest rate: %.1f pages/ms\n",
			    s->harvested / (s->harvest_ns / NS_PER_MS));
	status_print_traffic(p, s);
	status_print_postcopy(p, s);
	print_close_object(p);
}

void status_print(struct printer *p, const struct kmig_session_stats *s,
		  size_t nr)
{
	size_t i;

	print_open_array(p, NULL);
	for (i = 0; i < nr; i++) {
		if (i)
			print_text(p, "\n");	/* a blank line between blocks */
		status_print_one(p, &s[i]);
	}
	print_close_array(p);
	print_finish(p);
}

static void status_usage(FILE *fp)
{
	fprintf(fp, "Usage: kmigctl status [--json]\n"
		    "List kmig sessions (needs kmig.ko loaded).\n"
		    "  -j, --json   one JSON array of session objects\n");
}

int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct kmig_session_stats *sessions = NULL;
	struct kmig_genl g;
	struct printer p;
	bool json = false;
	size_t nr = 0;
	int c;

	optind = 1;
	opterr = 0;	/* our own message below, prefixed like the others */
	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'h':
			status_usage(stdout);
			return KMIGCTL_EXIT_OK;
		default:
			/* optopt names a bad short option; 0 for a long one. */
			if (optopt)
				fprintf(stderr, "kmig: status: unknown option '-%c'\n",
					optopt);
			else
				fprintf(stderr, "kmig: status: unknown option '%s'\n",
					argv[optind - 1]);
			status_usage(stderr);
			return KMIGCTL_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "kmig: status: unexpected argument '%s'\n",
			argv[optind]);
		status_usage(stderr);
		return KMIGCTL_EXIT_USAGE;
	}

	if (kmig_genl_open(&g) < 0)
		return KMIGCTL_EXIT_FAILURE;
	if (session_dump_all(&g, &sessions, &nr) < 0) {
		kmig_genl_close(&g);
		return KMIGCTL_EXIT_FAILURE;
	}
	kmig_genl_close(&g);

	print_init(&p, stdout, json);
	status_print(&p, sessions, nr);
	free(sessions);
	return ferror(stdout) ? KMIGCTL_EXIT_FAILURE : KMIGCTL_EXIT_OK;
}
