// SPDX-License-Identifier: GPL-2.0
/*
 * TLS 1.3 for the migration channels (tls.h): GnuTLS does the handshake
 * over the caller's socket with MSG_DONTWAIT transport functions, then,
 * where the kernel has the tls ULP, the traffic keys and sequence numbers
 * go into the socket (kTLS) and GnuTLS is done; elsewhere GnuTLS keeps
 * the record layer.
 *
 * The kTLS layout, checked against 6.1's net/tls/tls_sw.c
 * (tls_set_sw_offload: cctx->iv = salt || iv) and GnuTLS's own
 * lib/system/ktls.c: for TLS 1.3 AES-GCM the 12-byte IV of
 * gnutls_record_get_state() is salt = iv[0..4) and iv = iv[4..12);
 * ChaCha20-Poly1305 has no salt and takes all 12; rec_seq is the 8-byte
 * big-endian sequence number. A TCP_ULP "tls" with neither TLS_TX nor
 * TLS_RX set leaves the socket's own proto in place (TLS_BASE), so a
 * failed handoff falls back cleanly; a TLS_TX that worked followed by a
 * TLS_RX that did not leaves the kernel sending and GnuTLS receiving,
 * which tls_conn_sendv/recv handle direction by direction.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/tls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "tls.h"

#ifndef SOL_TLS
#define SOL_TLS 282
#endif

/* TLS 1.3 only, the AEADs 6.1's kTLS has; PSK only with (EC)DHE. */
#define TLS_PRIO_BASE "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:"
#define TLS_CIPHERS "+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305"
#define TLS_PRIO_PSK ":-KX-ALL:+ECDHE-PSK:+DHE-PSK"

/* Shortest PSK accepted: 128 bits. */
#define TLS_PSK_MIN 16

struct tls_psk {
	char *identity;
	gnutls_datum_t key;
};

struct tls_creds {
	enum tls_role role;
	bool psk;
	bool no_ktls;
	char *hostname;
	char *ca_path;
	gnutls_priority_t prio;
	gnutls_certificate_credentials_t x509;
	gnutls_psk_client_credentials_t psk_cli;
	gnutls_psk_server_credentials_t psk_srv;
	struct tls_psk *keys;
	size_t nkeys;
};

struct tls_conn {
	const struct tls_creds *cr;
	gnutls_session_t s;
	int fd;
	bool in_handshake;
	bool ktls_tx, ktls_rx;
	/* The first bytes the peer sent, to tell a peer that is not TLS. */
	uint8_t first[8];
	size_t nfirst;
	/* errno of the last failed push / pull (one thread each). */
	int push_errno, pull_errno;
	/* A record GnuTLS encrypted but could not send yet (tls.h). */
	size_t send_pending;
	uint8_t *bounce;
	size_t max_record;
	char desc[96];
	char why_not[128];
	char error[160];
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static char *path_join(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);

	if (p)
		snprintf(p, n, "%s/%s", dir, name);
	return p;
}

/* Reads @path whole: 0 or -errno with "cannot read PATH: ..." in @err. */
static int read_file(const char *path, gnutls_datum_t *d, char *err,
		     size_t errlen)
{
	int ret = gnutls_load_file(path, d);
	int fd;

	if (ret == 0)
		return 0;
	/* gnutls_load_file() does not say why: ask open(). */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ret = fd < 0 ? -errno : -EIO;
	if (fd >= 0)
		close(fd);
	set_err(err, errlen, "cannot read %s: %s", path, strerror(-ret));
	return ret;
}

static int check_cert_file(const char *path, char *err, size_t errlen)
{
	gnutls_x509_crt_t *list = NULL;
	unsigned int n = 0;
	gnutls_datum_t d;
	int ret;

	ret = read_file(path, &d, err, errlen);
	if (ret)
		return ret;
	ret = gnutls_x509_crt_list_import2(&list, &n, &d, GNUTLS_X509_FMT_PEM, 0);
	gnutls_free(d.data);
	if (ret < 0 || n == 0) {
		set_err(err, errlen, "%s: not a PEM certificate (%s)", path,
			ret < 0 ? gnutls_strerror(ret) : "none found");
		return -EINVAL;
	}
	for (unsigned int i = 0; i < n; i++)
		gnutls_x509_crt_deinit(list[i]);
	gnutls_free(list);
	return 0;
}

static int check_key_file(const char *path, char *err, size_t errlen)
{
	gnutls_x509_privkey_t key;
	gnutls_datum_t d;
	int ret;

	ret = read_file(path, &d, err, errlen);
	if (ret)
		return ret;
	ret = gnutls_x509_privkey_init(&key);
	if (ret == 0) {
		ret = gnutls_x509_privkey_import(key, &d, GNUTLS_X509_FMT_PEM);
		gnutls_x509_privkey_deinit(key);
	}
	gnutls_free(d.data);
	if (ret < 0) {
		set_err(err, errlen, "%s: not a PEM private key (%s)", path,
			gnutls_strerror(ret));
		return -EINVAL;
	}
	return 0;
}

