// SPDX-License-Identifier: GPL-2.0
/*
 * Encoding and checking the kmig migration stream (stream.h). The
 * destination treats the stream as hostile: nothing here trusts a length,
 * a count or an address until it has been compared with a bound.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "crc32c.h"
#include "stream.h"

static int kms_fail(struct kms_error *e, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int kms_fail(struct kms_error *e, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return err;
}

void kms_put_u16(uint8_t *p, uint16_t v)
{
	p[0] = v;
	p[1] = v >> 8;
}

void kms_put_u32(uint8_t *p, uint32_t v)
{
	kms_put_u16(p, v);
	kms_put_u16(p + 2, v >> 16);
}

void kms_put_u64(uint8_t *p, uint64_t v)
{
	kms_put_u32(p, v);
	kms_put_u32(p + 4, v >> 32);
}

void kms_errorf(struct kms_error *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
}

uint16_t kms_get_u16(const uint8_t *p)
{
	return p[0] | (uint16_t)p[1] << 8;
}

uint32_t kms_get_u32(const uint8_t *p)
{
	return kms_get_u16(p) | (uint32_t)kms_get_u16(p + 2) << 16;
}

uint64_t kms_get_u64(const uint8_t *p)
{
	return kms_get_u32(p) | (uint64_t)kms_get_u32(p + 4) << 32;
}

static const char *const kms_frame_names[] = {
	[KMS_HELLO] = "HELLO",
	[KMS_ACCEPT] = "ACCEPT",
	[KMS_REJECT] = "REJECT",
	[KMS_RAM] = "RAM",
	[KMS_SYNC] = "SYNC",
	[KMS_END] = "END",
	[KMS_DEVICE_STATE] = "DEVICE_STATE",
	[KMS_READY] = "READY",
	[KMS_GO] = "GO",
	[KMS_ACK] = "ACK",
	[KMS_ABORT] = "ABORT",
	[KMS_LOADED] = "LOADED",
	[KMS_KEEPALIVE] = "KEEPALIVE",
	[KMS_AUTH_INIT] = "AUTH_INIT",
	[KMS_AUTH_CHALLENGE] = "AUTH_CHALLENGE",
	[KMS_AUTH_PROOF] = "AUTH_PROOF",
	[KMS_AUTH_OK] = "AUTH_OK",
	[KMS_DISCARD] = "DISCARD",
	[KMS_POSTCOPY] = "POSTCOPY",
	[KMS_REQUEST] = "REQUEST",
	[KMS_DONE] = "DONE",
};

const char *kms_frame_name(uint32_t type)
{
	if (type == 0 || type > KMS_FRAME_TYPE_MAX)
		return "unknown";
	return kms_frame_names[type];
}

void kms_preamble_encode(uint8_t out[KMS_PREAMBLE_LEN], uint32_t version,
			 uint32_t flags)
{
	memcpy(out, KMS_MAGIC, 8);
	kms_put_u32(out + 8, version);
	kms_put_u32(out + 12, flags);
}

int kms_preamble_decode(const uint8_t in[KMS_PREAMBLE_LEN],
			uint32_t *version, uint32_t *flags,
			struct kms_error *e)
{
	*flags = 0;
	if (memcmp(in, KMS_MAGIC, 8))
		return kms_fail(e, -EPROTO,
				"not a kmig migration stream (bad magic)");
	*version = kms_get_u32(in + 8);
	if (*version != KMS_VERSION)
		return kms_fail(e, -EPROTONOSUPPORT,
				"stream version %" PRIu32 " is not supported (this kmigctl speaks version %d)",
				*version, KMS_VERSION);
	*flags = kms_get_u32(in + 12);
	if (*flags & ~KMS_PRE_F_KNOWN)
		return kms_fail(e, -EPROTO,
				"stream preamble flags 0x%" PRIx32 " unknown",
				*flags & ~KMS_PRE_F_KNOWN);
	return 0;
}

void kms_frame_hdr_encode(uint8_t out[KMS_FRAME_HDR_LEN], uint32_t type,
			  uint32_t len)
{
	kms_put_u32(out, type);
	kms_put_u32(out + 4, len);
}

/* Payload bounds of each frame type, inclusive. */
static const struct {
	uint32_t min, max;
} kms_frame_len[] = {
	[KMS_HELLO] = { KMS_HELLO_LEN(1), KMS_HELLO_LEN(KMS_MAX_REGIONS) },
	[KMS_ACCEPT] = { 0, 0 },
	[KMS_REJECT] = { 1, KMS_MAX_REASON },
	[KMS_RAM] = { KMS_RAM_HDR_LEN + KMS_REC_LEN, KMS_RAM_MAX_LEN },
	[KMS_SYNC] = { KMS_SYNC_LEN, KMS_SYNC_LEN },
	[KMS_END] = { 0, 0 },
	[KMS_DEVICE_STATE] = { 1, KMS_MAX_STATE },
	[KMS_READY] = { 0, 0 },
	[KMS_GO] = { 0, 0 },
	[KMS_ACK] = { KMS_ACK_LEN, KMS_ACK_LEN },
	[KMS_ABORT] = { 1, KMS_MAX_REASON },
	[KMS_LOADED] = { KMS_SYNC_LEN, KMS_SYNC_LEN },
	[KMS_KEEPALIVE] = { 0, 0 },
	[KMS_AUTH_INIT] = { KMS_AUTH_INIT_LEN, KMS_AUTH_INIT_LEN },
	[KMS_AUTH_CHALLENGE] = { KMS_AUTH_CHALLENGE_LEN, KMS_AUTH_CHALLENGE_LEN },
	[KMS_AUTH_PROOF] = { KMS_AUTH_PROOF_LEN, KMS_AUTH_PROOF_LEN },
	[KMS_AUTH_OK] = { 0, 0 },
	[KMS_DISCARD] = { KMS_DISCARD_LEN(1), KMS_DISCARD_LEN(KMS_MAX_DISCARD) },
	[KMS_POSTCOPY] = { KMS_POSTCOPY_LEN, KMS_POSTCOPY_LEN },
	[KMS_REQUEST] = { KMS_REQUEST_LEN(1), KMS_REQUEST_LEN(KMS_MAX_REQUEST) },
	[KMS_DONE] = { 0, 0 },
};

