// SPDX-License-Identifier: GPL-2.0
/*
 * `kmigctl incoming`: the destination side. Attaches kmig to a VMM started
 * with --incoming, accepts the source's main and data channels, loads the
 * pages (receiver.c), hands the device state to the VMM, and starts the VM
 * when the source says GO. The stream is hostile until checked: a stray,
 * malformed or duplicate connection is refused and the wait goes on; a
 * bad stream from the accepted source ends the migration with a message
 * naming what was wrong, and the VMM is told to quit. The commit protocol
 * (commit.h, enum dst_state) rules the end: once GO has started the VM
 * here, nothing stops it.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "addr.h"
#include "clock.h"
#include "commit.h"
#include "handshake.h"
#include "mainchan.h"
#include "kmigctl.h"
#include "libkmig.h"
#include "options.h"
#include "incoming.h"
#include "secure.h"
#include "report.h"
#include "signals.h"
#include "testhook.h"
#include "vmm_client.h"

#define INCOMING_STALL_MS		60000
#define INCOMING_PEER_TIMEOUT_MS	10000
#define INCOMING_STEP_TIMEOUT_MS	60000

int incoming_fail(struct incoming *in, const char *fmt, ...)
{
	va_list ap;

	if (!in->rep.error[0]) {
		in->rep.result = "failed";
		va_start(ap, fmt);
		vsnprintf(in->rep.error, sizeof(in->rep.error), fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* A signal, a timeout, our own session cancelled, or a data channel failed. */
int incoming_check(struct incoming *in)
{
	struct kms_error why;
	char msg[256];
	int ret;

	if (kmigctl_stop_signal) {
		in->cancelled = true;
		return incoming_fail(in, "cancelled by signal %d (%s)",
				     kmigctl_stop_signal,
				     strsignal(kmigctl_stop_signal));
	}
	if (in->o.timeout_ms &&
	    now_ns() - in->begin_ns > in->o.timeout_ms * NSEC_PER_MSEC)
		return incoming_fail(in, "no complete migration within %llu s (--timeout)",
				     (unsigned long long)in->o.timeout_ms / 1000);
	/* Loading no records only asks whether the session was cancelled. */
	if (in->kfd >= 0 && kmig_load(in->kfd, NULL, 0, NULL, 0, NULL) == -ECANCELED) {
		in->cancelled = true;
		return incoming_fail(in, "cancelled (kmigctl cancel %u)",
				     in->rep.kmig_session);
	}
	if (in->receiver_up) {
		ret = receiver_error(&in->r, msg, sizeof(msg));
		if (ret == -ECANCELED)
			in->cancelled = true;
		/*
		 * A source that gives up sends ABORT on the main channel and
		 * then closes the data channels: its reason beats ours.
		 */
		if (ret && in->mc_up && mainchan_peer_abort(&in->mc, 200, &why))
			return incoming_fail(in, "%s", why.msg);
		if (ret)
			return incoming_fail(in, "%s", msg);
	}
	return 0;
}

