// SPDX-License-Identifier: GPL-2.0
/*
 * The VM runs on exactly one side, whatever fails (the commit protocol,
 * Documentation/stream-format.md "Who runs the VM"). Real migrations of a
 * counter guest between two kmig-vmm processes, with
 *   - a fault proxy (fault_proxy.c) on the way that drops, delays, cuts
 *     or silences the main channel at READY, GO and ACK;
 *   - SIGKILL of each of the four processes at each phase (the kmigctls'
 *     KMIG_TEST_HOLD points stop them exactly there);
 *   - strays and slow peers at the destination's door.
 * After each case the test looks at both guests as a user would: a guest
 * runs when the counter in its memory advances across two looks a second
 * apart; where it runs, its own checker must pass. Never on two sides;
 * on none only in the documented "outcome unknown" cases, until the
 * operator's `kmigctl resume`.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "kselftest_harness.h"
#include "test_util.h"
#include "migrate_harness.h"

/* Short, so that each case ends in seconds; both sides alike. */
#define PEER_TIMEOUT	"4"
#define STEP_TIMEOUT	"10"

/* Where the guest must run after the case. */
enum where {
	ON_SOURCE,		/* the source resumed (or never paused) */
	ON_DESTINATION,		/* it migrated */
	ON_NONE_RESUME,		/* outcome unknown: paused; resume brings it back */
	ON_NONE,		/* a VMM was killed with the VM in it */
};

/* What every fixture here holds. */
struct ctx {
	struct mh_mig m;
	struct mh_proc proxy;
	char hold[128];		/* the KMIG_TEST_HOLD file */
};

static void ctx_setup(struct __test_metadata *_metadata, struct ctx *c)
{
	const char *why = mh_unavailable();

	if (why)
		SETUP_SKIP("%s", why);
	ASSERT_EQ(0, mh_setup(&c->m));
	snprintf(c->hold, sizeof(c->hold), "%s/hold", c->m.dir);
}

static void ctx_teardown(struct ctx *c)
{
	mh_kill(&c->proxy);
	mh_teardown(&c->m);
}

static int start_vmms(struct mh_mig *m)
{
	const char *src[] = { "--mem", "32", "--workload", "counter", NULL };
	const char *dst[] = { "--mem", "32", "--incoming", NULL };

	if (mh_vmm_start(&m->src, m->dir, "src-vmm", src) ||
	    mh_vmm_start(&m->dst, m->dir, "dst-vmm", dst))
		return -1;
	return 0;
}

static const char *const in_args[] = {
	"--peer-timeout", PEER_TIMEOUT, "--step-timeout", STEP_TIMEOUT, NULL,
};

/* The counter guest dirties all it has: switch over after a round. */
static const char *const mig_args[] = {
	"--quiet", "--channels", "2", "--max-rounds", "1", "--peer-timeout",
	PEER_TIMEOUT, "--step-timeout", STEP_TIMEOUT, NULL,
};

/* The "error" field of a report, "" if none. */
static const char *report_error(const char *json, char *buf, size_t n)
{
	return mh_json_str(json ? json : "", "error", buf, n);
}

/*
 * The guests after the case, checked from outside: where it must run it
 * runs and its checker passes; elsewhere it does not run.
 */
static void expect_where(struct __test_metadata *_metadata, struct mh_mig *m,
			 enum where w)
{
	char verdict[256];
	bool src = w == ON_SOURCE, dst = w == ON_DESTINATION;

	EXPECT_EQ(src, mh_guest_runs(&m->src))
		TH_LOG("the source guest %s", src ? "does not run" : "runs");
	EXPECT_EQ(dst, mh_guest_runs(&m->dst))
		TH_LOG("the destination guest %s", dst ? "does not run" : "runs");
	if (src)
		EXPECT_EQ(1, mh_vmm_check(&m->src, verdict, sizeof(verdict)))
			TH_LOG("source checker: %s", verdict);
	if (dst)
		EXPECT_EQ(1, mh_vmm_check(&m->dst, verdict, sizeof(verdict)))
			TH_LOG("destination checker: %s", verdict);
	if (w != ON_NONE_RESUME)
		return;