int kms_frame_hdr_decode(const uint8_t in[KMS_FRAME_HDR_LEN],
			 struct kms_frame_hdr *h, struct kms_error *e)
{
	h->type = kms_get_u32(in);
	h->len = kms_get_u32(in + 4);
	if (h->type == 0 || h->type > KMS_FRAME_TYPE_MAX)
		return kms_fail(e, -EPROTO, "unknown frame type %" PRIu32,
				h->type);
	if (h->len < kms_frame_len[h->type].min ||
	    h->len > kms_frame_len[h->type].max)
		return kms_fail(e, -EMSGSIZE,
				"%s frame of %" PRIu32 " bytes (allowed %" PRIu32 "..%" PRIu32 ")",
				kms_frame_name(h->type), h->len,
				kms_frame_len[h->type].min,
				kms_frame_len[h->type].max);
	return 0;
}

static bool kms_page_aligned(uint64_t v)
{
	return (v & (KMS_PAGE_SIZE - 1)) == 0;
}

int kms_layout_check(const struct kms_layout *l, struct kms_error *e)
{
	uint64_t end = 0;
	uint32_t i;

	if (l->nr == 0 || l->nr > KMS_MAX_REGIONS)
		return kms_fail(e, -EMSGSIZE, "%" PRIu32 " RAM regions (allowed 1..%d)",
				l->nr, KMS_MAX_REGIONS);
	for (i = 0; i < l->nr; i++) {
		const struct kms_region *r = &l->r[i];

		if (!r->size || !kms_page_aligned(r->gpa) ||
		    !kms_page_aligned(r->size))
			return kms_fail(e, -EPROTO,
					"RAM region %" PRIu32 " (gpa 0x%" PRIx64 ", 0x%" PRIx64 " bytes) is empty or not page-aligned",
					i, r->gpa, r->size);
		if (r->gpa + r->size < r->gpa)
			return kms_fail(e, -ERANGE,
					"RAM region %" PRIu32 " wraps around the address space",
					i);
		if (i && r->gpa < end)
			return kms_fail(e, -EPROTO,
					"RAM region %" PRIu32 " at 0x%" PRIx64 " overlaps or precedes the one before",
					i, r->gpa);
		end = r->gpa + r->size;
	}
	return 0;
}

uint64_t kms_layout_bytes(const struct kms_layout *l)
{
	uint64_t sum = 0;
	uint32_t i;

	for (i = 0; i < l->nr && i < KMS_MAX_REGIONS; i++)
		sum += l->r[i].size;
	return sum;
}

