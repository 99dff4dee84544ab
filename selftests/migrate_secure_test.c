// SPDX-License-Identifier: GPL-2.0
/*
 * Only the real source can feed a destination (kmigctl's security options,
 * user/kmigctl/wire/secure.h), checked with real migrations:
 *
 *  - an attacker first, then the real source, one `kmigctl incoming` per
 *    case over TCP: a source without a key, with another auth key, with
 *    a certificate of another CA, with another PSK, and a replay of a
 *    real migration's recorded main channel (fault_proxy --record). The
 *    attacker's kmigctl exits 1 and says it was refused, the destination
 *    logs and counts the refusal and waits on, and the real source then
 *    migrates: its session is the one in the destination's report;
 *  - one flipped bit in a page fails the migration before GO, however the
 *    channel is protected: the RAM frame's CRC-32C on a unix socket, the
 *    frame MAC with --auth-key, the TLS record (fault_proxy --raw); the
 *    source VM runs on, the destination VM is not started;
 *  - every mode (x509, PSK, --auth-key; x509 also without kTLS), without
 *    and with zstd, migrates a guest that its destination checker passes,
 *    and the reports name the mode;
 *  - on a unix socket without a key, a peer of another uid is refused.
 *
 * Credentials come from scripts/mkcreds.sh, made once per run before the
 * harness forks the tests. Small guests: TLS moves ~13 MB/s under TCG.
 */
#include <arpa/inet.h>
#include <grp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "kselftest_harness.h"
#include "migrate_harness.h"
#include "test_util.h"

#define SEC_MEM		"16"
/*
 * The counter guest dirties its RAM faster than TLS moves it under TCG:
 * without a bound on the rounds its migration would never switch over.
 */
#define SEC_ROUNDS	"--max-rounds", "3"
/* Stream format pieces the tests write or read by hand (stream.h). */
#define KMS_PREAMBLE	16
#define KMS_REJECT	3

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = v;
	p[1] = v >> 8;
	p[2] = v >> 16;
	p[3] = v >> 24;
}

static void put_le64(uint8_t *p, uint64_t v)
{
	put_le32(p, v);
	put_le32(p + 4, v >> 32);
}

static uint32_t get_le32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The credentials (mkcreds.sh DIR), and why there are none. */
static char creds[64];
static const char *creds_skip;
static char x509[96], x509_other[96], psk[96], psk_wrong[96], auth_wrong[96];
/* Does this kernel have the tls ULP? */
static bool ktls;

/*
 * The kernel loads tls.ko and the AEADs on demand; the sandbox, whose
 * initramfs cannot, loads them at boot (scripts/sandbox/init).
 */
static bool have_ktls(void)
{
	int fd, r, e;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return false;
	/* Unconnected: ENOTCONN once the ULP exists, ENOENT before. */
	r = setsockopt(fd, SOL_TCP, TCP_ULP, "tls", sizeof("tls"));
	e = errno;
	close(fd);
	return !r || e != ENOENT;
}

__attribute__((constructor)) static void creds_make(void)
{
	char cmd[256];

	ktls = have_ktls();
	if (access("scripts/mkcreds.sh", R_OK)) {
		creds_skip = "scripts/mkcreds.sh not found (run from the project root)";
		return;
	}
	if (system("command -v certtool >/dev/null 2>&1")) {
		creds_skip = "certtool not installed (gnutls-bin)";
		return;
	}
	snprintf(creds, sizeof(creds), "/tmp/kmig-secure-test.XXXXXX");
	if (!mkdtemp(creds)) {
		creds_skip = "cannot make a directory in /tmp";
		creds[0] = '\0';
		return;
	}
	/* Readable by the uid-65534 peer of unix_other_uid: nothing is. */
	snprintf(cmd, sizeof(cmd), "sh scripts/mkcreds.sh %s", creds);
	if (system(cmd))
		creds_skip = "scripts/mkcreds.sh failed";
	snprintf(x509, sizeof(x509), "%s/x509", creds);
	snprintf(x509_other, sizeof(x509_other), "%s/x509-other", creds);
	snprintf(psk, sizeof(psk), "%s/psk.key", creds);
	snprintf(psk_wrong, sizeof(psk_wrong), "%s/psk-wrong.key", creds);
	snprintf(auth_wrong, sizeof(auth_wrong), "%s/auth-wrong.key", creds);
}