static void incoming_usage(FILE *fp, bool recover)
{
	if (recover)
		fprintf(fp,
			"Usage: kmigctl postcopy-recover --vmm SOCKET --listen ADDRESS [OPTIONS]\n"
			"Recover a postcopy into the VMM at SOCKET that broke off (its guest\n"
			"paused, some of its pages still on the source): listen at ADDRESS\n"
			"for `kmigctl migrate --resume` on the source, ask it for every page\n"
			"the VMM still lacks, and resume the guest. Options as for incoming;\n"
			"it can be repeated if the network breaks again.\n"
			"Exit status: 0 migrated (the VM runs here with all its memory),\n"
			"1 failed (the VM stays paused), 2 usage.\n\n");
	fprintf(fp,
		"Usage: kmigctl incoming --vmm SOCKET --listen ADDRESS [OPTIONS]\n"
		"Receive a live migration from `kmigctl migrate` into the VMM at\n"
		"SOCKET (started with --incoming), listening at ADDRESS\n"
		"(tcp:HOST:PORT or unix:PATH).\n"
		"  -t, --timeout SEC   give up unless the migration completes in SEC s\n"
		"                      (default: wait for a source for ever)\n"
		"  -P, --peer-timeout SEC\n"
		"                      the source is lost when silent for SEC s\n"
		"                      (default %d; both ends send a keepalive\n"
		"                      every second); also bounds each handshake\n"
		"  -S, --step-timeout SEC\n"
		"                      the data channels must connect, and GO come\n"
		"                      after READY, within SEC s (default %d)\n"
		"  -j, --json          the report as JSON\n"
		"  -q, --quiet         no \"listening\" line on stderr\n"
		"A connection that is not the awaited source's is refused and logged,\n"
		"and the wait goes on. Once GO has started the VM here, nothing stops\n"
		"it.\n"
		"%s"
		"Exit status: 0 migrated (the VM runs here), 1 failed (the VMM was\n"
		"told to quit), 2 usage, 3 cancelled.\n",
		INCOMING_PEER_TIMEOUT_MS / 1000, INCOMING_STEP_TIMEOUT_MS / 1000,
		sec_usage);
}

static int incoming_parse(struct incoming_opts *o, int argc, char **argv,
			  bool recover)
{
	static const struct option opts[] = {
		{ "vmm", required_argument, NULL, 'v' },
		{ "listen", required_argument, NULL, 'l' },
		{ "timeout", required_argument, NULL, 't' },
		{ "peer-timeout", required_argument, NULL, 'P' },
		{ "step-timeout", required_argument, NULL, 'S' },
		{ "json", no_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		SEC_LONG_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int c;

	memset(o, 0, sizeof(*o));
	o->recover = recover;
	o->stall_ms = INCOMING_STALL_MS;
	o->peer_timeout_ms = INCOMING_PEER_TIMEOUT_MS;
	o->step_timeout_ms = INCOMING_STEP_TIMEOUT_MS;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":v:l:t:P:S:jqh", opts, NULL)) != -1) {
		if (sec_parse_opt(&o->sec, c, optarg))
			continue;
		switch (c) {
		case 'v':
			o->vmm = optarg;
			break;
		case 'l':
			o->listen = optarg;
			break;
		case 't':
			if (opt_u64("incoming", "--timeout", optarg, 1,
				    31 * 24 * 3600, &v))
				return -1;
			o->timeout_ms = v * 1000;
			break;
		case 'P':
		case 'S':
			if (opt_deadline("incoming", c, optarg, &o->peer_timeout_ms,
					 &o->step_timeout_ms))
				return -1;
			break;
		case 'j':
			o->json = true;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'h':
			incoming_usage(stdout, o->recover);
			return 1;
		default:
			opt_unknown("incoming", c, argv);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "kmig: incoming: unexpected argument '%s'\n",
			argv[optind]);
		return -1;
	}
	if (!o->vmm || !o->listen) {
		fprintf(stderr, "kmig: incoming: --vmm and --listen are required\n");
		return -1;
	}
	return 0;
}