static int load_x509(struct tls_creds *cr, const char *dir, char *err,
		     size_t errlen)
{
	const char *who = cr->role == TLS_SERVER ? "server" : "client";
	char name[32];
	char *cert = NULL, *key = NULL;
	int ret;

	cr->ca_path = path_join(dir, "ca-cert.pem");
	snprintf(name, sizeof(name), "%s-cert.pem", who);
	cert = path_join(dir, name);
	snprintf(name, sizeof(name), "%s-key.pem", who);
	key = path_join(dir, name);
	ret = -ENOMEM;
	if (!cr->ca_path || !cert || !key) {
		set_err(err, errlen, "out of memory");
		goto out;
	}
	ret = check_cert_file(cr->ca_path, err, errlen);
	if (!ret)
		ret = check_cert_file(cert, err, errlen);
	if (!ret)
		ret = check_key_file(key, err, errlen);
	if (ret)
		goto out;

	ret = gnutls_certificate_allocate_credentials(&cr->x509);
	if (ret < 0) {
		set_err(err, errlen, "GnuTLS: %s", gnutls_strerror(ret));
		ret = -ENOMEM;
		goto out;
	}
	ret = gnutls_certificate_set_x509_trust_file(cr->x509, cr->ca_path,
						     GNUTLS_X509_FMT_PEM);
	if (ret <= 0) {
		set_err(err, errlen, "%s: %s", cr->ca_path,
			ret < 0 ? gnutls_strerror(ret) : "no CA certificate");
		ret = -EINVAL;
		goto out;
	}
	ret = gnutls_certificate_set_x509_key_file(cr->x509, cert, key,
						   GNUTLS_X509_FMT_PEM);
	if (ret < 0) {
		if (ret == GNUTLS_E_CERTIFICATE_KEY_MISMATCH)
			set_err(err, errlen, "%s is not the key of %s", key, cert);
		else
			set_err(err, errlen, "%s / %s: %s", cert, key,
				gnutls_strerror(ret));
		ret = -EINVAL;
		goto out;
	}
out:
	free(cert);
	free(key);
	return ret;
}

/* psktool's format: "identity:hexkey" lines; blank lines are skipped. */
static int parse_psk(struct tls_creds *cr, const char *path, char *err,
		     size_t errlen)
{
	gnutls_datum_t d;
	char *text, *line, *save = NULL;
	unsigned int lineno = 0;
	int ret;

	ret = read_file(path, &d, err, errlen);
	if (ret)
		return ret;
	text = malloc(d.size + 1);
	if (!text) {
		gnutls_free(d.data);
		set_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	memcpy(text, d.data, d.size);
	text[d.size] = '\0';
	gnutls_memset(d.data, 0, d.size);
	gnutls_free(d.data);

	ret = 0;
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		gnutls_datum_t hex, raw = { NULL, 0 };
		struct tls_psk *k;
		size_t len = strlen(line);
		char *colon;

		lineno++;
		if (len && line[len - 1] == '\r')
			line[--len] = '\0';
		if (!len)
			continue;
		colon = strrchr(line, ':');
		if (!colon || colon == line || !colon[1]) {
			set_err(err, errlen,
				"%s line %u: not \"identity:hexkey\" (psktool's format)",
				path, lineno);
			ret = -EINVAL;
			break;
		}
		*colon = '\0';
		hex.data = (unsigned char *)colon + 1;
		hex.size = strlen(colon + 1);
		if (gnutls_hex_decode2(&hex, &raw) < 0) {
			set_err(err, errlen, "%s line %u: the key is not hex",
				path, lineno);
			ret = -EINVAL;
			break;
		}
		if (raw.size < TLS_PSK_MIN) {
			gnutls_memset(raw.data, 0, raw.size);
			gnutls_free(raw.data);
			set_err(err, errlen,
				"%s line %u: a %u-byte key; at least %d bytes (psktool makes 32)",
				path, lineno, raw.size, TLS_PSK_MIN);
			ret = -EINVAL;
			break;
		}
		k = realloc(cr->keys, (cr->nkeys + 1) * sizeof(*k));
		if (!k || !(line = strdup(line))) {
			if (k)
				cr->keys = k;
			gnutls_memset(raw.data, 0, raw.size);
			gnutls_free(raw.data);
			set_err(err, errlen, "out of memory");
			ret = -ENOMEM;
			break;
		}
		cr->keys = k;
		k[cr->nkeys].identity = line;
		k[cr->nkeys].key = raw;
		cr->nkeys++;
	}
	explicit_bzero(text, d.size);
	free(text);
	if (!ret && !cr->nkeys) {
		set_err(err, errlen, "%s: no \"identity:hexkey\" line", path);
		ret = -EINVAL;
	}
	return ret;
}

static int psk_server_key(gnutls_session_t s, const char *identity,
			  gnutls_datum_t *key)
{
	const struct tls_conn *t = gnutls_session_get_ptr(s);
	const struct tls_creds *cr = t->cr;

	for (size_t i = 0; i < cr->nkeys; i++) {
		const gnutls_datum_t *k = &cr->keys[i].key;

		if (strcmp(cr->keys[i].identity, identity))
			continue;
		key->data = gnutls_malloc(k->size);
		if (!key->data)
			return -1;
		memcpy(key->data, k->data, k->size);
		key->size = k->size;
		return 0;
	}
	return -1;
}