__attribute__((destructor)) static void creds_remove(void)
{
	char cmd[128];

	/* Only the process that made them: each test's ends in _exit(). */
	if (creds[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", creds);
		if (system(cmd))
			fprintf(stderr, "could not remove %s\n", creds);
	}
}

/*
 * One test's processes beyond struct mh_mig's: the attacker's VM, the
 * proxy, a second destination (and its kmigctl) and a second migration.
 */
struct sec_test {
	struct mh_mig m;
	struct mh_vmm atk_vm, dst2;
	struct mh_proc proxy, in2, mig2;
	char *in2_json, *mig2_json;
};

static const char *sec_unavailable(void)
{
	const char *why = mh_unavailable();

	return why ? why : creds_skip;
}

static void sec_teardown(struct sec_test *t)
{
	char sock[PATH_MAX];

	mh_kill(&t->proxy);
	mh_kill(&t->mig2);
	mh_kill(&t->in2);
	mh_vmm_stop(&t->atk_vm);
	mh_vmm_stop(&t->dst2);
	free(t->in2_json);
	free(t->mig2_json);
	/* A killed proxy leaves its socket: not to be copied to the share. */
	if (t->m.dir[0]) {
		snprintf(sock, sizeof(sock), "%s/proxy.sock", t->m.dir);
		unlink(sock);
	}
	mh_teardown(&t->m);
}

/* The source (@workload) and an --incoming destination of @mem MiB. */
static int start_vmms(struct mh_mig *m, const char *workload, const char *mem)
{
	const char *src[] = { "--mem", mem, "--workload", workload, NULL };
	const char *dst[] = { "--mem", mem, "--incoming", NULL };

	if (mh_vmm_start(&m->src, m->dir, "src-vmm", src) ||
	    mh_vmm_start(&m->dst, m->dir, "dst-vmm", dst))
		return -1;
	/* Let the workload write something worth migrating. */
	mh_sleep_ms(1000);
	return 0;
}

/* @a then @b (NULL-terminated lists) into @out, NULL-terminated. */
static const char **join(const char **out, size_t n, const char *const a[],
			 const char *const b[])
{
	size_t i = 0;

	for (; a && *a && i < n - 1; a++)
		out[i++] = *a;
	for (; b && *b && i < n - 1; b++)
		out[i++] = *b;
	out[i] = NULL;
	return out;
}

/* Starts `kmigctl incoming` and waits until it listens. */
static int incoming_listening(struct mh_mig *m, const char *const sec[])
{
	char line[256];

	if (mh_start_incoming(m, sec))
		return -1;
	return mh_wait_line(m->in.err, "listening on", line, sizeof(line),
			    30000) ? 0 : -1;
}

/*
 * fault_proxy ARGS... --log DIR/proxy.log between @listen and @to; the
 * address it listens on (a tcp:...:0 made concrete) into @addr.
 */
static int start_proxy(struct sec_test *t, const char *listen, const char *to,
		       const char *const args[], char *addr, size_t n)
{
	char log[PATH_MAX], line[256];
	const char *argv[MH_MAX_ARGS] = { MH_PROXY, "--listen", listen, "--to",
					  to, "--log", log };
	const char *p;
	int i = 7;

	if (access(MH_PROXY, X_OK))
		return -ENOENT;
	snprintf(log, sizeof(log), "%s/proxy.log", t->m.dir);
	for (; args && *args && i < MH_MAX_ARGS - 1; args++)
		argv[i++] = *args;
	argv[i] = NULL;
	if (mh_spawn(&t->proxy, t->m.dir, "proxy", (char *const *)argv, NULL))
		return -1;
	if (!mh_wait_line(t->proxy.out, "fault_proxy: listening on ", line,
			  sizeof(line), 10000)) {
		mh_kill(&t->proxy);
		return -ETIMEDOUT;
	}
	p = strstr(line, "listening on ") + strlen("listening on ");
	snprintf(addr, n, "%s", p);
	return 0;
}

/* kmigctl migrate of @vmm to @to with @extra, to completion: its status. */
static int run_migrate(struct mh_mig *m, const char *name, const char *vmm,
		       const char *to, const char *const extra[], char **out)
{
	const char *base[] = { "migrate", "--vmm", vmm, "--to", to, "--json",
			       "--quiet", SEC_ROUNDS, NULL };
	const char *args[MH_MAX_ARGS];

	return mh_kmigctl(m->dir, name, join(args, MH_MAX_ARGS, base, extra),
			  out, 120000);
}

/*
 * The real source's migration went through, and it alone: both exit 0,
 * the destination VM @dst passes its checker, its kmigctl refused at
 * least one connection (@why the last) and took the session @mj's source
 * announced.
 */
static void real_source_wins(struct __test_metadata *_metadata,
			     struct mh_vmm *dst, int mig_status, const char *mj,
			     int in_status, const char *ij, const char *why,
			     const char *atk_json)
{
	char verdict[256], sid[32], dsid[32], asid[32], res[32];

	EXPECT_EQ(0, mig_status) TH_LOG("%s", mj);
	EXPECT_EQ(0, in_status) TH_LOG("%s", ij);
	EXPECT_STREQ("completed", mh_json_str(mj, "result", res, sizeof(res)));
	EXPECT_STREQ("completed", mh_json_str(ij, "result", res, sizeof(res)));
	EXPECT_GE(mh_json_num(ij, "refused"), 1) TH_LOG("%s", ij);
	EXPECT_TRUE(mh_json_has(ij, "refused_last", why)) TH_LOG("%s", ij);
	mh_json_str(mj, "session_id", sid, sizeof(sid));
	mh_json_str(ij, "session_id", dsid, sizeof(dsid));
	EXPECT_NE(0, sid[0]);
	EXPECT_STREQ(sid, dsid);
	if (atk_json) {
		mh_json_str(atk_json, "session_id", asid, sizeof(asid));
		EXPECT_STRNE(asid, dsid);
	}
	mh_sleep_ms(500);
	EXPECT_EQ(1, mh_vmm_check(dst, verdict, sizeof(verdict)))
		TH_LOG("destination checker: %s", verdict);
}

FIXTURE(secure) {
	struct sec_test t;
};

FIXTURE_SETUP(secure)
{
	const char *why = sec_unavailable();

	if (why)
		SETUP_SKIP("%s", why);
	ASSERT_EQ(0, mh_setup(&self->t.m));
}

FIXTURE_TEARDOWN(secure)
{
	sec_teardown(&self->t);
}

/* One attack: the options of each side, what each must say. */
struct attack {
	const char *const *dst;		/* incoming's (NULL: the harness key) */
	const char *const *atk;		/* the attacker's */
	const char *const *real;	/* the real source's */
	const char *atk_says;		/* in the attacker's "error" */
	const char *dst_says;		/* in the destination's refusal */
};

/*
 * The attacker migrates another VM (the zero workload) to the destination
 * first, then the real source migrates its own.
 */
static void attack_then_real(struct __test_metadata *_metadata,
			     struct sec_test *t, const struct attack *a)
{
	const char *atk_vm[] = { "--mem", SEC_MEM, "--workload", "zero", NULL };
	const char *quiet[] = { "--quiet", SEC_ROUNDS, NULL };
	const char *args[MH_MAX_ARGS];
	struct mh_mig *m = &t->m;
	char *atk_json = NULL, line[512];
	int st;

	ASSERT_EQ(0, start_vmms(m, "counter", SEC_MEM));
	ASSERT_EQ(0, mh_vmm_start(&t->atk_vm, m->dir, "atk-vmm", atk_vm));
	mh_set_addr(m, false);
	ASSERT_EQ(0, incoming_listening(m, a->dst));

	st = run_migrate(m, "attacker", t->atk_vm.sock, m->addr, a->atk,
			 &atk_json);
	EXPECT_EQ(1, st) TH_LOG("the attacker's kmigctl: %s", atk_json);
	EXPECT_TRUE(mh_json_has(atk_json, "error", a->atk_says))
		TH_LOG("attacker: %s", atk_json);
	/* Refused, logged, and still waiting for the real source. */
	EXPECT_TRUE(mh_wait_line(m->in.err, "refused a connection from ", line,
				 sizeof(line), 20000));
	EXPECT_TRUE(strstr(line, a->dst_says) != NULL) TH_LOG("%s", line);
	EXPECT_TRUE(mh_running(&m->in));

	ASSERT_EQ(0, mh_start_migrate(m, join(args, MH_MAX_ARGS, a->real, quiet),
				      NULL));
	mh_wait_both(m, 120000);
	if (m->mig.status || m->in.status)
		mh_dump(m);
	real_source_wins(_metadata, &m->dst, m->mig.status, m->mig_json,
			 m->in.status, m->in_json, a->dst_says, atk_json);
	free(atk_json);
}

/* The destination and the real source have the harness's auth key. */
TEST_F_TIMEOUT(secure, attacker_without_key, 240)
{
	const char *atk[] = { "--insecure", NULL };
	const struct attack a = {
		.atk = atk,
		.atk_says = "the destination rejected the migration: this destination requires --auth-key (the source has none)",
		.dst_says = "main channel: this destination requires --auth-key (the source has none)",
	};

	attack_then_real(_metadata, &self->t, &a);
}

TEST_F_TIMEOUT(secure, attacker_wrong_key, 240)
{
	const char *atk[] = { "--auth-key", auth_wrong, NULL };
	const struct attack a = {
		.atk = atk,
		.atk_says = "main channel: the destination could not prove it holds the auth key",
		.dst_says = "main channel: the source left during the auth exchange",
	};

	attack_then_real(_metadata, &self->t, &a);
}

TEST_F_TIMEOUT(secure, attacker_wrong_cert, 240)
{
	const char *dst[] = { "--tls-creds", x509, NULL };
	const char *atk[] = { "--tls-creds", x509_other, NULL };
	/* Each side checks the other's certificate: the attacker stops first. */
	const struct attack a = {
		.dst = dst, .atk = atk, .real = dst,
		.atk_says = "main channel: TLS: the peer's certificate is not signed by ",
		.dst_says = "main channel: TLS: the peer refused our certificate",
	};

	attack_then_real(_metadata, &self->t, &a);
}

TEST_F_TIMEOUT(secure, attacker_wrong_psk, 240)
{
	const char *dst[] = { "--tls-psk", psk, NULL };
	const char *atk[] = { "--tls-psk", psk_wrong, NULL };
	const struct attack a = {
		.dst = dst, .atk = atk, .real = dst,
		.atk_says = "main channel: TLS: the peer refused our PSK",
		.dst_says = "main channel: TLS: unknown PSK identity / wrong key",
	};

	attack_then_real(_metadata, &self->t, &a);
}

/* Writes @len bytes to @fd, bounded by its send timeout. */
static bool send_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= n;
	}
	return true;
}

