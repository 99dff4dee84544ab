// SPDX-License-Identifier: GPL-2.0
/*
 * TLS 1.3 on real TCP loopback connections (kmigctl/wire/tls.c), with the
 * credentials scripts/mkcreds.sh makes into a temporary directory: x509
 * and PSK carry data both ways; a certificate from another CA (either
 * side), a wrong host name, a wrong or unknown PSK, and a peer that is
 * not TLS are refused with the right errno and reason; one thread sends
 * while another receives on one conn. Where the kernel has the tls ULP
 * (the sandbox: it autoloads tls.ko for root), the record layer moves
 * into the socket for each cipher and plain sendmsg/recv/poll carry the
 * data; elsewhere those cases SKIP. The throughput case prints plain TCP
 * against GnuTLS records against kTLS for KMIG_TLS_BENCH_MIB (16) MiB.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "chan.h"
#include "clock.h"
#include "secure.h"
#include "test_util.h"
#include "tls.h"

#define WAIT_MS		10000
#define MIB		(1024 * 1024)

/* Finds scripts/mkcreds.sh above the working directory or the binary. */
static bool find_mkcreds(char *out, size_t len)
{
	char base[2][PATH_MAX];
	const char *env = getenv("KMIG_MKCREDS");
	ssize_t n;

	if (env) {
		snprintf(out, len, "%s", env);
		return access(out, X_OK) == 0;
	}
	if (!getcwd(base[0], sizeof(base[0])))
		base[0][0] = '\0';
	n = readlink("/proc/self/exe", base[1], sizeof(base[1]) - 1);
	base[1][n > 0 ? n : 0] = '\0';
	for (int b = 0; b < 2; b++) {
		char dir[PATH_MAX];

		if (snprintf(dir, sizeof(dir), "%s", base[b]) >= (int)sizeof(dir))
			continue;
		for (int up = 0; up < 6 && dir[0]; up++) {
			char *slash;

			if (snprintf(out, len, "%s/scripts/mkcreds.sh", dir) < (int)len &&
			    access(out, X_OK) == 0)
				return true;
			slash = strrchr(dir, '/');
			if (!slash)
				break;
			*slash = '\0';
		}
	}
	return false;
}

static int wait_fd(void *arg, short events)
{
	struct pollfd p = { .fd = *(int *)arg, .events = events };
	int r = poll(&p, 1, WAIT_MS);

	if (r < 0)
		return -errno;
	return r ? 0 : -ETIMEDOUT;
}

/* A connected TCP pair over 127.0.0.1: fd[0] the client, fd[1] the server. */
static int tcp_pair(int fd[2])
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	int l, one = 1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0)
		return -errno;
	if (bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 1) ||
	    getsockname(l, (struct sockaddr *)&a, &alen))
		goto fail;
	fd[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd[0] < 0)
		goto fail;
	if (connect(fd[0], (struct sockaddr *)&a, sizeof(a))) {
		close(fd[0]);
		goto fail;
	}
	fd[1] = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (fd[1] < 0) {
		close(fd[0]);
		goto fail;
	}
	close(l);
	setsockopt(fd[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd[1], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return 0;
fail:
	close(l);
	return -errno;
}

/*
 * Does this kernel have the tls ULP? The kernel loads tls.ko and the
 * AEADs on demand; the sandbox, whose initramfs cannot, loads them at
 * boot (scripts/sandbox/init).
 */
static bool have_ktls(void)
{
	int fd, r, e;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return false;
	/* Unconnected: tls_init() says ENOTCONN once the ULP exists. */
	r = setsockopt(fd, SOL_TCP, TCP_ULP, "tls", sizeof("tls"));
	e = errno;
	close(fd);
	return r == 0 || e != ENOENT;
}

struct side {
	struct tls_opts o;
	enum tls_role role;
	struct tls_creds *cr;
	int fd;
	struct tls_conn *t;
	int ret;
	char err[256];
};

static void *handshake_thread(void *arg)
{
	struct side *s = arg;

	s->ret = tls_handshake(s->cr, s->fd, wait_fd, &s->fd, &s->t, s->err,
			       sizeof(s->err));
	return NULL;
}

/* The fd carries the data itself: kTLS, or plain TCP (no conn: a baseline). */
static bool kernel_path(const struct tls_conn *t)
{
	return !t || tls_conn_ktls(t);
}

/* Moving bytes through a conn, kTLS or not, like the channel layer will. */
static ssize_t conn_send(struct tls_conn *t, int fd, const void *buf, size_t len)
{
	struct iovec iov = { (void *)buf, len };

	if (kernel_path(t)) {
		ssize_t n = send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);

		return n < 0 ? -errno : n;
	}
	return tls_conn_sendv(t, &iov, 1);
}