bool kms_layout_contains(const struct kms_layout *l, uint64_t gpa,
			 uint64_t npages)
{
	uint32_t i;

	if (!npages || npages > UINT64_MAX / KMS_PAGE_SIZE)
		return false;
	for (i = 0; i < l->nr && i < KMS_MAX_REGIONS; i++) {
		const struct kms_region *r = &l->r[i];

		/* Subtractions only: nothing here can overflow. */
		if (gpa >= r->gpa && gpa - r->gpa < r->size)
			return npages * KMS_PAGE_SIZE <= r->size - (gpa - r->gpa);
	}
	return false;
}

/* "0x0+128M 0x100000000+64M": a layout for an error message. */
static void kms_layout_describe(const struct kms_layout *l, char *out,
				size_t cap)
{
	size_t used = 0;
	uint32_t i;

	out[0] = 0;
	for (i = 0; i < l->nr && i < KMS_MAX_REGIONS && used < cap; i++) {
		const struct kms_region *r = &l->r[i];
		int n;

		if (r->size % (1 << 20) == 0)
			n = snprintf(out + used, cap - used, "%s0x%" PRIx64 "+%" PRIu64 "M",
				     i ? " " : "", r->gpa, r->size >> 20);
		else
			n = snprintf(out + used, cap - used, "%s0x%" PRIx64 "+%" PRIu64 "K",
				     i ? " " : "", r->gpa, r->size >> 10);
		if (n < 0)
			break;
		used += n;
	}
}

int kms_layout_compare(const struct kms_layout *src,
		       const struct kms_layout *dst, struct kms_error *e)
{
	char a[96], b[96];
	uint32_t i;
	bool same = src->nr == dst->nr;

	for (i = 0; same && i < src->nr && i < KMS_MAX_REGIONS; i++)
		same = src->r[i].gpa == dst->r[i].gpa &&
		       src->r[i].size == dst->r[i].size;
	if (same)
		return 0;
	kms_layout_describe(src, a, sizeof(a));
	kms_layout_describe(dst, b, sizeof(b));
	return kms_fail(e, -EINVAL,
			"guest RAM layouts differ: source %s, destination %s",
			a, b);
}

size_t kms_hello_encode(const struct kms_hello *h, uint8_t *out)
{
	uint32_t i;

	kms_put_u64(out, h->session_id);
	kms_put_u32(out + 8, h->channel);
	kms_put_u32(out + 12, h->nr_channels);
	kms_put_u32(out + 16, h->page_size);
	kms_put_u32(out + 20, h->layout.nr);
	kms_put_u64(out + 24, h->ram_bytes);
	kms_put_u32(out + 32, h->nr_vcpus);
	kms_put_u32(out + 36, h->features);
	for (i = 0; i < h->layout.nr; i++) {
		kms_put_u64(out + 40 + 16 * i, h->layout.r[i].gpa);
		kms_put_u64(out + 48 + 16 * i, h->layout.r[i].size);
	}
	return KMS_HELLO_LEN(h->layout.nr);
}

/* More than KVM's KVM_MAX_VCPUS on x86 today: a sanity bound only. */
#define KMS_MAX_VCPUS	4096

int kms_hello_decode(const uint8_t *p, size_t len, struct kms_hello *h,
		     struct kms_error *e)
{
	uint32_t i, nr;
	int ret;

	memset(h, 0, sizeof(*h));
	if (len < KMS_HELLO_LEN(0))
		return kms_fail(e, -EPROTO, "HELLO of %zu bytes is truncated",
				len);
	nr = kms_get_u32(p + 20);
	if (nr == 0 || nr > KMS_MAX_REGIONS)
		return kms_fail(e, -EMSGSIZE,
				"HELLO announces %" PRIu32 " RAM regions (allowed 1..%d)",
				nr, KMS_MAX_REGIONS);
	if (len != KMS_HELLO_LEN(nr))
		return kms_fail(e, -EPROTO,
				"HELLO of %zu bytes, but %" PRIu32 " regions take %d",
				len, nr, KMS_HELLO_LEN(nr));