/*
 * The destination's answer on @fd, until it closes (or 20 s): its
 * preamble's magic is checked, and the reason of the first REJECT frame
 * is copied to @reason ("" if none). Returns the bytes read.
 */
static size_t read_answer(int fd, char *reason, size_t n)
{
	static uint8_t buf[1 << 16];
	struct timeval tv = { .tv_sec = 20 };
	size_t len = 0, off = KMS_PREAMBLE;

	reason[0] = 0;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (len < sizeof(buf)) {
		ssize_t r = recv(fd, buf + len, sizeof(buf) - len, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += r;
	}
	if (len < KMS_PREAMBLE || memcmp(buf, "KMIGSTRM", 8))
		return len;
	while (off + 8 <= len) {
		uint32_t type = get_le32(buf + off);
		uint32_t flen = get_le32(buf + off + 4);

		if (flen > len - off - 8)
			break;
		if (type == KMS_REJECT) {	/* the reason: text */
			snprintf(reason, n, "%.*s", (int)flen,
				 (const char *)buf + off + 8);
			break;
		}
		off += 8 + flen;
	}
	return len;
}

/*
 * A listener's replay: the source->destination bytes of a real
 * migration's main channel (recorded by fault_proxy) sent byte for byte
 * to a new destination with the same key must not get past the auth
 * exchange: its nonce is new, so the recorded proof is worthless.
 */
TEST_F_TIMEOUT(secure, replayed_handshake, 300)
{
	struct sec_test *t = &self->t;
	struct mh_mig *m = &t->m;
	const char *none[] = { "--fault", "none", "--record", NULL, NULL };
	const char *dst2[] = { "--mem", SEC_MEM, "--incoming", NULL };
	const char *quiet[] = { "--quiet", SEC_ROUNDS, NULL };
	char rec[PATH_MAX], proxy[160], addr2[64], reason[600], line[512];
	char *in2_argv[16], *blob;
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct timeval tv = { .tv_sec = 20 };
	struct stat st;
	int fd, port, i = 0, status;
	size_t got;

	ASSERT_EQ(0, start_vmms(m, "counter", SEC_MEM));
	mh_set_addr(m, false);
	ASSERT_EQ(0, incoming_listening(m, NULL));
	snprintf(rec, sizeof(rec), "%s/main.rec", m->dir);
	none[3] = rec;
	ASSERT_EQ(0, start_proxy(t, "tcp:127.0.0.1:0", m->addr, none, proxy,
				 sizeof(proxy)));
	/* The first migration, through the recording proxy. */
	port = atoi(strrchr(m->addr, ':') + 1);
	snprintf(m->addr, sizeof(m->addr), "%s", proxy);
	ASSERT_EQ(0, mh_start_migrate(m, quiet, NULL));
	mh_wait_both(m, 120000);
	if (m->mig.status || m->in.status)
		mh_dump(m);
	ASSERT_EQ(0, m->mig.status);
	ASSERT_EQ(0, m->in.status);
	mh_kill(&t->proxy);
	ASSERT_EQ(0, stat(rec, &st));
	/* Preamble, AUTH_INIT, AUTH_PROOF, HELLO at least. */
	ASSERT_GT(st.st_size, 16 + 8 + 48 + 8 + 32 + 8 + 56);
	TH_LOG("recorded %lld bytes of the main channel", (long long)st.st_size);

	/* A new destination with the same key. */
	ASSERT_EQ(0, mh_vmm_start(&t->dst2, m->dir, "dst2-vmm", dst2));
	snprintf(addr2, sizeof(addr2), "tcp:127.0.0.1:%d", port + 1);
	in2_argv[i++] = MH_KMIGCTL;
	in2_argv[i++] = "incoming";
	in2_argv[i++] = "--vmm";
	in2_argv[i++] = t->dst2.sock;
	in2_argv[i++] = "--listen";
	in2_argv[i++] = addr2;
	in2_argv[i++] = "--json";
	in2_argv[i++] = "--auth-key";
	in2_argv[i++] = m->key;
	in2_argv[i] = NULL;
	ASSERT_EQ(0, mh_spawn(&t->in2, m->dir, "incoming2", in2_argv, NULL));
	ASSERT_TRUE(mh_wait_line(t->in2.err, "listening on", line, sizeof(line),
				 30000));

	/* The replay, on a fresh connection of the test's own. */
	blob = mh_slurp(rec);
	ASSERT_NE(NULL, blob);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, fd);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	sin.sin_port = htons(port + 1);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ASSERT_EQ(0, connect(fd, (struct sockaddr *)&sin, sizeof(sin)));
	/* It may stop reading at the bad proof: what matters is the answer. */
	if (!send_all(fd, (uint8_t *)blob, st.st_size))
		TH_LOG("the destination stopped reading the replay (%s)",
		       strerror(errno));
	free(blob);
	got = read_answer(fd, reason, sizeof(reason));
	close(fd);
	TH_LOG("the destination answered %zu bytes: REJECT \"%s\"", got, reason);
	EXPECT_TRUE(strstr(reason, "authentication failed") != NULL);
	EXPECT_TRUE(mh_wait_line(t->in2.err, "refused a connection from ", line,
				 sizeof(line), 20000));
	EXPECT_TRUE(strstr(line, "authentication failed") != NULL) TH_LOG("%s", line);
	EXPECT_TRUE(mh_running(&t->in2));

	/* The real source: the VM now running on the first destination. */
	status = run_migrate(m, "migrate2", m->dst.sock, addr2,
			     (const char *const[]){ "--auth-key", m->key, NULL },
			     &t->mig2_json);
	mh_wait(&t->in2, 60000);
	t->in2_json = mh_slurp(t->in2.out);
	if (status || t->in2.status)
		mh_log_tail(t->in2.err, 1500);
	real_source_wins(_metadata, &t->dst2, status, t->mig2_json,
			 t->in2.status, t->in2_json, "authentication failed",
			 NULL);
}