static int incoming_attach(struct incoming *in)
{
	struct kmig_memslot *slots;
	struct kmig_info ki;
	unsigned int nr, i;
	struct kms_error e;
	char err[256];
	int ret;

	ret = vmm_open(&in->vmm, in->o.vmm, err, sizeof(err));
	if (!ret)
		ret = vmm_get_hello(&in->vmm, &in->info, err, sizeof(err));
	if (ret)
		return incoming_fail(in, "%s", err);
	if (!in->info.hello.incoming)
		return incoming_fail(in, "the VMM at %s was not started with --incoming: its VM is not empty",
				     in->o.vmm);
	if (in->o.recover) {
		struct vmm_status st;

		if (vmm_status(&in->vmm, &st, err, sizeof(err)))
			return incoming_fail(in, "%s", err);
		if (!(st.flags & VMM_ST_POSTCOPY))
			return incoming_fail(in, "the VMM at %s has no postcopy to recover",
					     in->o.vmm);
		/* Its VM ran here already: whatever fails, it is never quit. */
		in->state = DST_POSTCOPY;
	}
	/* One migration at a time into this VMM; `kmigctl resume` waits. */
	if (vmm_hold(&in->vmm, VMM_PHASE_MIGRATING, NULL, err, sizeof(err)))
		return incoming_fail(in, "%s", err);

	in->kfd = kmig_open();
	if (in->kfd < 0)
		return incoming_fail(in, "%s: %s", KMIG_DEVICE_PATH,
				     kmig_strerror(in->kfd));
	if (!kmig_get_info(in->kfd, &ki)) {
		in->rep.kmig_session = ki.session_id;
		in->kfeatures = ki.features;
	}
	ret = kmig_attach_vm(in->kfd, in->info.vm_fd, NULL);
	if (ret)
		return incoming_fail(in, "KMIG_ATTACH_VM: %s", kmig_strerror(ret));

	ret = kmig_get_memslots(in->kfd, &slots, &nr, NULL);
	if (ret)
		return incoming_fail(in, "KMIG_GET_MEMSLOTS: %s",
				     kmig_strerror(ret));
	/* Address space 0 only: that is where KMIG_LOAD writes. */
	for (i = 0; i < nr && in->layout.nr < KMS_MAX_REGIONS; i++) {
		if (slots[i].as_id)
			continue;
		in->layout.r[in->layout.nr].gpa = slots[i].gpa;
		in->layout.r[in->layout.nr].size = slots[i].size;
		in->hva[in->layout.nr] = slots[i].hva;
		in->layout.nr++;
	}
	free(slots);
	if (kms_layout_check(&in->layout, &e))
		return incoming_fail(in, "this VM's memory: %s", e.msg);
	in->rep.ram_bytes = kms_layout_bytes(&in->layout);
	return 0;
}

/* Does the source's HELLO fit this VM? NULL, or why not. */
static const char *incoming_fits(struct incoming *in, const struct kms_hello *h,
				 char *why, size_t n)
{
	struct kms_error e;

	if (kms_layout_compare(&h->layout, &in->layout, &e)) {
		snprintf(why, n, "%s", e.msg);
		return why;
	}
	if (h->nr_vcpus != in->info.hello.nr_vcpus) {
		snprintf(why, n, "vCPU counts differ: source %u, destination %u",
			 h->nr_vcpus, in->info.hello.nr_vcpus);
		return why;
	}
	if (!!(h->features & KMS_F_RESUME) != in->o.recover) {
		snprintf(why, n, in->o.recover ?
			 "this destination recovers a postcopy: the source must be `kmigctl migrate --resume`" :
			 "the source resumes a postcopy, but this destination waits for a new migration (recover with `kmigctl postcopy-recover`)");
		return why;
	}
	if ((h->features & KMS_F_POSTCOPY) && in->info.hello.version < 3) {
		snprintf(why, n, "the source may switch to postcopy, but the VMM here speaks control protocol version %u (postcopy needs 3): migrate without --postcopy",
			 in->info.hello.version);
		return why;
	}
	/* The kernel decompresses: a kmigctl that can parse it is not enough. */
	if ((h->features & KMS_F_ZSTD) && !(in->kfeatures & KMIG_FEATURE_ZSTD)) {
		snprintf(why, n, "the source sends zstd-compressed pages, but the kmig module here cannot decompress them (no KMIG_FEATURE_ZSTD); migrate without --compress");
		return why;
	}
	if ((h->features & KMS_F_ZSTD_RUN) &&
	    !(in->kfeatures & KMIG_FEATURE_ZSTD_RUN)) {
		snprintf(why, n, "the source compresses runs of pages into one zstd frame, but the kmig module here cannot load them (no KMIG_FEATURE_ZSTD_RUN); update kmig.ko here, or load the source's kmig.ko without it");
		return why;
	}
	return NULL;
}

