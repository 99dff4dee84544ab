// SPDX-License-Identifier: GPL-2.0
/*
 * Printing the migration reports (report.h). Times are milliseconds with
 * three decimals, rates MiB/s, in both outputs.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>

#include "report.h"

#define MIB	(1024.0 * 1024.0)

static double ms(uint64_t ns)
{
	return ns / 1e6;
}

/* Bytes over a time, in MiB/s; NaN (JSON null) when there is no time. */
static double mib_s(uint64_t bytes, uint64_t ns)
{
	return ns ? bytes / MIB / (ns / 1e9) : NAN;
}

static void print_session(struct printer *p, uint64_t id)
{
	char hex[17];

	snprintf(hex, sizeof(hex), "%016" PRIx64, id);
	print_string(p, PRINT_ANY, "session_id", "  stream session: %s\n", hex);
}

static void print_pages(struct printer *p, uint64_t normal, uint64_t zero,
			uint64_t hole)
{
	print_open_object(p, "pages");
	print_u64(p, PRINT_ANY, "normal", "  pages:          %llu normal, ",
		  normal);
	print_u64(p, PRINT_ANY, "zero", "%llu zero, ", zero);
	print_u64(p, PRINT_ANY, "hole", "%llu hole\n", hole);
	print_close_object(p);
}

/* The "compression" object, the same on both sides. */
static void print_compression(struct printer *p, const struct compress_stat *c,
			      uint64_t normal)
{
	uint64_t raw = normal * KMS_PAGE_SIZE;

	print_open_object(p, "compression");
	print_string(p, PRINT_ANY, "algorithm", "  compression:    %s",
		     c->on ? "zstd" : "none");
	if (c->level)
		print_uint(p, PRINT_ANY, "level", " level %u", c->level);
	print_u64(p, PRINT_ANY, "pages_compressed", ", %llu pages compressed",
		  c->compressed);
	print_u64(p, PRINT_ANY, "bytes_before", ", page data %llu", raw);
	print_u64(p, PRINT_ANY, "bytes_after", " -> %llu bytes", c->data_bytes);
	print_float(p, PRINT_ANY, "ratio", " (ratio %.2f)\n",
		    c->data_bytes ? (double)raw / c->data_bytes : NAN);
	print_close_object(p);
}

static void print_round(struct printer *p, const struct round_stat *s)
{
	const char *kind = s->final ? "final" : s->bulk ? "bulk" :
			   s->postcopy ? "postcopy" : "dirty";

	print_open_object(p, NULL);
	print_uint(p, PRINT_ANY, "round", "  %5u", s->round);
	print_string(p, PRINT_ANY, "kind", " %-8s", kind);
	print_u64(p, PRINT_ANY, "pages", " %9llu", s->pages);
	print_u64(p, PRINT_JSON, "normal", NULL, s->normal);
	print_u64(p, PRINT_JSON, "zero", NULL, s->zero);
	print_u64(p, PRINT_JSON, "hole", NULL, s->hole);
	print_u64(p, PRINT_JSON, "compressed", NULL, s->compressed);
	print_u64(p, PRINT_JSON, "bytes", NULL, s->bytes);
	print_float(p, PRINT_ANY, "ms", " %10.3f", ms(s->ns));
	print_float(p, PRINT_JSON, "scan_ms", NULL, ms(s->scan_ns));
	print_float(p, PRINT_ANY, "mib_s", " %9.1f", mib_s(s->bytes, s->ns));
	if (isfinite(s->dirty_rate))
		print_float(p, PRINT_ANY, "dirty_rate_mib_s", " %10.1f\n",
			    s->dirty_rate / MIB);
	else
		print_float(p, PRINT_ANY, "dirty_rate_mib_s", "          -\n",
			    NAN);
	print_close_object(p);
}

/* @ns / @n in µs; 0 without any. */
static double per_us(uint64_t ns, uint64_t n)
{
	return n ? (double)ns / n / 1000.0 : 0;
}