/*
 * After a migration that failed before GO: the source VM runs on, its
 * memory intact; the destination's VM was never started and its VMM was
 * told to quit; no kmig session is left migrating.
 */
static void source_survives(struct __test_metadata *_metadata,
			    struct mh_mig *m)
{
	char verdict[256], vm[32];

	EXPECT_STREQ("not started", mh_json_str(m->in_json, "vm", vm, sizeof(vm)))
		TH_LOG("%s", m->in_json);
	EXPECT_EQ(1, mh_guest_runs(&m->src))
		TH_LOG("the source guest does not run");
	EXPECT_EQ(1, mh_vmm_check(&m->src, verdict, sizeof(verdict)))
		TH_LOG("source checker: %s", verdict);
	EXPECT_EQ(0, mh_wait(&m->dst.proc, 20000))
		TH_LOG("the destination VMM was not told to quit");
	EXPECT_TRUE(isnan(mh_session_num(m->dir, "tracking", "id")));
}

/*
 * A migration of a @mem MiB @workload guest with the security options
 * @sec on both sides, through fault_proxy @args (which must fire); over a
 * unix socket or TCP. Returns once both kmigctls ended, having failed.
 */
static void run_flipped(struct __test_metadata *_metadata, struct sec_test *t,
			bool unix_socket, const char *workload, const char *mem,
			const char *const sec[], const char *const args[])
{
	const char *base[] = { "--channels", "1", "--quiet", SEC_ROUNDS, NULL };
	const char *mig[MH_MAX_ARGS];
	struct mh_mig *m = &t->m;
	char listen[160], proxy[160], line[256];

	ASSERT_EQ(0, start_vmms(m, workload, mem));
	mh_set_addr(m, unix_socket);
	ASSERT_EQ(0, incoming_listening(m, sec));
	if (unix_socket)
		snprintf(listen, sizeof(listen), "unix:%s/proxy.sock", m->dir);
	else
		snprintf(listen, sizeof(listen), "tcp:127.0.0.1:0");
	ASSERT_EQ(0, start_proxy(t, listen, m->addr, args, proxy, sizeof(proxy)));
	snprintf(m->addr, sizeof(m->addr), "%s", proxy);
	ASSERT_EQ(0, mh_start_migrate(m, join(mig, MH_MAX_ARGS, base, sec), NULL));
	mh_wait_both(m, 120000);
	EXPECT_TRUE(mh_wait_line(t->proxy.out, "fault_proxy: fired ", line,
				 sizeof(line), 1000))
		TH_LOG("the proxy's fault never fired");
	if (m->mig.status != 1 || m->in.status != 1)
		mh_dump(m);
	/* 1: failed before GO (4 would be an outcome unknown after it). */
	EXPECT_EQ(1, m->mig.status);
	EXPECT_EQ(1, m->in.status);
}

