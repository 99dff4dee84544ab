// SPDX-License-Identifier: GPL-2.0
/*
 * crypto_bw: the speed on one core of each primitive kmigctl's security
 * modes spend CPU on, next to memcpy, so bench/secure.sh can say where the
 * checksum is cheapest and what authentication costs (make bench-secure).
 * Prints one line per primitive, "NAME MiB/s" (the crc32c line that
 * kmigctl picks also names its choice), in the shape kmigctl uses it:
 *
 *   memcpy         64 MiB copied at once (as bench/memcpy_bw.c)
 *   crc32c         kmigctl's own code (user/kmigctl/wire/crc32c.c, built
 *                  into this file), per 4 KiB page continued over a frame
 *                  of 256 pages, as the sender does: the implementation
 *                  its first call picked, then each of the two
 *   umac128        gnutls_hmac UMAC-128 over a frame of 256 iovecs of
 *                  4 KiB with a fresh nonce per frame (--auth-key's tag)
 *   hmac_sha256    gnutls_hmac SHA-256 over 1 MiB (the MAC GnuTLS has
 *                  that auth.h chose UMAC over)
 *   aes128gcm      gnutls_aead AES-128-GCM encrypting 16 KiB records (a
 *                  full TLS record: GnuTLS's record layer with --no-ktls;
 *                  with kTLS the kernel's gcm(aes) does it instead)
 *   kernel_crc32c  the kernel's crc32c (crc32c-intel where loaded) through
 *                  AF_ALG (algif_hash), a frame of 4 KiB pages per digest:
 *                  what the checksum would cost in kmig's workers, plus a
 *                  syscall per page
 *   kernel_aes128gcm  the kernel's gcm(aes), as kTLS uses it, through
 *                  AF_ALG (algif_aead) on 16 KiB records: the syscalls and
 *                  the copy in and out are included, so it is a lower bound
 *                  of kTLS's own speed
 *
 * The kernel lines are left out where AF_ALG or the algorithm is missing
 * (modprobe algif_hash algif_aead first).
 *
 * Each figure is the best of three trials of at least 0.25 s each over an
 * 8 MiB buffer of pseudo-random bytes. Exit status 0, or 1 with the
 * failing call on stderr.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <linux/if_alg.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

/* Its static functions too: both implementations, not only the pick. */
#include "crc32c.c"

#define BUF_LEN		(8u << 20)
#define PAGE		4096u
#define FRAME_PAGES	256u
#define FRAME_LEN	(FRAME_PAGES * PAGE)
#define HMAC_LEN	(1u << 20)
#define RECORD_LEN	16384u
#define TRIAL_S		0.25

static uint8_t *buf, *out;
static volatile uint32_t sink;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "crypto_bw: %s: %s\n", what, gnutls_strerror(err));
	exit(1);
}

/* One pass over buf with @fn; the best MiB/s of three timed trials. */
static double measure(void (*fn)(void))
{
	double best = 0;

	fn();	/* warm up: faults, tables, key schedules */
	for (int t = 0; t < 3; t++) {
		double t0 = now(), dt;
		unsigned int passes = 0;

		do {
			fn();
			passes++;
			dt = now() - t0;
		} while (dt < TRIAL_S);
		if ((double)passes * (BUF_LEN >> 20) / dt > best)
			best = (double)passes * (BUF_LEN >> 20) / dt;
	}
	return best;
}

static void pass_memcpy(void)
{
	memcpy(out, buf, BUF_LEN);
	sink = out[BUF_LEN / 2];
}

/* As the sender: one CRC per frame, continued page by page. */
static void pass_crc(uint32_t (*fn)(uint32_t, const uint8_t *, size_t))
{
	for (size_t f = 0; f < BUF_LEN; f += FRAME_LEN) {
		uint32_t c = ~0u;

		for (size_t p = f; p < f + FRAME_LEN; p += PAGE)
			c = fn(c, buf + p, PAGE);
		sink = c;
	}
}

static uint32_t crc_public(uint32_t c, const uint8_t *p, size_t n)
{
	return crc32c(c, p, n);
}

static void pass_crc_picked(void)
{
	pass_crc(crc_public);
}

static void pass_crc_table(void)
{
	pass_crc(crc32c_tables);
}

#if defined(__x86_64__)
static void pass_crc_sse42(void)
{
	pass_crc(crc32c_sse42);
}
#endif