static ssize_t conn_recv(struct tls_conn *t, int fd, void *buf, size_t len)
{
	if (kernel_path(t)) {
		ssize_t n = recv(fd, buf, len, MSG_DONTWAIT);

		if (t && n < 0 && errno == EIO)
			return tls_ktls_read_alert(fd, NULL, 0);
		return n < 0 ? -errno : n;
	}
	return tls_conn_recv(t, buf, len);
}

/* 0, or -errno; all of @len. */
static int send_all(struct tls_conn *t, int fd, const uint8_t *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		size_t chunk = len - done > 256 * 1024 ? 256 * 1024 : len - done;
		ssize_t n = conn_send(t, fd, buf + done, chunk);

		if (n == -EAGAIN) {
			int w = wait_fd(&fd, kernel_path(t) ? POLLOUT :
					tls_conn_wants(t, true));
			if (w)
				return w;
			continue;
		}
		if (n <= 0)
			return n ? (int)n : -EIO;
		done += n;
	}
	return 0;
}

static int recv_all(struct tls_conn *t, int fd, uint8_t *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = conn_recv(t, fd, buf + done, len - done);

		if (n == -EAGAIN) {
			int w;

			if (!kernel_path(t) && tls_conn_pending(t))
				continue;
			w = wait_fd(&fd, kernel_path(t) ? POLLIN :
				    tls_conn_wants(t, false));
			if (w)
				return w;
			continue;
		}
		if (n == 0)
			return -EPIPE;
		if (n < 0)
			return n;
		done += n;
	}
	return 0;
}

static void fill(uint8_t *b, size_t len, unsigned int seed)
{
	uint32_t x = seed * 2654435761u + 1;

	for (size_t i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		b[i] = x >> 24;
	}
}

struct xfer {
	struct side *s;
	size_t len;
	unsigned int seed;
	int ret;
};

static void *send_thread(void *arg)
{
	struct xfer *x = arg;
	uint8_t *b = malloc(x->len);

	x->ret = -ENOMEM;
	if (b) {
		fill(b, x->len, x->seed);
		x->ret = send_all(x->s->t, x->s->fd, b, x->len);
		free(b);
	}
	return NULL;
}

/* Receives @len bytes and checks them against fill(@seed): 0, 1 if they differ. */
static int recv_check(struct side *s, size_t len, unsigned int seed)
{
	uint8_t *got = malloc(len), *want = malloc(len);
	int ret = -ENOMEM;

	if (got && want) {
		fill(want, len, seed);
		ret = recv_all(s->t, s->fd, got, len);
		if (!ret && memcmp(got, want, len))
			ret = 1;
	}
	free(got);
	free(want);
	return ret;
}

struct env {
	char dir[64];
	int fd[2];
	struct side cli, srv;
};

/*
 * The credentials, made once for the whole run (mkcreds.sh takes seconds
 * under TCG) before the harness forks a process per test; the tests only
 * read them, but for creds_errors, which works on a copy.
 */
static char creds[64];
static const char *creds_skip;