static int load_psk(struct tls_creds *cr, const char *path, char *err,
		    size_t errlen)
{
	int ret = parse_psk(cr, path, err, errlen);

	if (ret)
		return ret;
	if (cr->role == TLS_CLIENT) {
		ret = gnutls_psk_allocate_client_credentials(&cr->psk_cli);
		if (ret == 0)
			ret = gnutls_psk_set_client_credentials(cr->psk_cli,
					cr->keys[0].identity, &cr->keys[0].key,
					GNUTLS_PSK_KEY_RAW);
	} else {
		ret = gnutls_psk_allocate_server_credentials(&cr->psk_srv);
		if (ret == 0)
			gnutls_psk_set_server_credentials_function(cr->psk_srv,
								   psk_server_key);
	}
	if (ret < 0) {
		set_err(err, errlen, "%s: %s", path, gnutls_strerror(ret));
		return -EINVAL;
	}
	return 0;
}

static int prio_init(struct tls_creds *cr, const char *cipher, char *err,
		     size_t errlen)
{
	char prio[256];
	int ret;

	if (cipher && strcmp(cipher, "AES-128-GCM") &&
	    strcmp(cipher, "AES-256-GCM") && strcmp(cipher, "CHACHA20-POLY1305")) {
		set_err(err, errlen,
			"cipher %s: not one of AES-128-GCM, AES-256-GCM, CHACHA20-POLY1305",
			cipher);
		return -EINVAL;
	}
	/*
	 * GnuTLS ties an external PSK to SHA-256, and TLS 1.3's AES-256-GCM
	 * suite is SHA-384: with a PSK, AES-128-GCM or CHACHA20-POLY1305.
	 */
	if (cipher && cr->psk && !strcmp(cipher, "AES-256-GCM")) {
		set_err(err, errlen,
			"cipher AES-256-GCM: not with a PSK (SHA-256); AES-128-GCM or CHACHA20-POLY1305");
		return -EINVAL;
	}
	snprintf(prio, sizeof(prio), "%s%s%s%s", TLS_PRIO_BASE,
		 cipher ? "+" : TLS_CIPHERS, cipher ? cipher : "",
		 cr->psk ? TLS_PRIO_PSK : "");
	ret = gnutls_priority_init(&cr->prio, prio, NULL);
	if (ret < 0) {
		set_err(err, errlen, "GnuTLS priority %s: %s", prio,
			gnutls_strerror(ret));
		return -EINVAL;
	}
	return 0;
}

