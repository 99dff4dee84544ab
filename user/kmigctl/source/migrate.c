// SPDX-License-Identifier: GPL-2.0
/*
 * `kmigctl migrate`: the source side of a live migration. Options, setup
 * (VMM, kmig session, channels), then precopy.c and switchover.c, then
 * the cleanup that resumes the source VM on any failure, and the report.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "clock.h"
#include "handshake.h"
#include "kmigctl.h"
#include "migrate.h"
#include "options.h"
#include "signals.h"

#define MIGRATE_RING_ENTRIES		1024
#define MIGRATE_CONNECT_TIMEOUT_MS	30000
#define MIGRATE_STALL_MS		60000
#define MIGRATE_PEER_TIMEOUT_MS		10000
#define MIGRATE_STEP_TIMEOUT_MS		60000
#define MIGRATE_MAX_WORKERS_DEFAULT	8
/*
 * --compress zstd without a level. Level 3 (zstd's own default) rather
 * than the module's 1: on text in frames of 4 pages it sent 4% fewer
 * bytes at the same CPU and time in the sandbox (Documentation/
 * benchmarks.md), which takes kmig below QEMU's multifd zstd at level 1.
 */
#define MIGRATE_ZSTD_LEVEL_DEFAULT	3

enum {
	MIGRATE_OPT_POSTCOPY = 0x2000,
	MIGRATE_OPT_POSTCOPY_AFTER,
	MIGRATE_OPT_RESUME,
};

static void migrate_usage(FILE *fp)
{
	fprintf(fp,
		"Usage: kmigctl migrate --vmm SOCKET --to ADDRESS [OPTIONS]\n"
		"Live-migrate the VM of the VMM at SOCKET to `kmigctl incoming` at\n"
		"ADDRESS (tcp:HOST:PORT or unix:PATH).\n"
		"  -c, --channels N         data channels (default: --workers)\n"
		"  -w, --workers N          kmig worker threads (default: --channels,\n"
		"                           else online CPUs, at most %d)\n"
		"  -d, --downtime-limit MS  switch over when the estimated downtime\n"
		"                           is under MS (default 300)\n"
		"  -b, --max-bandwidth MIB  MiB/s over all channels (default: none)\n"
		"  -z, --compress zstd[:LEVEL]\n"
		"                           compress pages with zstd in the kernel,\n"
		"                           level 1..%d (default %d); the destination's\n"
		"                           kmig module decompresses them. 'none'\n"
		"                           (the default) sends pages raw;\n"
		"                           'zstd-page[:LEVEL]' one page per frame,\n"
		"                           for destinations without zstd runs\n"
		"  -r, --max-rounds N       switch over after N dirty rounds\n"
		"  -t, --timeout SEC        switch over at the end of the round\n"
		"                           during which SEC seconds have passed\n"
		"      --postcopy[=auto]    switch to postcopy: the destination runs\n"
		"                           the VM at once and fetches the pages it\n"
		"                           still lacks; right after the bulk round,\n"
		"                           or with 'auto' when precopy cannot\n"
		"                           converge (and at --max-rounds/--timeout)\n"
		"      --postcopy=manual    only at `kmigctl postcopy-start` (which\n"
		"                           every --postcopy mode honours)\n"
		"      --postcopy-after N   switch to postcopy after N dirty rounds\n"
		"      --resume             resume a postcopy that broke off (exit 5):\n"
		"                           serve the pages the destination, run by\n"
		"                           `kmigctl postcopy-recover`, still lacks\n"
		"  -P, --peer-timeout SEC   the destination is lost when silent for\n"
		"                           SEC s (default %d; both ends send a\n"
		"                           keepalive every second)\n"
		"  -S, --step-timeout SEC   each step (a channel's handshake, a\n"
		"                           round's LOADED, READY, ACK) must be done\n"
		"                           within SEC s (default %d)\n"
		"  -j, --json               the report as JSON\n"
		"  -q, --quiet              no progress line (on a terminal) or\n"
		"                           line per round (elsewhere) on stderr\n"
		"%s"
		"Exit status: 0 migrated, 1 failed (the source VM runs), 2 usage,\n"
		"3 cancelled (the source VM runs), 4 outcome unknown (GO was sent\n"
		"but no ACK came: the source VM stays paused; see kmigctl resume).\n",
		MIGRATE_MAX_WORKERS_DEFAULT, KMIG_ZSTD_LEVEL_MAX,
		MIGRATE_ZSTD_LEVEL_DEFAULT, MIGRATE_PEER_TIMEOUT_MS / 1000,
		MIGRATE_STEP_TIMEOUT_MS / 1000, sec_usage);
}