	h->session_id = kms_get_u64(p);
	h->channel = kms_get_u32(p + 8);
	h->nr_channels = kms_get_u32(p + 12);
	h->page_size = kms_get_u32(p + 16);
	h->ram_bytes = kms_get_u64(p + 24);
	h->nr_vcpus = kms_get_u32(p + 32);
	h->features = kms_get_u32(p + 36);
	h->layout.nr = nr;
	for (i = 0; i < nr; i++) {
		h->layout.r[i].gpa = kms_get_u64(p + 40 + 16 * i);
		h->layout.r[i].size = kms_get_u64(p + 48 + 16 * i);
	}

	if (h->page_size != KMS_PAGE_SIZE)
		return kms_fail(e, -EPROTONOSUPPORT,
				"source page size %" PRIu32 " (this side supports %d)",
				h->page_size, KMS_PAGE_SIZE);
	if (h->features & ~KMS_F_KNOWN)
		return kms_fail(e, -EPROTONOSUPPORT,
				"the source uses stream features 0x%" PRIx32 " that this kmigctl does not know",
				h->features & ~KMS_F_KNOWN);
	if (!h->session_id)
		return kms_fail(e, -EPROTO, "HELLO session id is 0");
	if ((h->features & KMS_F_ZSTD_RUN) && !(h->features & KMS_F_ZSTD))
		return kms_fail(e, -EPROTO,
				"HELLO announces zstd runs without zstd");
	if ((h->features & KMS_F_RESUME) && !(h->features & KMS_F_POSTCOPY))
		return kms_fail(e, -EPROTO, "HELLO resumes a postcopy without the postcopy feature");
	if (h->nr_channels == 0 || h->nr_channels > KMS_MAX_CHANNELS)
		return kms_fail(e, -EMSGSIZE,
				"HELLO announces %" PRIu32 " data channels (allowed 1..%d)",
				h->nr_channels, KMS_MAX_CHANNELS);
	/* The preempt channel is one past the data channels. */
	if (h->channel > h->nr_channels + !!(h->features & KMS_F_POSTCOPY))
		return kms_fail(e, -EPROTO,
				"HELLO for channel %" PRIu32 " of %" PRIu32,
				h->channel, h->nr_channels);
	if (h->nr_vcpus == 0 || h->nr_vcpus > KMS_MAX_VCPUS)
		return kms_fail(e, -EPROTO, "HELLO announces %" PRIu32 " vCPUs",
				h->nr_vcpus);
	ret = kms_layout_check(&h->layout, e);
	if (ret)
		return ret;
	if (h->ram_bytes != kms_layout_bytes(&h->layout))
		return kms_fail(e, -EPROTO,
				"HELLO RAM size %" PRIu64 " is not the sum of its regions",
				h->ram_bytes);
	return 0;
}

void kms_ram_hdr_encode(uint8_t out[KMS_RAM_HDR_LEN], uint32_t nr,
			uint32_t crc)
{
	kms_put_u32(out, nr);
	kms_put_u32(out + 4, crc);
}

uint32_t kms_ram_crc_start(uint32_t nr)
{
	uint8_t b[4];

	kms_put_u32(b, nr);
	return crc32c(0, b, sizeof(b));
}

/* The CRC a whole RAM payload of @len (>= the header) must carry. */
static uint32_t kms_ram_crc(const uint8_t *p, size_t len)
{
	return crc32c(kms_ram_crc_start(kms_get_u32(p)), p + KMS_RAM_HDR_LEN,
		      len - KMS_RAM_HDR_LEN);
}

void kms_ram_seal(uint8_t *p, size_t len)
{
	kms_put_u32(p + 4, kms_ram_crc(p, len));
}

void kms_auth_init_encode(uint8_t out[KMS_AUTH_INIT_LEN],
			  const struct kms_auth *a)
{
	memcpy(out, a->ns, KMS_AUTH_NONCE_LEN);
	kms_put_u64(out + KMS_AUTH_NONCE_LEN, a->session_id);
	kms_put_u32(out + KMS_AUTH_NONCE_LEN + 8, a->channel);
	kms_put_u32(out + KMS_AUTH_NONCE_LEN + 12, 0);
}

