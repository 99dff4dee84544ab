/* SPDX-License-Identifier: GPL-2.0 */
/*
 * --auth-key: a secret both kmigctls read from a file proves each side to
 * the other on every channel, and then keys a MAC over every frame, so
 * that without TLS nobody lacking the key can join a migration or change
 * a byte of it (Documentation/stream-format.md, "Authentication").
 *
 * The handshake is a challenge-response with a fresh nonce from each side:
 *   proof = HMAC-SHA256(key, label || session id || channel || Ns || Nd)
 * with label "kmig-v3 destination" for the destination's proof and
 * "kmig-v3 source" for the source's, so neither proof can be replayed on
 * another channel, session or connection, nor reflected to its sender.
 * Frames are then tagged with UMAC-128 (RFC 4418, as OpenSSH's
 * umac-128-etm) under a key per direction derived the same way, with the
 * frame's sequence number on its channel as the nonce: a frame dropped,
 * replayed, reordered or moved to another channel fails its check.
 * UMAC because it is the fastest MAC GnuTLS offers: 8 GB/s on hardware,
 * 280 MB/s under the sandbox's TCG, where HMAC-SHA256 does 60.
 */
#ifndef KMIGCTL_AUTH_H
#define KMIGCTL_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define AUTH_NONCE_LEN		32
#define AUTH_PROOF_LEN		32
#define AUTH_TAG_LEN		16
/* A key file: at least this many bytes (128 bits), at most 4 KiB. */
#define AUTH_KEY_MIN		16
#define AUTH_KEY_MAX		4096

struct auth_key {
	uint8_t k[AUTH_KEY_MAX];
	size_t len;
};

/*
 * Reads the whole of @path as the key. Refuses a file shorter than
 * AUTH_KEY_MIN, longer than AUTH_KEY_MAX, or readable by others than its
 * owner and group (a secret is not world-readable). -errno with why.
 */
int auth_key_load(struct auth_key *key, const char *path, char *err,
		  size_t errlen);

/* Fresh random bytes from the kernel (getrandom). 0 or -errno. */
int auth_nonce(uint8_t nonce[AUTH_NONCE_LEN]);

/* What one side proves; @dest chooses the label. */
void auth_proof(const struct auth_key *key, bool dest, uint64_t session_id,
		uint32_t channel, const uint8_t ns[AUTH_NONCE_LEN],
		const uint8_t nd[AUTH_NONCE_LEN], uint8_t out[AUTH_PROOF_LEN]);

/* Compares in constant time. */
bool auth_equal(const uint8_t *a, const uint8_t *b, size_t len);

/* One direction of a channel's frame MACs. */
struct frame_mac;

/*
 * The MAC of the frames the source sends (@from_dest false) or the
 * destination sends, on the channel the nonces were exchanged on.
 */
struct frame_mac *frame_mac_new(const struct auth_key *key, bool from_dest,
				uint64_t session_id, uint32_t channel,
				const uint8_t ns[AUTH_NONCE_LEN],
				const uint8_t nd[AUTH_NONCE_LEN]);
void frame_mac_free(struct frame_mac *m);

/*
 * The tag of the next frame in this direction (its header and payload in
 * @iov): every call takes the next sequence number.
 */
void frame_mac_tag(struct frame_mac *m, const struct iovec *iov, int iovcnt,
		   uint8_t tag[AUTH_TAG_LEN]);

#endif /* KMIGCTL_AUTH_H */