static int migrate_parse(struct migrate_opts *o, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "vmm", required_argument, NULL, 'v' },
		{ "to", required_argument, NULL, 'o' },
		{ "channels", required_argument, NULL, 'c' },
		{ "workers", required_argument, NULL, 'w' },
		{ "downtime-limit", required_argument, NULL, 'd' },
		{ "max-bandwidth", required_argument, NULL, 'b' },
		{ "compress", required_argument, NULL, 'z' },
		{ "max-rounds", required_argument, NULL, 'r' },
		{ "timeout", required_argument, NULL, 't' },
		{ "peer-timeout", required_argument, NULL, 'P' },
		{ "step-timeout", required_argument, NULL, 'S' },
		{ "json", no_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "postcopy", optional_argument, NULL, MIGRATE_OPT_POSTCOPY },
		{ "postcopy-after", required_argument, NULL,
		  MIGRATE_OPT_POSTCOPY_AFTER },
		{ "resume", no_argument, NULL, MIGRATE_OPT_RESUME },
		SEC_LONG_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	long cpus;
	int c;

	memset(o, 0, sizeof(*o));
	o->ring_entries = MIGRATE_RING_ENTRIES;
	o->policy.downtime_limit_ms = 300;
	o->policy.max_rounds = POLICY_NO_LIMIT;
	o->connect_timeout_ms = MIGRATE_CONNECT_TIMEOUT_MS;
	o->stall_ms = MIGRATE_STALL_MS;
	o->peer_timeout_ms = MIGRATE_PEER_TIMEOUT_MS;
	o->step_timeout_ms = MIGRATE_STEP_TIMEOUT_MS;
	o->stream_version = KMS_VERSION;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":v:o:c:w:d:b:z:r:t:P:S:jqh", opts,
				NULL)) != -1) {
		if (sec_parse_opt(&o->sec, c, optarg))
			continue;
		switch (c) {
		case 'v':
			o->vmm = optarg;
			break;
		case 'o':
			o->to = optarg;
			break;
		case 'c':
			if (opt_u64("migrate", "--channels", optarg, 1,
				    KMS_MAX_CHANNELS, &v))
				return -1;
			o->channels = v;
			break;
		case 'w':
			if (opt_u64("migrate", "--workers", optarg, 1,
				    KMIG_MAX_WORKERS, &v))
				return -1;
			o->workers = v;
			break;
		case 'd':
			if (opt_u64("migrate", "--downtime-limit", optarg, 0,
				    3600000, &o->policy.downtime_limit_ms))
				return -1;
			break;
		case 'b':
			if (opt_u64("migrate", "--max-bandwidth", optarg, 1,
				    1 << 20, &v))
				return -1;
			o->max_bandwidth = v << 20;
			break;
		case 'z':
			if (opt_compress("migrate", optarg, KMIG_ZSTD_LEVEL_MAX,
					 &o->zstd, &o->zstd_page,
					 &o->zstd_level))
				return -1;
			break;
		case 'r':
			if (opt_u64("migrate", "--max-rounds", optarg, 0,
				    1000000, &v))
				return -1;
			o->policy.max_rounds = v;
			break;
		case 't':
			if (opt_u64("migrate", "--timeout", optarg, 1,
				    31 * 24 * 3600, &v))
				return -1;
			o->policy.timeout_ms = v * 1000;
			break;
		case 'P':
		case 'S':
			if (opt_deadline("migrate", c, optarg, &o->peer_timeout_ms,
					 &o->step_timeout_ms))
				return -1;
			break;
		case 'j':
			o->json = true;
			break;
		case 'q':
			o->quiet = true;
			break;
		case MIGRATE_OPT_POSTCOPY:
			/* "--postcopy auto" (or manual) as two words, too. */
			if (!optarg && optind < argc &&
			    (!strcmp(argv[optind], "auto") ||
			     !strcmp(argv[optind], "manual")))
				optarg = argv[optind++];
			if (optarg && strcmp(optarg, "auto") &&
			    strcmp(optarg, "manual")) {
				fprintf(stderr, "kmig: migrate: --postcopy takes no value but 'auto' or 'manual', not '%s'\n",
					optarg);
				return -1;
			}
			o->policy.postcopy = !optarg ? POSTCOPY_AFTER_BULK :
					     !strcmp(optarg, "auto") ? POSTCOPY_AUTO :
					     POSTCOPY_MANUAL;
			break;
		case MIGRATE_OPT_POSTCOPY_AFTER:
			if (opt_u64("migrate", "--postcopy-after", optarg, 1,
				    1000000, &v))
				return -1;
			o->policy.postcopy = POSTCOPY_AFTER_N;
			o->policy.postcopy_after = v;
			break;
		case MIGRATE_OPT_RESUME:
			o->resume = true;
			break;
		case 'h':
			migrate_usage(stdout);
			return 1;
		default:
			opt_unknown("migrate", c, argv);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "kmig: migrate: unexpected argument '%s'\n",
			argv[optind]);
		return -1;
	}
	if (!o->vmm || !o->to) {
		fprintf(stderr, "kmig: migrate: --vmm and --to are required\n");
		return -1;
	}
	if (o->resume && o->policy.postcopy) {
		fprintf(stderr, "kmig: migrate: --resume goes on with a postcopy: no --postcopy options\n");
		return -1;
	}
	/* A resumed postcopy has the postcopy channels, and nothing to compress. */
	if (o->resume) {
		o->policy.postcopy = POSTCOPY_AFTER_BULK;
		o->zstd = false;
	}

	/* Channels follow workers and the other way round; else the CPUs. */
	if (!o->workers)
		o->workers = o->channels;
	if (!o->workers) {
		cpus = sysconf(_SC_NPROCESSORS_ONLN);
		o->workers = cpus < 1 ? 1 : cpus > MIGRATE_MAX_WORKERS_DEFAULT ?
			     MIGRATE_MAX_WORKERS_DEFAULT : cpus;
	}
	if (!o->channels)
		o->channels = o->workers;

	/* Hidden, for tests: a stream version the destination must refuse. */
	if (getenv("KMIG_TEST_STREAM_VERSION"))
		o->stream_version = strtoul(getenv("KMIG_TEST_STREAM_VERSION"),
					    NULL, 0);
	return 0;
}

