// SPDX-License-Identifier: GPL-2.0
/*
 * The postcopy frames of the stream (stream.h): DISCARD, POSTCOPY and
 * REQUEST. Like every decoder here they treat the peer as hostile: a
 * count, a length and every address are checked against a bound before
 * anything acts on them, so a destination never discards, and a source
 * never reads, a page outside guest RAM.
 */
#include <errno.h>
#include <inttypes.h>

#include "stream.h"

uint64_t kms_layout_page_index(const struct kms_layout *l, uint64_t gpa)
{
	uint64_t base = 0;
	uint32_t i;

	for (i = 0; i < l->nr && i < KMS_MAX_REGIONS; i++) {
		const struct kms_region *r = &l->r[i];

		if (gpa >= r->gpa && gpa - r->gpa < r->size)
			return base + (gpa - r->gpa) / KMS_PAGE_SIZE;
		base += r->size / KMS_PAGE_SIZE;
	}
	return UINT64_MAX;
}

size_t kms_discard_encode(const struct kms_discard *d, uint32_t nr,
			  uint8_t *out)
{
	uint32_t i;

	kms_put_u32(out, nr);
	kms_put_u32(out + 4, 0);
	for (i = 0; i < nr; i++) {
		kms_put_u64(out + 8 + 16 * i, d[i].gpa);
		kms_put_u64(out + 16 + 16 * i, d[i].npages);
	}
	return KMS_DISCARD_LEN(nr);
}

/* A count, then 4 zero bytes, then exactly @nr entries of @entry bytes. */
static int kms_counted(const uint8_t *p, size_t len, size_t entry,
		       uint32_t max, const char *what, uint32_t *nr,
		       struct kms_error *e)
{
	*nr = kms_get_u32(p);
	if (kms_get_u32(p + 4)) {
		kms_errorf(e, "%s frame with a non-zero reserved field", what);
		return -EPROTO;
	}
	if (*nr == 0 || *nr > max || len != 8 + entry * *nr) {
		kms_errorf(e, "%s frame of %zu bytes claims %" PRIu32 " entries (allowed 1..%" PRIu32 ")",
			   what, len, *nr, max);
		return -EMSGSIZE;
	}
	return 0;
}

int kms_discard_decode(const uint8_t *p, size_t len,
		       const struct kms_layout *l, uint64_t *next_gpa,
		       struct kms_discard *d, uint32_t *nr, uint64_t *pages,
		       struct kms_error *e)
{
	uint32_t i;
	int ret;

	ret = kms_counted(p, len, 16, KMS_MAX_DISCARD, "DISCARD", nr, e);
	if (ret)
		return ret;
	for (i = 0; i < *nr; i++) {
		d[i].gpa = kms_get_u64(p + 8 + 16 * i);
		d[i].npages = kms_get_u64(p + 16 + 16 * i);
		if (d[i].gpa % KMS_PAGE_SIZE ||
		    !kms_layout_contains(l, d[i].gpa, d[i].npages)) {
			kms_errorf(e, "DISCARD range %" PRIu32 " (gpa 0x%" PRIx64 ", %" PRIu64 " pages) is not inside guest RAM",
				   i, d[i].gpa, d[i].npages);
			return -ERANGE;
		}
		/* Increasing and disjoint: no page is discarded twice. */
		if (d[i].gpa < *next_gpa) {
			kms_errorf(e, "DISCARD range %" PRIu32 " at gpa 0x%" PRIx64 " overlaps or precedes an earlier one",
				   i, d[i].gpa);
			return -EPROTO;
		}
		*next_gpa = d[i].gpa + d[i].npages * KMS_PAGE_SIZE;
		*pages += d[i].npages;
	}
	return 0;
}

void kms_postcopy_encode(uint8_t out[KMS_POSTCOPY_LEN], uint32_t round,
			 uint64_t pages)
{
	kms_put_u32(out, round);
	kms_put_u32(out + 4, 0);
	kms_put_u64(out + 8, pages);
}

int kms_postcopy_decode(const uint8_t *p, size_t len, uint32_t *round,
			uint64_t *pages, struct kms_error *e)
{
	if (len != KMS_POSTCOPY_LEN || kms_get_u32(p + 4)) {
		kms_errorf(e, "malformed POSTCOPY frame");
		return -EPROTO;
	}
	*round = kms_get_u32(p);
	*pages = kms_get_u64(p + 8);
	return 0;
}

size_t kms_request_encode(const uint64_t *gpa, uint32_t nr, uint8_t *out)
{
	uint32_t i;

	kms_put_u32(out, nr);
	kms_put_u32(out + 4, 0);
	for (i = 0; i < nr; i++)
		kms_put_u64(out + 8 + 8 * i, gpa[i]);
	return KMS_REQUEST_LEN(nr);
}

int kms_request_decode(const uint8_t *p, size_t len,
		       const struct kms_layout *l, uint64_t *gpa, uint32_t *nr,
		       struct kms_error *e)
{
	uint32_t i;
	int ret;

	ret = kms_counted(p, len, 8, KMS_MAX_REQUEST, "REQUEST", nr, e);
	if (ret)
		return ret;
	for (i = 0; i < *nr; i++) {
		gpa[i] = kms_get_u64(p + 8 + 8 * i);
		if (gpa[i] % KMS_PAGE_SIZE || !kms_layout_contains(l, gpa[i], 1)) {
			kms_errorf(e, "REQUEST for gpa 0x%" PRIx64 ", which is not a page of guest RAM",
				   gpa[i]);
			return -ERANGE;
		}
	}
	return 0;
}