__attribute__((constructor)) static void creds_make(void)
{
	char mk[PATH_MAX], cmd[PATH_MAX + 1024];
	int n;

	if (!find_mkcreds(mk, sizeof(mk))) {
		creds_skip = "scripts/mkcreds.sh not found (set KMIG_MKCREDS)";
		return;
	}
	if (system("command -v certtool >/dev/null 2>&1")) {
		creds_skip = "certtool not installed (gnutls-bin)";
		return;
	}
	snprintf(creds, sizeof(creds), "/tmp/kmig-tls-test.XXXXXX");
	if (!mkdtemp(creds)) {
		creds_skip = "cannot make a directory in /tmp";
		creds[0] = '\0';
		return;
	}
	/*
	 * Two more directories, each with the right CA but one side's
	 * certificate from the other CA, so that only that side is refused;
	 * PSK files with an unknown identity, a short key, a key not in hex.
	 */
	n = snprintf(cmd, sizeof(cmd),
		 "%s %s && cd %s && mkdir bad-client bad-server && "
		 "cp x509/ca-cert.pem x509/server-* bad-client/ && "
		 "cp x509-other/client-* bad-client/ && "
		 "cp x509/ca-cert.pem x509/client-* bad-server/ && "
		 "cp x509-other/server-* bad-server/ && "
		 "printf 'stranger:%%s\\n' $(cut -d: -f2 psk.key) >psk-unknown.key && "
		 "printf 'kmig:00112233\\n' >psk-short.key && "
		 "printf 'kmig:zz112233445566778899aabbccddeeff\\n' >psk-nothex.key",
		 mk, creds, creds);
	if (n >= (int)sizeof(cmd) || system(cmd))
		creds_skip = "scripts/mkcreds.sh failed";
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

static void env_setup(struct __test_metadata *_metadata, struct env *self)
{
	self->fd[0] = self->fd[1] = -1;
	memset(&self->cli, 0, sizeof(self->cli));
	memset(&self->srv, 0, sizeof(self->srv));
	if (creds_skip)
		SETUP_SKIP("%s", creds_skip);
	snprintf(self->dir, sizeof(self->dir), "%s", creds);
	ASSERT_EQ(0, tcp_pair(self->fd));
	self->cli.fd = self->fd[0];
	self->srv.fd = self->fd[1];
	self->cli.role = TLS_CLIENT;
	self->srv.role = TLS_SERVER;
	self->cli.o.hostname = "127.0.0.1";
}

static void env_teardown(struct __test_metadata *_metadata, struct env *self)
{
	if (self->cli.t)
		tls_conn_free(self->cli.t);
	if (self->srv.t)
		tls_conn_free(self->srv.t);
	tls_creds_free(self->cli.cr);
	tls_creds_free(self->srv.cr);
	if (self->fd[0] >= 0)
		close(self->fd[0]);
	if (self->fd[1] >= 0)
		close(self->fd[1]);
}

FIXTURE(tls) {
	struct env e;
};

FIXTURE_SETUP(tls)
{
	env_setup(_metadata, &self->e);
}

FIXTURE_TEARDOWN(tls)
{
	env_teardown(_metadata, &self->e);
}

/* The kTLS cases: only where the kernel has the tls ULP. */
FIXTURE(ktls) {
	struct env e;
};

FIXTURE_VARIANT(ktls) {
	const char *cipher;
};

FIXTURE_VARIANT_ADD(ktls, aes128) { .cipher = "AES-128-GCM" };
FIXTURE_VARIANT_ADD(ktls, aes256) { .cipher = "AES-256-GCM" };
FIXTURE_VARIANT_ADD(ktls, chacha) { .cipher = "CHACHA20-POLY1305" };

FIXTURE_SETUP(ktls)
{
	if (!have_ktls())
		SETUP_SKIP("no tls ULP in this kernel (tls.ko)");
	env_setup(_metadata, &self->e);
}

FIXTURE_TEARDOWN(ktls)
{
	env_teardown(_metadata, &self->e);
}

static char *path(const char *dir, const char *name)
{
	static char buf[32][PATH_MAX];
	static int i;
	char *p = buf[i++ % 32];

	snprintf(p, PATH_MAX, "%s/%s", dir, name);
	return p;
}

static int load(struct side *s)
{
	return tls_creds_load(&s->cr, s->role, &s->o, s->err, sizeof(s->err));
}

/* Both handshakes at once, the server in a thread. */
static void run_handshakes(struct __test_metadata *_metadata,
			   struct side *cli, struct side *srv)
{
	pthread_t th;

	ASSERT_EQ(0, load(cli)) TH_LOG("client creds: %s", cli->err);
	ASSERT_EQ(0, load(srv)) TH_LOG("server creds: %s", srv->err);
	ASSERT_EQ(0, pthread_create(&th, NULL, handshake_thread, srv));
	handshake_thread(cli);
	/* A side that failed never reads again: let the other one see EOF. */
	if (cli->ret)
		shutdown(cli->fd, SHUT_RDWR);
	pthread_join(th, NULL);
	TH_LOG("client: %d %s; server: %d %s", cli->ret,
	       cli->ret ? cli->err : tls_conn_describe(cli->t), srv->ret,
	       srv->ret ? srv->err : tls_conn_describe(srv->t));
}

/* 1 MiB client to server, then 1 MiB back, checked. */
static void both_ways(struct __test_metadata *_metadata, struct side *cli,
		      struct side *srv, size_t len)
{
	struct xfer x = { .s = cli, .len = len, .seed = 1 };
	pthread_t th;

	ASSERT_EQ(0, pthread_create(&th, NULL, send_thread, &x));
	EXPECT_EQ(0, recv_check(srv, len, 1));
	pthread_join(th, NULL);
	EXPECT_EQ(0, x.ret);
	x = (struct xfer){ .s = srv, .len = len, .seed = 2 };
	ASSERT_EQ(0, pthread_create(&th, NULL, send_thread, &x));
	EXPECT_EQ(0, recv_check(cli, len, 2));
	pthread_join(th, NULL);
	EXPECT_EQ(0, x.ret);
}

TEST_F(tls, x509_records)
{
	int small = 8192;

	/* Small socket buffers: sends end in EAGAIN with a record half out. */
	ASSERT_EQ(0, setsockopt(self->e.fd[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)));
	ASSERT_EQ(0, setsockopt(self->e.fd[1], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)));
	self->e.cli.o.creds_dir = self->e.srv.o.creds_dir = path(self->e.dir, "x509");
	self->e.cli.o.no_ktls = self->e.srv.o.no_ktls = true;
	run_handshakes(_metadata, &self->e.cli, &self->e.srv);
	ASSERT_EQ(0, self->e.cli.ret);
	ASSERT_EQ(0, self->e.srv.ret);
	EXPECT_STREQ("x509", tls_creds_mode(self->e.cli.cr));
	EXPECT_FALSE(tls_conn_ktls(self->e.cli.t));
	EXPECT_STREQ("kTLS turned off", tls_conn_ktls_why_not(self->e.cli.t));
	EXPECT_EQ(0, strncmp(tls_conn_describe(self->e.cli.t), "TLS1.3 AES-128-GCM x509 ", 24));
	EXPECT_NE(NULL, strstr(tls_conn_describe(self->e.srv.t), "(GnuTLS records)"));
	both_ways(_metadata, &self->e.cli, &self->e.srv, MIB);
}