	/* The operator's way out: resume it on the source. */
	{
		const char *args[] = { "resume", "--vmm", m->src.sock, NULL };
		char path[PATH_MAX], line[256];

		EXPECT_EQ(0, mh_kmigctl(m->dir, "resume", args, NULL, 60000));
		/* The VMM knows the destination's state is unknown: it warns. */
		snprintf(path, sizeof(path), "%s/resume.err", m->dir);
		EXPECT_TRUE(mh_wait_line(path, "outcome is unknown", line,
					 sizeof(line), 0));
		EXPECT_EQ(1, mh_guest_runs(&m->src))
			TH_LOG("kmigctl resume did not resume the source guest");
		EXPECT_EQ(1, mh_vmm_check(&m->src, verdict, sizeof(verdict)))
			TH_LOG("source checker after resume: %s", verdict);
	}
}

/* ---- faults on the main channel, through the proxy ---- */

FIXTURE(fault) {
	struct ctx c;
};

FIXTURE_SETUP(fault)
{
	ctx_setup(_metadata, &self->c);
}

FIXTURE_TEARDOWN(fault)
{
	ctx_teardown(&self->c);
}

FIXTURE_VARIANT(fault) {
	const char *fault;	/* fault_proxy --fault */
	int mig_status, in_status;
	enum where where;
	const char *mig_error;	/* in migrate's "error" */
	const char *in_error;	/* in incoming's "error" (or warning) */
};

FIXTURE_VARIANT_ADD(fault, drop_ready) {
	.fault = "drop@READY", .mig_status = 1, .in_status = 1,
	.where = ON_SOURCE, .mig_error = "no READY from the destination within",
};

FIXTURE_VARIANT_ADD(fault, cut_ready) {
	.fault = "cut@READY", .mig_status = 1, .in_status = 1,
	.where = ON_SOURCE, .mig_error = "main channel",
};

/* A partition right after READY: both ends find the other silent. */
FIXTURE_VARIANT_ADD(fault, silence_after_ready) {
	.fault = "silence@READY", .mig_status = 1, .in_status = 1,
	.where = ON_SOURCE, .mig_error = "the destination went silent",
	.in_error = "the source went silent",
};

FIXTURE_VARIANT_ADD(fault, drop_go) {
	.fault = "drop@GO", .mig_status = 4, .in_status = 1,
	.where = ON_NONE_RESUME, .mig_error = "outcome unknown",
	.in_error = "no GO from the source within",
};

FIXTURE_VARIANT_ADD(fault, cut_go) {
	.fault = "cut@GO", .mig_status = 4, .in_status = 1,
	.where = ON_NONE_RESUME, .mig_error = "outcome unknown",
};

/*
 * A partition right after GO, longer than the timeouts: the destination
 * finds the source silent (the keepalives are held behind GO) and gives
 * up; TCP delivers GO later, to nobody. It must not start.
 */
FIXTURE_VARIANT_ADD(fault, delay_go_past_deadline) {
	.fault = "delay=16000@GO", .mig_status = 4, .in_status = 1,
	.where = ON_NONE_RESUME, .mig_error = "outcome unknown",
	.in_error = "the source went silent",
};

/* A short delay is only a slower switchover. */
FIXTURE_VARIANT_ADD(fault, delay_go_short) {
	.fault = "delay=1500@GO", .mig_status = 0, .in_status = 0,
	.where = ON_DESTINATION,
};

FIXTURE_VARIANT_ADD(fault, drop_ack) {
	.fault = "drop@ACK", .mig_status = 4, .in_status = 0,
	.where = ON_DESTINATION, .mig_error = "outcome unknown",
};

FIXTURE_VARIANT_ADD(fault, cut_ack) {
	.fault = "cut@ACK", .mig_status = 4, .in_status = 0,
	.where = ON_DESTINATION, .mig_error = "outcome unknown",
};

/* A partition right after GO: the destination runs, the source waits. */
FIXTURE_VARIANT_ADD(fault, silence_after_go) {
	.fault = "silence@ACK", .mig_status = 4, .in_status = 0,
	.where = ON_DESTINATION, .mig_error = "the destination went silent",
};