/* Until this absolute time the migration may take (--timeout); 0: none. */
static uint64_t incoming_overall_deadline(struct incoming *in)
{
	return in->o.timeout_ms ? in->begin_ns + in->o.timeout_ms * NSEC_PER_MSEC : 0;
}

/* A handshake may take this long: a real source sends its HELLO at once. */
static uint64_t incoming_handshake_deadline(struct incoming *in)
{
	uint64_t d = deadline_after_ms(in->o.peer_timeout_ms < in->o.step_timeout_ms ?
				       in->o.peer_timeout_ms : in->o.step_timeout_ms);
	uint64_t all = incoming_overall_deadline(in);

	return all && all < d ? all : d;
}

/* Logs and counts a connection that was not let in; the wait goes on. */
static void incoming_refused(struct incoming *in, struct chan *c,
			     const char *why)
{
	const char *peer = c->peer;

	in->rep.refused++;
	snprintf(in->rep.refused_last, sizeof(in->rep.refused_last), "%s: %.160s",
		 peer, why);
	fprintf(stderr, "kmig: incoming: refused a connection from %s: %s\n",
		peer, why);
}

/*
 * One connection's handshake on @c, bounded by a deadline whatever pace
 * the peer sends at. 0 with the HELLO in @h; 1 refused (logged, the peer
 * told why where it got that far); -1 the command must stop (a signal,
 * --timeout).
 */
static int incoming_handshake(struct incoming *in, struct chan *c,
			      struct kms_hello *h)
{
	struct kms_error e;
	int ret;

	/* Now: a refused peer may be gone by the time it is logged. */
	addr_peer_name(c->fd, c->peer, sizeof(c->peer));
	c->deadline_ns = incoming_handshake_deadline(in);
	ret = sec_start(&in->sec, c, &e);
	if (!ret)
		ret = handshake_read_hello(c, &in->sec, h, &e);
	c->deadline_ns = 0;
	if (!ret)
		return 0;
	/* A signal or --timeout: the command ends, not just this peer. */
	if (incoming_check(in))
		return -1;
	incoming_refused(in, c, ret == -ETIME ?
			 "no complete HELLO in time (deadline passed)" : e.msg);
	return 1;
}

/* Accepts one connection, in short waits: a signal or --timeout ends it. */
static int incoming_accept_one(struct incoming *in, uint64_t deadline,
			       const char *what)
{
	int fd;

	do {
		if (incoming_check(in))
			return -1;
		if (deadline && now_ns() >= deadline)
			return incoming_fail(in, "%s", what);
		fd = addr_accept(in->lfd, 200, NULL);
	} while (fd == -ETIMEDOUT);
	if (fd < 0)
		return incoming_fail(in, "accept: %s", strerror(-fd));
	addr_keepalive(fd, in->o.peer_timeout_ms);
	return fd;
}

/*
 * The source's main channel: the first connection whose handshake is a
 * main channel's HELLO that fits this VM. Anything else (a health check,
 * a scanner, a data channel of another session, a VM of another shape) is
 * refused and logged, and the wait goes on.
 */