int tls_creds_load(struct tls_creds **out, enum tls_role role,
		   const struct tls_opts *o, char *err, size_t errlen)
{
	struct tls_creds *cr;
	int ret;

	*out = NULL;
	if (!o->creds_dir == !o->psk_file) {
		set_err(err, errlen, "TLS needs either an x509 directory or a PSK file");
		return -EINVAL;
	}
	if (role == TLS_CLIENT && o->creds_dir && !o->hostname) {
		set_err(err, errlen, "no host name to check the server's certificate against");
		return -EINVAL;
	}
	cr = calloc(1, sizeof(*cr));
	if (!cr) {
		set_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	cr->role = role;
	cr->psk = o->psk_file != NULL;
	cr->no_ktls = o->no_ktls;
	if (o->hostname && !(cr->hostname = strdup(o->hostname))) {
		set_err(err, errlen, "out of memory");
		ret = -ENOMEM;
	} else if (cr->psk) {
		ret = load_psk(cr, o->psk_file, err, errlen);
	} else {
		ret = load_x509(cr, o->creds_dir, err, errlen);
	}
	if (!ret)
		ret = prio_init(cr, o->cipher, err, errlen);
	if (ret) {
		tls_creds_free(cr);
		return ret;
	}
	*out = cr;
	return 0;
}

void tls_creds_free(struct tls_creds *cr)
{
	if (!cr)
		return;
	if (cr->prio)
		gnutls_priority_deinit(cr->prio);
	if (cr->x509)
		gnutls_certificate_free_credentials(cr->x509);
	if (cr->psk_cli)
		gnutls_psk_free_client_credentials(cr->psk_cli);
	if (cr->psk_srv)
		gnutls_psk_free_server_credentials(cr->psk_srv);
	for (size_t i = 0; i < cr->nkeys; i++) {
		free(cr->keys[i].identity);
		gnutls_memset(cr->keys[i].key.data, 0, cr->keys[i].key.size);
		gnutls_free(cr->keys[i].key.data);
	}
	free(cr->keys);
	free(cr->hostname);
	free(cr->ca_path);
	free(cr);
}

const char *tls_creds_mode(const struct tls_creds *cr)
{
	return cr->psk ? "psk" : "x509";
}

/* Transport: the caller's socket, never blocking. */

static ssize_t tls_push(gnutls_transport_ptr_t ptr, const giovec_t *iov,
			int iovcnt)
{
	struct tls_conn *t = ptr;
	/* giovec_t is struct iovec's layout (gnutls.h). */
	struct msghdr m = {
		.msg_iov = (struct iovec *)iov,
		.msg_iovlen = iovcnt,
	};
	ssize_t n = sendmsg(t->fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);

	if (n < 0 && errno != EAGAIN && errno != EINTR)
		t->push_errno = errno;
	return n;
}

static ssize_t tls_pull(gnutls_transport_ptr_t ptr, void *buf, size_t len)
{
	struct tls_conn *t = ptr;
	ssize_t n = recv(t->fd, buf, len, MSG_DONTWAIT);

	if (n < 0 && errno != EAGAIN && errno != EINTR)
		t->pull_errno = errno;
	if (n > 0 && t->in_handshake && t->nfirst < sizeof(t->first)) {
		size_t c = sizeof(t->first) - t->nfirst;

		if (c > (size_t)n)
			c = n;
		memcpy(t->first + t->nfirst, buf, c);
		t->nfirst += c;
	}
	return n;
}

/* GnuTLS asks only with its own timeouts, which are off: never wait here. */
static int tls_pull_timeout(gnutls_transport_ptr_t ptr, unsigned int ms)
{
	struct tls_conn *t = ptr;
	struct pollfd p = { .fd = t->fd, .events = POLLIN };

	(void)ms;
	return poll(&p, 1, 0);
}

/* Errors */

static bool auth_alert(gnutls_alert_description_t a)
{
	switch (a) {
	case GNUTLS_A_BAD_CERTIFICATE:
	case GNUTLS_A_UNSUPPORTED_CERTIFICATE:
	case GNUTLS_A_CERTIFICATE_REVOKED:
	case GNUTLS_A_CERTIFICATE_EXPIRED:
	case GNUTLS_A_CERTIFICATE_UNKNOWN:
	case GNUTLS_A_UNKNOWN_CA:
	case GNUTLS_A_ACCESS_DENIED:
	case GNUTLS_A_DECRYPT_ERROR:
	case GNUTLS_A_UNKNOWN_PSK_IDENTITY:
	case GNUTLS_A_CERTIFICATE_REQUIRED:
		return true;
	default:
		return false;
	}
}

/* A fatal alert from the peer: -EACCES when it refused our credentials. */
static int alert_error(const struct tls_creds *cr, gnutls_alert_description_t a,
		       char *err, size_t errlen)
{
	const char *name = gnutls_alert_get_name(a);

	if (!name)
		name = "unknown alert";
	if (auth_alert(a)) {
		if (cr && cr->psk)
			set_err(err, errlen,
				"the peer refused our PSK (unknown PSK identity / wrong key): %s",
				name);
		else
			set_err(err, errlen, "the peer refused our certificate: %s",
				name);
		return -EACCES;
	}
	set_err(err, errlen, "the peer ended TLS: %s", name);
	return -EPROTO;
}

static int verify_error(struct tls_conn *t, char *err, size_t errlen)
{
	unsigned int st = gnutls_session_get_verify_cert_status(t->s);
	const char *ca = t->cr->ca_path ? t->cr->ca_path : "ca-cert.pem";
	gnutls_datum_t out;

	if (st & (GNUTLS_CERT_SIGNER_NOT_FOUND | GNUTLS_CERT_SIGNER_NOT_CA))
		set_err(err, errlen, "the peer's certificate is not signed by %s", ca);
	else if (st & GNUTLS_CERT_UNEXPECTED_OWNER)
		set_err(err, errlen, "certificate name does not match %s",
			t->cr->hostname ? t->cr->hostname : "?");
	else if (st & GNUTLS_CERT_EXPIRED)
		set_err(err, errlen, "the peer's certificate has expired");
	else if (st & GNUTLS_CERT_NOT_ACTIVATED)
		set_err(err, errlen, "the peer's certificate is not valid yet");
	else if (st & GNUTLS_CERT_PURPOSE_MISMATCH)
		set_err(err, errlen, "the peer's certificate is not for a TLS %s",
			t->cr->role == TLS_SERVER ? "client" : "server");
	else if (gnutls_certificate_verification_status_print(st,
			GNUTLS_CRT_X509, &out, 0) == 0) {
		set_err(err, errlen, "the peer's certificate: %s", out.data);
		gnutls_free(out.data);
	} else {
		set_err(err, errlen, "the peer's certificate did not verify");
	}
	return -EACCES;
}

/* The first bytes of a peer that is not TLS, printable. */
static void first_bytes(const struct tls_conn *t, char *buf, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < t->nfirst && o + 5 < len; i++) {
		uint8_t c = t->first[i];

		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			buf[o++] = c;
		else
			o += snprintf(buf + o, len - o, "\\x%02x", c);
	}
	buf[o] = '\0';
}