TEST_F_TIMEOUT(fault, main_channel, 300)
{
	char listen[160], line[256], err[512];

	ASSERT_EQ(0, start_vmms(&self->c.m));
	mh_set_addr(&self->c.m, true);
	snprintf(listen, sizeof(listen), "unix:%s/proxy.sock", self->c.m.dir);
	ASSERT_EQ(0, mh_start_incoming(&self->c.m, in_args));
	ASSERT_TRUE(mh_wait_line(self->c.m.in.err, "listening on", line,
				 sizeof(line), 30000));
	ASSERT_EQ(0, mh_start_proxy(&self->c.proxy, self->c.m.dir, listen,
				    self->c.m.addr, variant->fault));
	/* The source goes through the proxy. */
	snprintf(self->c.m.addr, sizeof(self->c.m.addr), "%s", listen);
	ASSERT_EQ(0, mh_start_migrate(&self->c.m, mig_args, NULL));
	mh_wait_both(&self->c.m, 120000);

	EXPECT_TRUE(mh_wait_line(self->c.proxy.out, "fault_proxy: fired", line,
				 sizeof(line), 1000))
		TH_LOG("the fault %s never fired", variant->fault);
	if (self->c.m.mig.status != variant->mig_status ||
	    self->c.m.in.status != variant->in_status)
		mh_dump(&self->c.m);
	EXPECT_EQ(variant->mig_status, self->c.m.mig.status);
	EXPECT_EQ(variant->in_status, self->c.m.in.status);
	if (variant->mig_error)
		EXPECT_NE(NULL, strstr(report_error(self->c.m.mig_json, err, sizeof(err)),
				       variant->mig_error))
			TH_LOG("migrate's error: %s", err);
	if (variant->in_error)
		EXPECT_NE(NULL, strstr(report_error(self->c.m.in_json, err, sizeof(err)),
				       variant->in_error))
			TH_LOG("incoming's error: %s", err);
	if (variant->mig_status == 4)
		EXPECT_NE(NULL, strstr(report_error(self->c.m.mig_json, err, sizeof(err)),
				       "kmigctl resume"));
	expect_where(_metadata, &self->c.m, variant->where);
}

/* ---- SIGKILL of each process at each phase ---- */

enum victim { KILL_MIGRATE, KILL_INCOMING, KILL_SRC_VMM, KILL_DST_VMM };

FIXTURE(kill) {
	struct ctx c;
};

FIXTURE_SETUP(kill)
{
	ctx_setup(_metadata, &self->c);
}

FIXTURE_TEARDOWN(kill)
{
	ctx_teardown(&self->c);
}

FIXTURE_VARIANT(kill) {
	const char *hold;	/* a KMIG_TEST_HOLD point; NULL: the bulk round */
	bool hold_incoming;	/* the point is incoming's */
	enum victim victim;
	int mig_status, in_status;	/* of the survivors */
	enum where where;
};

FIXTURE_VARIANT_ADD(kill, migrate_in_bulk) {
	.victim = KILL_MIGRATE, .in_status = 1, .where = ON_SOURCE,
};

/* Paused for the switchover, GO not sent: the VMM resumes by itself. */
FIXTURE_VARIANT_ADD(kill, migrate_at_switchover) {
	.hold = "switchover", .victim = KILL_MIGRATE, .in_status = 1,
	.where = ON_SOURCE,
};

FIXTURE_VARIANT_ADD(kill, migrate_after_go) {
	.hold = "go-sent", .victim = KILL_MIGRATE, .in_status = 0,
	.where = ON_DESTINATION,
};

FIXTURE_VARIANT_ADD(kill, incoming_in_bulk) {
	.victim = KILL_INCOMING, .mig_status = 1, .where = ON_SOURCE,
};

FIXTURE_VARIANT_ADD(kill, incoming_at_switchover) {
	.hold = "switchover", .victim = KILL_INCOMING, .mig_status = 1,
	.where = ON_SOURCE,
};

/* Started, ACK not sent: it runs there, the source must not resume. */
FIXTURE_VARIANT_ADD(kill, incoming_before_ack) {
	.hold = "started", .hold_incoming = true, .victim = KILL_INCOMING,
	.mig_status = 4, .where = ON_DESTINATION,
};

/* The VM dies with its VMM; the destination must not start a copy. */
FIXTURE_VARIANT_ADD(kill, source_vmm_in_bulk) {
	.victim = KILL_SRC_VMM, .mig_status = 1, .in_status = 1,
	.where = ON_NONE,
};

FIXTURE_VARIANT_ADD(kill, source_vmm_at_switchover) {
	.hold = "switchover", .victim = KILL_SRC_VMM, .mig_status = 1,
	.in_status = 1, .where = ON_NONE,
};

FIXTURE_VARIANT_ADD(kill, source_vmm_after_go) {
	.hold = "go-sent", .victim = KILL_SRC_VMM, .mig_status = 0,
	.in_status = 0, .where = ON_DESTINATION,
};