TEST_F_TIMEOUT(secure, flipped_bit_crc_unix, 240)
{
	const char *flip[] = { "--fault", "flip@RAM", NULL };
	struct mh_mig *m = &self->t.m;

	run_flipped(_metadata, &self->t, true, "counter", SEC_MEM, NULL, flip);
	EXPECT_TRUE(mh_json_has(m->in_json, "error", "checksum mismatch"))
		TH_LOG("%s", m->in_json);
	EXPECT_TRUE(mh_json_has(m->mig_json, "error", "checksum mismatch"))
		TH_LOG("%s", m->mig_json);
	source_survives(_metadata, m);
}

TEST_F_TIMEOUT(secure, flipped_bit_mac_tcp, 240)
{
	const char *flip[] = { "--fault", "flip@RAM", NULL };
	struct mh_mig *m = &self->t.m;

	/* TCP: the harness's --auth-key on both sides, MACs on every frame. */
	run_flipped(_metadata, &self->t, false, "counter", SEC_MEM, NULL, flip);
	EXPECT_TRUE(mh_json_has(m->in_json, "error", "failed its MAC check"))
		TH_LOG("%s", m->in_json);
	source_survives(_metadata, m);
}

TEST_F_TIMEOUT(secure, flipped_bit_tls_tcp, 240)
{
	const char *sec[] = { "--tls-creds", x509, NULL };
	/* Past the TLS handshake, preamble and HELLO: in the bulk's pages. */
	const char *flip[] = { "--raw", "--fault", "flip-byte=200000", "--conn",
			       "2", NULL };
	struct mh_mig *m = &self->t.m;

	char err[512];

	run_flipped(_metadata, &self->t, false, "counter", "32", sec, flip);
	/*
	 * The record's AEAD tag fails. With kTLS the kernel's EBADMSG reads
	 * today as "a frame failed its authentication check", the words of
	 * a frame MAC, without naming TLS: take either.
	 */
	mh_json_str(m->in_json, "error", err, sizeof(err));
	TH_LOG("destination: %s", err);
	EXPECT_TRUE(!strncmp(err, "data channel 1: ", 16)) TH_LOG("%s", err);
	EXPECT_TRUE(strstr(err, "TLS") ||
		    strstr(err, "failed its authentication check"))
		TH_LOG("%s", err);
	source_survives(_metadata, m);
}