/* The guest's RAM as kmig sees it: address space 0's memslots. */
static int migrate_layout(struct migration *m)
{
	struct kmig_memslot *slots;
	unsigned int nr, i;
	struct kms_error e;
	int ret;

	ret = kmig_get_memslots(m->kfd, &slots, &nr, NULL);
	if (ret)
		return migration_fail(m, "failed", "KMIG_GET_MEMSLOTS: %s",
				      kmig_strerror(ret));
	for (i = 0; i < nr; i++) {
		if (slots[i].as_id != 0) {
			free(slots);
			return migration_fail(m, "failed",
					      "the VM has memslots in address space %u (SMM): not supported",
					      slots[i].as_id);
		}
		if (i >= KMS_MAX_REGIONS) {
			free(slots);
			return migration_fail(m, "failed",
					      "the VM has %u memslots, the stream carries at most %d",
					      nr, KMS_MAX_REGIONS);
		}
		m->hello.layout.r[i].gpa = slots[i].gpa;
		m->hello.layout.r[i].size = slots[i].size;
	}
	free(slots);
	m->hello.layout.nr = nr;
	if (kms_layout_check(&m->hello.layout, &e))
		return migration_fail(m, "failed", "the VM's memory: %s", e.msg);
	m->hello.ram_bytes = kms_layout_bytes(&m->hello.layout);
	m->rep.ram_bytes = m->hello.ram_bytes;
	return 0;
}