FIXTURE_VARIANT_ADD(kill, destination_vmm_in_bulk) {
	.victim = KILL_DST_VMM, .mig_status = 1, .in_status = 1,
	.where = ON_SOURCE,
};

FIXTURE_VARIANT_ADD(kill, destination_vmm_at_switchover) {
	.hold = "switchover", .victim = KILL_DST_VMM, .mig_status = 1,
	.in_status = 1, .where = ON_SOURCE,
};

/* It ran there and died there: nobody may bring back the old copy. */
FIXTURE_VARIANT_ADD(kill, destination_vmm_before_ack) {
	.hold = "started", .hold_incoming = true, .victim = KILL_DST_VMM,
	.mig_status = 0, .in_status = 0, .where = ON_NONE,
};

static bool wait_file(const char *path, unsigned int timeout_ms)
{
	uint64_t end = mh_now_ms() + timeout_ms;

	while (access(path, F_OK)) {
		if (mh_now_ms() >= end)
			return false;
		mh_sleep_ms(50);
	}
	return true;
}

TEST_F_TIMEOUT(kill, one_process, 300)
{
	/* Slow enough to be caught in the bulk round; two rounds at most. */
	const char *args[] = { "--channels", "2", "--max-bandwidth", "8",
			       "--max-rounds", "1", "--peer-timeout",
			       PEER_TIMEOUT, "--step-timeout", STEP_TIMEOUT,
			       NULL };
	struct mh_mig *m = &self->c.m;
	char env[200], line[256];
	char *envp[] = { env, NULL };
	struct mh_proc *victim;

	snprintf(env, sizeof(env), "KMIG_TEST_HOLD=%s:%s",
		 variant->hold ? variant->hold : "none", self->c.hold);
	ASSERT_EQ(0, start_vmms(m));
	mh_set_addr(m, false);
	ASSERT_EQ(0, mh_start_incoming_env(m, in_args,
					   variant->hold_incoming ? envp : NULL));
	ASSERT_EQ(0, mh_start_migrate(m, args, variant->hold &&
				      !variant->hold_incoming ? envp : NULL));
	if (variant->hold) {
		ASSERT_TRUE(wait_file(self->c.hold, 120000))
			mh_dump(m);
	} else {
		/* In the bulk round, with data flowing. */
		ASSERT_TRUE(mh_wait_line(m->mig.err, "round 1 (bulk)", line,
					 sizeof(line), 60000));
		mh_sleep_ms(500);
	}

	victim = variant->victim == KILL_MIGRATE ? &m->mig :
		 variant->victim == KILL_INCOMING ? &m->in :
		 variant->victim == KILL_SRC_VMM ? &m->src.proc : &m->dst.proc;
	mh_kill(victim);
	unlink(self->c.hold);
	mh_wait_both(m, 120000);

	EXPECT_EQ(128 + SIGKILL, victim->status);
	if (variant->victim != KILL_MIGRATE) {
		if (m->mig.status != variant->mig_status)
			mh_dump(m);
		EXPECT_EQ(variant->mig_status, m->mig.status);
	}
	if (variant->victim != KILL_INCOMING) {
		if (m->in.status != variant->in_status)
			mh_dump(m);
		EXPECT_EQ(variant->in_status, m->in.status);
	}
	expect_where(_metadata, m, variant->where);
}

/* ---- at the destination's door ---- */

FIXTURE(door) {
	struct ctx c;
};

FIXTURE_SETUP(door)
{
	ctx_setup(_metadata, &self->c);
}

FIXTURE_TEARDOWN(door)
{
	ctx_teardown(&self->c);
}

/* A TCP connection to the destination's port (mh_set_addr's). */
static int door_connect(struct mh_mig *m)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	const char *port = strrchr(m->addr, ':');
	uint64_t end = mh_now_ms() + 30000;
	int fd;

	sin.sin_port = htons(atoi(port + 1));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	do {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -1;
		if (!connect(fd, (struct sockaddr *)&sin, sizeof(sin)))
			return fd;
		close(fd);
		mh_sleep_ms(50);
	} while (mh_now_ms() < end);
	return -1;
}

static void expect_migrated(struct __test_metadata *_metadata, struct mh_mig *m)
{
	if (m->mig.status || m->in.status)
		mh_dump(m);
	EXPECT_EQ(0, m->mig.status);
	EXPECT_EQ(0, m->in.status);
	expect_where(_metadata, m, ON_DESTINATION);
}