TEST_F(tls, x509_name_localhost)
{
	self->e.cli.o.creds_dir = self->e.srv.o.creds_dir = path(self->e.dir, "x509");
	self->e.cli.o.hostname = "localhost";
	run_handshakes(_metadata, &self->e.cli, &self->e.srv);
	ASSERT_EQ(0, self->e.cli.ret);
	ASSERT_EQ(0, self->e.srv.ret);
	both_ways(_metadata, &self->e.cli, &self->e.srv, 4096);
}

TEST_F(tls, psk_records)
{
	const char *d;

	self->e.cli.o.psk_file = self->e.srv.o.psk_file = path(self->e.dir, "psk.key");
	self->e.cli.o.no_ktls = self->e.srv.o.no_ktls = true;
	run_handshakes(_metadata, &self->e.cli, &self->e.srv);
	ASSERT_EQ(0, self->e.cli.ret);
	ASSERT_EQ(0, self->e.srv.ret);
	EXPECT_STREQ("psk", tls_creds_mode(self->e.srv.cr));
	/* psk_dhe_ke: a key-exchange group, "psk X25519 (...)", not "psk (". */
	d = tls_conn_describe(self->e.cli.t);
	EXPECT_NE(NULL, strstr(d, " psk "));
	EXPECT_EQ(NULL, strstr(d, " psk ("));
	both_ways(_metadata, &self->e.cli, &self->e.srv, MIB);
}

TEST_F(tls, client_cert_from_other_ca)
{
	uint8_t b;
	ssize_t n;

	self->e.cli.o.creds_dir = path(self->e.dir, "bad-client");
	self->e.srv.o.creds_dir = path(self->e.dir, "x509");
	self->e.cli.o.no_ktls = true;
	run_handshakes(_metadata, &self->e.cli, &self->e.srv);
	EXPECT_EQ(-EACCES, self->e.srv.ret);
	EXPECT_NE(NULL, strstr(self->e.srv.err, "the peer's certificate is not signed by"));
	EXPECT_NE(NULL, strstr(self->e.srv.err, "x509/ca-cert.pem"));
	/* TLS 1.3: the client may finish first and hear of it on its first read. */
	if (self->e.cli.ret == 0) {
		do {
			n = tls_conn_recv(self->e.cli.t, &b, 1);
		} while (n == -EAGAIN && !wait_fd(&self->e.cli.fd, POLLIN));
		EXPECT_EQ(-EACCES, n);
		EXPECT_NE(NULL, strstr(tls_conn_error(self->e.cli.t),
				       "the peer refused our certificate"))
			TH_LOG("client: %s", tls_conn_error(self->e.cli.t));
	} else {
		EXPECT_EQ(-EACCES, self->e.cli.ret);
	}
}