/*
 * On a unix socket without a key, only root or the destination's own
 * user may connect: a uid-65534 peer that sends a well-formed preamble
 * and HELLO is refused, and the real source (root) then migrates.
 */
TEST_F_TIMEOUT(secure, unix_other_uid, 240)
{
	struct mh_mig *m = &self->t.m;
	const char *quiet[] = { "--quiet", SEC_ROUNDS, NULL };
	char sock[PATH_MAX], line[512];
	pid_t pid;
	int st;

	ASSERT_EQ(0, start_vmms(m, "counter", SEC_MEM));
	mh_set_addr(m, true);
	ASSERT_EQ(0, incoming_listening(m, NULL));
	/* Reachable by uid 65534: the directory, and the socket itself. */
	snprintf(sock, sizeof(sock), "%s", m->addr + strlen("unix:"));
	ASSERT_EQ(0, chmod(m->dir, 0755));
	ASSERT_EQ(0, chmod(sock, 0777));

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct sockaddr_un un = { .sun_family = AF_UNIX };
		uint8_t msg[16 + 8 + 56] = "KMIGSTRM", *h = msg + 24;
		struct timeval tv = { .tv_sec = 20 };
		char sink[256];
		int fd;

		if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
			_exit(10);
		/* Preamble: version 3, no flags. */
		put_le32(msg + 8, 3);
		put_le32(msg + 12, 0);
		/* HELLO (type 1): a main channel of one data channel. */
		put_le32(msg + 16, 1);
		put_le32(msg + 20, 56);
		put_le64(h, 0x5ec0de);		/* session id */
		put_le32(h + 8, 0);		/* channel: main */
		put_le32(h + 12, 1);		/* data channels */
		put_le32(h + 16, 4096);		/* page size */
		put_le32(h + 20, 1);		/* regions */
		put_le64(h + 24, 16ULL << 20);	/* RAM bytes */
		put_le32(h + 32, 1);		/* vCPUs */
		put_le32(h + 36, 0);		/* features */
		put_le64(h + 40, 0);		/* region 0: gpa */
		put_le64(h + 48, 16ULL << 20);	/* size */
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		memcpy(un.sun_path, sock, strnlen(sock, sizeof(un.sun_path) - 1));
		if (fd < 0 || connect(fd, (struct sockaddr *)&un, sizeof(un)))
			_exit(11);
		/*
		 * The destination looks at SO_PEERCRED before it reads: it
		 * may have closed already (EPIPE), which is fine. Whatever it
		 * says, it is no ACCEPT: read until it closes.
		 */
		if (send(fd, msg, sizeof(msg), MSG_NOSIGNAL) < 0 && errno != EPIPE &&
		    errno != ECONNRESET)
			_exit(12);
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		while (recv(fd, sink, sizeof(sink), 0) > 0)
			;
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	/* 10: setuid failed, 11: no connection, 12: send failed oddly. */
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0)
		TH_LOG("the uid-65534 peer: exit status %d", WEXITSTATUS(st));
	EXPECT_TRUE(mh_wait_line(m->in.err, "refused a connection from ", line,
				 sizeof(line), 20000));
	EXPECT_TRUE(strstr(line, "runs as uid 65534, neither root nor") != NULL)
		TH_LOG("%s", line);
	EXPECT_TRUE(mh_running(&m->in));

	ASSERT_EQ(0, mh_start_migrate(m, quiet, NULL));
	mh_wait_both(m, 120000);
	if (m->mig.status || m->in.status)
		mh_dump(m);
	real_source_wins(_metadata, &m->dst, m->mig.status, m->mig_json,
			 m->in.status, m->in_json, "neither root", NULL);
}

