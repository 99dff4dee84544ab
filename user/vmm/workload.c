// SPDX-License-Identifier: GPL-2.0
/*
 * The built-in guest workloads: parsing --workload, and where each vCPU
 * works.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest_layout.h"
#include "util.h"
#include "workload.h"

/* Pages between two pacing exits: 128 KiB, a few exits per MiB. */
#define PACE_BATCH_PAGES	32
/* idle touches this many pages per vCPU, spread over its slice. */
#define IDLE_TOUCH_PAGES	16
/* High bit set: (page address | 1) ^ seed is never 0, as xorshift needs. */
#define GENERATOR_SEED		0x9e3779b97f4a7c15ULL

static const struct {
	const char *name;
	int mode;
} modes[] = {
	{ "idle", GUEST_MODE_IDLE },
	{ "zero", GUEST_MODE_ZERO },
	{ "text", GUEST_MODE_TEXT },
	{ "random", GUEST_MODE_RANDOM },
	{ "counter", GUEST_MODE_COUNTER },
	{ "dirty", GUEST_MODE_DIRTY },
	{ "hostwrite", GUEST_MODE_HOSTWRITE },
};

const char *workload_mode_name(int mode)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(modes); i++)
		if (modes[i].mode == mode)
			return modes[i].name;
	return "?";
}

/* dirty:<MiB/s>:<working set MiB>, hostwrite:<MiB/s>:<region MiB> */
static int parse_rate_size(const char *args, struct workload *wl, char *err,
			   size_t errlen)
{
	unsigned long rate, ws;
	char *end;

	errno = 0;
	rate = strtoul(args, &end, 10);
	if (errno || end == args || *end != ':' || rate > (1UL << 20))
		goto bad;
	args = end + 1;
	ws = strtoul(args, &end, 10);
	if (errno || end == args || *end || !ws || ws > (1UL << 20))
		goto bad;
	wl->dirty_rate_mib = rate;
	wl->ws = ws * MIB;
	return 0;
bad:
	if (wl->mode == GUEST_MODE_DIRTY)
		snprintf(err, errlen,
			 "dirty workload: expected dirty:<MiB/s>:<working set MiB>");
	else
		snprintf(err, errlen,
			 "hostwrite workload: expected hostwrite:<MiB/s>:<region MiB>");
	return -EINVAL;
}

/* A fill's optional size, so a guest can leave part of its RAM untouched. */
static int parse_fill_size(const char *args, struct workload *wl, char *err,
			   size_t errlen)
{
	unsigned long mib;
	char *end;

	errno = 0;
	mib = strtoul(args, &end, 10);
	if (errno || end == args || *end || !mib || mib > (1UL << 20)) {
		snprintf(err, errlen,
			 "%s workload: expected %s or %s:<MiB to fill>",
			 workload_mode_name(wl->mode),
			 workload_mode_name(wl->mode),
			 workload_mode_name(wl->mode));
		return -EINVAL;
	}
	wl->ws = mib * MIB;
	return 0;
}

int workload_parse(const char *spec, struct workload *wl, char *err,
		   size_t errlen)
{
	size_t i, n;

	memset(wl, 0, sizeof(*wl));
	if (strlen(spec) >= sizeof(wl->spec)) {
		snprintf(err, errlen, "workload '%.20s...' is too long", spec);
		return -EINVAL;
	}
	strcpy(wl->spec, spec);
	for (i = 0; i < ARRAY_SIZE(modes); i++) {
		n = strlen(modes[i].name);
		if (strncmp(spec, modes[i].name, n))
			continue;
		wl->mode = modes[i].mode;
		if (wl->mode == GUEST_MODE_DIRTY ||
		    wl->mode == GUEST_MODE_HOSTWRITE)
			return spec[n] == ':' ?
			       parse_rate_size(spec + n + 1, wl, err, errlen) :
			       parse_rate_size("", wl, err, errlen);
		if (!spec[n])
			return 0;
		if (spec[n] == ':' && (wl->mode == GUEST_MODE_ZERO ||
				       wl->mode == GUEST_MODE_TEXT ||
				       wl->mode == GUEST_MODE_RANDOM))
			return parse_fill_size(spec + n + 1, wl, err, errlen);
		break;
	}
	snprintf(err, errlen,
		 "unknown workload '%s' (counter, idle, zero[:MiB], text[:MiB], random[:MiB], dirty:<MiB/s>:<MiB>, hostwrite:<MiB/s>:<MiB>)",
		 spec);
	return -EINVAL;
}

static uint64_t data_pages(uint64_t ram_size)
{
	return (ram_size - GUEST_DATA) / GUEST_PAGE_SIZE;
}

int workload_fits(const struct workload *wl, uint64_t ram_size, char *err,
		  size_t errlen)
{
	if (wl->ws / GUEST_PAGE_SIZE > data_pages(ram_size)) {
		snprintf(err, errlen,
			 "%s: %llu MiB does not fit the guest's %llu MiB of data RAM",
			 workload_mode_name(wl->mode),
			 (unsigned long long)(wl->ws / MIB),
			 (unsigned long long)(data_pages(ram_size) *
					      GUEST_PAGE_SIZE / MIB));
		return -EINVAL;
	}
	return 0;
}

void workload_slice(const struct workload *wl, uint64_t ram_size,
		    int nr_vcpus, int id, struct workload_slice *s)
{
	uint64_t total = data_pages(ram_size), each;

	if (wl->ws)
		total = wl->ws / GUEST_PAGE_SIZE;
	/* Equal slices from GUEST_DATA up; the last vCPU takes the rest. */
	each = total / nr_vcpus;
	*s = (struct workload_slice) {
		.mode = wl->mode,
		.first = GUEST_DATA + id * each * GUEST_PAGE_SIZE,
		.pages = id == nr_vcpus - 1 ? total - id * each : each,
		.batch = PACE_BATCH_PAGES,
		.seed = GENERATOR_SEED,
	};
	if (wl->mode == GUEST_MODE_IDLE) {
		s->touch = s->pages < IDLE_TOUCH_PAGES ? s->pages :
			   IDLE_TOUCH_PAGES;
		s->stride = s->touch ? s->pages / s->touch : 1;
	}
	/* hostwrite: the slice's first page is its used ring, then data. */
	if (wl->mode == GUEST_MODE_HOSTWRITE) {
		s->ring = s->first;
		s->first += GUEST_PAGE_SIZE;
		s->pages--;
	}
}

uint64_t workload_vcpu_rate(const struct workload *wl, uint32_t rate_mib,
			    int nr_vcpus)
{
	if (wl->mode == GUEST_MODE_DIRTY || wl->mode == GUEST_MODE_HOSTWRITE)
		rate_mib = wl->dirty_rate_mib;
	return rate_mib * MIB / nr_vcpus;
}