/* VMM, kmig session, layout, rings, dirty tracking. */
static int migrate_attach(struct migration *m)
{
	struct kmig_send_setup ss;
	struct kmig_dirty_start ds;
	struct kmig_info ki;
	struct vmm_status st;
	char err[256];
	int ret;

	ret = vmm_open(&m->vmm, m->o.vmm, err, sizeof(err));
	if (!ret)
		ret = vmm_get_hello(&m->vmm, &m->info, err, sizeof(err));
	if (ret)
		return migration_fail(m, "failed", "%s", err);
	/*
	 * hello.incoming says how the VMM was started, not that it still
	 * waits: one whose guest came in and runs may migrate it on.
	 */
	if (m->info.hello.incoming &&
	    (vmm_status(&m->vmm, &st, err, sizeof(err)) ||
	     !(st.flags & VMM_ST_STARTED)))
		return migration_fail(m, "failed",
				      "the VMM at %s waits for an incoming migration: it cannot be a source",
				      m->o.vmm);
	if (m->o.resume ? commit_resume(m) : commit_hold(m))
		return -1;
	m->rep.phases.vmm = now_ns() - m->start_ns;

	m->kfd = kmig_open();
	if (m->kfd < 0)
		return migration_fail(m, "failed", "%s: %s", KMIG_DEVICE_PATH,
				      kmig_strerror(m->kfd));
	ret = kmig_get_info(m->kfd, &ki);
	if (!ret)
		m->rep.kmig_session = ki.session_id;
	if (m->o.zstd && (ret || !(ki.features & KMIG_FEATURE_ZSTD)))
		return migration_fail(m, "failed",
				      "--compress zstd: this kmig module cannot compress (no KMIG_FEATURE_ZSTD)");
	ret = kmig_attach_vm(m->kfd, m->info.vm_fd, NULL);
	if (ret)
		return migration_fail(m, "failed", "KMIG_ATTACH_VM: %s",
				      kmig_strerror(ret));
	if (migrate_layout(m))
		return -1;

	/* --resume only reads pages (KMIG_FETCH): no workers, no rings. */
	if (m->o.resume)
		goto track;
	memset(&ss, 0, sizeof(ss));
	ss.nr_workers = m->o.workers;
	ss.ring_entries = m->o.ring_entries;
	if (m->o.zstd) {
		ss.flags = KMIG_SEND_F_ZSTD;
		ss.zstd_level = m->o.zstd_level ?: MIGRATE_ZSTD_LEVEL_DEFAULT;
		/*
		 * Runs of pages per frame where the module has them; the
		 * HELLO then says so (KMS_F_ZSTD_RUN).
		 */
		if (ki.features & KMIG_FEATURE_ZSTD_RUN && !m->o.zstd_page) {
			ss.flags |= KMIG_SEND_F_ZSTD_RUN;
			m->zstd_run = true;
		}
	}
	ret = kmig_send_setup_ex(m->kfd, &ss, &m->rings);
	if (ret)
		return migration_fail(m, "failed", "KMIG_SEND_SETUP: %s",
				      kmig_strerror(ret));
track:
	ret = kmig_dirty_start(m->kfd, &ds);
	if (ret)
		return migration_fail(m, "failed", "KMIG_DIRTY_START: %s",
				      kmig_strerror(ret));
	m->nr_pages = ds.nr_pages;
	m->rep.phases.attach = now_ns() - m->start_ns - m->rep.phases.vmm;
	return 0;
}

/* Connects channel @idx (0: main) and runs its handshake. */
static int migrate_connect_one(struct migration *m, struct chan *c,
			       uint32_t idx)
{
	struct kms_error e;
	char name[24];
	int fd, ret;

	if (idx > m->o.channels)
		snprintf(name, sizeof(name), "preempt channel");
	else if (idx)
		snprintf(name, sizeof(name), "data channel %u", idx);
	else
		snprintf(name, sizeof(name), "main channel");
	fd = addr_connect(&m->addr, m->o.connect_timeout_ms, &kmigctl_stopping);
	if (fd == -ESHUTDOWN)
		return migration_fail_cancelled(m);
	if (fd < 0)
		return migration_fail(m, "failed", "connecting to %s: %s",
				      m->o.to, strerror(-fd));
	addr_keepalive(fd, m->o.peer_timeout_ms);
	/* A signal ends the channel's I/O in any phase. */
	chan_init(c, fd, name, m->o.stall_ms, &kmigctl_stopping);
	m->hello.channel = idx;
	c->deadline_ns = deadline_after_ms(m->o.step_timeout_ms);
	ret = sec_start(&m->sec, c, &e);
	if (!ret)
		ret = handshake_connect(c, m->o.stream_version, &m->hello,
					&m->sec, &e);
	c->deadline_ns = 0;
	/*
	 * From here a data channel stops when the sender does (a signal
	 * cancels the round in the kernel, and the report says cancelled).
	 */
	if (idx)
		c->stop = NULL;
	if (ret == -ESHUTDOWN)
		return migration_fail_cancelled(m);
	/* A kmigctl from before features calls them a reserved field. */
	if (ret && m->hello.features && strstr(e.msg, "reserved field"))
		return migration_fail(m, "failed",
				      "%s (the destination's kmigctl predates --compress: migrate without it)",
				      e.msg);
	if (ret)
		return migration_fail(m, "failed", "%s", e.msg);
	return 0;
}

