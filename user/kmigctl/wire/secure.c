// SPDX-License-Identifier: GPL-2.0
/*
 * The security options and each channel's first step (secure.h).
 */
#define _GNU_SOURCE	/* struct ucred */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "clock.h"
#include "handshake.h"
#include "secure.h"

const char sec_usage[] =
	"Security (one of them is required on TCP):\n"
	"      --tls-creds DIR      TLS 1.3 with x509 certificates: DIR holds\n"
	"                           ca-cert.pem and, on the source,\n"
	"                           client-cert.pem + client-key.pem, on the\n"
	"                           destination server-cert.pem + server-key.pem\n"
	"      --tls-psk FILE       TLS 1.3 with a pre-shared key (lines\n"
	"                           IDENTITY:HEXKEY, as psktool writes)\n"
	"      --tls-hostname NAME  the name the destination's certificate\n"
	"                           must carry (default: the --to host)\n"
	"      --no-ktls            keep TLS records in userspace (GnuTLS)\n"
	"                           even where the kernel's TLS would work\n"
	"      --auth-key FILE      without TLS: both sides prove they hold\n"
	"                           the secret in FILE and every frame is\n"
	"                           MACed (not encrypted)\n"
	"      --insecure           TCP with none of the above: anyone who\n"
	"                           connects can feed the destination\n"
	"On a unix socket without these, each side checks that the other is\n"
	"root or its own user.\n";

int sec_parse_opt(struct sec_opts *o, int c, const char *arg)
{
	switch (c) {
	case SEC_OPT_AUTH_KEY:
		o->auth_key = arg;
		return 1;
	case SEC_OPT_TLS_CREDS:
		o->tls_creds = arg;
		return 1;
	case SEC_OPT_TLS_PSK:
		o->tls_psk = arg;
		return 1;
	case SEC_OPT_TLS_HOSTNAME:
		o->tls_hostname = arg;
		return 1;
	case SEC_OPT_NO_KTLS:
		o->no_ktls = true;
		return 1;
	case SEC_OPT_INSECURE:
		o->insecure = true;
		return 1;
	default:
		return 0;
	}
}

int sec_setup(struct sec *s, bool server, const struct sec_opts *o,
	      const struct mig_addr *a, char *err, size_t errlen)
{
	struct tls_opts to = { .no_ktls = o->no_ktls };
	char why[256];
	int ret;

	memset(s, 0, sizeof(*s));
	s->server = server;
	if (o->tls_creds && o->tls_psk) {
		snprintf(err, errlen, "--tls-creds and --tls-psk: one or the other");
		return -EINVAL;
	}
	if (o->insecure && (o->tls_creds || o->tls_psk || o->auth_key)) {
		snprintf(err, errlen, "--insecure with a key or credentials: drop --insecure");
		return -EINVAL;
	}
	if (o->tls_hostname && (server || !o->tls_creds)) {
		snprintf(err, errlen, "--tls-hostname goes with --tls-creds, on the source");
		return -EINVAL;
	}
	if (!o->tls_creds && !o->tls_psk && !o->auth_key) {
		if (a->family == AF_UNIX && !o->insecure) {
			s->unix_creds = true;
			snprintf(s->mode, sizeof(s->mode), "unix-peercred");
			return 0;
		}
		if (!o->insecure) {
			snprintf(err, errlen,
				 "refusing an unauthenticated migration over TCP: give --auth-key FILE, --tls-creds DIR or --tls-psk FILE (on both sides), or --insecure to let anyone who connects take part");
			return -EINVAL;
		}
		s->insecure = true;
		snprintf(s->mode, sizeof(s->mode), "insecure");
		return 0;
	}

	if (o->auth_key) {
		s->key = malloc(sizeof(*s->key));
		if (!s->key) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		ret = auth_key_load(s->key, o->auth_key, why, sizeof(why));
		if (ret) {
			snprintf(err, errlen, "--auth-key %s", why);
			sec_free(s);
			return ret;
		}
	}
	if (o->tls_creds || o->tls_psk) {
		to.creds_dir = o->tls_creds;
		to.psk_file = o->tls_psk;
		if (!server && o->tls_creds) {
			if (o->tls_hostname)
				to.hostname = o->tls_hostname;
			else if (a->family == AF_UNIX)
				to.hostname = "localhost";
			else
				to.hostname = a->host;
		}
		ret = tls_creds_load(&s->tls, server ? TLS_SERVER : TLS_CLIENT,
				     &to, why, sizeof(why));
		if (ret) {
			snprintf(err, errlen, "%s: %s",
				 o->tls_creds ? "--tls-creds" : "--tls-psk", why);
			sec_free(s);
			return ret;
		}
	}
	snprintf(s->mode, sizeof(s->mode), "%s%s%s",
		 s->tls ? (o->tls_creds ? "tls-x509" : "tls-psk") : "",
		 s->tls && s->key ? "+" : "", s->key ? "auth-key" : "");
	return 0;
}