static int handshake_error(struct tls_conn *t, int r, char *err, size_t errlen)
{
	const struct tls_creds *cr = t->cr;

	/* Every TLS record starts with a type: handshake (22) or alert (21). */
	if (t->nfirst && t->first[0] != 22 && t->first[0] != 21) {
		char b[40];
		ssize_t n;

		/* GnuTLS read a record header: show a little more. */
		n = recv(t->fd, t->first + t->nfirst, sizeof(t->first) - t->nfirst,
			 MSG_PEEK | MSG_DONTWAIT);
		if (n > 0)
			t->nfirst += n;

		first_bytes(t, b, sizeof(b));
		set_err(err, errlen, "the peer does not speak TLS (it sent \"%s\")", b);
		return -EPROTO;
	}
	switch (r) {
	case GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR:
		return verify_error(t, err, errlen);
	case GNUTLS_E_NO_CERTIFICATE_FOUND:
	case GNUTLS_E_CERTIFICATE_REQUIRED:
		/*
		 * The server names its CA in the CertificateRequest; a GnuTLS
		 * client with a certificate from another CA sends none.
		 */
		set_err(err, errlen,
			"the peer's certificate is not signed by %s (it sent none that is)",
			cr->ca_path ? cr->ca_path : "ca-cert.pem");
		return -EACCES;
	case GNUTLS_E_FATAL_ALERT_RECEIVED:
		return alert_error(cr, gnutls_alert_get(t->s), err, errlen);
	case GNUTLS_E_PREMATURE_TERMINATION:
		set_err(err, errlen, "the peer closed the connection during the TLS handshake");
		return -EPIPE;
	case GNUTLS_E_PUSH_ERROR:
	case GNUTLS_E_PULL_ERROR: {
		int e = r == GNUTLS_E_PUSH_ERROR ? t->push_errno : t->pull_errno;

		if (!e)
			e = EIO;
		set_err(err, errlen, "TLS handshake: %s", strerror(e));
		return -e;
	}
	case GNUTLS_E_MEMORY_ERROR:
		set_err(err, errlen, "TLS handshake: out of memory");
		return -ENOMEM;
	default:
		break;
	}
	/*
	 * An unknown identity fails the server's key lookup; a wrong key,
	 * the binder check (RFC 8446 4.2.11), which GnuTLS reports as an
	 * illegal parameter.
	 */
	if (cr->psk && cr->role == TLS_SERVER &&
	    (r == GNUTLS_E_KEYFILE_ERROR || r == GNUTLS_E_RECEIVED_ILLEGAL_PARAMETER ||
	     r == GNUTLS_E_DECRYPTION_FAILED || r == GNUTLS_E_INSUFFICIENT_CREDENTIALS)) {
		set_err(err, errlen, "unknown PSK identity / wrong key (%s)",
			gnutls_strerror(r));
		return -EACCES;
	}
	if (r == GNUTLS_E_UNSUPPORTED_VERSION_PACKET ||
	    r == GNUTLS_E_NO_CIPHER_SUITES || r == GNUTLS_E_NO_PRIORITIES_WERE_SET ||
	    r == GNUTLS_E_INSUFFICIENT_CREDENTIALS) {
		set_err(err, errlen, "the peer does not speak TLS 1.3 as kmig does: %s",
			gnutls_strerror(r));
		return -EPROTO;
	}
	set_err(err, errlen, "TLS handshake failed: %s", gnutls_strerror(r));
	return -EPROTO;
}

/*
 * GnuTLS leaves telling the peer to the application: one try, never
 * waiting, so that the peer fails with a reason rather than a timeout. A
 * refused PSK is told as such: decrypt_error for a binder that did not
 * verify, unknown_psk_identity for an identity we do not have.
 */
static void send_alert(struct tls_conn *t, int r, int ret)
{
	if (ret != -EACCES && ret != -EPROTO)
		return;
	if (t->cr->psk && t->cr->role == TLS_SERVER && ret == -EACCES)
		gnutls_alert_send(t->s, GNUTLS_AL_FATAL,
				  r == GNUTLS_E_KEYFILE_ERROR ?
				  GNUTLS_A_UNKNOWN_PSK_IDENTITY : GNUTLS_A_DECRYPT_ERROR);
	else if (r != GNUTLS_E_FATAL_ALERT_RECEIVED)
		gnutls_alert_send_appropriate(t->s, r);
}

/* kTLS */

union ktls_info {
	struct tls_crypto_info info;
	struct tls12_crypto_info_aes_gcm_128 gcm128;
	struct tls12_crypto_info_aes_gcm_256 gcm256;
	struct tls12_crypto_info_chacha20_poly1305 chacha;
};

/* The kernel's struct for one direction; 0 or -EINVAL (a size GnuTLS should never give). */
static int ktls_fill(gnutls_cipher_algorithm_t c, const gnutls_datum_t *iv,
		     const gnutls_datum_t *key, const uint8_t seq[8],
		     union ktls_info *u, socklen_t *len)
{
	memset(u, 0, sizeof(*u));
	u->info.version = TLS_1_3_VERSION;
	switch (c) {
	case GNUTLS_CIPHER_AES_128_GCM:
		if (iv->size != 12 || key->size != sizeof(u->gcm128.key))
			return -EINVAL;
		u->info.cipher_type = TLS_CIPHER_AES_GCM_128;
		memcpy(u->gcm128.salt, iv->data, 4);
		memcpy(u->gcm128.iv, iv->data + 4, 8);
		memcpy(u->gcm128.key, key->data, key->size);
		memcpy(u->gcm128.rec_seq, seq, 8);
		*len = sizeof(u->gcm128);
		return 0;
	case GNUTLS_CIPHER_AES_256_GCM:
		if (iv->size != 12 || key->size != sizeof(u->gcm256.key))
			return -EINVAL;
		u->info.cipher_type = TLS_CIPHER_AES_GCM_256;
		memcpy(u->gcm256.salt, iv->data, 4);
		memcpy(u->gcm256.iv, iv->data + 4, 8);
		memcpy(u->gcm256.key, key->data, key->size);
		memcpy(u->gcm256.rec_seq, seq, 8);
		*len = sizeof(u->gcm256);
		return 0;
	case GNUTLS_CIPHER_CHACHA20_POLY1305:
		if (iv->size != 12 || key->size != sizeof(u->chacha.key))
			return -EINVAL;
		u->info.cipher_type = TLS_CIPHER_CHACHA20_POLY1305;
		memcpy(u->chacha.iv, iv->data, 12);
		memcpy(u->chacha.key, key->data, key->size);
		memcpy(u->chacha.rec_seq, seq, 8);
		*len = sizeof(u->chacha);
		return 0;
	default:
		return -EINVAL;
	}
}