static int incoming_accept_main(struct incoming *in)
{
	char why[256];
	int fd, ret;

	for (;;) {
		fd = incoming_accept_one(in, 0, "");
		if (fd < 0)
			return -1;
		chan_init(&in->main, fd, "main channel", in->o.stall_ms,
			  &kmigctl_stopping);
		ret = incoming_handshake(in, &in->main, &in->hello);
		if (ret < 0)
			return -1;
		if (ret == 0 && in->hello.channel != 0) {
			snprintf(why, sizeof(why),
				 "data channel %u of session %016llx before any main channel",
				 in->hello.channel,
				 (unsigned long long)in->hello.session_id);
			handshake_reject(&in->main, "the first connection must be the main channel");
			incoming_refused(in, &in->main, why);
			ret = 1;
		}
		if (ret == 0 && incoming_fits(in, &in->hello, why, sizeof(why))) {
			handshake_reject(&in->main, why);
			incoming_refused(in, &in->main, why);
			ret = 1;
		}
		if (ret == 0)
			break;
		chan_close(&in->main);
	}
	in->start_ns = now_ns();
	in->rep.session_id = in->hello.session_id;
	snprintf(in->rep.security, sizeof(in->rep.security), "%s", in->main.sec);
	if (handshake_accept(&in->main))
		return incoming_fail(in, "main channel: sending ACCEPT failed");
	if (!in->o.recover)
		in->state = DST_LOADING;
	mainchan_init(&in->mc, &in->main, "the source", in->o.peer_timeout_ms);
	in->mc_up = true;
	if (mainchan_start_keepalive(&in->mc))
		return incoming_fail(in, "starting the keepalive thread");
	return 0;
}

/*
 * Data channels: only connections of this session are taken; another one
 * (a stale source, a scanner, a second main channel) is refused and the
 * wait goes on, until --step-timeout.
 */
static int incoming_accept_data(struct incoming *in)
{
	uint64_t deadline = deadline_after_ms(in->o.step_timeout_ms);
	uint32_t want = in->hello.nr_channels +
			!!(in->hello.features & KMS_F_POSTCOPY);
	char name[24], why[64];
	struct kms_hello h;
	struct kms_error e;
	struct chan c, *slot;
	int fd, ret;

	in->data = calloc(in->hello.nr_channels, sizeof(*in->data));
	if (!in->data)
		return incoming_fail(in, "out of memory");
	for (uint32_t i = 0; i < in->hello.nr_channels; i++)
		in->data[i].fd = -1;

	while (in->nr_data + (in->pre.fd >= 0) < want) {
		snprintf(why, sizeof(why), "only %u of %u channels connected",
			 in->nr_data + (in->pre.fd >= 0), want);
		fd = incoming_accept_one(in, deadline, why);
		if (fd < 0)
			return -1;
		chan_init(&c, fd, "data channel ?", in->o.stall_ms, &kmigctl_stopping);
		ret = incoming_handshake(in, &c, &h);
		if (ret < 0) {
			chan_close(&c);
			return -1;
		}
		/* kms_hello_decode() bounds h.channel; past the data: preempt. */
		slot = h.channel > in->hello.nr_channels ? &in->pre :
		       h.channel ? &in->data[h.channel - 1] : NULL;
		if (ret == 0 &&
		    (h.session_id != in->hello.session_id ||
		     h.nr_channels != in->hello.nr_channels || !slot ||
		     h.features != in->hello.features || slot->fd >= 0 ||
		     kms_layout_compare(&h.layout, &in->hello.layout, &e))) {
			char what[128];

			handshake_reject(&c, "not a data channel this destination waits for");
			snprintf(what, sizeof(what),
				 "not a data channel of this migration (channel %u of session %016llx)",
				 h.channel, (unsigned long long)h.session_id);
			incoming_refused(in, &c, what);
			ret = 1;
		}
		if (ret) {
			chan_close(&c);
			continue;
		}
		if (slot == &in->pre)
			snprintf(name, sizeof(name), "preempt channel");
		else
			snprintf(name, sizeof(name), "data channel %u", h.channel);
		if (handshake_accept(&c)) {
			chan_close(&c);
			return incoming_fail(in, "%s: sending ACCEPT failed", name);
		}
		/* Its security and the handshake's bytes go with it. */
		chan_take(slot, &c, name, NULL);
		if (slot != &in->pre)
			in->nr_data++;
	}
	return 0;
}

/* No more connections: a latecomer now gets "connection refused". */
static void incoming_stop_listening(struct incoming *in)
{
	if (in->lfd < 0)
		return;
	close(in->lfd);
	in->lfd = -1;
	if (in->addr.family == AF_UNIX)
		unlink(((struct sockaddr_un *)&in->addr.sa)->sun_path);
}