static void print_src_postcopy(struct printer *p, const struct migrate_report *r)
{
	print_open_object(p, "postcopy");
	print_bool(p, PRINT_JSON, "on", NULL, r->postcopy.on);
	if (!r->postcopy.on) {
		print_close_object(p);
		return;
	}
	print_string(p, PRINT_ANY, "why", "  postcopy:       %s\n", r->postcopy.why);
	print_u64(p, PRINT_ANY, "discarded_pages", "    %llu pages discarded",
		  r->postcopy.discarded);
	print_u64(p, PRINT_ANY, "requests", ", %llu requests", r->postcopy.requests);
	print_u64(p, PRINT_ANY, "urgent_pages", " for %llu pages",
		  r->postcopy.urgent_pages);
	print_u64(p, PRINT_ANY, "urgent_bytes", " (%llu bytes on the preempt channel",
		  r->postcopy.urgent_bytes);
	print_u64(p, PRINT_ANY, "urgent_before_round", ", %llu before the round)\n",
		  r->postcopy.taken);
	if (r->postcopy.bg_pages)
		print_u64(p, PRINT_ANY, "pulled_pages", "    %llu pages pulled by the recovering destination\n",
			  r->postcopy.bg_pages);
	print_float(p, PRINT_ANY, "fetch_ms", "    KMIG_FETCH %.3f ms",
		    ms(r->postcopy.fetch_ns));
	/* Per REQUEST, to set beside the destination's fault latency. */
	print_float(p, PRINT_ANY, "fetch_mean_us", " (%.1f us",
		    per_us(r->postcopy.fetch_ns, r->postcopy.requests));
	print_float(p, PRINT_ANY, "serve_mean_us", " of %.1f us serving a request)",
		    per_us(r->postcopy.serve_ns, r->postcopy.requests));
	print_float(p, PRINT_ANY, "precopy_ms", ", precopy %.3f ms",
		    ms(r->postcopy.precopy_ns));
	print_float(p, PRINT_ANY, "postcopy_ms", ", postcopy %.3f ms\n",
		    ms(r->postcopy.postcopy_ns));
	print_close_object(p);
}

/*
 * A postcopy's fault latency and the time its vCPUs were blocked, the same
 * fields under the same keys in the incoming report and `kmigctl status`.
 */
void report_print_fault_latency(struct printer *p, const char *label,
				uint32_t p50_us, uint32_t p99_us,
				uint32_t max_us, uint64_t blocked_ns)
{
	print_text(p, label);
	print_uint(p, PRINT_ANY, "latency_p50_us", " p50 %u us", p50_us);
	print_uint(p, PRINT_ANY, "latency_p99_us", ", p99 %u us", p99_us);
	print_uint(p, PRINT_ANY, "latency_max_us", ", max %u us", max_us);
	print_float(p, PRINT_ANY, "vcpu_blocked_ms", "; vCPUs blocked %.3f ms\n",
		    blocked_ns / 1e6);
}

static void print_dst_postcopy(struct printer *p, const struct incoming_report *r)
{
	uint32_t i, last = 0;

	print_open_object(p, "postcopy");
	print_bool(p, PRINT_JSON, "on", NULL, r->postcopy.on);
	if (!r->postcopy.on) {
		print_close_object(p);
		return;
	}
	print_u64(p, PRINT_ANY, "discarded_pages", "  postcopy:       %llu pages discarded",
		  r->postcopy.discarded);
	print_u64(p, PRINT_ANY, "missing_pages", ", %llu still missing\n",
		  r->postcopy.missing);
	print_u64(p, PRINT_ANY, "faults", "    %llu faults", r->postcopy.faults);
	print_u64(p, PRINT_ANY, "requests", ", %llu requested", r->postcopy.requests);
	print_u64(p, PRINT_ANY, "requested_ahead", " (+%llu ahead)",
		  r->postcopy.ahead);
	print_u64(p, PRINT_ANY, "resolved_locally", ", %llu resolved here",
		  r->postcopy.local_zero);
	print_u64(p, PRINT_ANY, "pulled", ", %llu pulled (recovery)\n",
		  r->postcopy.pulled);
	print_u64(p, PRINT_ANY, "urgent_pages", "    placed: %llu urgent",
		  r->postcopy.urgent_pages);
	print_u64(p, PRINT_ANY, "urgent_bytes", " (%llu bytes)", r->postcopy.urgent_bytes);
	print_u64(p, PRINT_ANY, "background_pages", ", %llu background",
		  r->postcopy.bg_pages);
	print_u64(p, PRINT_ANY, "background_bytes", " (%llu bytes)", r->postcopy.bg_bytes);
	print_u64(p, PRINT_ANY, "duplicates", ", %llu duplicates dropped\n",
		  r->postcopy.duplicates);
	report_print_fault_latency(p, "    fault latency:", r->postcopy.p50_us,
				   r->postcopy.p99_us, r->postcopy.max_us,
				   r->postcopy.blocked_ns);
	/*
	 * Where a requested page's wait went, means: here until the REQUEST
	 * is out, the page placed once its frame is in; the rest is the
	 * source (its serve_mean_us) and the wire both ways.
	 */
	print_float(p, PRINT_ANY, "requested_mean_us", "    requested page: mean %.1f us",
		    per_us(r->postcopy.urgent_lat_ns, r->postcopy.urgent_lat_n));
	print_float(p, PRINT_ANY, "request_mean_us", ", %.1f us to send its REQUEST",
		    per_us(r->postcopy.request_ns, r->postcopy.request_frames));
	print_float(p, PRINT_ANY, "place_mean_us", ", %.1f us to place its frame\n",
		    per_us(r->postcopy.place_ns, r->postcopy.place_frames));
	/* log2 µs buckets up to the last non-empty one, as QEMU's. */
	for (i = 0; i < 32; i++)
		if (r->postcopy.hist[i])
			last = i + 1;
	print_open_array(p, "latency_log2_us");
	print_text(p, "    latency log2(us) histogram:");
	for (i = 0; i < last; i++)
		print_u64(p, PRINT_ANY, NULL, " %llu", r->postcopy.hist[i]);
	print_text(p, "\n");
	print_close_array(p);
	print_float(p, PRINT_ANY, "precopy_ms", "    precopy %.3f ms",
		    ms(r->postcopy.precopy_ns));
	print_float(p, PRINT_ANY, "postcopy_ms", ", postcopy %.3f ms\n",
		    ms(r->postcopy.postcopy_ns));
	print_close_object(p);
}