/* One direction into the kernel: 0, or -errno with why_not set. */
static int ktls_set(struct tls_conn *t, bool rx)
{
	gnutls_cipher_algorithm_t c = gnutls_cipher_get(t->s);
	gnutls_datum_t iv, key;
	union ktls_info u;
	uint8_t seq[8];
	socklen_t len;
	int ret;

	ret = gnutls_record_get_state(t->s, rx, NULL, &iv, &key, seq);
	if (ret < 0) {
		snprintf(t->why_not, sizeof(t->why_not), "GnuTLS: %s",
			 gnutls_strerror(ret));
		return -EINVAL;
	}
	ret = ktls_fill(c, &iv, &key, seq, &u, &len);
	if (ret) {
		snprintf(t->why_not, sizeof(t->why_not),
			 "unexpected key sizes for %s", gnutls_cipher_get_name(c));
		return ret;
	}
	ret = setsockopt(t->fd, SOL_TLS, rx ? TLS_RX : TLS_TX, &u, len) ? -errno : 0;
	explicit_bzero(&u, sizeof(u));
	/* ENOENT: crypto_alloc_aead() found no such AEAD (module not loaded). */
	if (ret)
		snprintf(t->why_not, sizeof(t->why_not), "%s: %s%s%s",
			 rx ? "TLS_RX" : "TLS_TX",
			 ret == -ENOENT ? "the kernel has no " : strerror(-ret),
			 ret == -ENOENT ? gnutls_cipher_get_name(c) : "",
			 rx ? " (the kernel sends, GnuTLS receives)" : "");
	return ret;
}

static void ktls_try(struct tls_conn *t)
{
	gnutls_cipher_algorithm_t c = gnutls_cipher_get(t->s);

	if (t->cr->no_ktls) {
		snprintf(t->why_not, sizeof(t->why_not), "kTLS turned off");
		return;
	}
	if (c != GNUTLS_CIPHER_AES_128_GCM && c != GNUTLS_CIPHER_AES_256_GCM &&
	    c != GNUTLS_CIPHER_CHACHA20_POLY1305) {
		snprintf(t->why_not, sizeof(t->why_not),
			 "cipher %s not supported by kTLS", gnutls_cipher_get_name(c));
		return;
	}
	/* Records GnuTLS already decrypted would be lost to the kernel. */
	if (gnutls_record_check_pending(t->s)) {
		snprintf(t->why_not, sizeof(t->why_not),
			 "GnuTLS already holds received data");
		return;
	}
	if (setsockopt(t->fd, SOL_TCP, TCP_ULP, "tls", sizeof("tls"))) {
		if (errno == ENOENT)
			snprintf(t->why_not, sizeof(t->why_not), "tls.ko not loaded");
		else
			snprintf(t->why_not, sizeof(t->why_not), "TCP_ULP tls: %s",
				 strerror(errno));
		return;
	}
	/* From TLS_TX on, only the socket may send: never mix. */
	if (ktls_set(t, false))
		return;
	t->ktls_tx = true;
	if (ktls_set(t, true))
		return;
	t->ktls_rx = true;
	t->why_not[0] = '\0';
}

static void describe(struct tls_conn *t)
{
	gnutls_group_t g = gnutls_group_get(t->s);
	const char *group = g ? gnutls_group_get_name(g) : NULL;
	const char *mode;

	if (t->ktls_tx && t->ktls_rx)
		mode = "kTLS";
	else if (t->ktls_tx)
		mode = "kTLS sends, GnuTLS receives";
	else
		mode = "GnuTLS records";
	snprintf(t->desc, sizeof(t->desc), "%s %s %s%s%s (%s)",
		 gnutls_protocol_get_name(gnutls_protocol_get_version(t->s)),
		 gnutls_cipher_get_name(gnutls_cipher_get(t->s)),
		 tls_creds_mode(t->cr), group ? " " : "", group ? group : "", mode);
}

