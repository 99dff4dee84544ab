// SPDX-License-Identifier: GPL-2.0
/*
 * kmig-vmm's command line.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest_layout.h"
#include "options.h"
#include "util.h"

#define DEFAULT_MEM_MIB		512
#define DEFAULT_RATE_MIB	32
/*
 * The guest needs its system area plus some data; the top of the range
 * is well within what one page-directory-pointer table can map.
 */
#define MIN_MEM_MIB		8
#define MAX_MEM_MIB		(256 * 1024)
#define MAX_DIRTY_RING		65536

static const char usage_text[] =
"usage: kmig-vmm --control PATH [options]\n"
"\n"
"The reference VMM that kmig migrates: a 64-bit KVM guest running a\n"
"built-in workload, controlled through a unix socket (kmigctl).\n"
"\n"
"  --control PATH        listen for kmigctl on this unix socket (required)\n"
"  --mem MiB             guest RAM (default 512)\n"
"  --vcpus N             vCPUs, 1-4 (default 1)\n"
"  --memfd               back RAM with a memfd instead of anonymous memory\n"
"  --workload W          counter (default), idle, zero, text, random,\n"
"                        dirty:<MiB/s>:<working set MiB>,\n"
"                        hostwrite:<MiB/s>:<region MiB>\n"
"  --rate MiB/s          pace counter and the fills to this rate over all\n"
"                        vCPUs (default 32, 0 = unlimited)\n"
"  --incoming            be a migration destination: wait for RAM and\n"
"                        state, run on VMM_START\n"
"  --dirty-ring ENTRIES  use KVM's dirty ring (ENTRIES per vCPU, a power\n"
"                        of two, 256-65536) instead of the dirty bitmap\n"
"  --manual-protect      enable KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2\n"
"  --check-after SEC     SEC seconds after the vCPUs start, check the\n"
"                        workload's memory, print the verdict and exit\n"
"                        (0 passed, 1 failed)\n"
"  --no-dirty-mark       do not report the VMM's own writes to guest RAM\n"
"                        (KMIG_DIRTY_MARK): a live migration loses them\n"
"  --help                this text\n"
"\n"
"Prints \"kmig-vmm: ready pid=PID control=PATH\" on stdout when the\n"
"control socket accepts connections. Exit status: 0, 1 a failed check,\n"
"2 an error. See Documentation/kmig-vmm.md.\n";

static void usage(int status)
{
	if (status)
		fputs("Try 'kmig-vmm --help'.\n", stderr);
	else
		fputs(usage_text, stdout);
	exit(status);
}

static uint64_t parse_u64(const char *opt, const char *s, uint64_t min,
			  uint64_t max)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || *s == '-' || v < min || v > max) {
		vmm_warn("%s: '%s' is not a number in %llu..%llu", opt, s,
			 (unsigned long long)min, (unsigned long long)max);
		usage(2);
	}
	return v;
}

enum {
	OPT_CONTROL = 'c',
	OPT_HELP = 'h',
	OPT_MEM = 0x100,
	OPT_VCPUS,
	OPT_MEMFD,
	OPT_WORKLOAD,
	OPT_RATE,
	OPT_INCOMING,
	OPT_DIRTY_RING,
	OPT_MANUAL_PROTECT,
	OPT_CHECK_AFTER,
	OPT_NO_DIRTY_MARK,
};

static const struct option long_options[] = {
	{ "control", required_argument, NULL, OPT_CONTROL },
	{ "mem", required_argument, NULL, OPT_MEM },
	{ "vcpus", required_argument, NULL, OPT_VCPUS },
	{ "memfd", no_argument, NULL, OPT_MEMFD },
	{ "workload", required_argument, NULL, OPT_WORKLOAD },
	{ "rate", required_argument, NULL, OPT_RATE },
	{ "incoming", no_argument, NULL, OPT_INCOMING },
	{ "dirty-ring", required_argument, NULL, OPT_DIRTY_RING },
	{ "manual-protect", no_argument, NULL, OPT_MANUAL_PROTECT },
	{ "check-after", required_argument, NULL, OPT_CHECK_AFTER },
	{ "no-dirty-mark", no_argument, NULL, OPT_NO_DIRTY_MARK },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

static int64_t parse_seconds_ms(const char *opt, const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < 0 || v > 1e6) {
		vmm_warn("%s: '%s' is not a number of seconds", opt, s);
		usage(2);
	}
	return (int64_t)(v * 1000);
}

void options_parse(int argc, char **argv, struct vmm_options *opt)
{
	int c;

	*opt = (struct vmm_options) {
		.ram_size = DEFAULT_MEM_MIB * MIB,
		.nr_vcpus = 1,
		.workload = "counter",
		.check_after_ms = -1,
		.rate_mib = DEFAULT_RATE_MIB,
	};
	while ((c = getopt_long(argc, argv, "c:h", long_options, NULL)) != -1) {
		switch (c) {
		case OPT_CONTROL:
			opt->control = optarg;
			break;
		case OPT_MEM:
			opt->ram_size = parse_u64("--mem", optarg, MIN_MEM_MIB,
						  MAX_MEM_MIB) * MIB;
			break;
		case OPT_VCPUS:
			opt->nr_vcpus = parse_u64("--vcpus", optarg, 1,
						  GUEST_MAX_VCPUS);
			break;
		case OPT_MEMFD:
			opt->memfd = true;
			break;
		case OPT_WORKLOAD:
			opt->workload = optarg;
			break;
		case OPT_RATE:
			opt->rate_mib = parse_u64("--rate", optarg, 0, MAX_RATE_MIB);
			opt->rate_given = true;
			break;
		case OPT_INCOMING:
			opt->incoming = true;
			break;
		case OPT_DIRTY_RING:
			opt->dirty_ring = parse_u64("--dirty-ring", optarg, 256,
						    MAX_DIRTY_RING);
			if (opt->dirty_ring & (opt->dirty_ring - 1)) {
				vmm_warn("--dirty-ring: %u is not a power of two",
					 opt->dirty_ring);
				usage(2);
			}
			break;
		case OPT_MANUAL_PROTECT:
			opt->manual_protect = true;
			break;
		case OPT_CHECK_AFTER:
			opt->check_after_ms = parse_seconds_ms("--check-after",
							       optarg);
			break;
		case OPT_NO_DIRTY_MARK:
			opt->no_dirty_mark = true;
			break;
		case OPT_HELP:
			usage(0);
			break;
		default:
			usage(2);
		}
	}
	if (optind < argc) {
		vmm_warn("unexpected argument '%s'", argv[optind]);
		usage(2);
	}
	if (!opt->control) {
		vmm_warn("--control PATH is required");
		usage(2);
	}
	if (opt->dirty_ring && opt->manual_protect) {
		vmm_warn("--dirty-ring and --manual-protect exclude each other");
		usage(2);
	}
}