int kms_auth_init_decode(const uint8_t *p, size_t len, struct kms_auth *a,
			 struct kms_error *e)
{
	memset(a, 0, sizeof(*a));
	if (len != KMS_AUTH_INIT_LEN)
		return kms_fail(e, -EPROTO, "AUTH_INIT of %zu bytes", len);
	memcpy(a->ns, p, KMS_AUTH_NONCE_LEN);
	a->session_id = kms_get_u64(p + KMS_AUTH_NONCE_LEN);
	a->channel = kms_get_u32(p + KMS_AUTH_NONCE_LEN + 8);
	if (kms_get_u32(p + KMS_AUTH_NONCE_LEN + 12))
		return kms_fail(e, -EPROTO, "AUTH_INIT reserved field is not zero");
	if (!a->session_id || a->channel > KMS_MAX_CHANNELS + 1)
		return kms_fail(e, -EPROTO, "AUTH_INIT for session 0 or channel %u",
				a->channel);
	return 0;
}

void kms_auth_challenge_encode(uint8_t out[KMS_AUTH_CHALLENGE_LEN],
			       const struct kms_auth *a)
{
	memcpy(out, a->nd, KMS_AUTH_NONCE_LEN);
	memcpy(out + KMS_AUTH_NONCE_LEN, a->proof, KMS_AUTH_PROOF_LEN);
}

void kms_auth_challenge_decode(const uint8_t *p, struct kms_auth *a)
{
	memcpy(a->nd, p, KMS_AUTH_NONCE_LEN);
	memcpy(a->proof, p + KMS_AUTH_NONCE_LEN, KMS_AUTH_PROOF_LEN);
}

void kms_rec_encode(uint8_t out[KMS_REC_LEN], const struct kmig_rec *r)
{
	kms_put_u64(out, r->gpa);
	kms_put_u32(out + 8, r->npages);
	kms_put_u16(out + 12, r->kind);
	kms_put_u16(out + 14, r->len);
}

int kms_ram_decode(const uint8_t *p, size_t len, const struct kms_layout *l,
		   uint32_t features, struct kms_ram *out,
		   struct kms_error *e)
{
	uint32_t zstd_run_max = features & KMS_F_ZSTD_RUN ? KMS_ZSTD_RUN_MAX : 1;
	uint64_t data_need = 0;
	size_t table;
	uint32_t i, nr;

	out->nr = 0;
	out->normal = out->zero = out->hole = out->compressed = 0;
	if (len < KMS_RAM_HDR_LEN)
		return kms_fail(e, -EPROTO, "RAM frame of %zu bytes is truncated",
				len);
	nr = kms_get_u32(p);
	if (nr == 0 || nr > KMS_MAX_RECS)
		return kms_fail(e, -EMSGSIZE,
				"RAM frame with %" PRIu32 " records (allowed 1..%d)",
				nr, KMS_MAX_RECS);
	/*
	 * The checksum first: a damaged frame is reported as damaged, not as
	 * whatever its damage looks like. The fuzzers skip it, or they would
	 * never get past it.
	 */
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
	if (kms_ram_crc(p, len) != kms_get_u32(p + 4))
		return kms_fail(e, -EBADMSG,
				"RAM frame checksum mismatch: the frame was damaged in transit");
#endif
	table = KMS_RAM_HDR_LEN + (size_t)nr * KMS_REC_LEN;
	if (len < table)
		return kms_fail(e, -EPROTO,
				"RAM frame of %zu bytes cannot hold its %" PRIu32 " records",
				len, nr);