/* A port scanner and an HTTP health check come first; the source after. */
TEST_F_TIMEOUT(door, strays_before_the_source, 300)
{
	struct mh_mig *m = &self->c.m;
	const char get[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	char line[256];
	int fd;

	ASSERT_EQ(0, start_vmms(m));
	mh_set_addr(m, false);
	ASSERT_EQ(0, mh_start_incoming(m, in_args));
	fd = door_connect(m);
	ASSERT_LE(0, fd);
	close(fd);			/* connect and go: a scanner */
	fd = door_connect(m);
	ASSERT_LE(0, fd);
	EXPECT_EQ((ssize_t)strlen(get), send(fd, get, strlen(get), MSG_NOSIGNAL));
	EXPECT_TRUE(mh_wait_line(m->in.err, "not a kmig migration stream", line,
				 sizeof(line), 30000));
	close(fd);
	EXPECT_TRUE(mh_running(&m->in));	/* the strays did not end it */

	ASSERT_EQ(0, mh_start_migrate(m, mig_args, NULL));
	mh_wait_both(m, 120000);
	expect_migrated(_metadata, m);
	EXPECT_EQ(2, mh_json_num(m->in_json, "refused")) TH_LOG("%s", m->in_json);
}

/*
 * A HELLO a byte at a time: the handshake's deadline ends it although
 * every byte is progress; the real source, queued behind it, migrates.
 */
TEST_F_TIMEOUT(door, slow_hello_is_cut_off, 300)
{
	struct mh_mig *m = &self->c.m;
	uint64_t t0, took;
	char line[256];
	int fd, i;

	ASSERT_EQ(0, start_vmms(m));
	mh_set_addr(m, false);
	ASSERT_EQ(0, mh_start_incoming(m, in_args));
	fd = door_connect(m);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mh_start_migrate(m, mig_args, NULL));
	t0 = mh_now_ms();
	/* A valid preamble, then zeros: each byte is progress. */
	for (i = 0; i < 200; i++) {
		char c = i < 8 ? "KMIGSTRM"[i] : i == 8 ? 2 : 0;

		if (send(fd, &c, 1, MSG_NOSIGNAL) != 1)
			break;
		mh_sleep_ms(400);
	}
	took = mh_now_ms() - t0;
	close(fd);
	EXPECT_GT(200, i) TH_LOG("the destination took a HELLO for 80 s");
	/* --peer-timeout 4 bounds a handshake; generous for the sandbox. */
	EXPECT_GT(20000ULL, (unsigned long long)took);
	EXPECT_TRUE(mh_wait_line(m->in.err, "no complete HELLO in time", line,
				 sizeof(line), 1000));
	mh_wait_both(m, 120000);
	expect_migrated(_metadata, m);
}

/* SIGTERM reaches a destination stuck in a handshake. */
TEST_F_TIMEOUT(door, sigterm_during_handshake, 120)
{
	struct mh_mig *m = &self->c.m;
	const char *args[] = { "--peer-timeout", "60", "--step-timeout", "60",
			       NULL };
	int fd;

	ASSERT_EQ(0, start_vmms(m));
	mh_set_addr(m, false);
	ASSERT_EQ(0, mh_start_incoming(m, args));
	fd = door_connect(m);
	ASSERT_LE(0, fd);
	EXPECT_EQ(4, send(fd, "KMIG", 4, MSG_NOSIGNAL));
	mh_sleep_ms(1000);
	kill(m->in.pid, SIGTERM);
	EXPECT_EQ(3, mh_wait(&m->in, 10000));
	close(fd);
	/* It told its VMM to quit on the way out. */
	EXPECT_EQ(0, mh_wait(&m->dst.proc, 20000));
	EXPECT_EQ(1, mh_guest_runs(&m->src));
}