void migrate_report_print(struct printer *p, const struct migrate_report *r)
{
	uint32_t i;

	print_open_object(p, NULL);
	print_string(p, PRINT_JSON, "role", NULL, "source");
	print_string(p, PRINT_ANY, "result", "migration %s", r->result);
	print_float(p, PRINT_TEXT, NULL, " after %.3f ms\n", ms(r->total_ns));
	if (r->error[0])
		print_string(p, PRINT_ANY, "error", "  error:          %s\n",
			     r->error);
	if (r->source_vm)
		print_string(p, PRINT_ANY, "source_vm", "  source VM:      %s\n",
			     r->source_vm);
	print_session(p, r->session_id);
	print_uint(p, PRINT_ANY, "kmig_session", "  kmig session:   %u\n",
		   r->kmig_session);
	print_string(p, PRINT_ANY, "to", "  to:             %s\n",
		     r->to ? r->to : "");
	print_string(p, PRINT_ANY, "security", "  security:       %s\n",
		     r->security);
	print_uint(p, PRINT_ANY, "channels", "  channels:       %u data", r->channels);
	print_uint(p, PRINT_ANY, "workers", ", %u kmig workers\n", r->workers);
	print_u64(p, PRINT_ANY, "ram_bytes", "  guest RAM:      %llu bytes\n",
		  r->ram_bytes);
	print_float(p, PRINT_ANY, "total_ms", "  total time:     %.3f ms\n",
		    ms(r->total_ns));
	print_float(p, PRINT_ANY, "setup_ms", "  setup time:     %.3f ms\n",
		    ms(r->setup_ns));
	if (r->have_downtime)
		print_float(p, PRINT_ANY, "downtime_ms",
			    "  downtime:       %.3f ms", ms(r->downtime_ns));
	else
		print_float(p, PRINT_ANY, "downtime_ms",
			    "  downtime:       -", NAN);
	print_u64(p, PRINT_ANY, "downtime_limit_ms", " (limit %llu ms",
		  r->downtime_limit_ms);
	print_float(p, PRINT_ANY, "estimated_downtime_ms", ", estimated %.3f ms",
		    r->est_downtime_ms);
	print_string(p, PRINT_ANY, "switchover", ", switchover: %s)\n",
		     r->switchover ? r->switchover : "none");
	if (r->have_downtime) {
		print_open_object(p, "downtime_parts_ms");
		print_float(p, PRINT_ANY, "pause", "    pause %.1f", ms(r->parts.pause));
		print_float(p, PRINT_ANY, "sync", ", sync %.1f", ms(r->parts.sync));
		print_float(p, PRINT_ANY, "final_round", ", final round %.1f",
			    ms(r->parts.round));
		print_float(p, PRINT_ANY, "device_state", ", device state %.1f",
			    ms(r->parts.state));
		print_float(p, PRINT_ANY, "destination_load",
			    ", destination load %.1f", ms(r->parts.load));
		print_float(p, PRINT_ANY, "go_ack", ", GO->ACK %.1f ms\n",
			    ms(r->parts.start));
		print_close_object(p);
	}
	print_open_object(p, "phases_ms");
	print_float(p, PRINT_ANY, "vmm", "  phases:         vmm %.1f",
		    ms(r->phases.vmm));
	print_float(p, PRINT_ANY, "attach", ", attach %.1f", ms(r->phases.attach));
	print_float(p, PRINT_ANY, "connect", ", connect %.1f",
		    ms(r->phases.connect));
	print_float(p, PRINT_ANY, "threads", ", threads %.1f",
		    ms(r->phases.threads));
	print_float(p, PRINT_ANY, "syncs", ", syncs %.1f", ms(r->phases.syncs));
	print_uint(p, PRINT_ANY, "nr_syncs", " (%u)", r->phases.nr_syncs);
	print_float(p, PRINT_ANY, "rounds", ", rounds %.1f", ms(r->phases.rounds));
	print_float(p, PRINT_ANY, "switchover", ", switchover %.1f",
		    ms(r->phases.switchover));
	print_float(p, PRINT_ANY, "teardown", ", teardown %.1f ms\n",
		    ms(r->phases.teardown));
	print_close_object(p);
	print_src_postcopy(p, r);
	print_uint(p, PRINT_ANY, "rounds", "  rounds:         %u\n", r->nr_rounds);
	print_u64(p, PRINT_ANY, "bytes_sent", "  bytes sent:     %llu\n",
		  r->bytes_sent);
	print_pages(p, r->normal, r->zero, r->hole);
	print_compression(p, &r->zstd, r->normal);
	print_float(p, PRINT_ANY, "throughput_mib_s", "  throughput:     %.1f MiB/s\n",
		    mib_s(r->bytes_sent, r->total_ns - r->setup_ns));

	print_open_array(p, "channel_bytes");
	print_text(p, "  channel bytes: ");
	for (i = 0; i < r->channels && i < KMS_MAX_CHANNELS; i++)
		print_u64(p, PRINT_ANY, NULL, " %llu", r->channel_bytes[i]);
	print_text(p, "\n");
	print_close_array(p);

	print_open_array(p, "round_stats");
	if (r->nr_rounds)
		print_text(p, "  round kind         pages         ms     MiB/s  dirty MiB/s\n");
	for (i = 0; i < r->nr_rounds; i++)
		print_round(p, &r->rounds[i]);
	print_close_array(p);
	print_close_object(p);
	print_finish(p);
}