static int session_init(struct tls_conn *t, char *err, size_t errlen)
{
	const struct tls_creds *cr = t->cr;
	unsigned int flags = GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL |
			     GNUTLS_NO_TICKETS | GNUTLS_NO_AUTO_REKEY;
	int ret;

	flags |= cr->role == TLS_SERVER ? GNUTLS_SERVER : GNUTLS_CLIENT;
	ret = gnutls_init(&t->s, flags);
	if (ret < 0) {
		t->s = NULL;
		goto fail;
	}
	gnutls_session_set_ptr(t->s, t);
	ret = gnutls_priority_set(t->s, cr->prio);
	if (ret < 0)
		goto fail;
	if (cr->psk) {
		ret = gnutls_credentials_set(t->s, GNUTLS_CRD_PSK,
					     cr->role == TLS_SERVER ?
					     (void *)cr->psk_srv : (void *)cr->psk_cli);
	} else {
		ret = gnutls_credentials_set(t->s, GNUTLS_CRD_CERTIFICATE, cr->x509);
		if (ret == 0 && cr->role == TLS_SERVER)
			gnutls_certificate_server_set_request(t->s, GNUTLS_CERT_REQUIRE);
		if (ret == 0)
			gnutls_session_set_verify_cert(t->s,
				cr->role == TLS_CLIENT ? cr->hostname : NULL, 0);
	}
	if (ret < 0)
		goto fail;
	/* The caller's wait function keeps the time. */
	gnutls_handshake_set_timeout(t->s, 0);
	gnutls_transport_set_ptr(t->s, t);
	gnutls_transport_set_vec_push_function(t->s, tls_push);
	gnutls_transport_set_pull_function(t->s, tls_pull);
	gnutls_transport_set_pull_timeout_function(t->s, tls_pull_timeout);
	return 0;
fail:
	set_err(err, errlen, "GnuTLS: %s", gnutls_strerror(ret));
	return ret == GNUTLS_E_MEMORY_ERROR ? -ENOMEM : -EINVAL;
}

int tls_handshake(const struct tls_creds *cr, int fd, tls_wait_fn wait,
		  void *arg, struct tls_conn **out, char *err, size_t errlen)
{
	struct tls_conn *t;
	int ret;

	*out = NULL;
	t = calloc(1, sizeof(*t));
	if (!t) {
		set_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	t->cr = cr;
	t->fd = fd;
	ret = session_init(t, err, errlen);
	if (ret)
		goto fail;

	t->in_handshake = true;
	for (;;) {
		int r = gnutls_handshake(t->s);

		if (r == 0)
			break;
		if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
			short ev = gnutls_record_get_direction(t->s) ? POLLOUT : POLLIN;

			ret = wait(arg, ev);
			if (ret) {
				set_err(err, errlen, "TLS handshake: %s",
					strerror(-ret));
				goto fail;
			}
			continue;
		}
		if (!gnutls_error_is_fatal(r))
			continue;
		ret = handshake_error(t, r, err, errlen);
		send_alert(t, r, ret);
		goto fail;
	}
	t->in_handshake = false;
	if (gnutls_protocol_get_version(t->s) != GNUTLS_TLS1_3) {
		set_err(err, errlen, "the peer negotiated %s, not TLS 1.3",
			gnutls_protocol_get_name(gnutls_protocol_get_version(t->s)));
		ret = -EPROTO;
		goto fail;
	}
	t->max_record = gnutls_record_get_max_size(t->s);
	if (!t->max_record || t->max_record > 16384)
		t->max_record = 16384;

	ktls_try(t);
	if (!t->ktls_tx) {
		t->bounce = malloc(t->max_record);
		if (!t->bounce) {
			set_err(err, errlen, "out of memory");
			ret = -ENOMEM;
			goto fail;
		}
	}
	describe(t);
	*out = t;
	return 0;
fail:
	tls_conn_free(t);
	return ret;
}

bool tls_conn_ktls(const struct tls_conn *t)
{
	return t->ktls_tx && t->ktls_rx;
}

static ssize_t record_error(struct tls_conn *t, ssize_t r, bool sending)
{
	int e;

	switch (r) {
	case GNUTLS_E_PUSH_ERROR:
	case GNUTLS_E_PULL_ERROR:
		e = sending ? t->push_errno : t->pull_errno;
		if (!e)
			e = EIO;
		snprintf(t->error, sizeof(t->error), "%s", strerror(e));
		return -e;
	case GNUTLS_E_FATAL_ALERT_RECEIVED:
		return alert_error(t->cr, gnutls_alert_get(t->s), t->error,
				   sizeof(t->error));
	case GNUTLS_E_MEMORY_ERROR:
		snprintf(t->error, sizeof(t->error), "out of memory");
		return -ENOMEM;
	default:
		snprintf(t->error, sizeof(t->error), "TLS: %s", gnutls_strerror(r));
		return -EPROTO;
	}
}

/* Copies up to @cap bytes of @iov from byte @skip into @buf. */
static size_t iov_gather(const struct iovec *iov, int iovcnt, size_t skip,
			 uint8_t *buf, size_t cap)
{
	size_t n = 0;

	for (int i = 0; i < iovcnt && n < cap; i++) {
		size_t l = iov[i].iov_len;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		l -= skip;
		if (l > cap - n)
			l = cap - n;
		memcpy(buf + n, (const uint8_t *)iov[i].iov_base + skip, l);
		n += l;
		skip = 0;
	}
	return n;
}

/* The bytes at @skip if @len of them lie in one element, else NULL. */
static const uint8_t *iov_direct(const struct iovec *iov, int iovcnt,
				 size_t skip, size_t len)
{
	for (int i = 0; i < iovcnt; i++) {
		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		if (iov[i].iov_len - skip >= len)
			return (const uint8_t *)iov[i].iov_base + skip;
		return NULL;
	}
	return NULL;
}