static int migrate_connect(struct migration *m)
{
	uint32_t i;

	if (getrandom(&m->hello.session_id, sizeof(m->hello.session_id), 0) !=
	    sizeof(m->hello.session_id))
		m->hello.session_id = now_ns() ^ ((uint64_t)getpid() << 32);
	if (!m->hello.session_id)
		m->hello.session_id = 1;
	m->rep.session_id = m->hello.session_id;
	m->hello.nr_channels = m->o.channels;
	m->hello.page_size = KMS_PAGE_SIZE;
	m->hello.nr_vcpus = m->info.hello.nr_vcpus;
	m->hello.features = m->o.zstd ? KMS_F_ZSTD : 0;
	if (m->zstd_run)
		m->hello.features |= KMS_F_ZSTD_RUN;
	if (m->o.policy.postcopy)
		m->hello.features |= KMS_F_POSTCOPY;
	if (m->o.resume)
		m->hello.features |= KMS_F_RESUME;

	/* The main channel first: the destination learns the session there. */
	if (migrate_connect_one(m, &m->main, 0))
		return -1;
	snprintf(m->rep.security, sizeof(m->rep.security), "%s", m->main.sec);
	mainchan_init(&m->mc, &m->main, "the destination", m->o.peer_timeout_ms);
	m->mc_up = true;
	if (mainchan_start_keepalive(&m->mc))
		return migration_fail(m, "failed", "starting the keepalive thread");
	m->data = calloc(m->o.channels, sizeof(*m->data));
	if (!m->data)
		return migration_fail(m, "failed", "out of memory");
	for (i = 0; i < m->o.channels; i++) {
		m->data[i].fd = -1;
		if (migrate_connect_one(m, &m->data[i], i + 1))
			return -1;
		m->nr_data++;
		if (migration_cancelled(m))
			return migration_fail_cancelled(m);
	}
	/* Postcopy's urgent pages never queue behind background data. */
	if (m->o.policy.postcopy &&
	    migrate_connect_one(m, &m->pre, m->o.channels + 1))
		return -1;
	return 0;
}

static int migrate_start_threads(struct migration *m)
{
	sigset_t saved;
	int ret;

	ratelimit_init(&m->rl, m->o.max_bandwidth);
	ret = sender_init(&m->s, m->kfd, m->rings, m->o.workers, m->data,
			  m->o.channels, &m->rl);
	if (ret)
		return migration_fail(m, "failed", "%s", strerror(-ret));
	if (m->hello.features & KMS_F_ZSTD_RUN)
		m->s.zstd_run_max = KMS_ZSTD_RUN_MAX;
	m->sender_up = true;
	signals_block(&saved);
	ret = sender_start(&m->s);
	progress_start(&m->prog, isatty(STDERR_FILENO) && !m->o.quiet, &m->s,
		       m->start_ns);
	signals_restore(&saved);
	if (ret)
		return migration_fail(m, "failed", "starting threads: %s",
				      strerror(-ret));
	return 0;
}

static int migrate_run(struct migration *m)
{
	enum switchover_reason why = SWITCHOVER_NOT_YET;
	uint64_t t;

	if (migrate_attach(m))
		return -1;
	t = now_ns();
	if (migrate_connect(m))
		return -1;
	m->rep.phases.connect = now_ns() - t;
	if (m->o.resume)
		return postcopy_resume_run(m);
	commit_precopy(m);
	m->rep.setup_ns = now_ns() - m->start_ns;
	/*
	 * Where no progress line can be drawn, a line per phase tells a log
	 * (or a test) where the migration is, and the session to cancel.
	 */
	if (!m->o.quiet) {
		fprintf(stderr, "kmig: migrate: kmig session %u, %u data channels to %s\n",
			m->rep.kmig_session, m->o.channels, m->addr.text);
		m->log_rounds = !isatty(STDERR_FILENO);
	}
	t = now_ns();
	if (migrate_start_threads(m))
		return -1;
	m->rep.phases.threads = now_ns() - t;
	if (precopy_run(m, &why))
		return -1;
	m->rep.switchover = switchover_reason_name(why);
	if (why == SWITCHOVER_POSTCOPY || why == SWITCHOVER_NOT_CONVERGING)
		return postcopy_run(m);
	return switchover_run(m);
}

/*
 * Whatever happened: the threads stop, the commit protocol decides what
 * becomes of the VM (commit_finish()), the destination hears why.
 * Returns the exit status.
 */