void incoming_report_print(struct printer *p, const struct incoming_report *r)
{
	print_open_object(p, NULL);
	print_string(p, PRINT_JSON, "role", NULL, "destination");
	print_string(p, PRINT_ANY, "result", "incoming migration %s", r->result);
	print_float(p, PRINT_TEXT, NULL, " after %.3f ms\n", ms(r->total_ns));
	if (r->error[0])
		print_string(p, PRINT_ANY, "error", "  error:          %s\n",
			     r->error);
	if (r->warning[0])
		print_string(p, PRINT_ANY, "warning", "  warning:        %s\n",
			     r->warning);
	if (r->vm)
		print_string(p, PRINT_ANY, "vm", "  VM here:        %s\n", r->vm);
	print_uint(p, PRINT_ANY, "refused", "  refused:        %u connections",
		   r->refused);
	if (r->refused)
		print_string(p, PRINT_ANY, "refused_last", " (last: %s)",
			     r->refused_last);
	print_string(p, PRINT_TEXT, NULL, "%s", "\n");
	print_session(p, r->session_id);
	print_uint(p, PRINT_ANY, "kmig_session", "  kmig session:   %u\n",
		   r->kmig_session);
	print_string(p, PRINT_ANY, "listen", "  listen:         %s\n",
		     r->listen ? r->listen : "");
	print_string(p, PRINT_ANY, "security", "  security:       %s\n",
		     r->security);
	print_uint(p, PRINT_ANY, "channels", "  channels:       %u data\n",
		   r->channels);
	print_u64(p, PRINT_ANY, "ram_bytes", "  guest RAM:      %llu bytes\n",
		  r->ram_bytes);
	print_float(p, PRINT_ANY, "total_ms", "  total time:     %.3f ms\n",
		    ms(r->total_ns));
	print_float(p, PRINT_ANY, "setup_ms", "  setup time:     %.3f ms\n",
		    ms(r->setup_ns));
	print_float(p, PRINT_ANY, "start_ms", "  VM start:       %.3f ms\n",
		    ms(r->start_ns));
	print_uint(p, PRINT_ANY, "rounds", "  rounds:         %u\n", r->rounds);
	print_u64(p, PRINT_ANY, "bytes_received", "  bytes received: %llu\n",
		  r->bytes_received);
	print_pages(p, r->normal, r->zero, r->hole);
	print_compression(p, &r->zstd, r->normal);
	print_u64(p, PRINT_ANY, "pages_loaded", "  pages loaded:   %llu",
		  r->loaded);
	print_u64(p, PRINT_ANY, "pages_zeroed", ", %llu zeroed again\n",
		  r->zeroed);
	print_u64(p, PRINT_ANY, "device_state_bytes", "  device state:   %llu bytes\n",
		  r->state_bytes);
	print_dst_postcopy(p, r);
	print_float(p, PRINT_ANY, "throughput_mib_s", "  throughput:     %.1f MiB/s\n",
		    mib_s(r->bytes_received, r->total_ns - r->setup_ns));
	print_close_object(p);
	print_finish(p);
}