TEST_F(tls, server_cert_from_other_ca)
{
	self->e.cli.o.creds_dir = path(self->e.dir, "x509");
	self->e.srv.o.creds_dir = path(self->e.dir, "bad-server");
	run_handshakes(_metadata, &self->e.cli, &self->e.srv);
	EXPECT_EQ(-EACCES, self->e.cli.ret);
	EXPECT_NE(NULL, strstr(self->e.cli.err, "the peer's certificate is not signed by"));
	EXPECT_EQ(-EACCES, self->e.srv.ret);
	EXPECT_NE(NULL, strstr(self->e.srv.err, "the peer refused our certificate"));
}

TEST_F(tls, hostname_mismatch)
{
	self->e.cli.o.creds_dir = self->e.srv.o.creds_dir = path(self->e.dir, "x509");
	self->e.cli.o.hostname = "127.0.0.2";
	run_handshakes(_metadata, &self->e.cli, &self->e.srv);
	EXPECT_EQ(-EACCES, self->e.cli.ret);
	EXPECT_STREQ("certificate name does not match 127.0.0.2", self->e.cli.err);
	EXPECT_NE(0, self->e.srv.ret);
}

TEST_F(tls, wrong_psk)
{
	self->e.cli.o.psk_file = path(self->e.dir, "psk-wrong.key");
	self->e.srv.o.psk_file = path(self->e.dir, "psk.key");
	run_handshakes(_metadata, &self->e.cli, &self->e.srv);
	EXPECT_EQ(-EACCES, self->e.srv.ret);
	EXPECT_NE(NULL, strstr(self->e.srv.err, "unknown PSK identity / wrong key"));
	EXPECT_EQ(-EACCES, self->e.cli.ret);
	EXPECT_NE(NULL, strstr(self->e.cli.err, "the peer refused our PSK"));
}

TEST_F(tls, unknown_psk_identity)
{
	self->e.cli.o.psk_file = path(self->e.dir, "psk-unknown.key");
	self->e.srv.o.psk_file = path(self->e.dir, "psk.key");
	run_handshakes(_metadata, &self->e.cli, &self->e.srv);
	EXPECT_EQ(-EACCES, self->e.srv.ret);
	EXPECT_NE(NULL, strstr(self->e.srv.err, "unknown PSK identity / wrong key"));
	EXPECT_EQ(-EACCES, self->e.cli.ret);
}

/* A peer that speaks the plain kmig stream: "KMIGSTRM" and a version. */
static void *plaintext_peer(void *arg)
{
	static const char hello[] = "KMIGSTRM\0\0\0\1plaintext";
	int fd = *(int *)arg;
	char buf[512];

	if (write(fd, hello, sizeof(hello)) != sizeof(hello))
		return (void *)-1L;
	/* Swallow what the TLS side sends until it gives up. */
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	return NULL;
}

TEST_F(tls, server_sees_plaintext_client)
{
	pthread_t th;

	self->e.srv.o.creds_dir = path(self->e.dir, "x509");
	ASSERT_EQ(0, load(&self->e.srv)) TH_LOG("%s", self->e.srv.err);
	ASSERT_EQ(0, pthread_create(&th, NULL, plaintext_peer, &self->e.cli.fd));
	handshake_thread(&self->e.srv);
	shutdown(self->e.srv.fd, SHUT_RDWR);
	pthread_join(th, NULL);
	EXPECT_EQ(-EPROTO, self->e.srv.ret);
	EXPECT_EQ(0, strncmp(self->e.srv.err, "the peer does not speak TLS (it sent \"KMIGSTRM", 46))
		TH_LOG("%s", self->e.srv.err);
}

TEST_F(tls, client_sees_plaintext_server)
{
	pthread_t th;

	self->e.cli.o.psk_file = path(self->e.dir, "psk.key");
	ASSERT_EQ(0, load(&self->e.cli)) TH_LOG("%s", self->e.cli.err);
	ASSERT_EQ(0, pthread_create(&th, NULL, plaintext_peer, &self->e.srv.fd));
	handshake_thread(&self->e.cli);
	shutdown(self->e.cli.fd, SHUT_RDWR);
	pthread_join(th, NULL);
	EXPECT_EQ(-EPROTO, self->e.cli.ret);
	EXPECT_EQ(0, strncmp(self->e.cli.err, "the peer does not speak TLS", 27))
		TH_LOG("%s", self->e.cli.err);
}