static int migrate_cleanup(struct migration *m)
{
	uint32_t i;
	int status;

	if (m->prog.enabled)
		progress_stop(&m->prog);
	if (m->sender_up) {
		atomic_store(&m->s.failed, 1);
		sender_destroy(&m->s);
		ratelimit_destroy(&m->rl);
	}
	if (m->ps_up) {
		m->rep.postcopy.requests = atomic_load(&m->ps.requests);
		m->rep.postcopy.urgent_pages = atomic_load(&m->ps.pages);
		m->rep.postcopy.urgent_bytes = atomic_load(&m->ps.bytes);
		m->rep.postcopy.taken = atomic_load(&m->ps.taken);
		m->rep.postcopy.fetch_ns = atomic_load(&m->ps.fetch_ns);
		m->rep.postcopy.serve_ns = atomic_load(&m->ps.serve_ns);
		page_server_stop(&m->ps);
	}
	for (i = 0; i < m->nr_ps_data; i++) {
		m->rep.postcopy.requests += atomic_load(&m->ps_data[i].requests);
		m->rep.postcopy.bg_pages += atomic_load(&m->ps_data[i].pages);
		page_server_stop(&m->ps_data[i]);
	}
	free(m->ps_data);
	status = commit_finish(m);
	if (m->mc_up) {
		mainchan_stop_keepalive(&m->mc);
		/* Tell the destination why, so it does not wait for a stall. */
		if (m->rep.error[0]) {
			m->main.stall_ms = 2000;
			m->main.stop = NULL;	/* also after a signal */
			handshake_abort(&m->main, m->rep.error);
		}
		mainchan_destroy(&m->mc);
	}
	for (i = 0; i < m->o.channels && m->data; i++) {
		m->rep.channel_bytes[i] = atomic_load(&m->data[i].bytes_out);
		m->rep.bytes_sent += m->rep.channel_bytes[i];
		chan_close(&m->data[i]);
	}
	free(m->data);
	m->rep.bytes_sent += atomic_load(&m->pre.bytes_out);
	chan_close(&m->pre);
	m->rep.bytes_sent += atomic_load(&m->main.bytes_out);
	if (m->mc_up)
		m->rep.bytes_sent -= atomic_load(&m->mc.ka_out);
	chan_close(&m->main);
	kmig_rings_unmap(m->rings, m->o.workers);
	if (m->kfd >= 0)
		close(m->kfd);
	vmm_info_free(&m->info);
	vmm_close(&m->vmm);
	sec_free(&m->sec);
	return status;
}

int cmd_migrate(int argc, char **argv)
{
	static struct migration m;
	struct printer p;
	int ret;

	memset(&m, 0, sizeof(m));
	m.kfd = -1;
	m.main.fd = -1;
	m.pre.fd = -1;
	m.vmm.fd = -1;
	m.info.vm_fd = -1;
	ret = migrate_parse(&m.o, argc, argv);
	if (ret) {
		if (ret < 0)
			migrate_usage(stderr);
		return ret < 0 ? KMIGCTL_EXIT_USAGE : KMIGCTL_EXIT_OK;
	}
	/* Who may be the destination is settled before the VM is touched. */
	if (sec_from_options("migrate", "--to", m.o.to, false, &m.o.sec, &m.addr,
			     &m.sec))
		return KMIGCTL_EXIT_USAGE;

	m.start_ns = now_ns();
	m.rep.to = m.o.to;
	m.rep.channels = m.o.channels;
	m.rep.workers = m.o.workers;
	m.rep.downtime_limit_ms = m.o.policy.downtime_limit_ms;
	m.rep.zstd.on = m.o.zstd;
	m.rep.zstd.level = m.o.zstd ? (m.o.zstd_level ?: MIGRATE_ZSTD_LEVEL_DEFAULT) : 0;
	m.rep.est_downtime_ms = NAN;
	signals_setup();

	ret = migrate_run(&m);
	if (!ret)
		m.rep.result = "completed";
	m.rep.total_ns = now_ns() - m.start_ns;
	ret = migrate_cleanup(&m);
	m.rep.phases.teardown = now_ns() - m.start_ns - m.rep.total_ns;

	if (ret)
		fprintf(stderr, "kmig: migrate: %s\n", m.rep.error);
	print_init(&p, stdout, m.o.json);
	migrate_report_print(&p, &m.rep);
	free(m.rep.rounds);
	return ret;
}