	for (i = 0; i < nr; i++) {
		const uint8_t *q = p + KMS_RAM_HDR_LEN + (size_t)i * KMS_REC_LEN;
		struct kmig_rec *r = &out->recs[i];

		uint16_t kind = kms_get_u16(q + 12);

		r->gpa = kms_get_u64(q);
		r->npages = kms_get_u32(q + 8);
		/* 16 bits on the wire; kmig_rec's kind is 8 (API 2). */
		r->kind = kind <= UINT8_MAX ? kind : 0;
		/* The stream carries guest RAM of address space 0 only. */
		r->as_id = 0;
		r->len = kms_get_u16(q + 14);

		switch (r->kind) {
		case KMS_REC_PAGE:
			if (r->npages != 1 || r->len != KMS_PAGE_SIZE)
				return kms_fail(e, -EPROTO,
						"record %" PRIu32 ": page record with %" PRIu32 " pages and %u bytes of data",
						i, (uint32_t)r->npages, r->len);
			data_need += KMS_PAGE_SIZE;
			out->normal++;
			break;
		case KMS_REC_ZSTD:
			if (!(features & KMS_F_ZSTD))
				return kms_fail(e, -EPROTO,
						"record %" PRIu32 ": zstd record, but the source did not announce compression",
						i);
			if (r->npages > 1 && !(features & KMS_F_ZSTD_RUN))
				return kms_fail(e, -EPROTO,
						"record %" PRIu32 ": zstd run of %" PRIu32 " pages, but the source did not announce zstd runs",
						i, (uint32_t)r->npages);
			if (!r->npages || r->npages > zstd_run_max)
				return kms_fail(e, -EPROTO,
						"record %" PRIu32 ": zstd record with %" PRIu32 " pages (allowed 1..%" PRIu32 ")",
						i, (uint32_t)r->npages, zstd_run_max);
			if (!r->len || r->len > KMS_ZSTD_MAX_LEN)
				return kms_fail(e, -EPROTO,
						"record %" PRIu32 ": zstd record with %u bytes of data (allowed 1..%d)",
						i, r->len, KMS_ZSTD_MAX_LEN);
			data_need += r->len;
			out->normal += r->npages;
			out->compressed += r->npages;
			break;
		case KMS_REC_ZERO:
		case KMS_REC_HOLE:
			if (!r->npages || r->len)
				return kms_fail(e, -EPROTO,
						"record %" PRIu32 ": %s run of %" PRIu32 " pages with %u bytes of data",
						i, r->kind == KMS_REC_ZERO ? "zero" : "hole",
						(uint32_t)r->npages, r->len);
			if (r->kind == KMS_REC_ZERO)
				out->zero += r->npages;
			else
				out->hole += r->npages;
			break;
		default:
			return kms_fail(e, -EPROTO,
					"record %" PRIu32 ": unknown kind %u", i,
					kind);
		}
		if (!kms_page_aligned(r->gpa))
			return kms_fail(e, -EPROTO,
					"record %" PRIu32 ": gpa 0x%" PRIx64 " is not page-aligned",
					i, (uint64_t)r->gpa);
		if (!kms_layout_contains(l, r->gpa, r->npages))
			return kms_fail(e, -ERANGE,
					"record %" PRIu32 ": gpa 0x%" PRIx64 " + %" PRIu32 " pages is outside guest RAM",
					i, (uint64_t)r->gpa, (uint32_t)r->npages);
	}
	if (len - table != data_need)
		return kms_fail(e, -EPROTO,
				"RAM frame carries %zu bytes of data, its records need %" PRIu64,
				len - table, data_need);
	out->nr = nr;
	out->data = p + table;
	out->data_len = len - table;
	return 0;
}

void kms_sync_encode(uint8_t out[KMS_SYNC_LEN], uint32_t round)
{
	kms_put_u32(out, round);
	kms_put_u32(out + 4, 0);
}

int kms_sync_decode(const uint8_t *p, size_t len, uint32_t *round,
		    struct kms_error *e)
{
	if (len != KMS_SYNC_LEN || kms_get_u32(p + 4))
		return kms_fail(e, -EPROTO, "malformed SYNC or LOADED frame");
	*round = kms_get_u32(p);
	return 0;
}

void kms_ack_encode(uint8_t out[KMS_ACK_LEN], uint64_t start_ns)
{
	kms_put_u64(out, start_ns);
}

/* An hour: a destination claiming longer to start its VM is lying. */
#define KMS_MAX_START_NS	(3600ULL * 1000000000ULL)

int kms_ack_decode(const uint8_t *p, size_t len, uint64_t *start_ns,
		   struct kms_error *e)
{
	if (len != KMS_ACK_LEN)
		return kms_fail(e, -EPROTO, "malformed ACK frame");
	*start_ns = kms_get_u64(p);
	if (*start_ns > KMS_MAX_START_NS)
		return kms_fail(e, -ERANGE, "ACK start time %" PRIu64 " ns is implausible",
				*start_ns);
	return 0;
}

size_t kms_reason_encode(const char *reason, uint8_t *out, size_t cap)
{
	size_t n;

	/* REJECT and ABORT need at least one byte of reason. */
	if (!reason || !reason[0])
		reason = "unspecified";
	n = strlen(reason);
	if (cap > KMS_MAX_REASON)
		cap = KMS_MAX_REASON;
	if (n > cap)
		n = cap;
	memcpy(out, reason, n);
	return n;
}

void kms_reason_decode(const uint8_t *p, size_t len, char *out, size_t cap)
{
	size_t i;

	if (!cap)
		return;
	if (len > cap - 1)
		len = cap - 1;
	for (i = 0; i < len; i++)
		out[i] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?';
	out[len] = 0;
}