/*
 * A destination with TLS first peeks for a kmig preamble in the clear; a
 * peer that sends two bytes of it and stops is cut off at the handshake's
 * deadline like any other slow peer, not waited for while the bytes sit
 * there.
 */
TEST_F(tls, trickling_peer_cut_off_at_the_deadline)
{
	struct sec s = { .server = true };
	struct kms_error ke;
	struct chan c;
	uint64_t t0;

	self->e.srv.o.psk_file = path(self->e.dir, "psk.key");
	ASSERT_EQ(0, load(&self->e.srv)) TH_LOG("%s", self->e.srv.err);
	s.tls = self->e.srv.cr;
	chan_init(&c, self->e.srv.fd, "main channel", 5000, NULL);
	c.deadline_ns = deadline_after_ms(300);
	ASSERT_EQ(2, write(self->e.cli.fd, "KM", 2));
	t0 = now_ns();
	EXPECT_EQ(-ETIME, sec_start(&s, &c, &ke));
	EXPECT_LT(now_ns() - t0, 3 * NSEC_PER_SEC);
	c.fd = -1;	/* the fixture closes it */
	chan_close(&c);
}

/* The wait function's own error passes through unchanged. */
static int wait_gives_up(void *arg, short events)
{
	(void)arg;
	(void)events;
	return -ETIME;
}

TEST_F(tls, wait_error_passes_through)
{
	struct tls_conn *t = NULL;
	char err[128];

	self->e.cli.o.psk_file = path(self->e.dir, "psk.key");
	ASSERT_EQ(0, load(&self->e.cli));
	/* Nobody answers on fd[1]: the client waits for the ServerHello. */
	EXPECT_EQ(-ETIME, tls_handshake(self->e.cli.cr, self->e.cli.fd, wait_gives_up,
					NULL, &t, err, sizeof(err)));
	EXPECT_EQ(NULL, t);
}

TEST_F(tls, creds_errors)
{
	struct tls_creds *cr;
	struct tls_opts o = { 0 };
	char err[256], cmd[256];

	/* This one breaks files: a copy of its own, removed with the test's dir. */
	snprintf(cmd, sizeof(cmd),
		 "cd %s && rm -rf mine && mkdir mine && cp -a x509 x509-other bad-server *.key mine/",
		 self->e.dir);
	ASSERT_EQ(0, system(cmd));
	snprintf(self->e.dir + strlen(self->e.dir),
		 sizeof(self->e.dir) - strlen(self->e.dir), "/mine");
	o.creds_dir = path(self->e.dir, "nowhere");
	o.hostname = "localhost";
	EXPECT_EQ(-ENOENT, tls_creds_load(&cr, TLS_CLIENT, &o, err, sizeof(err)));
	EXPECT_NE(NULL, strstr(err, "nowhere/ca-cert.pem: No such file"));
	ASSERT_EQ(0, unlink(path(self->e.dir, "bad-server/server-key.pem")));
	o.creds_dir = path(self->e.dir, "bad-server");
	EXPECT_EQ(-ENOENT, tls_creds_load(&cr, TLS_SERVER, &o, err, sizeof(err)));
	EXPECT_NE(NULL, strstr(err, "bad-server/server-key.pem"));
	/* A certificate where the key should be. */
	ASSERT_EQ(0, link(path(self->e.dir, "bad-server/server-cert.pem"),
			  path(self->e.dir, "bad-server/server-key.pem")));
	EXPECT_EQ(-EINVAL, tls_creds_load(&cr, TLS_SERVER, &o, err, sizeof(err)));
	EXPECT_NE(NULL, strstr(err, "server-key.pem: not a PEM private key"));
	/* The client's key is not the key of its certificate. */
	ASSERT_EQ(0, rename(path(self->e.dir, "x509-other/client-key.pem"),
			    path(self->e.dir, "bad-server/client-key.pem")));
	EXPECT_EQ(-EINVAL, tls_creds_load(&cr, TLS_CLIENT, &o, err, sizeof(err)));
	EXPECT_NE(NULL, strstr(err, "is not the key of"));
	o.hostname = NULL;
	o.creds_dir = path(self->e.dir, "x509");
	EXPECT_EQ(-EINVAL, tls_creds_load(&cr, TLS_CLIENT, &o, err, sizeof(err)));
	o.psk_file = path(self->e.dir, "psk.key");
	EXPECT_EQ(-EINVAL, tls_creds_load(&cr, TLS_SERVER, &o, err, sizeof(err)));
	o.creds_dir = NULL;
	o.psk_file = path(self->e.dir, "psk-short.key");
	EXPECT_EQ(-EINVAL, tls_creds_load(&cr, TLS_SERVER, &o, err, sizeof(err)));
	EXPECT_NE(NULL, strstr(err, "psk-short.key line 1: a 4-byte key"));
	o.psk_file = path(self->e.dir, "psk-nothex.key");
	EXPECT_EQ(-EINVAL, tls_creds_load(&cr, TLS_CLIENT, &o, err, sizeof(err)));
	EXPECT_NE(NULL, strstr(err, "psk-nothex.key line 1: the key is not hex"));
	o.psk_file = path(self->e.dir, "psk.key");
	o.cipher = "AES-128-CBC";
	EXPECT_EQ(-EINVAL, tls_creds_load(&cr, TLS_CLIENT, &o, err, sizeof(err)));
	/* GnuTLS's external PSKs are SHA-256: no AES-256-GCM-SHA384 with them. */
	o.cipher = "AES-256-GCM";
	EXPECT_EQ(-EINVAL, tls_creds_load(&cr, TLS_CLIENT, &o, err, sizeof(err)));
	o.cipher = "CHACHA20-POLY1305";
	ASSERT_EQ(0, tls_creds_load(&cr, TLS_CLIENT, &o, err, sizeof(err))) TH_LOG("%s", err);
	tls_creds_free(cr);
}

