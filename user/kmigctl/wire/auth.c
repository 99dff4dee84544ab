// SPDX-License-Identifier: GPL-2.0
/*
 * Shared-key authentication and frame MACs (auth.h), on GnuTLS's crypto
 * API (the same library as the TLS channels: nettle underneath).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "auth.h"
#include "stream.h"

int auth_key_load(struct auth_key *key, const char *path, char *err,
		  size_t errlen)
{
	struct stat st;
	ssize_t n;
	size_t got = 0;
	int fd, ret = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return ret;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return -EINVAL;
	}
	if (st.st_mode & S_IROTH) {
		snprintf(err, errlen,
			 "%s: readable by everyone (mode %03o): a secret must not be; chmod o-r it",
			 path, st.st_mode & 0777);
		close(fd);
		return -EPERM;
	}
	while (got < sizeof(key->k)) {
		n = read(fd, key->k + got, sizeof(key->k) - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			break;
		}
		if (n == 0)
			break;
		got += n;
	}
	if (!ret && got == sizeof(key->k)) {
		char c;

		if (read(fd, &c, 1) == 1) {
			snprintf(err, errlen, "%s: longer than %d bytes",
				 path, AUTH_KEY_MAX);
			ret = -EMSGSIZE;
		}
	}
	close(fd);
	if (!ret && got < AUTH_KEY_MIN) {
		snprintf(err, errlen,
			 "%s: %zu bytes is too short a key (at least %d; e.g. head -c 32 /dev/urandom >%s)",
			 path, got, AUTH_KEY_MIN, path);
		ret = -EINVAL;
	}
	key->len = ret ? 0 : got;
	return ret;
}

int auth_nonce(uint8_t nonce[AUTH_NONCE_LEN])
{
	size_t got = 0;

	while (got < AUTH_NONCE_LEN) {
		ssize_t n = getrandom(nonce + got, AUTH_NONCE_LEN - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		got += n;
	}
	return 0;
}

/* HMAC-SHA256(key, label || session id || channel || Ns || Nd). */
static void auth_derive(const struct auth_key *key, const char *label,
			uint64_t session_id, uint32_t channel,
			const uint8_t ns[AUTH_NONCE_LEN],
			const uint8_t nd[AUTH_NONCE_LEN], uint8_t out[32])
{
	uint8_t msg[64 + 12 + 2 * AUTH_NONCE_LEN];
	size_t l = strlen(label);

	/* Labels are constants of this file, well under 64 bytes. */
	memcpy(msg, label, l);
	kms_put_u64(msg + l, session_id);
	kms_put_u32(msg + l + 8, channel);
	memcpy(msg + l + 12, ns, AUTH_NONCE_LEN);
	memcpy(msg + l + 12 + AUTH_NONCE_LEN, nd, AUTH_NONCE_LEN);
	gnutls_hmac_fast(GNUTLS_MAC_SHA256, key->k, key->len, msg,
			 l + 12 + 2 * AUTH_NONCE_LEN, out);
}

void auth_proof(const struct auth_key *key, bool dest, uint64_t session_id,
		uint32_t channel, const uint8_t ns[AUTH_NONCE_LEN],
		const uint8_t nd[AUTH_NONCE_LEN], uint8_t out[AUTH_PROOF_LEN])
{
	auth_derive(key, dest ? "kmig-v3 destination" : "kmig-v3 source",
		    session_id, channel, ns, nd, out);
}

bool auth_equal(const uint8_t *a, const uint8_t *b, size_t len)
{
	return gnutls_memcmp(a, b, len) == 0;
}

struct frame_mac {
	gnutls_hmac_hd_t h;
	uint64_t seq;
};

struct frame_mac *frame_mac_new(const struct auth_key *key, bool from_dest,
				uint64_t session_id, uint32_t channel,
				const uint8_t ns[AUTH_NONCE_LEN],
				const uint8_t nd[AUTH_NONCE_LEN])
{
	struct frame_mac *m = calloc(1, sizeof(*m));
	uint8_t k[32];

	if (!m)
		return NULL;
	auth_derive(key, from_dest ? "kmig-v3 frames d2s" : "kmig-v3 frames s2d",
		    session_id, channel, ns, nd, k);
	/* UMAC-128 takes a 128-bit key. */
	if (gnutls_hmac_init(&m->h, GNUTLS_MAC_UMAC_128, k, 16) < 0) {
		free(m);
		m = NULL;
	}
	gnutls_memset(k, 0, sizeof(k));
	return m;
}

void frame_mac_free(struct frame_mac *m)
{
	if (!m)
		return;
	gnutls_hmac_deinit(m->h, NULL);
	free(m);
}

void frame_mac_tag(struct frame_mac *m, const struct iovec *iov, int iovcnt,
		   uint8_t tag[AUTH_TAG_LEN])
{
	uint8_t nonce[8];

	/* A UMAC nonce must never repeat under one key: the sequence does not. */
	kms_put_u64(nonce, m->seq++);
	gnutls_hmac_set_nonce(m->h, nonce, sizeof(nonce));
	for (int i = 0; i < iovcnt; i++)
		if (iov[i].iov_len)
			gnutls_hmac(m->h, iov[i].iov_base, iov[i].iov_len);
	gnutls_hmac_output(m->h, tag);
}