static gnutls_hmac_hd_t umac, hmac;
static gnutls_aead_cipher_hd_t aead;
static uint64_t seq;

static void pass_umac(void)
{
	struct iovec iov[FRAME_PAGES];
	uint8_t tag[16], nonce[8];

	for (size_t f = 0; f < BUF_LEN; f += FRAME_LEN) {
		for (unsigned int i = 0; i < FRAME_PAGES; i++) {
			iov[i].iov_base = buf + f + i * PAGE;
			iov[i].iov_len = PAGE;
		}
		/* auth.c's frame_mac_tag(): nonce, the pieces, the tag. */
		memcpy(nonce, &seq, sizeof(nonce));
		seq++;
		gnutls_hmac_set_nonce(umac, nonce, sizeof(nonce));
		for (unsigned int i = 0; i < FRAME_PAGES; i++)
			gnutls_hmac(umac, iov[i].iov_base, iov[i].iov_len);
		gnutls_hmac_output(umac, tag);
		sink = tag[0];
	}
}

static void pass_hmac(void)
{
	uint8_t tag[32];

	for (size_t f = 0; f < BUF_LEN; f += HMAC_LEN) {
		gnutls_hmac(hmac, buf + f, HMAC_LEN);
		gnutls_hmac_output(hmac, tag);
		sink = tag[0];
	}
}

static void pass_aead(void)
{
	uint8_t nonce[12] = { 0 }, aad[5] = { 23, 3, 3, 0x40, 0x11 };
	size_t clen;
	int ret;

	for (size_t r = 0; r < BUF_LEN; r += RECORD_LEN) {
		memcpy(nonce + 4, &seq, 8);
		seq++;
		clen = RECORD_LEN + 16;
		ret = gnutls_aead_cipher_encrypt(aead, nonce, sizeof(nonce), aad,
						 sizeof(aad), 16, buf + r,
						 RECORD_LEN, out + r, &clen);
		if (ret < 0)
			die("gnutls_aead_cipher_encrypt", ret);
	}
	sink = out[0];
}