ssize_t tls_conn_sendv(struct tls_conn *t, const struct iovec *iov, int iovcnt)
{
	size_t total = 0, moved = 0;
	ssize_t r;

	if (t->ktls_tx) {
		struct msghdr m = {
			.msg_iov = (struct iovec *)iov,
			.msg_iovlen = iovcnt,
		};

		int e;

		r = sendmsg(t->fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (r >= 0)
			return r;
		e = errno;
		if (e != EAGAIN)
			snprintf(t->error, sizeof(t->error), "%s", strerror(e));
		return -e;
	}
	for (int i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;

	/* Finish the record the last call left half sent. */
	if (t->send_pending) {
		do {
			r = gnutls_record_send(t->s, NULL, 0);
		} while (r == GNUTLS_E_INTERRUPTED);
		if (r == GNUTLS_E_AGAIN)
			return -EAGAIN;
		if (r < 0)
			return record_error(t, r, true);
		moved = t->send_pending;
		t->send_pending = 0;
	}
	while (moved < total) {
		const uint8_t *p = iov_direct(iov, iovcnt, moved, t->max_record);
		size_t n = t->max_record;

		/* A whole record in one element goes as it is; else copied. */
		if (!p) {
			n = iov_gather(iov, iovcnt, moved, t->bounce, t->max_record);
			p = t->bounce;
		}
		do {
			r = gnutls_record_send(t->s, p, n);
		} while (r == GNUTLS_E_INTERRUPTED);
		if (r == GNUTLS_E_AGAIN) {
			/* Encrypted and queued in GnuTLS: moved once it is out. */
			t->send_pending = n;
			break;
		}
		if (r < 0)
			return moved ? (ssize_t)moved : record_error(t, r, true);
		moved += r;
	}
	return moved ? (ssize_t)moved : -EAGAIN;
}

ssize_t tls_conn_recv(struct tls_conn *t, void *buf, size_t len)
{
	ssize_t r;

	if (t->ktls_rx) {
		r = recv(t->fd, buf, len, MSG_DONTWAIT);
		if (r >= 0)
			return r;
		if (errno == EAGAIN)
			return -EAGAIN;
		if (errno == EIO)
			return tls_ktls_read_alert(t->fd, t->error, sizeof(t->error));
		r = -errno;
		snprintf(t->error, sizeof(t->error), "%s", strerror(-r));
		return r;
	}
	for (;;) {
		r = gnutls_record_recv(t->s, buf, len);
		if (r >= 0)
			return r;
		switch (r) {
		case GNUTLS_E_AGAIN:
			return -EAGAIN;
		case GNUTLS_E_INTERRUPTED:
		case GNUTLS_E_WARNING_ALERT_RECEIVED:
			continue;
		case GNUTLS_E_PREMATURE_TERMINATION:
			/* TCP closed without close_notify: EOF, as with kTLS. */
			return 0;
		default:
			return record_error(t, r, false);
		}
	}
}

short tls_conn_wants(const struct tls_conn *t, bool sending)
{
	(void)t;
	return sending ? POLLOUT : POLLIN;
}

bool tls_conn_pending(struct tls_conn *t)
{
	return !t->ktls_rx && gnutls_record_check_pending(t->s) > 0;
}

const char *tls_conn_describe(const struct tls_conn *t)
{
	return t->desc;
}

const char *tls_conn_ktls_why_not(const struct tls_conn *t)
{
	return t->why_not[0] ? t->why_not : NULL;
}

const char *tls_conn_error(const struct tls_conn *t)
{
	return t->error;
}

int tls_ktls_read_alert(int fd, char *err, size_t errlen)
{
	union {
		char buf[CMSG_SPACE(sizeof(unsigned char))];
		struct cmsghdr align;
	} cbuf;
	uint8_t data[64];
	struct iovec iov = { data, sizeof(data) };
	struct msghdr m = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf.buf,
		.msg_controllen = sizeof(cbuf.buf),
	};
	struct cmsghdr *c;
	ssize_t n;
	int type = -1;

	n = recvmsg(fd, &m, MSG_DONTWAIT);
	if (n < 0) {
		int e = errno;

		set_err(err, errlen, "kTLS: %s", strerror(e));
		return e == EIO ? -EPROTO : -e;
	}
	for (c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_level == SOL_TLS && c->cmsg_type == TLS_GET_RECORD_TYPE)
			type = *CMSG_DATA(c);
	if (type == 21 && n >= 2) {
		if (data[1] == GNUTLS_A_CLOSE_NOTIFY)
			return 0;
		return alert_error(NULL, data[1], err, errlen);
	}
	if (type == 22)
		set_err(err, errlen,
			"the peer sent a TLS handshake message (key update?) that kTLS cannot take");
	else
		set_err(err, errlen, "kTLS: an unexpected record of type %d", type);
	return -EPROTO;
}

void tls_conn_free(struct tls_conn *t)
{
	if (!t)
		return;
	if (t->s)
		gnutls_deinit(t->s);
	free(t->bounce);
	free(t);
}
