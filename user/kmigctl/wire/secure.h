/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Who may take part in a migration: the security options both commands
 * share, and what they do to each channel before the kmig handshake.
 *
 *   --tls-creds DIR   TLS 1.3 with x509 certificates (QEMU's layout), both
 *                     sides verified against DIR/ca-cert.pem
 *   --tls-psk FILE    TLS 1.3 with a pre-shared key (psktool's format)
 *   --auth-key FILE   no TLS: a shared secret, proved on every channel,
 *                     then a MAC on every frame (auth.h)
 *   --insecure        none of them on TCP: anyone who connects first may
 *                     feed the destination. Never the default.
 *
 * A unix socket with none of them is authenticated by the kernel: each
 * side checks the other's SO_PEERCRED (root, or the same user). TLS and
 * --auth-key may be combined (the MAC then adds nothing TLS lacks but
 * costs little); everything else on TCP without --insecure is refused
 * before anything is opened (Documentation/kmigctl.md, "Security").
 */
#ifndef KMIGCTL_SECURE_H
#define KMIGCTL_SECURE_H

#include <stdbool.h>
#include <stddef.h>

#include "auth.h"
#include "chan.h"
#include "stream.h"
#include "tls.h"

struct mig_addr;

struct sec_opts {
	const char *auth_key;		/* --auth-key FILE */
	const char *tls_creds;		/* --tls-creds DIR */
	const char *tls_psk;		/* --tls-psk FILE */
	const char *tls_hostname;	/* --tls-hostname NAME (source) */
	bool no_ktls;			/* --no-ktls */
	bool insecure;			/* --insecure */
};

/* getopt_long() values of the options (above any short option). */
enum {
	SEC_OPT_AUTH_KEY = 0x1000,
	SEC_OPT_TLS_CREDS,
	SEC_OPT_TLS_PSK,
	SEC_OPT_TLS_HOSTNAME,
	SEC_OPT_NO_KTLS,
	SEC_OPT_INSECURE,
};

#define SEC_LONG_OPTIONS \
	{ "auth-key", required_argument, NULL, SEC_OPT_AUTH_KEY }, \
	{ "tls-creds", required_argument, NULL, SEC_OPT_TLS_CREDS }, \
	{ "tls-psk", required_argument, NULL, SEC_OPT_TLS_PSK }, \
	{ "tls-hostname", required_argument, NULL, SEC_OPT_TLS_HOSTNAME }, \
	{ "no-ktls", no_argument, NULL, SEC_OPT_NO_KTLS }, \
	{ "insecure", no_argument, NULL, SEC_OPT_INSECURE }

/* The options' lines for a command's usage text. */
extern const char sec_usage[];

/* 1 when @c was one of the options above (taken into @o), else 0. */
int sec_parse_opt(struct sec_opts *o, int c, const char *arg);

struct sec {
	bool server;			/* the destination */
	struct auth_key *key;		/* --auth-key, or NULL */
	struct tls_creds *tls;		/* --tls-creds / --tls-psk, or NULL */
	bool unix_creds;		/* a unix socket, nothing else: SO_PEERCRED */
	bool insecure;
	char mode[64];			/* for the report: "tls-x509+auth-key" */
};

/*
 * Checks the combination against the address (@a, already parsed), loads
 * the key and the credentials. -errno with why in @err: a usage error
 * (-EINVAL: say which option is missing) or a file that cannot be used.
 */
int sec_setup(struct sec *s, bool server, const struct sec_opts *o,
	      const struct mig_addr *a, char *err, size_t errlen);
void sec_free(struct sec *s);

/*
 * Both commands' first step: parses @spec (the value of @opt, "--to" or
 * "--listen") into @a, then sec_setup(). Prints "kmig: CMD: why" and
 * returns -1 on error.
 */
int sec_from_options(const char *cmd, const char *opt, const char *spec,
		     bool server, const struct sec_opts *o, struct mig_addr *a,
		     struct sec *s);

/*
 * A new connection, before the kmig handshake: the TLS handshake (kTLS
 * where it works), or the unix peer's credentials. Sets @c's security and
 * c->peer_auth. -EACCES for a peer that failed, other -errno for I/O, the
 * reason in @e (naming the channel).
 */
int sec_start(const struct sec *s, struct chan *c, struct kms_error *e);

#endif /* KMIGCTL_SECURE_H */