static bool incoming_recv_check(void *arg)
{
	return incoming_check(arg) != 0;
}

/*
 * The main channel's next frame: the one wait (mainchan_recv()), which
 * also notices signals, --timeout and data-channel failures meanwhile.
 * @timeout_ms bounds this step (0: only --timeout and the peer's
 * liveness do).
 */
static int incoming_recv_main(struct incoming *in, struct kms_frame_hdr *h,
			      uint8_t *buf, size_t cap, const char *what,
			      int timeout_ms)
{
	struct kms_error e;
	int ret;

	ret = mainchan_recv(&in->mc, h, buf, cap, what,
			    deadline_after_ms(timeout_ms), incoming_recv_check,
			    in, &e);
	if (ret == -ECANCELED)	/* incoming_check() failed us already */
		return -1;
	if (ret)
		return incoming_fail(in, "%s", e.msg);
	return 0;
}

/*
 * Precopy: the main channel carries only DEVICE_STATE, then END; or, to
 * switch to postcopy, DISCARDs, DEVICE_STATE and POSTCOPY.
 */
static int incoming_precopy(struct incoming *in)
{
	struct kms_frame_hdr h;
	uint8_t *buf;
	int ret = -1;

	buf = malloc(KMS_MAX_FRAME);
	if (!buf)
		return incoming_fail(in, "out of memory");
	for (;;) {
		if (incoming_recv_main(in, &h, buf, KMS_MAX_FRAME, "END", 0))
			break;
		if (h.type == KMS_DEVICE_STATE && !in->state_blob) {
			in->state_blob = malloc(h.len);
			if (!in->state_blob) {
				incoming_fail(in, "out of memory");
				break;
			}
			memcpy(in->state_blob, buf, h.len);
			in->state_len = h.len;
			in->rep.state_bytes = h.len;
			continue;
		}
		if (h.type == KMS_DISCARD) {
			if (incoming_discard(in, buf, h.len))
				break;
			continue;
		}
		if (h.type == KMS_POSTCOPY) {
			ret = incoming_postcopy_frame(in, buf, h.len);
			break;
		}
		if (h.type == KMS_END && in->state_blob)
			ret = 0;
		else
			incoming_fail(in, "main channel: unexpected %s frame%s",
				      kms_frame_name(h.type),
				      h.type == KMS_END ? " (no device state)" : "");
		break;
	}
	free(buf);
	if (ret || in->postcopy)
		return ret;

	/* Every data channel must end too, at the same round. */
	for (;;) {
		ret = receiver_wait_end(&in->r, CHAN_TICK_MS);
		if (ret == 1)
			break;
		if (incoming_check(in))
			return -1;
	}
	for (uint32_t i = 0; i < in->nr_data; i++)
		if (in->r.rounds[i] != in->r.rounds[0])
			return incoming_fail(in, "data channels ended after different rounds (%u and %u)",
					     in->r.rounds[0], in->r.rounds[i]);
	return 0;
}