/* One thread sends while another receives, on each side at once. */
TEST_F(tls, concurrent_send_recv_records)
{
	struct xfer xc = { .s = &self->e.cli, .len = 4 * MIB, .seed = 3 };
	struct xfer xs = { .s = &self->e.srv, .len = 4 * MIB, .seed = 4 };
	pthread_t tc, ts;
	int rs;

	self->e.cli.o.psk_file = self->e.srv.o.psk_file = path(self->e.dir, "psk.key");
	self->e.cli.o.no_ktls = self->e.srv.o.no_ktls = true;
	run_handshakes(_metadata, &self->e.cli, &self->e.srv);
	ASSERT_EQ(0, self->e.cli.ret);
	ASSERT_EQ(0, self->e.srv.ret);
	ASSERT_EQ(0, pthread_create(&tc, NULL, send_thread, &xc));
	ASSERT_EQ(0, pthread_create(&ts, NULL, send_thread, &xs));
	/* Each side's receiver here, its sender in its thread, all at once. */
	rs = recv_check(&self->e.srv, 4 * MIB, 3);
	EXPECT_EQ(0, rs);
	EXPECT_EQ(0, recv_check(&self->e.cli, 4 * MIB, 4));
	pthread_join(tc, NULL);
	pthread_join(ts, NULL);
	EXPECT_EQ(0, xc.ret);
	EXPECT_EQ(0, xs.ret);
}

/* Both sides in the kernel; 4 MiB each way at once over the plain fds. */
TEST_F(ktls, both_in_kernel)
{
	struct xfer xc = { .s = &self->e.cli, .len = 4 * MIB, .seed = 5 };
	struct xfer xs = { .s = &self->e.srv, .len = 4 * MIB, .seed = 6 };
	pthread_t tc, ts;
	char want[64];

	self->e.cli.o.creds_dir = self->e.srv.o.creds_dir = path(self->e.dir, "x509");
	self->e.cli.o.cipher = self->e.srv.o.cipher = variant->cipher;
	run_handshakes(_metadata, &self->e.cli, &self->e.srv);
	ASSERT_EQ(0, self->e.cli.ret);
	ASSERT_EQ(0, self->e.srv.ret);
	ASSERT_TRUE(tls_conn_ktls(self->e.cli.t)) TH_LOG("%s", tls_conn_ktls_why_not(self->e.cli.t));
	ASSERT_TRUE(tls_conn_ktls(self->e.srv.t)) TH_LOG("%s", tls_conn_ktls_why_not(self->e.srv.t));
	EXPECT_EQ(NULL, tls_conn_ktls_why_not(self->e.cli.t));
	snprintf(want, sizeof(want), "TLS1.3 %s x509 ", variant->cipher);
	EXPECT_EQ(0, strncmp(tls_conn_describe(self->e.cli.t), want, strlen(want)));
	EXPECT_NE(NULL, strstr(tls_conn_describe(self->e.cli.t), "(kTLS)"));
	ASSERT_EQ(0, pthread_create(&tc, NULL, send_thread, &xc));
	ASSERT_EQ(0, pthread_create(&ts, NULL, send_thread, &xs));
	EXPECT_EQ(0, recv_check(&self->e.srv, 4 * MIB, 5));
	EXPECT_EQ(0, recv_check(&self->e.cli, 4 * MIB, 6));
	pthread_join(tc, NULL);
	pthread_join(ts, NULL);
	EXPECT_EQ(0, xc.ret);
	EXPECT_EQ(0, xs.ret);
}