/* Every mode migrates a guest its destination checker passes. */
FIXTURE(mode) {
	struct sec_test t;
};

FIXTURE_VARIANT(mode) {
	const char *creds;	/* "x509", "psk" or "auth" */
	bool no_ktls;
	bool zstd;
};

FIXTURE_VARIANT_ADD(mode, x509) { .creds = "x509" };
FIXTURE_VARIANT_ADD(mode, x509_zstd) { .creds = "x509", .zstd = true };
FIXTURE_VARIANT_ADD(mode, x509_no_ktls) { .creds = "x509", .no_ktls = true };
FIXTURE_VARIANT_ADD(mode, x509_no_ktls_zstd) {
	.creds = "x509", .no_ktls = true, .zstd = true,
};
FIXTURE_VARIANT_ADD(mode, psk) { .creds = "psk" };
FIXTURE_VARIANT_ADD(mode, psk_zstd) { .creds = "psk", .zstd = true };
FIXTURE_VARIANT_ADD(mode, auth_key) { .creds = "auth" };
FIXTURE_VARIANT_ADD(mode, auth_key_zstd) { .creds = "auth", .zstd = true };

FIXTURE_SETUP(mode)
{
	const char *why = sec_unavailable();

	if (why)
		SETUP_SKIP("%s", why);
	ASSERT_EQ(0, mh_setup(&self->t.m));
}