static int incoming_switchover(struct incoming *in)
{
	uint8_t buf[KMS_MAX_REASON], ack[KMS_ACK_LEN];
	struct kms_frame_hdr h;
	uint64_t t_go;
	char err[256];
	int ret;

	if (in->postcopy && incoming_postcopy_prepare(in))
		return -1;
	ret = vmm_call(&in->vmm, VMM_SET_STATE, in->state_blob, in->state_len,
		       NULL, NULL, err, sizeof(err));
	if (ret)
		return incoming_fail(in, "%s", err);
	if (mainchan_send(&in->mc, KMS_READY, NULL, 0))
		return incoming_fail(in, "main channel: sending READY failed");
	in->state = DST_READY;

	if (incoming_recv_main(in, &h, buf, sizeof(buf), "GO",
			       mainchan_step_ms(in->o.step_timeout_ms, 0)))
		return -1;
	t_go = now_ns();
	if (h.type != KMS_GO)
		return incoming_fail(in, "main channel: %s frame where GO was due",
				     kms_frame_name(h.type));

	ret = vmm_call(&in->vmm, VMM_START, NULL, 0, NULL, NULL, err, sizeof(err));
	if (ret)
		return incoming_fail(in, "%s", err);
	/*
	 * From here on the VM is ours: nothing below may stop it, except
	 * in postcopy the loss of the pages only the source has.
	 */
	in->state = in->postcopy ? DST_POSTCOPY : DST_STARTED;
	in->rep.start_ns = now_ns() - t_go;
	in->t_postcopy = now_ns();
	testhook_hold("started", NULL, NULL);

	if (!in->postcopy) {
		mainchan_stop_keepalive(&in->mc);
		in->main.stop = NULL;	/* the ACK goes out even after a signal */
	}
	kms_ack_encode(ack, in->rep.start_ns);
	ret = mainchan_send(&in->mc, KMS_ACK, ack, sizeof(ack));
	if (ret && in->postcopy)
		return incoming_fail(in, "main channel: sending the ACK: %s",
				     chan_strerror(ret));
	if (ret)
		snprintf(in->rep.warning, sizeof(in->rep.warning),
			 "the ACK did not reach the source (%s): the VM runs here, and the source stays paused with the outcome unknown until its operator resolves it",
			 chan_strerror(ret));
	return in->postcopy ? incoming_postcopy_wait(in) : 0;
}

static int incoming_run(struct incoming *in)
{
	sigset_t saved;
	int ret;

	if (incoming_attach(in))
		return -1;
	in->lfd = addr_listen(&in->addr);
	if (in->lfd < 0)
		return incoming_fail(in, "listening on %s: %s", in->o.listen,
				     strerror(-in->lfd));
	in->rep.listen = in->addr.text;
	if (!in->o.quiet)
		fprintf(stderr, "kmig: incoming: listening on %s (kmig session %u)\n",
			in->addr.text, in->rep.kmig_session);

	if (incoming_accept_main(in) || incoming_accept_data(in))
		return -1;
	incoming_stop_listening(in);
	in->rep.channels = in->hello.nr_channels;
	in->rep.setup_ns = now_ns() - in->start_ns;

	ret = receiver_init(&in->r, in->kfd, &in->layout, in->hello.features,
			    in->data, in->nr_data, &in->main, &in->mc.lock);
	if (ret)
		return incoming_fail(in, "%s", strerror(-ret));
	in->receiver_up = true;
	signals_block(&saved);
	ret = receiver_start(&in->r);
	signals_restore(&saved);
	if (ret)
		return incoming_fail(in, "starting threads: %s", strerror(-ret));

	if (in->o.recover)
		return incoming_recover(in);
	if (incoming_precopy(in))
		return -1;
	return incoming_switchover(in);
}