/* A kTLS side talks to a GnuTLS-records side: the same records on the wire. */
TEST_F(ktls, to_gnutls_records)
{
	self->e.cli.o.creds_dir = self->e.srv.o.creds_dir = path(self->e.dir, "x509");
	self->e.cli.o.cipher = self->e.srv.o.cipher = variant->cipher;
	self->e.srv.o.no_ktls = true;
	run_handshakes(_metadata, &self->e.cli, &self->e.srv);
	ASSERT_EQ(0, self->e.cli.ret);
	ASSERT_EQ(0, self->e.srv.ret);
	ASSERT_TRUE(tls_conn_ktls(self->e.cli.t));
	ASSERT_FALSE(tls_conn_ktls(self->e.srv.t));
	both_ways(_metadata, &self->e.cli, &self->e.srv, MIB);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

struct sink {
	struct side *s;
	uint8_t *buf;
	size_t len;
	int ret;
};

static void *sink_thread(void *arg)
{
	struct sink *k = arg;

	k->ret = recv_all(k->s->t, k->s->fd, k->buf, k->len);
	return NULL;
}

/*
 * Sends @len bytes client to server, the receiver in a thread: MB/s of
 * the transfer alone (the data is made before and checked after).
 */
static double throughput(struct __test_metadata *_metadata, struct side *cli,
			 struct side *srv, size_t len)
{
	uint8_t *src = malloc(len);
	struct sink k = { .s = srv, .buf = malloc(len), .len = len };
	double t0, t1 = 0;
	pthread_t th;

	t0 = 1;
	if (src && k.buf) {
		fill(src, len, 7);
		memset(k.buf, 0, len);
		t0 = now_s();
		if (pthread_create(&th, NULL, sink_thread, &k) == 0) {
			EXPECT_EQ(0, send_all(cli->t, cli->fd, src, len));
			pthread_join(th, NULL);
			t1 = now_s();
			EXPECT_EQ(0, k.ret);
			EXPECT_EQ(0, memcmp(src, k.buf, len));
		}
	}
	free(src);
	free(k.buf);
	return t1 > t0 ? len / (t1 - t0) / 1e6 : 0;
}

/* @len bytes client to server over a fresh connection, @how: MB/s printed. */
static void bench(struct __test_metadata *_metadata, const char *psk,
		  const char *how, size_t len)
{
	struct side c = { .role = TLS_CLIENT }, sv = { .role = TLS_SERVER };
	int fd[2];
	double mbs;

	ASSERT_EQ(0, tcp_pair(fd));
	c.fd = fd[0];
	sv.fd = fd[1];
	if (strcmp(how, "plain")) {
		c.o.psk_file = sv.o.psk_file = psk;
		c.o.no_ktls = sv.o.no_ktls = !strcmp(how, "records");
		run_handshakes(_metadata, &c, &sv);
		EXPECT_EQ(0, c.ret);
		EXPECT_EQ(0, sv.ret);
		if (!c.ret && !sv.ret)
			EXPECT_EQ(!strcmp(how, "ktls"), tls_conn_ktls(c.t));
	}
	if (!c.ret && !sv.ret) {
		mbs = throughput(_metadata, &c, &sv, len);
		printf("# throughput %zu MiB, %s: %.0f MB/s\n", len / MIB,
		       c.t ? tls_conn_describe(c.t) : "plain TCP", mbs);
		fflush(stdout);
	}
	tls_conn_free(c.t);
	tls_conn_free(sv.t);
	tls_creds_free(c.cr);
	tls_creds_free(sv.cr);
	close(fd[0]);
	close(fd[1]);
}

TEST_F(tls, throughput)
{
	const char *env = getenv("KMIG_TLS_BENCH_MIB");
	size_t len = (env ? strtoul(env, NULL, 0) : 16) * MIB;
	const char *psk = path(self->e.dir, "psk.key");

	bench(_metadata, psk, "plain", len);
	bench(_metadata, psk, "records", len);
	if (have_ktls())
		bench(_metadata, psk, "ktls", len);
	else
		printf("# throughput: no kTLS in this kernel\n");
	fflush(stdout);
}

TEST_HARNESS_MAIN