FIXTURE_TEARDOWN(mode)
{
	sec_teardown(&self->t);
}

TEST_F_TIMEOUT(mode, passes_checker, 240)
{
	struct mh_mig *m = &self->t.m;
	const char *sec[8], *mig[16], *want;
	char verdict[256], src_sec[128], dst_sec[128];
	int s = 0, a = 0, i;

	if (!strcmp(variant->creds, "x509")) {
		sec[s++] = "--tls-creds";
		sec[s++] = x509;
	} else if (!strcmp(variant->creds, "psk")) {
		sec[s++] = "--tls-psk";
		sec[s++] = psk;
	} else {
		sec[s++] = "--auth-key";
		sec[s++] = m->key;
	}
	if (variant->no_ktls)
		sec[s++] = "--no-ktls";
	sec[s] = NULL;
	for (i = 0; i < s; i++)
		mig[a++] = sec[i];
	mig[a++] = "--quiet";
	mig[a++] = "--max-rounds";
	mig[a++] = "3";
	if (variant->zstd) {
		mig[a++] = "--compress";
		mig[a++] = "zstd";
	}
	mig[a] = NULL;

	ASSERT_EQ(0, start_vmms(m, "counter", SEC_MEM));
	mh_set_addr(m, false);
	ASSERT_EQ(0, mh_start_incoming(m, sec));
	ASSERT_EQ(0, mh_start_migrate(m, mig, NULL));
	mh_wait_both(m, 120000);
	if (m->mig.status || m->in.status)
		mh_dump(m);
	ASSERT_EQ(0, m->mig.status);
	ASSERT_EQ(0, m->in.status);
	mh_sleep_ms(500);
	EXPECT_EQ(1, mh_vmm_check(&m->dst, verdict, sizeof(verdict)))
		TH_LOG("destination checker: %s", verdict);

	/* Both reports name the mode; TLS also how the records move. */
	mh_json_str(m->mig_json, "security", src_sec, sizeof(src_sec));
	mh_json_str(m->in_json, "security", dst_sec, sizeof(dst_sec));
	TH_LOG("%s%s: source \"%s\", destination \"%s\", %.0f ms, %.0f bytes sent",
	       variant->creds, variant->zstd ? "+zstd" : "", src_sec, dst_sec,
	       mh_json_num(m->mig_json, "total_ms"),
	       mh_json_num(m->mig_json, "bytes_sent"));
	if (!strcmp(variant->creds, "auth")) {
		EXPECT_STREQ("auth-key", src_sec);
		EXPECT_STREQ("auth-key", dst_sec);
	} else {
		want = !strcmp(variant->creds, "x509") ? " x509" : " psk";
		EXPECT_TRUE(!strncmp(src_sec, "TLS1.3 ", 7)) TH_LOG("%s", src_sec);
		EXPECT_TRUE(strstr(src_sec, want) != NULL) TH_LOG("%s", src_sec);
		EXPECT_TRUE(strstr(dst_sec, want) != NULL) TH_LOG("%s", dst_sec);
		/* The sandbox has the tls ULP: kTLS unless it was turned off. */
		want = !variant->no_ktls && ktls ? "(kTLS)" : "(GnuTLS records)";
		EXPECT_TRUE(strstr(src_sec, want) != NULL)
			TH_LOG("source \"%s\", wanted %s (tls ULP %s)", src_sec,
			       want, ktls ? "present" : "absent");
		EXPECT_TRUE(strstr(dst_sec, want) != NULL) TH_LOG("%s", dst_sec);
	}
	if (variant->zstd) {
		char alg[16];

		EXPECT_STREQ("zstd", mh_json_str(m->mig_json, "compression.algorithm",
						 alg, sizeof(alg)));
		EXPECT_GT(mh_json_num(m->mig_json, "compression.pages_compressed"), 0);
	}
}

TEST_HARNESS_MAIN