int sec_from_options(const char *cmd, const char *opt, const char *spec,
		     bool server, const struct sec_opts *o, struct mig_addr *a,
		     struct sec *s)
{
	char err[512];

	if (addr_parse(spec, a, err, sizeof(err))) {
		fprintf(stderr, "kmig: %s: %s: %s\n", cmd, opt, err);
		return -1;
	}
	if (sec_setup(s, server, o, a, err, sizeof(err))) {
		fprintf(stderr, "kmig: %s: %s\n", cmd, err);
		return -1;
	}
	return 0;
}

void sec_free(struct sec *s)
{
	if (s->key) {
		memset(s->key, 0, sizeof(*s->key));
		free(s->key);
	}
	s->key = NULL;
	tls_creds_free(s->tls);
	s->tls = NULL;
}

/* Root or our own user at the other end of a unix socket. */
static int sec_unix_peer(struct chan *c, struct kms_error *e)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);

	if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &uc, &len)) {
		kms_errorf(e, "%s: SO_PEERCRED: %s", c->name, strerror(errno));
		return -errno;
	}
	if (uc.uid != 0 && uc.uid != geteuid()) {
		kms_errorf(e, "%s: the unix peer (pid %d) runs as uid %u, neither root nor this kmigctl's user",
			   c->name, uc.pid, uc.uid);
		return -EACCES;
	}
	return 0;
}

struct sec_wait {
	struct chan *c;
	uint64_t since;
};

static int sec_tls_wait(void *arg, short events)
{
	struct sec_wait *w = arg;

	return chan_wait_ready(w->c, events, w->since);
}

/*
 * The destination's first look at a TLS channel: a kmig preamble in the
 * clear is a source without TLS, which gets told so in a REJECT it can
 * read (a TLS server's alert would only confuse it).
 */
static int sec_refuse_plain(struct chan *c, struct kms_error *e)
{
	uint64_t since = now_ns();
	char buf[sizeof(KMS_MAGIC) - 1];
	ssize_t n;
	int ret;

	for (;;) {
		n = recv(c->fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
		if (n == (ssize_t)sizeof(buf) || n == 0)
			break;
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			break;
		/*
		 * The deadline, the stall limit and a stop hold here too; with
		 * a byte or two already there poll returns at once, so wait a
		 * little for more.
		 */
		ret = chan_wait_ready(c, POLLIN, since);
		if (ret)
			return ret;
		if (n > 0)
			sleep_ns(NSEC_PER_MSEC);
	}
	if (n != (ssize_t)sizeof(buf) || memcmp(buf, KMS_MAGIC, sizeof(buf)))
		return 0;
	handshake_reject_public(c, "this destination requires TLS: give the source --tls-creds or --tls-psk");
	kms_errorf(e, "%s: the source does not use TLS", c->name);
	return -EACCES;
}

int sec_start(const struct sec *s, struct chan *c, struct kms_error *e)
{
	struct sec_wait w = { .c = c, .since = now_ns() };
	struct tls_conn *t = NULL;
	char why[256];
	int ret;

	if (s->unix_creds) {
		ret = sec_unix_peer(c, e);
		if (ret)
			return ret;
		c->peer_auth = true;
		snprintf(c->sec, sizeof(c->sec), "%s", s->mode);
		return 0;
	}
	if (s->tls) {
		if (s->server) {
			ret = sec_refuse_plain(c, e);
			if (ret)
				return ret;
		}
		ret = tls_handshake(s->tls, c->fd, sec_tls_wait, &w, &t, why,
				    sizeof(why));
		if (ret) {
			kms_errorf(e, "%s: TLS: %s", c->name, why);
			return ret;
		}
		chan_set_tls(c, t);
		/* Whoever completed the handshake has the credentials. */
		c->peer_auth = true;
		snprintf(c->sec, sizeof(c->sec), "%s", tls_conn_describe(t));
	} else {
		snprintf(c->sec, sizeof(c->sec), "%s", s->mode);
	}
	return 0;
}