/* The AF_ALG operation socket of @type/@name keyed with @key, or -1. */
static int alg_open(const char *type, const char *name, const void *key,
		    size_t keylen, unsigned int authsize)
{
	struct sockaddr_alg sa = { .salg_family = AF_ALG };
	int tfm, op = -1;

	snprintf((char *)sa.salg_type, sizeof(sa.salg_type), "%s", type);
	snprintf((char *)sa.salg_name, sizeof(sa.salg_name), "%s", name);
	tfm = socket(AF_ALG, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (tfm < 0)
		return -1;
	if (bind(tfm, (struct sockaddr *)&sa, sizeof(sa)) ||
	    (key && setsockopt(tfm, SOL_ALG, ALG_SET_KEY, key, keylen)) ||
	    (authsize && setsockopt(tfm, SOL_ALG, ALG_SET_AEAD_AUTHSIZE, NULL,
				    authsize)))
		goto out;
	op = accept(tfm, NULL, NULL);
out:
	close(tfm);
	return op;
}

static int kcrc = -1, kaead = -1;
static bool kernel_failed;

static void pass_kernel_crc(void)
{
	uint32_t c;

	for (size_t f = 0; f < BUF_LEN && !kernel_failed; f += FRAME_LEN) {
		for (size_t p = f; p < f + FRAME_LEN; p += PAGE)
			if (send(kcrc, buf + p, PAGE,
				 p + PAGE < f + FRAME_LEN ? MSG_MORE : 0) !=
			    (ssize_t)PAGE)
				kernel_failed = true;
		if (read(kcrc, &c, sizeof(c)) != sizeof(c))
			kernel_failed = true;
		sink = c;
	}
}

static void pass_kernel_aead(void)
{
	/* op, IV, associated data length: one cmsg each. */
	union {
		char b[CMSG_SPACE(4) + CMSG_SPACE(sizeof(struct af_alg_iv) + 12) +
		       CMSG_SPACE(4)];
		struct cmsghdr align;
	} u;
	static uint8_t rec[5 + RECORD_LEN];
	struct iovec iov[2];
	struct msghdr msg = { .msg_control = u.b, .msg_controllen = sizeof(u.b),
			      .msg_iov = iov, .msg_iovlen = 2 };
	struct cmsghdr *cm;
	struct af_alg_iv *iv;

	memset(u.b, 0, sizeof(u.b));
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_ALG;
	cm->cmsg_type = ALG_SET_OP;
	cm->cmsg_len = CMSG_LEN(4);
	*(uint32_t *)CMSG_DATA(cm) = ALG_OP_ENCRYPT;
	cm = CMSG_NXTHDR(&msg, cm);
	cm->cmsg_level = SOL_ALG;
	cm->cmsg_type = ALG_SET_IV;
	cm->cmsg_len = CMSG_LEN(sizeof(*iv) + 12);
	iv = (struct af_alg_iv *)CMSG_DATA(cm);
	iv->ivlen = 12;
	cm = CMSG_NXTHDR(&msg, cm);
	cm->cmsg_level = SOL_ALG;
	cm->cmsg_type = ALG_SET_AEAD_ASSOCLEN;
	cm->cmsg_len = CMSG_LEN(4);
	*(uint32_t *)CMSG_DATA(cm) = 5;
	iov[0].iov_base = rec;
	iov[0].iov_len = 5;
	for (size_t r = 0; r < BUF_LEN && !kernel_failed; r += RECORD_LEN) {
		memcpy(iv->iv + 4, &seq, 8);
		seq++;
		iov[1].iov_base = buf + r;
		iov[1].iov_len = RECORD_LEN;
		if (sendmsg(kaead, &msg, 0) != 5 + RECORD_LEN ||
		    read(kaead, out, 5 + RECORD_LEN + 16) != 5 + RECORD_LEN + 16)
			kernel_failed = true;
	}
	sink = out[0];
}

/* Prints "NAME MiB/s" for an AF_ALG pass, nothing where it cannot run. */
static void measure_kernel(const char *name, void (*fn)(void), int fd)
{
	double v;

	if (fd < 0)
		return;
	kernel_failed = false;
	v = measure(fn);
	if (!kernel_failed)
		printf("%s %.0f\n", name, v);
	close(fd);
}

int main(void)
{
	uint8_t k[32];
	gnutls_datum_t key = { .data = k, .size = 16 };
	uint64_t x = 0x9e3779b97f4a7c15ull;
	int ret;

	/* Each line as it is measured, should a later probe hang. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* Room for the last record's tag past the copy's end. */
	buf = malloc(BUF_LEN);
	out = malloc(BUF_LEN + 64);
	if (!buf || !out)
		return 1;
	for (size_t i = 0; i < BUF_LEN; i += 8) {
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		x *= 0x2545f4914f6cdd1dull;
		memcpy(buf + i, &x, 8);
	}
	memcpy(k, buf, sizeof(k));
	ret = gnutls_hmac_init(&umac, GNUTLS_MAC_UMAC_128, k, 16);
	if (ret < 0)
		die("gnutls_hmac_init(UMAC-128)", ret);
	ret = gnutls_hmac_init(&hmac, GNUTLS_MAC_SHA256, k, 32);
	if (ret < 0)
		die("gnutls_hmac_init(SHA256)", ret);
	ret = gnutls_aead_cipher_init(&aead, GNUTLS_CIPHER_AES_128_GCM, &key);
	if (ret < 0)
		die("gnutls_aead_cipher_init(AES-128-GCM)", ret);

	printf("memcpy %.0f\n", measure(pass_memcpy));
	printf("crc32c %.0f %s\n", measure(pass_crc_picked), crc32c_impl());
	printf("crc32c_table %.0f\n", measure(pass_crc_table));
#if defined(__x86_64__)
	if (__builtin_cpu_supports("sse4.2"))
		printf("crc32c_sse42 %.0f\n", measure(pass_crc_sse42));
#endif
	printf("umac128 %.0f\n", measure(pass_umac));
	printf("hmac_sha256 %.0f\n", measure(pass_hmac));
	printf("aes128gcm %.0f\n", measure(pass_aead));
	kcrc = alg_open("hash", "crc32c", NULL, 0, 0);
	measure_kernel("kernel_crc32c", pass_kernel_crc, kcrc);
	kaead = alg_open("aead", "gcm(aes)", k, 16, 16);
	measure_kernel("kernel_aes128gcm", pass_kernel_aead, kaead);

	gnutls_aead_cipher_deinit(aead);
	gnutls_hmac_deinit(hmac, NULL);
	gnutls_hmac_deinit(umac, NULL);
	free(buf);
	free(out);
	return 0;
}