/* resume is refused while a migration holds the VMM; that one goes on. */
TEST_F_TIMEOUT(door, resume_refused_while_migrating, 300)
{
	struct mh_mig *m = &self->c.m;
	const char *args[] = { "resume", "--vmm", m->src.sock, NULL };
	char env[200], path[PATH_MAX], line[256];
	char *envp[] = { env, NULL };

	snprintf(env, sizeof(env), "KMIG_TEST_HOLD=switchover:%s", self->c.hold);
	ASSERT_EQ(0, start_vmms(m));
	mh_set_addr(m, true);
	ASSERT_EQ(0, mh_start_incoming(m, in_args));
	ASSERT_EQ(0, mh_start_migrate(m, mig_args, envp));
	ASSERT_TRUE(wait_file(self->c.hold, 120000));

	EXPECT_EQ(1, mh_kmigctl(m->dir, "resume", args, NULL, 60000));
	snprintf(path, sizeof(path), "%s/resume.err", m->dir);
	EXPECT_TRUE(mh_wait_line(path, "holds the VMM", line, sizeof(line), 0));
	EXPECT_EQ(0, mh_guest_runs(&m->src)) TH_LOG("resume resumed it anyway");

	unlink(self->c.hold);
	mh_wait_both(m, 120000);
	expect_migrated(_metadata, m);
}

/* A well-formed HELLO for the door tests' VM: 32 MiB at 0, 1 vCPU. */
static bool send_hello(int fd, uint64_t session, uint32_t channel)
{
	uint32_t pre[4] = { 0, 0, 3, 0 }, hdr[2] = { 1, 56 };	/* v3; HELLO */
	struct {
		uint64_t session;
		uint32_t channel, nr_channels, page_size, nr_regions;
		uint64_t ram_bytes;
		uint32_t nr_vcpus, features;
		uint64_t gpa, size;
	} __attribute__((packed)) h = {
		session, channel, 2, 4096, 1, 32 << 20, 1, 0, 0, 32 << 20,
	};
	uint8_t b[sizeof(pre) + sizeof(hdr) + sizeof(h)];

	memcpy(pre, "KMIGSTRM", 8);
	memcpy(b, pre, sizeof(pre));
	memcpy(b + sizeof(pre), hdr, sizeof(hdr));
	memcpy(b + sizeof(pre) + sizeof(hdr), &h, sizeof(h));
	return send(fd, b, sizeof(b), MSG_NOSIGNAL) == (ssize_t)sizeof(b);
}

/* The answer's frame type: 2 ACCEPT, 3 REJECT; -1 none within 10 s. */
static int answer(int fd)
{
	struct timeval tv = { .tv_sec = 10 };
	uint8_t b[16 + 8];
	size_t got = 0;
	uint32_t type;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (got < sizeof(b)) {
		ssize_t n = recv(fd, b + got, sizeof(b) - got, 0);

		if (n <= 0)
			return -1;
		got += n;
	}
	memcpy(&type, b + 16, 4);
	return type;
}

/* A second main channel, of another session or the same: refused. */
TEST_F_TIMEOUT(door, duplicate_main_channel, 120)
{
	/* A hand-made source speaks no auth: the door's rules are the test. */
	const char *const insecure_args[] = {
		"--peer-timeout", PEER_TIMEOUT, "--step-timeout", STEP_TIMEOUT,
		"--insecure", NULL,
	};
	struct mh_mig *m = &self->c.m;
	char line[256];
	int a, b, c;

	ASSERT_EQ(0, start_vmms(m));
	mh_set_addr(m, false);
	ASSERT_EQ(0, mh_start_incoming(m, insecure_args));
	a = door_connect(m);
	ASSERT_LE(0, a);
	ASSERT_TRUE(send_hello(a, 0x1111, 0));
	ASSERT_EQ(2, answer(a));	/* well-formed: taken as the main channel */

	b = door_connect(m);
	ASSERT_LE(0, b);
	ASSERT_TRUE(send_hello(b, 0x2222, 0));
	EXPECT_EQ(3, answer(b));
	c = door_connect(m);
	ASSERT_LE(0, c);
	ASSERT_TRUE(send_hello(c, 0x1111, 0));
	EXPECT_EQ(3, answer(c));
	EXPECT_TRUE(mh_wait_line(m->in.err, "not a data channel of this migration (channel 0",
				 line, sizeof(line), 1000));
	close(b);
	close(c);
	close(a);
	/* No data channels ever come: the step's deadline ends it. */
	EXPECT_EQ(1, mh_wait(&m->in, 60000));
	free(m->in_json);
	m->in_json = mh_slurp(m->in.out);
	EXPECT_EQ(2, mh_json_num(m->in_json, "refused")) TH_LOG("%s", m->in_json);
	EXPECT_EQ(0, mh_wait(&m->dst.proc, 20000));
}

TEST_HARNESS_MAIN