static void incoming_cleanup(struct incoming *in)
{
	char err[256];
	uint32_t i;

	if (in->pc_up)
		dst_postcopy_stop(&in->pc);

	if (in->receiver_up) {
		in->rep.normal = atomic_load(&in->r.normal);
		in->rep.zero = atomic_load(&in->r.zero);
		in->rep.hole = atomic_load(&in->r.hole);
		in->rep.zstd.on = in->hello.features & KMS_F_ZSTD;
		in->rep.zstd.compressed = atomic_load(&in->r.compressed);
		in->rep.zstd.data_bytes = atomic_load(&in->r.data_bytes);
		in->rep.loaded = atomic_load(&in->r.loaded);
		in->rep.zeroed = atomic_load(&in->r.zeroed);
		in->rep.rounds = receiver_rounds(&in->r);
		receiver_destroy(&in->r);
	}
	in->rep.bytes_received = in->main.fd >= 0 ?
				 atomic_load(&in->main.bytes_in) : 0;
	if (in->mc_up)
		in->rep.bytes_received -= in->mc.ka_in;
	for (i = 0; in->data && i < in->hello.nr_channels; i++) {
		in->rep.bytes_received += atomic_load(&in->data[i].bytes_in);
		chan_close(&in->data[i]);
	}
	/* After receiver_destroy() and this: nobody else writes on main. */
	if (in->mc_up)
		mainchan_stop_keepalive(&in->mc);
	if (in->rep.error[0] && in->main.fd >= 0) {
		in->main.stall_ms = 2000;
		in->main.stop = NULL;	/* also after a signal */
		handshake_abort(&in->main, in->rep.error);
	}
	if (in->mc_up)
		mainchan_destroy(&in->mc);
	chan_close(&in->main);
	in->rep.bytes_received += atomic_load(&in->pre.bytes_in);
	chan_close(&in->pre);
	free(in->data);
	free(in->state_blob);
	free(in->discards);
	incoming_stop_listening(in);
	if (in->pc_up) {
		incoming_postcopy_report(in);
		dst_postcopy_destroy(&in->pc);
	}
	if (in->uffd >= 0)
		close(in->uffd);
	/*
	 * Postcopy broke off: some pages exist only on the source. The VM
	 * waits, paused, in its VMM (which keeps the userfaultfd), and never
	 * runs on a partial image.
	 */
	if (in->state == DST_POSTCOPY) {
		in->rep.vm = "paused (its memory is incomplete: the missing pages are on the source)";
		if (vmm_call(&in->vmm, VMM_PAUSE, NULL, 0, NULL, NULL, err,
			     sizeof(err)))
			fprintf(stderr, "kmig: incoming: pausing the VM: %s\n", err);
		goto out;
	}
	/* A half-loaded VM is of no use: the VMM goes away. */
	in->rep.vm = in->state == DST_STARTED ? "running" : "not started";
	if (in->state != DST_STARTED && in->vmm.fd >= 0 &&
	    vmm_call(&in->vmm, VMM_QUIT, NULL, 0, NULL, NULL, err, sizeof(err)))
		fprintf(stderr, "kmig: incoming: the VMM did not quit: %s\n", err);
out:
	if (in->kfd >= 0)
		close(in->kfd);
	vmm_info_free(&in->info);
	vmm_close(&in->vmm);
	sec_free(&in->sec);
}

static int incoming_command(int argc, char **argv, bool recover)
{
	static struct incoming in;
	struct printer p;
	int ret;

	memset(&in, 0, sizeof(in));
	in.kfd = -1;
	in.lfd = -1;
	in.main.fd = -1;
	in.pre.fd = -1;
	in.uffd = -1;
	in.vmm.fd = -1;
	in.info.vm_fd = -1;
	ret = incoming_parse(&in.o, argc, argv, recover);
	if (ret) {
		if (ret < 0)
			incoming_usage(stderr, recover);
		return ret < 0 ? KMIGCTL_EXIT_USAGE : KMIGCTL_EXIT_OK;
	}
	/* Who may be the source is settled before the VMM is touched. */
	if (sec_from_options("incoming", "--listen", in.o.listen, true, &in.o.sec,
			     &in.addr, &in.sec))
		return KMIGCTL_EXIT_USAGE;
	in.begin_ns = now_ns();
	in.start_ns = in.begin_ns;
	signals_setup();

	ret = incoming_run(&in);
	if (!ret)
		in.rep.result = "completed";
	in.rep.total_ns = now_ns() - in.start_ns;
	incoming_cleanup(&in);

	if (ret)
		fprintf(stderr, "kmig: incoming: %s\n", in.rep.error);
	print_init(&p, stdout, in.o.json);
	incoming_report_print(&p, &in.rep);
	if (!ret)
		return KMIGCTL_EXIT_OK;
	return in.cancelled ? KMIGCTL_EXIT_CANCELLED : KMIGCTL_EXIT_FAILURE;
}

int cmd_incoming(int argc, char **argv)
{
	return incoming_command(argc, argv, false);
}

int cmd_postcopy_recover(int argc, char **argv)
{
	return incoming_command(argc, argv, true);
}
